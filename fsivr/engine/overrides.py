"""Time-condition overrides held in memory, for the time_condition node's hot path.

Which and why: a short poll, not a version check. The whole ``time_overrides`` table (one row per
switch, a handful) is re-read every ``reload_interval`` seconds by one background greenlet — the
same one small query a version check would cost, with no version column for the feature code and
``fsivr override`` to keep right. A change reaches every ``fsivr serve`` within that interval; the
server where staff dialled the feature code sees it at once (``put``/``drop`` after the write).
Expiry needs no query at all: each override carries its ``until`` and is compared with the call's
time. A call never reads the database for this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

import gevent

from fsivr.engine.poll import Polled
from fsivr.store.outage import OutageLog
from fsivr.store.overrides import Override

log = logging.getLogger("fsivr.overrides")


class OverrideCache(Polled):
    failed: ClassVar[str] = "reading time-condition overrides failed; keeping the ones known"
    log: ClassVar[logging.Logger] = log

    def __init__(self, load: Callable[[], dict[str, Override]] | None = None, interval: float = 2.0,
                 outage: OutageLog | None = None) -> None:
        #: None where no database is wired (a unit test's Services): no override is ever in force.
        self._load = load
        #: Where an unreachable store is reported, once per outage (shared with the server's other loops).
        self.outage = outage or OutageLog(None, log, "keeping the overrides known")
        self.interval = interval
        self.overrides: dict[str, Override] = {}
        self._greenlet: gevent.Greenlet | None = None

    def get(self, name: str, at: datetime) -> Override | None:
        """The override of ``name`` in force at ``at``, if any."""
        found = self.overrides.get(name)
        return found if found is not None and found.active(at) else None

    def put(self, override: Override) -> None:
        self.overrides = {**self.overrides, override.name: override}

    def drop(self, name: str) -> None:
        self.overrides = {k: v for k, v in self.overrides.items() if k != name}

    def refresh(self) -> None:
        if self._load is not None:
            # One assignment: a call reading meanwhile sees the old dict or the new one, whole.
            self.overrides = self._load()

