"""time_condition: branch on the call's arrival time (office hours, holidays)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes import _timerules as tr
from fsivr.store.names import DIALABLE_NAME

if TYPE_CHECKING:
    from fsivr.engine.scenario import CompiledScenario


def switch_name(value: str) -> str:
    if not DIALABLE_NAME.match(value):
        raise ValueError("a switch name is letters, digits and _ . + - (at most 64)")
    return value


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
        "override": Param(str, check=switch_name,
                          doc="name of the day/night switch that can force this condition open (match) or closed "
                              "(nomatch) for a while: a time_override node (staff feature code) or `fsivr override`"),
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
        switch = self.p.get("override")
        if switch:
            # In memory (engine/overrides.py): no database read on this path.
            forced = call.services.overrides.get(switch, call.arrived_at)
            if forced is not None:
                call.step_detail.update(override=forced.state, until=forced.until.isoformat())
                return "match" if forced.state == "open" else "nomatch"
        return "match" if self.scheduled(call.arrived_at) else "nomatch"

    def scheduled(self, at: datetime) -> bool:
        """What the rules and holidays say at ``at``, overrides aside."""
        return tr.scheduled(self.rules, self.holidays, at.astimezone(self.zone))

    def next_change(self, after: datetime) -> datetime | None:
        """When the schedule next changes its answer (None: not within a year)."""
        return tr.next_change(self.rules, self.holidays, self.zone, after)


def switch_conditions(scenarios: Iterable[CompiledScenario], switch: str) -> list[TimeCondition]:
    """Every time_condition, over all scenarios, that the switch ``switch`` overrides."""
    return [node for sc in scenarios for node in sc.nodes.values()
            if isinstance(node, TimeCondition) and node.p.get("override") == switch]
