"""callback: register a callback — the worker calls the caller back later and runs a scenario.

The node only writes a job (an outbox row, engine/callbacks.py); ``fsivr worker`` places the call
within ``allowed_hours`` in ``timezone``, no earlier than ``delay`` seconds from now, up to
``attempts`` times ``spacing`` seconds apart (fsivr/worker/callback.py). Nothing is answered here:
before ``hangup`` this leaves the caller's call unanswered ("call me back through the company").
"""

from __future__ import annotations

from datetime import time, timedelta

from fsivr.engine.call import Call
from fsivr.engine.callbacks import callback_key
from fsivr.engine.hours import AllowedHours, check_hours, check_zone, windows
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.registry import register
from fsivr.store.phone import DIALLABLE


def _caller_id(value: str) -> str:
    if value and not DIALLABLE.match(value):
        raise ValueError(f"caller_id {value!r} is not a number")
    return value


@register
class Callback(Node):
    type = "callback"
    summary = "register a callback: the worker later calls the caller back and runs a scenario"
    params = {
        "scenario": Param(str, required=True, ref="scenario", doc="scenario the callback call runs"),
        "delay": Param((int, float), default=0, between=(0, 30 * 86400), unit="seconds",
                       doc="earliest callback, seconds after this call"),
        "allowed_hours": Param((str, list), default=None, check=check_hours,
                               doc="local windows the callback may be placed in, e.g. 09:00-20:00"),
        "timezone": Param(str, default="UTC", check=check_zone, doc="IANA timezone of allowed_hours"),
        "attempts": Param(int, default=3, between=(1, 20), doc="calls placed at most"),
        "spacing": Param((int, float), default=600, between=(0, 7 * 86400), unit="seconds",
                         doc="wait between attempts"),
        "caller_id": Param(str, default="", check=_caller_id,
                           doc="caller ID number the callback shows (e.g. the company's number)"),
    }
    outcomes = ("next",)

    def compile(self) -> None:
        self.refs.append(Ref("scenario", self.p["scenario"], "scenario"))
        self.hours = AllowedHours.parse(windows(self.p["allowed_hours"]), self.p["timezone"])

    def run(self, call: Call) -> str:
        callbacks = call.services.callbacks
        if callbacks is None:
            raise RuntimeError("callback: no database to keep the callback in")
        number = call.caller
        if not DIALLABLE.match(number or ""):
            raise ValueError(f"callback: the caller's number {number!r} cannot be called back")
        now = call.now()
        due = self.hours.next_allowed(now + timedelta(seconds=float(self.p["delay"])))
        payload = {"number": number, "scenario": self.p["scenario"], "caller_id": self.p["caller_id"],
                   "allowed_hours": [f"{a:%H:%M}-{'24:00' if b == time.max else f'{b:%H:%M}'}"
                                     for a, b in self.hours.windows],
                   "timezone": self.p["timezone"], "attempts": int(self.p["attempts"]),
                   "spacing": float(self.p["spacing"]), "requested_by": call.uuid}
        done = callbacks.register(callback_key(number, call.uuid, self.id), payload, due, now, call.uuid)
        call.step_detail.update(callback=done.id, due=due.isoformat())
        return "next"
