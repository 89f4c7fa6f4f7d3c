"""Allowed hours for outbound calls: daily local windows (``"09:00-20:00"``) in an IANA timezone.

A callback (or a campaign row) is placed only inside a window; ``next_allowed`` moves an instant
forward to the first allowed moment, computed on the zone's wall clock so DST changes are honoured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _time(h: str, m: str, text: str) -> time:
    hour, minute = int(h), int(m)
    if hour == 24 and minute == 0:
        return time.max
    if hour > 23 or minute > 59:
        raise ValueError(f"allowed_hours {text!r}: no such time of day")
    return time(hour, minute)


@dataclass(frozen=True)
class AllowedHours:
    windows: tuple[tuple[time, time], ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str | Sequence[str] | None, timezone: str = "UTC") -> AllowedHours:
        """``"09:00-20:00"`` or a list of such windows; None or empty: any time."""
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {timezone!r}") from None
        items = [spec] if isinstance(spec, str) else list(spec or [])
        windows = []
        for text in items:
            m = _WINDOW.match(str(text))
            if not m:
                raise ValueError(f"allowed_hours {text!r}: expected HH:MM-HH:MM")
            start, end = _time(m[1], m[2], text), _time(m[3], m[4], text)
            if end <= start:
                raise ValueError(f"allowed_hours {text!r}: the window must end after it starts")
            windows.append((start, end))
        return cls(tuple(sorted(windows)), zone)

    def allows(self, at: datetime) -> bool:
        if not self.windows:
            return True
        local = at.astimezone(self.zone).time()
        return any(start <= local < end for start, end in self.windows)

    def next_allowed(self, at: datetime) -> datetime:
        """``at`` itself when allowed, else the start of the next window (local days ahead)."""
        if self.allows(at):
            return at
        local = at.astimezone(self.zone)
        for days in range(0, 3):
            day = (local + timedelta(days=days)).date()
            for start, _end in self.windows:
                # Build the local wall-clock time, then normalise through UTC: a start that falls
                # in a DST gap lands on the first real instant after it.
                candidate = datetime.combine(day, start, tzinfo=self.zone)
                candidate = candidate.astimezone(at.tzinfo).astimezone(self.zone)
                if candidate > local and self.allows(candidate):
                    return candidate.astimezone(at.tzinfo)
        raise ValueError("allowed_hours: no allowed moment within two days")  # pragma: no cover


def windows(value: object) -> list[str]:
    """A node's hours parameter as a list of windows: ``"08:00-12:00, 13:00-17:00"`` or a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [w for w in (p.strip() for p in value.split(",")) if w]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def check_hours(value: object) -> object:
    """A node parameter check: the windows parse (ValueError names what is wrong)."""
    AllowedHours.parse(windows(value))
    return value


def check_zone(value: str) -> str:
    """A node parameter check: an IANA timezone AllowedHours can use."""
    AllowedHours.parse(None, value)
    return value
