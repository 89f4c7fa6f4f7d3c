"""time_override: the staff feature code of the day/night switch.

A number (a scenario) reached by staff — after an ``authorize`` node checks their PIN — forces the
time conditions that name this switch (``time_condition``'s ``override``) open or closed: until
the schedule's next change of its own, or until a time of day the caller keys in (HHMM, the next
such moment). ``toggle`` flips what callers get now, and flipping back to what the schedule says
simply clears the override. The change is stored with the caller's number and logged
(store/overrides.py); ``fsivr override`` does the same from a shell. An override ends by itself:
past its end the time conditions follow their rules again.

The rules are those of the time conditions in the loaded scenarios (``call.services.scenarios``,
the in-memory snapshot), so the next change is the one callers will see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.registry import register
from fsivr.nodes._prompt import prompt_or_text
from fsivr.nodes.time_condition import TimeCondition, switch_conditions, switch_name
from fsivr.store.overrides import Override

log = logging.getLogger("fsivr.nodes.time_override")

ACTIONS = ("toggle", "open", "closed", "clear")


class NoChange(ValueError):
    """The schedule does not change within the horizon: "until the next change" means nothing."""


@dataclass(frozen=True)
class Plan:
    """What to do to a switch: ``open``/``closed`` until ``until``, or ``clear``."""

    action: str
    until: datetime | None = None


def plan_override(conditions: list[TimeCondition], action: str, at: datetime, forced: Override | None,
                  until: datetime | None = None) -> Plan:
    """Decide the change (shared by this node and ``fsivr override set``). ``until`` None: the
    schedule's next change (the earliest over the conditions sharing the switch)."""
    if action == "clear":
        return Plan("clear")
    scheduled_open = conditions[0].scheduled(at)
    if action == "toggle":
        want_open = not (forced.state == "open" if forced is not None and forced.active(at) else scheduled_open)
        if want_open == scheduled_open:
            return Plan("clear")  # what the schedule says anyway: back to it
    else:
        want_open = action == "open"
    if until is None:
        changes = [c for c in (cond.next_change(at) for cond in conditions) if c is not None]
        if not changes:
            raise NoChange("the schedule does not change within a year; give an end time")
        until = min(changes)
    return Plan("open" if want_open else "closed", until)


def until_clock(zone: object, at: datetime, hhmm: str) -> datetime | None:
    """``HHMM`` keyed by the caller: the next moment with that local time after ``at``."""
    if len(hhmm) != 4 or not hhmm.isdigit():
        return None
    hour, minute = int(hhmm[:2]), int(hhmm[2:])
    if hour > 23 or minute > 59:
        return None
    local = at.astimezone(zone)  # type: ignore[arg-type]
    end = datetime.combine(local.date(), time(hour, minute), tzinfo=local.tzinfo)
    return end if end > local else datetime.combine(local.date() + timedelta(days=1), time(hour, minute),
                                                    tzinfo=local.tzinfo)


@register
class TimeOverride(Node):
    type = "time_override"
    summary = "staff feature code: force a day/night switch open or closed until a time or the next change"
    params = {
        "switch": Param(str, required=True, check=switch_name,
                        doc="the switch: time conditions with this `override` name follow it"),
        "action": Param(str, default="toggle", choices=ACTIONS,
                        doc="toggle (flip what callers get now), open, closed, or clear (back to the schedule)"),
        "until": Param(str, default="next_change", choices=("next_change", "ask"),
                       doc="until the schedule's next change, or ask the caller for a time of day (HHMM)"),
        "prompt": Param(str, ref="prompt", doc="prompt asking for the end time (until: ask)"),
        "text": Param(str, doc="text asking for the end time (until: ask), instead of a prompt"),
        "language": Param(str, doc="language of a text prompt: picks the TTS voice configured for it"),
        "input_timeout": Param(float, default=7.0, between=(0, 60), low_open=True, unit="seconds",
                               doc="seconds to wait for the first key of the end time"),
    }
    outcomes = ("open", "closed", "schedule", "invalid")
    waits = True
    #: Only ``until: ask`` waits for keys.
    instant_outcomes = ("open", "closed", "schedule", "invalid")

    def compile(self) -> None:
        prompt_or_text(self, required=False)
        # Validation checks some time_condition (in the bundle or the store) has this `override`.
        self.refs.append(Ref("switch", self.p["switch"], "switch"))
        asks = self.p["until"] == "ask"
        if asks and self.p["action"] == "clear":
            raise self.error("clear has no end time to ask for", "until")
        if asks and not (self.p["prompt"] or self.p["text"]):
            raise self.error("asking for the end time needs a prompt or text", "prompt")

    def run(self, call: Call) -> str:
        switch = self.p["switch"]
        conditions = switch_conditions(call.services.scenarios.scenarios.values(), switch)
        if not conditions:
            raise ValueError(f"no time_condition has override: {switch}")
        at = call.arrived_at
        until = None
        if self.p["until"] == "ask":
            call.answer()
            playable = call.playable(self.p["prompt"], self.p["text"], language=self.p["language"])
            keyed = call.collect(playable, min_digits=4, max_digits=4, timeout=self.p["input_timeout"],
                                 regex=r"\d{4}")
            # The end is a time of day on the switch's clock (its first condition's timezone).
            until = until_clock(conditions[0].zone, at, keyed.digits or "")
            if until is None:
                return "invalid"
        overrides = call.services.overrides
        try:
            plan = plan_override(conditions, self.p["action"], at, overrides.get(switch, at), until)
        except NoChange as exc:
            log.warning("call %s: time_override %s: %s", call.uuid, switch, exc)
            return "invalid"
        who = call.caller or "unknown"
        if plan.action == "clear":
            call.services.data.clear_override(switch, who, at)
            overrides.drop(switch)
            call.step_detail.update(switch=switch, action="clear")
            return "schedule"
        assert plan.until is not None
        done = call.services.data.set_override(switch, plan.action, plan.until, who, at)
        overrides.put(done)
        call.step_detail.update(switch=switch, action=plan.action, until=plan.until.isoformat())
        call.vars["override_until"] = plan.until.astimezone(conditions[0].zone).strftime("%H:%M")
        return plan.action
