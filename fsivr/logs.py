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
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Longest a line below WARNING waits in the buffer of a buffered handler.
FLUSH_INTERVAL = 0.5


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


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines into a buffered stream: WARNING and above are flushed at once, the rest within
    FLUSH_INTERVAL by a flusher (a greenlet once gevent has patched threading), and at exit
    (logging.shutdown). Measured in fsivr serve: the finished-call line's write(2) to a
    line-buffered stderr was most of its cost (~40 us of ~100 us per call in situ); a crash loses at
    most FLUSH_INTERVAL of INFO lines."""

    def __init__(self, stream: Any, interval: float = FLUSH_INTERVAL) -> None:
        super().__init__(stream)
        threading.Thread(target=self._flush_every, args=(interval,), name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flush_every(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            self.flush()


def configure(log_format: str, level: str | int | None = None, *, buffered: bool = False) -> None:
    """Switch the root logger's handlers (``logging.basicConfig`` made them) to ``log_format``
    ("text" or "json") and, if given, the level. ``buffered``: stderr through a
    :class:`BufferedStreamHandler` (``fsivr serve``, one line per call)."""
    # No format here shows the thread or process, and under gevent every greenlet that logs would
    # otherwise get a threading._DummyThread made for it (threading.current_thread()) - a
    # measurable part of the finished-call line's cost in fsivr serve.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Nor the caller's file and line: None skips findCaller's walk up the stack for every record
    # (the knob logging's own source documents for this).
    logging._srcfile = None
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=TEXT_FORMAT)
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    if buffered:
        for handler in list(root.handlers):
            if type(handler) is logging.StreamHandler and handler.stream in (sys.stderr, sys.__stderr__):
                root.removeHandler(handler)
                # Its own buffer over fd 2 (closefd=False: closing it never closes stderr); each
                # write is one whole line, so the buffer is written out at line boundaries.
                stream = open(sys.stderr.fileno(), "w", buffering=1 << 16, encoding="utf-8",  # noqa: SIM115
                              errors="backslashreplace", closefd=False)
                root.addHandler(BufferedStreamHandler(stream))
    for handler in root.handlers:
        handler.setFormatter(formatter)
    if level is not None:
        root.setLevel(level.upper() if isinstance(level, str) else level)
