"""Office-hours rules: day ranges, hour ranges, dates and holidays, evaluated in local time.

Semantics a PBX user expects:
- ``days: fri-mon`` wraps over the weekend (fri, sat, sun, mon).
- ``hours: "22:00-06:00"`` runs past midnight, and belongs to the day it *starts* on: with
  ``days: fri``, Saturday 02:00 is inside (Friday's night shift), Friday 02:00 is not.
- ``dates``: ``2026-12-24`` (that day), ``12-24`` (every year), ``2026-12-24..2027-01-02``,
  ``12-24..01-02`` (every year, over New Year).
- holidays: dates as above, RFC 5545 RRULEs (``FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25``) or a
  country's public holidays from the ``holidays`` package (``{country: PL}``, moving feasts such
  as Easter Monday included); a holiday is a whole local day on which no rule matches.
Everything is computed on the local wall clock of the rule's IANA timezone from an aware instant,
so DST changes cannot shift office hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEARLY = re.compile(r"^(\d{2})-(\d{2})$")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {name!r}") from None


def parse_days(text: str) -> frozenset[int]:
    """``mon-fri``, ``fri-mon``, ``mon,wed,fri``, ``sat`` → weekday numbers (Monday = 0)."""
    result: set[int] = set()
    for part in str(text).lower().replace(" ", "").split(","):
        if not part:
            continue
        first, sep, last = part.partition("-")
        if first not in DAYS or (sep and last not in DAYS):
            raise ValueError(f"bad day range {part!r} (use mon..sun, e.g. mon-fri or fri-mon)")
        a = DAYS.index(first)
        b = DAYS.index(last) if sep else a
        day = a
        while True:
            result.add(day)
            if day == b:
                break
            day = (day + 1) % 7
    if not result:
        raise ValueError("no days given")
    return frozenset(result)


@dataclass(frozen=True)
class HourRange:
    start: time
    end: time

    @property
    def wraps(self) -> bool:
        return self.end <= self.start


def parse_hours(text: str) -> tuple[HourRange, ...]:
    """``08:00-16:00`` or several separated by commas; ``24:00`` means end of day."""
    ranges = []
    for part in str(text).split(","):
        m = _HOURS.match(part)
        if not m:
            raise ValueError(f"bad hour range {part.strip()!r} (use HH:MM-HH:MM)")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"bad hour range {part.strip()!r}")
        end = time.max if h2 == 24 else time(h2, m2)
        if (h1, m1) == (h2, m2):
            raise ValueError(f"empty hour range {part.strip()!r}")
        ranges.append(HourRange(time(h1, m1), end))
    return tuple(ranges)


@dataclass(frozen=True)
class DateSpec:
    first: date | None = None
    last: date | None = None
    month_day: tuple[int, int] | None = None
    #: Every year from one (month, day) to another, both included; wraps over New Year
    #: (``12-24..01-02``).
    yearly: tuple[tuple[int, int], tuple[int, int]] | None = None

    def matches(self, day: date) -> bool:
        if self.month_day is not None:
            return (day.month, day.day) == self.month_day
        if self.yearly is not None:
            (start, end), today = self.yearly, (day.month, day.day)
            return start <= today <= end if start <= end else today >= start or today <= end
        assert self.first is not None and self.last is not None
        return self.first <= day <= self.last


def parse_date(text: str) -> DateSpec:
    text = str(text).strip()
    if ".." in text:
        a, b = (p.strip() for p in text.split("..", 1))
        if _YEARLY.match(a) and _YEARLY.match(b):
            first_md, last_md = parse_date(a).month_day, parse_date(b).month_day
            assert first_md is not None and last_md is not None
            return DateSpec(yearly=(first_md, last_md))
        first, last = _iso(a), _iso(b)
        if last < first:
            raise ValueError(f"date range {text!r} ends before it starts")
        return DateSpec(first, last)
    if _FULL_DATE.match(text):
        d = _iso(text)
        return DateSpec(d, d)
    m = _YEARLY.match(text)
    if m:
        month, day = int(m.group(1)), int(m.group(2))
        try:
            date(2024, month, day)  # a leap year, so 02-29 is accepted
        except ValueError:
            raise ValueError(f"bad month-day {text!r}") from None
        return DateSpec(month_day=(month, day))
    raise ValueError(f"bad date {text!r} (use YYYY-MM-DD, MM-DD, YYYY-MM-DD..YYYY-MM-DD or MM-DD..MM-DD)")


def _iso(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad date {text!r}") from None


@dataclass(frozen=True)
class Rule:
    days: frozenset[int] | None
    hours: tuple[HourRange, ...] | None
    dates: tuple[DateSpec, ...] | None

    def matches(self, local: datetime) -> bool:
        return self.shift_day(local) is not None

    def shift_day(self, local: datetime) -> date | None:
        """The day whose opening hours ``local`` falls in (yesterday for the small hours of a shift
        that runs past midnight), or None if no hours of this rule cover it."""
        today = local.date()
        if self.hours is None:
            return today if self._day_ok(today) else None
        now = local.time()
        for r in self.hours:
            if not r.wraps:
                inside = r.start <= now < r.end or (r.end == time.max and now >= r.start)
                if inside and self._day_ok(today):
                    return today
            else:
                # Past midnight: the evening part belongs to today, the morning part to the
                # shift that started yesterday.
                if now >= r.start and self._day_ok(today):
                    return today
                yesterday = today - timedelta(days=1)
                if now < r.end and self._day_ok(yesterday):
                    return yesterday
        return None

    def _day_ok(self, day: date) -> bool:
        if self.days is not None and day.weekday() not in self.days:
            return False
        return self.dates is None or any(d.matches(day) for d in self.dates)


def parse_rule(raw: object) -> Rule:
    if not isinstance(raw, dict):
        raise ValueError(f"each rule must be a mapping with days/hours/dates, got {raw!r}")
    unknown = set(raw) - {"days", "hours", "dates"}
    if unknown:
        raise ValueError(f"unknown rule key(s) {', '.join(sorted(map(str, unknown)))} (use days, hours, dates)")
    if not raw:
        raise ValueError("a rule needs at least one of days, hours, dates")
    dates_raw = raw.get("dates")
    if dates_raw is not None and not isinstance(dates_raw, list):
        dates_raw = [dates_raw]
    return Rule(
        days=parse_days(raw["days"]) if raw.get("days") is not None else None,
        hours=parse_hours(raw["hours"]) if raw.get("hours") is not None else None,
        dates=tuple(parse_date(d) for d in dates_raw) if dates_raw is not None else None,
    )


#: RRULE frequencies a holiday may use: finer ones describe no holiday and cost a lot to expand.
HOLIDAY_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")


class Holiday:
    """A date spec or an RRULE; ``matches`` asks whether a local day is a holiday.

    An RRULE's dates are expanded once per year and kept, so a call costs a set lookup (expanding
    from the rule's start on every call took tens of milliseconds for a DAILY rule, on the hub).
    """

    def __init__(self, text: str) -> None:
        self.text = str(text).strip()
        self.spec: DateSpec | None = None
        self.rule = None
        self._years: dict[int, frozenset[date]] = {}
        upper = self.text.upper()
        if upper.startswith("RRULE:") or upper.startswith("FREQ=") or upper.startswith("DTSTART"):
            freq = re.search(r"FREQ=([A-Z]+)", upper)
            if freq is None or freq.group(1) not in HOLIDAY_FREQS:
                raise ValueError(f"RRULE {self.text!r}: FREQ must be one of {', '.join(HOLIDAY_FREQS)}")
            _check_rrule_parts(self.text, upper)
            try:
                # dtstart in the past so yearly rules cover every year we will see; an explicit
                # DTSTART in the text wins.
                self.rule = rrulestr(self.text, dtstart=datetime(2000, 1, 1), forceset=True, ignoretz=True)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"bad RRULE {self.text!r}: {exc}") from None
            # dateutil takes BYMONTH=2;BYMONTHDAY=30 and just never yields a date: a holiday that
            # never comes is a mistake. Eight years from the rule's start hold a 29 February.
            # (Bounded: rrule.after() on such a rule walks day by day to the year 9999.)
            rules = getattr(self.rule, "_rrule", None) or []
            start = getattr(rules[0], "_dtstart", None) if rules else None
            start = start or datetime(2000, 1, 1)
            if not self.rule.between(start, start.replace(year=start.year + 8), inc=True):
                raise ValueError(f"RRULE {self.text!r} never gives a date")
        else:
            self.spec = parse_date(self.text)

    def matches(self, day: date) -> bool:
        if self.spec is not None:
            return self.spec.matches(day)
        dates = self._years.get(day.year)
        if dates is None:
            start = datetime(day.year, 1, 1)
            end = datetime(day.year, 12, 31, 23, 59, 59)
            dates = frozenset(d.date() for d in self.rule.between(start, end, inc=True))
            self._years[day.year] = dates
        return day in dates


#: RFC 5545 section 3.3.10: the values each BY part may take (negative ones count from the end).
_RRULE_RANGES = {"BYMONTH": (1, 12, False), "BYMONTHDAY": (1, 31, True), "BYYEARDAY": (1, 366, True),
                 "BYWEEKNO": (1, 53, True), "BYSETPOS": (1, 366, True), "BYHOUR": (0, 23, False),
                 "BYMINUTE": (0, 59, False), "BYSECOND": (0, 60, False)}
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _check_rrule_parts(text: str, upper: str) -> None:
    """Refuse BY values no date has (``BYMONTHDAY=32``), with the part named; dateutil accepts
    many of them silently and the rule then never matches."""
    found: dict[str, list[int]] = {}
    for name, values in re.findall(r"(BY[A-Z]+)=([^;\s]+)", upper):
        if name not in _RRULE_RANGES:
            continue
        low, high, signed = _RRULE_RANGES[name]
        numbers = []
        for v in values.split(","):
            try:
                n = int(v)
            except ValueError:
                raise ValueError(f"RRULE {text!r}: {name}={values} is not a list of numbers") from None
            if not (low <= n <= high or (signed and -high <= n <= -low)):
                allowed = f"{low}..{high}" + (f" or -{high}..-{low}" if signed else "")
                raise ValueError(f"RRULE {text!r}: {name}={n} is impossible ({allowed})")
            numbers.append(n)
        found[name] = numbers
    days, months = found.get("BYMONTHDAY"), found.get("BYMONTH")
    if days and months and not any(0 < d <= _MONTH_DAYS[m - 1] for d in days if d > 0 for m in months) \
            and all(d > 0 for d in days):
        raise ValueError(f"RRULE {text!r}: no month in BYMONTH has day {', '.join(map(str, days))}")


class NationalHolidays:
    """A country's public holidays (``{country: PL, subdiv: ...}``) from the ``holidays`` package,
    computed per year on first use and kept (a set lookup per call after that). The package is
    imported here, by the first such entry, not with the node types: it takes a seventh of a second
    and most scenarios name no country."""

    KEYS = ("country", "subdiv")

    def __init__(self, raw: dict[str, object]) -> None:
        unknown = set(map(str, raw)) - set(self.KEYS)
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))} (use country, subdiv)")
        country = str(raw.get("country") or "").strip().upper()
        subdiv = raw.get("subdiv")
        self.text = f"{country}" + (f"/{subdiv}" if subdiv else "")
        import holidays as national

        supported = national.list_supported_countries()
        if country not in supported:
            raise ValueError(f"country {country!r}: the holidays package has no calendar for it "
                             "(an ISO 3166 code such as PL, DE, UA)")
        if subdiv is not None and str(subdiv) not in supported[country]:
            raise ValueError(f"country {country}: no subdivision {subdiv!r} "
                             f"(known: {', '.join(supported[country]) or 'none'})")
        self.country, self.subdiv = country, None if subdiv is None else str(subdiv)
        self._years: dict[int, frozenset[date]] = {}

    def matches(self, day: date) -> bool:
        dates = self._years.get(day.year)
        if dates is None:
            import holidays as national  # once a year per calendar: imported already by __init__

            cal = national.country_holidays(self.country, subdiv=self.subdiv, years=day.year)
            dates = self._years[day.year] = frozenset(cal)
        return day in dates


def parse_holidays(value: object) -> list[Holiday | NationalHolidays]:
    """``holidays:`` of a time_condition: a list of dates, ranges, RRULEs and ``{country: XX}``
    entries, or one mapping ``{country: XX, subdiv: .., dates: [...]}``."""
    items: list[object]
    if isinstance(value, dict):
        rest = {k: v for k, v in value.items() if k != "dates"}
        extra = value.get("dates") or []
        items = [rest, *(extra if isinstance(extra, list) else [extra])]
    else:
        items = list(value or [])
    out: list[Holiday | NationalHolidays] = []
    for i, item in enumerate(items):
        try:
            out.append(NationalHolidays(item) if isinstance(item, dict) else Holiday(str(item)))
        except ValueError as exc:
            raise ValueError(f"holiday {i + 1}: {exc}") from None
    return out


def scheduled(rules: list[Rule], days_off: list[Holiday | NationalHolidays], local: datetime) -> bool:
    """Does the schedule say open at ``local``? A holiday closes the day's hours, including the
    small hours of a night shift that started that day - and not those of one that started the
    day before."""
    for rule in rules:
        day = rule.shift_day(local)
        if day is not None and not any(h.matches(day) for h in days_off):
            return True
    return False


#: How far ahead the next scheduled change is looked for (a schedule that never changes has none).
CHANGE_HORIZON_DAYS = 366


def next_change(rules: list[Rule], days_off: list[Holiday | NationalHolidays], zone: ZoneInfo,
                after: datetime) -> datetime | None:
    """The first moment after ``after`` at which the schedule's answer differs from now, or None
    within CHANGE_HORIZON_DAYS. The answer can only change at a rule's hour boundary or at
    midnight (days, dates, holidays), so only those moments of each day are tried."""
    local = after.astimezone(zone)
    now_open = scheduled(rules, days_off, local)
    marks = {time(0, 0)}
    for rule in rules:
        for r in rule.hours or ():
            marks.add(r.start)
            if r.end != time.max:  # "24:00" ends at the next midnight, already a mark
                marks.add(r.end)
    ordered = sorted(marks)
    for offset in range(CHANGE_HORIZON_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        for mark in ordered:
            at = datetime.combine(day, mark, tzinfo=zone)
            if at > local and scheduled(rules, days_off, at) != now_open:
                return at
    return None
