"""Callback jobs from a running call: the callback node registers one, a served caller's new call
cancels theirs. A callback is an outbox row of kind ``callback`` (the worker's durable claim, lease
and retry machinery; fsivr/worker/callback.py places it), keyed ``callback:<number>:<call>:<node>``
so one node of one call registers at most one, and a caller's pending callbacks are found by prefix.

Every write runs through ``Store.run`` (the threadpool): the hub never waits on the database.

Every answered call asks whether its caller has a callback waiting. Asking the database each time
was a transaction per call, which doubled fsivr serve's CPU per call (bench.ab, callback node commit
9b3caf8: 2.2x). So the callers with a waiting callback are read in one query every ``interval``
seconds (``Callbacks.start``; only pending rows of the callback keys) and those this server registers
are added at once; a call whose caller is in neither costs nothing. A callback another server
registered less than ``interval`` ago is not seen yet: that caller may be called back once too
often (as during an outage), never lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fsivr.engine.poll import Polled
from fsivr.store import outbox
from fsivr.store.db import Store
from fsivr.store.outage import OutageLog
from fsivr.store.outbox import Enqueued
from fsivr.store.phone import caller_key

log = logging.getLogger("fsivr.callbacks")

KIND = "callback"


def caller_prefix(number: str) -> str:
    """Keys name the caller as caller_key does (E.164 when it parses): a caller who calls again
    with their number spelled differently (0048…, +48…) is still found."""
    return f"{KIND}:{caller_key(number)}:"


def callback_key(number: str, call_uuid: str, node: str) -> str:
    return f"{caller_prefix(number)}{call_uuid}:{node}"


#: How many trailing digits of a number the cheap pre-check compares (see ``_tail``).
TAIL = 4


def _tail(number: str) -> str:
    """The last digits of a number, or the text when it has none. Every spelling of one number
    (+48…, 0048…, 0…) ends with its national digits, so a caller whose tail matches no waiting
    callback's cannot have one: the call skips parsing its number (phonenumbers, ~0.2 ms: a
    tenth of an answered call's CPU in bench/)."""
    digits = "".join(filter(str.isdigit, number))
    return digits[-TAIL:] if digits else number.strip()


def _prefix_of(key: str) -> str:
    """``callback:<number>:`` of a key ``callback:<number>:<call>:<node>``."""
    return ":".join(key.split(":", 2)[:2]) + ":"


class Callbacks(Polled):
    failed = "reading the callers with a waiting callback failed; keeping the last list"
    log = logging.getLogger("fsivr.callbacks")

    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None, *, interval: float = 2.0,
                 outage: OutageLog | None = None) -> None:
        self.store = store
        self.clock = clock
        self.interval = interval
        self.outage = outage or OutageLog(store.url, self.log, "callbacks are cancelled without the list")
        self._greenlet = None
        #: caller prefixes with a pending callback; None until read (then every call asks the database)
        self._waiting: set[str] | None = None
        #: prefixes this server registered, with when: kept through a read that may have missed them
        self._registered: dict[str, float] = {}
        #: the numbers' tails of ``_waiting`` (None with it)
        self._tails: set[str] | None = None

    def refresh(self) -> None:
        since = time.monotonic()
        keys = self.store.run(lambda s: outbox.pending_keys(s, f"{KIND}:"))
        recent = {p: at for p, at in self._registered.items() if at >= since - 2 * self.interval}
        self._registered = recent
        self._set_waiting({_prefix_of(k) for k in keys} | set(recent))

    def _set_waiting(self, prefixes: set[str]) -> None:
        self._waiting = prefixes
        self._tails = {_tail(p[len(KIND) + 1:-1]) for p in prefixes}

    def may_wait(self, caller: str) -> bool:
        """Whether ``caller`` may have a callback waiting, as far as this server knows (before the
        first read: yes, ask the database)."""
        return self._waits(caller_prefix(caller))

    def _waits(self, prefix: str) -> bool:
        return self._waiting is None or prefix in self._waiting

    def register(self, key: str, payload: dict[str, Any], not_before: datetime, now: datetime,
                 call_uuid: str, kind: str = KIND) -> Enqueued:
        """``kind``: ``callback`` (the callback node) or ``queue_callback`` (the queue node's
        place-keeping callback); both share the key scheme, so a served caller cancels either."""
        done = self.store.run(lambda s: outbox.enqueue(s, kind, payload, key, now, call_uuid=call_uuid,
                                                       not_before=not_before))
        prefix = _prefix_of(key)
        self._registered[prefix] = time.monotonic()
        if self._waiting is not None:
            self._set_waiting(self._waiting | {prefix})
        return done

    def cancel_for(self, caller: str, call_uuid: str, now: datetime) -> int:
        """``caller`` called again and was served: their callbacks still waiting are not needed
        (those this very call registered are kept)."""
        if not caller or (self._tails is not None and _tail(caller) not in self._tails):
            return 0
        prefix = caller_prefix(caller)  # parses the number: once per call, not once per use
        if not self._waits(prefix):
            return 0
        n = int(self.store.run(lambda s: outbox.cancel(
            s, prefix, f"{caller} called again and was served (call {call_uuid})", now,
            except_prefix=f"{prefix}{call_uuid}:")))
        if n:
            log.info("call %s: %d pending callback(s) to %s cancelled", call_uuid, n, caller)
        return n
