"""The background refresh loop the server's in-memory caches share (scenarios, directory, time
overrides): every ``interval`` seconds refresh from the store; an unreachable database is the
server's one outage report (fsivr/store/outage.py: said once, its end said once) and the cache keeps
serving what it holds; any other failure is logged and the loop goes on. ``Polled`` is the
start/stop of a cache that refreshes once at start, then in its own greenlet."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

import gevent

from fsivr.store.outage import UNREACHABLE, OutageLog


def poll(refresh: Callable[[], object], interval: float, outage: OutageLog, log: logging.Logger, failed: str,
         *, traceback: bool = True, running: Callable[[], bool] = lambda: True) -> None:
    """Run in the cache's greenlet until it is killed (or ``running()`` turns false). ``failed`` is
    what to say when a refresh fails for another reason; ``traceback`` False says it in one line."""
    while running():
        gevent.sleep(interval)
        try:
            refresh()
        except UNREACHABLE as exc:
            outage.failed(exc)
        except Exception as exc:
            if traceback:
                log.exception("%s", failed)
            else:
                log.warning("%s: %s", failed, exc)
        else:
            outage.succeeded()


class Polled:
    """start/stop for a cache with ``refresh()``, ``interval``, ``outage`` and a ``_greenlet``
    attribute (None until started); ``failed`` says what a failed refresh means for it."""

    failed: ClassVar[str] = "refreshing failed; keeping what was loaded"
    log: ClassVar[logging.Logger] = logging.getLogger("fsivr")
    interval: float
    outage: OutageLog
    _greenlet: gevent.Greenlet | None

    def refresh(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        self.refresh()
        self._greenlet = gevent.spawn(poll, self.refresh, self.interval, self.outage, self.log, self.failed)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
