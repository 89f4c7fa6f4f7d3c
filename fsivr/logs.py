"""Log output: the text or JSON format, and the call a log line belongs to.

The runner puts a :class:`CallLogContext` into a context variable for the greenlet that runs the
call (greenlet >= 1.0 gives every greenlet its own ``contextvars`` context, so one call's context
never leaks into another's) and updates its ``node`` as the call moves; the JSON formatter adds
its fields to every line logged while the call runs - from the runner, a node, the ESL connection
or the ringing code alike, without any of them passing the call along. Text lines stay as they
were: their messages already name the call.

Secrets never reach a log line: the configuration is logged through ``Config.redacted()``, and
nothing logs directory rows (SIP and gateway passwords) or ESL/SMTP credentials; the tests grep
captured logs for the configured passwords.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CallLogContext:
    """What a log line says about the call it was logged for; ``node`` follows the walk."""

    __slots__ = ("caller", "node", "number", "scenario", "uuid")

    def __init__(self, uuid: str, number: str, caller: str) -> None:
        self.uuid = uuid
        self.number = number
        self.caller = caller
        self.scenario = ""
        self.node = ""


#: The call the current greenlet runs, if any.
current_call: ContextVar[CallLogContext | None] = ContextVar("fsivr_call", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message; the call's
    ``call_uuid``, ``number``, ``scenario`` and ``node`` where they apply; the mapping a caller
    passed as ``extra={"fields": {...}}``; ``exception`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call = current_call.get()
        if call is not None:
            out["call_uuid"] = call.uuid
            out["number"] = call.number
            if call.scenario:
                out["scenario"] = call.scenario
            if call.node:
                out["node"] = call.node
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # default=str: a message argument that JSON cannot hold is still logged, as its text.
        return json.dumps(out, default=str, ensure_ascii=False)


def configure(log_format: str, level: str | int | None = None) -> None:
    """Switch the root logger's handlers (``logging.basicConfig`` made them) to ``log_format``
    ("text" or "json") and, if given, the level."""
    # No format here shows the thread or process, and under gevent every greenlet that logs would
    # otherwise get a threading._DummyThread made for it (threading.current_thread()) - a
    # measurable part of the finished-call line's cost in fsivr serve.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=TEXT_FORMAT)
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    if level is not None:
        root.setLevel(level.upper() if isinstance(level, str) else level)
