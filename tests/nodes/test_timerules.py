"""Office-hours rules evaluated on local wall-clock time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from fsivr.nodes import _timerules as tr

WARSAW = ZoneInfo("Europe/Warsaw")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)


@pytest.mark.parametrize("text, days", [
    ("mon-fri", {0, 1, 2, 3, 4}),
    ("fri-mon", {4, 5, 6, 0}),
    ("sun-sun", {6}),
    ("mon,wed,fri", {0, 2, 4}),
    ("Sat", {5}),
])
def test_day_ranges(text: str, days: set[int]) -> None:
    assert tr.parse_days(text) == days


@pytest.mark.parametrize("text", ["monday", "mon-", "xyz", ""])
def test_bad_day_ranges(text: str) -> None:
    with pytest.raises(ValueError):
        tr.parse_days(text)


def test_office_hours() -> None:
    rule = tr.parse_rule({"days": "mon-fri", "hours": "08:00-16:00"})
    assert rule.matches(local(2026, 11, 23, 8, 0))       # Monday 08:00, first minute in
    assert rule.matches(local(2026, 11, 23, 15, 59))
    assert not rule.matches(local(2026, 11, 23, 16, 0))  # end is exclusive
    assert not rule.matches(local(2026, 11, 28, 10, 0))  # Saturday


def test_hours_past_midnight_belong_to_the_day_they_start() -> None:
    rule = tr.parse_rule({"days": "fri", "hours": "22:00-06:00"})
    assert rule.matches(local(2026, 11, 27, 23, 0))      # Friday night
    assert rule.matches(local(2026, 11, 28, 2, 0))       # Saturday 02:00, Friday's shift
    assert not rule.matches(local(2026, 11, 27, 2, 0))   # Friday 02:00 is Thursday's shift
    assert not rule.matches(local(2026, 11, 28, 6, 0))


def test_whole_day_and_multiple_ranges() -> None:
    rule = tr.parse_rule({"days": "sat", "hours": "00:00-24:00"})
    assert rule.matches(local(2026, 11, 28, 23, 59))
    split = tr.parse_rule({"hours": "08:00-12:00, 13:00-17:00"})
    assert split.matches(local(2026, 11, 28, 9, 0))
    assert not split.matches(local(2026, 11, 28, 12, 30))


def test_dates() -> None:
    assert tr.parse_date("12-24").matches(date(2031, 12, 24))
    assert tr.parse_date("2026-12-24..2027-01-02").matches(date(2027, 1, 1))
    assert not tr.parse_date("2026-12-24").matches(date(2027, 12, 24))
    with pytest.raises(ValueError):
        tr.parse_date("2026-02-30")
    with pytest.raises(ValueError):
        tr.parse_date("2027-01-02..2026-12-24")
    # Every year, over New Year too.
    winter = tr.parse_date("12-24..01-02")
    assert [winter.matches(d) for d in (date(2026, 12, 23), date(2026, 12, 24), date(2027, 1, 2),
                                        date(2027, 1, 3), date(2031, 12, 31))] == [False, True, True, False, True]
    summer = tr.parse_date("07-01..08-31")
    assert summer.matches(date(2030, 7, 15)) and not summer.matches(date(2030, 9, 1))
    with pytest.raises(ValueError):
        tr.parse_date("07-01..13-01")


def test_holidays_as_dates_and_rrules() -> None:
    christmas = tr.Holiday("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25")
    assert christmas.matches(date(2026, 12, 25)) and christmas.matches(date(2040, 12, 25))
    assert not christmas.matches(date(2026, 12, 24))
    first_monday = tr.Holiday("RRULE:FREQ=MONTHLY;BYDAY=1MO")
    assert first_monday.matches(date(2026, 12, 7)) and not first_monday.matches(date(2026, 12, 14))
    with pytest.raises(ValueError, match="RRULE"):
        tr.Holiday("FREQ=SOMETIMES")
    # Sub-daily rules describe no holiday and would be expensive to expand: refused.
    for freq in ("HOURLY", "MINUTELY", "SECONDLY"):
        with pytest.raises(ValueError, match="FREQ must be one of"):
            tr.Holiday(f"FREQ={freq}")


def test_rrule_holidays_are_cheap_per_call() -> None:
    import time as clock

    august = tr.Holiday("FREQ=DAILY;BYMONTH=8")
    august.matches(date(2026, 8, 1))  # expands 2026 once
    t0 = clock.perf_counter()
    hits = sum(august.matches(date(2026, 8, d)) for d in range(1, 32) for _ in range(100))
    assert hits == 3100
    assert clock.perf_counter() - t0 < 1.0  # 3,100 lookups; expanding each time took ~45 ms apiece


def test_a_night_shift_is_judged_by_the_day_it_started() -> None:
    from fsivr.nodes.time_condition import TimeCondition

    node = TimeCondition("n", {"timezone": "Europe/Warsaw", "rules": [{"days": "mon-sun", "hours": "22:00-06:00"}],
                               "holidays": ["2026-12-25"]})

    class FakeCall:
        def __init__(self, at: datetime) -> None:
            self.arrived_at, self.vars = at, {}

    # 02:00 on the 25th belongs to the shift of the 24th: open. 02:00 on the 26th belongs to the
    # holiday's own shift: closed. 23:00 on the 25th: the holiday's shift: closed.
    assert node.run(FakeCall(local(2026, 12, 25, 2, 0))) == "match"
    assert node.run(FakeCall(local(2026, 12, 26, 2, 0))) == "nomatch"
    assert node.run(FakeCall(local(2026, 12, 25, 23, 0))) == "nomatch"


def test_local_time_follows_dst() -> None:
    rule = tr.parse_rule({"days": "mon-sun", "hours": "08:00-16:00"})
    # 07:30 UTC is 08:30 in Warsaw in winter (CET, +1) but 09:30 in summer (CEST, +2);
    # 06:30 UTC is outside in winter (07:30) and inside in summer (08:30).
    winter = datetime(2026, 3, 28, 6, 30, tzinfo=UTC).astimezone(WARSAW)
    summer = datetime(2026, 3, 30, 6, 30, tzinfo=UTC).astimezone(WARSAW)
    assert not rule.matches(winter)
    assert rule.matches(summer)
    # The night of the change itself: 02:00-03:00 does not exist on 2026-03-29 in Warsaw.
    night = tr.parse_rule({"hours": "01:00-04:00"})
    assert night.matches(datetime(2026, 3, 29, 0, 30, tzinfo=UTC).astimezone(WARSAW))  # 01:30 CET
    assert night.matches(datetime(2026, 3, 29, 1, 30, tzinfo=UTC).astimezone(WARSAW))  # 03:30 CEST
    assert not night.matches(datetime(2026, 3, 29, 2, 30, tzinfo=UTC).astimezone(WARSAW))  # 04:30 CEST
