"""The time_condition node through real calls (its rules: test_timerules.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fsivr.testing.harness import Harness

from .conftest import apps

WARSAW = ZoneInfo("Europe/Warsaw")
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=WARSAW)
CHRISTMAS_10 = datetime(2026, 12, 25, 10, 0, tzinfo=WARSAW)  # a Friday, and a holiday


def test_closed_on_saturday_and_on_holidays(office: Harness) -> None:
    for at in (SATURDAY_10, CHRISTMAS_10):
        placed = office.call(number="100", at=at)
        assert placed.path == [("hours", "nomatch"), ("closed", "next"), ("bye", "hangup")], at
        assert [a.arg for a in apps(placed, "playback")] == ["say:We are closed"]
