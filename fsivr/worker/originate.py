"""The ``originate`` command the worker sends over the live link for an outbound call.

``bgapi originate {vars}<endpoint> &socket(<host:port> async full)``: FreeSWITCH rings the
endpoint and, once it answers, runs the ``socket`` application on that leg, which connects it to
``fsivr serve`` as an ordinary outbound-socket call (mod_commands.c originate_function;
switch_ivr_originate). The job travels in channel variables, which the server reads from the
connect reply (``variable_fsivr_job``, ``variable_fsivr_scenario``).

The ``{}`` block is parsed by switch_event_create_brackets (switch_event.c): split on ``,`` with
switch_separate_string, and each item again on ``=``; each pass honours backslash escapes and
single quotes and removes one level of them, so a comma, quote or backslash in a value is escaped
twice over (``brace_value``). The block's end is found by switch_find_end_paren, and a value is
expanded again wherever the variable is referenced (``${...}``, ``${api(...)}``), so braces and
``$`` are refused outright: no user text ever reaches FreeSWITCH as something it would run.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import ColumnElement, func

from fsivr.engine.call import VAR_NAME
from fsivr.esl.frames import Event
from fsivr.store.models import CallAttempt
from fsivr.store.phone import DIALLABLE

#: The channel variable naming which part of the worker placed a leg. The callback senders and
#: the campaign dialler share one live link and each sees every CHANNEL_HANGUP_COMPLETE: a part
#: that took another's leg for its own wrote that leg's end onto its call record before the server
#: had (the campaign then settled a call that was still being recorded).
JOB_KIND = "fsivr_job_kind"

#: An endpoint template from the operator's configuration: ``{number}`` is replaced.
_FORBIDDEN = ("{", "}", "$", "\n", "\r")


def _escape(value: str, delim: str) -> str:
    """Undone by one cleanup_separated_string pass with ``delim`` (switch_utils.c): a backslash
    before a quote, the delimiter or a backslash gives that character."""
    out = value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    return out.replace(delim, "\\" + delim) if delim else out


def end_unless_ended(at: datetime) -> ColumnElement[datetime]:
    """An attempt's ``ended_at`` as an UPDATE sets it: ``at``, unless written already. A failed
    originate's leg was made before it rang (switch_ivr_originate), so its CHANNEL_HANGUP_COMPLETE
    races originate's ``-ERR`` reply; whichever is written first stays."""
    return func.coalesce(CallAttempt.ended_at, at)


def placed_by(event: Event, kind: str) -> bool:
    """True for an event of a leg this worker's ``kind`` placed (its originate set JOB_KIND)."""
    return event.get(f"variable_{JOB_KIND}") == kind


def brace_value(value: str) -> str:
    """One ``{name=value}`` value, escaped for switch_event_create_brackets: the block is split on
    ``,`` and each item on ``=`` by switch_separate_string, and each split cleans its parts once
    (unescaping, unquoting, trimming blanks), so the value is escaped for the ``=`` pass and then
    for the ``,`` pass."""
    if any(c in value for c in _FORBIDDEN):
        raise ValueError(f"channel variable value {value!r} holds a character FreeSWITCH would expand")
    if value != value.strip(" "):
        raise ValueError(f"channel variable value {value!r}: FreeSWITCH drops leading and trailing blanks")
    return _escape(_escape(value, ""), ",")


def brace_vars(variables: dict[str, str]) -> str:
    for name in variables:
        if not VAR_NAME.match(name):
            raise ValueError(f"bad channel variable name {name!r}")
    return "{" + ",".join(f"{k}={brace_value(str(v))}" for k, v in variables.items()) + "}"


def endpoint_for(template: str, number: str) -> str:
    """The dial string for ``number`` from the operator's template (e.g. ``sofia/gateway/gw1/{number}``)."""
    if not DIALLABLE.match(number):
        raise ValueError(f"{number!r} is not a number that can be dialled")
    return template.replace("{number}", number)


def originate_command(endpoint: str, variables: dict[str, str], socket_address: str) -> str:
    """The argument of ``bgapi``: ``originate {vars}endpoint &socket(address async full)``.

    ``async full``: the server drives the call with its usual event-driven commands and may use
    api commands on the channel (mod_event_socket.c, socket application)."""
    if " " in endpoint or any(c in endpoint for c in _FORBIDDEN):
        raise ValueError(f"endpoint {endpoint!r} must be one word without variables")
    if not re.match(r"^[A-Za-z0-9_.\-\[\]:]+:\d+$", socket_address):
        raise ValueError(f"socket address {socket_address!r} must be host:port")
    return f"originate {brace_vars(variables)}{endpoint} &socket({socket_address} async full)"
