"""time_condition: branch on the call's arrival time (office hours, holidays)."""

from __future__ import annotations

from typing import Any

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes import _timerules as tr


def _check_rules(value: Any) -> Any:
    if not value:
        raise ValueError("needs at least one rule")
    for i, rule in enumerate(value):
        try:
            tr.parse_rule(rule)
        except ValueError as exc:
            raise ValueError(f"rule {i + 1}: {exc}") from None
    return value


def _check_holidays(value: Any) -> Any:
    tr.parse_holidays(value)
    return value


@register
class TimeCondition(Node):
    type = "time_condition"
    summary = "branch on the call's arrival time in a timezone: day/hour rules, dates, holidays"
    params = {
        "timezone": Param(str, default="UTC", doc="IANA timezone, e.g. Europe/Warsaw", check=tr.zone),
        "rules": Param(list, required=True, check=_check_rules,
                       doc="list of {days: mon-fri, hours: '08:00-16:00', dates: [...]}; any rule matching "
                           "means match"),
        "holidays": Param((list, dict), default=[], check=_check_holidays,
                          doc="dates (YYYY-MM-DD, MM-DD, ranges a..b of either), RRULEs (FREQ=YEARLY;...) and national "
                              "calendars ({country: PL}, moving feasts included); or one mapping "
                              "{country: PL, subdiv: .., dates: [...]}; a holiday never matches"),
    }
    outcomes = ("match", "nomatch")
    runs_after_call = True

    def compile(self) -> None:
        tz = self.p["timezone"]
        self.zone = tz if not isinstance(tz, str) else tr.zone(tz)
        self.p["timezone"] = getattr(self.zone, "key", str(tz))
        self.rules = [tr.parse_rule(r) for r in self.p["rules"]]
        try:
            self.holidays = tr.parse_holidays(self.p["holidays"])
        except ValueError as exc:
            raise self.error(str(exc), "holidays") from None

    def run(self, call: Call) -> str:
        local = call.arrived_at.astimezone(self.zone)
        call.vars["local_time"] = local.isoformat()
        # A holiday closes the day's hours, including the small hours of a night shift that
        # started that day - and not those of one that started the day before.
        for rule in self.rules:
            day = rule.shift_day(local)
            if day is not None and not any(h.matches(day) for h in self.holidays):
                return "match"
        return "nomatch"
