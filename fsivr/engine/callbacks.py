"""Callback jobs from a running call: the callback node registers one, a served caller's new call
cancels theirs. A callback is an outbox row of kind ``callback`` (the worker's durable claim, lease
and retry machinery; fsivr/worker/callback.py places it), keyed ``callback:<number>:<call>:<node>``
so one node of one call registers at most one, and a caller's pending callbacks are found by prefix.

Every write runs through ``Store.run`` (the threadpool): the hub never waits on the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fsivr.store import outbox
from fsivr.store.db import Store
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


class Callbacks:
    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock

    def register(self, key: str, payload: dict[str, Any], not_before: datetime, now: datetime,
                 call_uuid: str, kind: str = KIND) -> Enqueued:
        """``kind``: ``callback`` (the callback node) or ``queue_callback`` (the queue node's
        place-keeping callback); both share the key scheme, so a served caller cancels either."""
        return self.store.run(lambda s: outbox.enqueue(s, kind, payload, key, now, call_uuid=call_uuid,
                                                       not_before=not_before))

    def cancel_for(self, caller: str, call_uuid: str, now: datetime) -> int:
        """``caller`` called again and was served: their callbacks still waiting are not needed
        (those this very call registered are kept)."""
        if not caller:
            return 0
        n = int(self.store.run(lambda s: outbox.cancel(
            s, caller_prefix(caller), f"{caller} called again and was served (call {call_uuid})", now,
            except_prefix=f"{caller_prefix(caller)}{call_uuid}:")))
        if n:
            log.info("call %s: %d pending callback(s) to %s cancelled", call_uuid, n, caller)
        return n
