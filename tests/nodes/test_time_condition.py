"""The time_condition node through real calls (its rules: test_timerules.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fsivr.scenario.bundle import parse_text
from fsivr.scenario.validate import validate_bundle
from fsivr.testing.harness import Harness, running

from .conftest import apps

WARSAW = ZoneInfo("Europe/Warsaw")
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=WARSAW)
CHRISTMAS_10 = datetime(2026, 12, 25, 10, 0, tzinfo=WARSAW)  # a Friday, and a holiday


def test_closed_on_saturday_and_on_holidays(office: Harness) -> None:
    for at in (SATURDAY_10, CHRISTMAS_10):
        placed = office.call(number="100", at=at)
        assert placed.path == [("hours", "nomatch"), ("closed", "next"), ("bye", "hangup")], at
        assert [a.arg for a in apps(placed, "playback")] == ["say:We are closed"]


NATIONAL = """
scenarios:
  - scenario: hours
    numbers: ["500"]
    start: hours
    nodes:
      hours:
        type: time_condition
        timezone: Europe/Warsaw
        rules: [{days: mon-fri, hours: "08:00-16:00"}]
        holidays: {country: PL, dates: ["12-24", "FREQ=YEARLY;BYMONTH=8;BYMONTHDAY=14"]}
        match: open
        nomatch: closed
      open: {type: play, text: "We are open", next: bye}
      closed: {type: play, text: "We are closed", next: bye}
      bye: {type: hangup}
"""


def test_national_holidays_close_on_moving_feasts_beside_dates_and_rrules() -> None:
    with running(NATIONAL) as pbx:
        def outcome(*when: int) -> str:
            return pbx.call(number="500", at=datetime(*when, tzinfo=WARSAW)).outcomes["hours"]

        assert outcome(2027, 3, 29, 10, 0) == "nomatch"  # Easter Monday 2027, from the PL calendar
        assert outcome(2027, 3, 30, 10, 0) == "match"    # the Tuesday after
        assert outcome(2026, 4, 6, 10, 0) == "nomatch"   # Easter Monday 2026: it moves
        assert outcome(2027, 5, 3, 10, 0) == "nomatch"   # Constitution Day, a fixed one
        assert outcome(2027, 12, 24, 10, 0) == "nomatch"  # an explicit date beside the calendar
        assert outcome(2026, 8, 14, 10, 0) == "nomatch"   # an RRULE beside it
        assert outcome(2026, 8, 13, 10, 0) == "match"


@pytest.mark.parametrize("holidays, message", [
    ('["FREQ=YEARLY;BYMONTHDAY=32"]', "BYMONTHDAY=32 is impossible"),
    ('["FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"]', "no month in BYMONTH has day 30"),
    ('["FREQ=YEARLY;BYMONTH=13"]', "BYMONTH=13 is impossible"),
    ("{country: XX}", "country 'XX': the holidays package has no calendar for it"),
    ('["02-30"]', "holiday 1"),
])
def test_impossible_holidays_are_refused_at_validation(holidays: str, message: str) -> None:
    bundle = parse_text(f"""
scenarios:
  - scenario: s
    numbers: ["1"]
    start: t
    nodes:
      t: {{type: time_condition, rules: [{{days: mon-fri}}], holidays: {holidays}, match: b, nomatch: b}}
      b: {{type: hangup}}
""")
    errors = validate_bundle(bundle).errors
    assert len(errors) == 1 and "s.nodes.t.holidays" in errors[0] and message in errors[0], errors
