"""Per-call virtual clock.

Media time is simulated: a 30 s prompt advances the call's clock by 30 s but sleeps only
``30 * time_scale`` real seconds (0.0 = instant, 1.0 = real time for load tests that must hold
calls up). Timestamps in events (Event-Date-*, Caller-Channel-*-Time, *_epoch variables) come from
this clock, starting at the script's ``at``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class VirtualClock:
    __slots__ = ("_us", "time_scale")

    def __init__(self, start: datetime, time_scale: float) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._us = int(start.timestamp() * 1_000_000)
        self.time_scale = time_scale

    @property
    def now_us(self) -> int:
        return self._us

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._us += round(seconds * 1_000_000)

    def real_seconds(self, virtual_seconds: float) -> float:
        return max(0.0, virtual_seconds * self.time_scale)


def fs_date_fields(us: int) -> tuple[str, str, str]:
    """Event-Date-Local, Event-Date-GMT, Event-Date-Timestamp for a microsecond timestamp.

    The traces were recorded on a UTC host, so "Local" is rendered in UTC too.
    """
    secs = us // 1_000_000
    t = time.gmtime(secs)
    local = time.strftime("%Y-%m-%d %H:%M:%S", t)
    gmt = time.strftime("%a, %d %b %Y %H:%M:%S GMT", t)
    return local, gmt, str(us)


def fs_stamp(us: int) -> str:
    """*_stamp channel variables ("2026-11-22 01:40:42")."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(us // 1_000_000))


def rfc2822(us: int) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(us // 1_000_000))
