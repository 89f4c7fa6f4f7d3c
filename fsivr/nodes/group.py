"""group: ring a stored group of employees with the group's own strategy."""

from __future__ import annotations

from fsivr import ringing
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register


@register
class Group(Node):
    type = "group"
    summary = "ring a stored group (its members, strategy, per-member timeouts and weights)"
    params = {
        "group": Param(str, required=True, ref="group", doc="name of the group"),
    }
    outcomes = ringing.RING_OUTCOMES
    waits = True
    instant_outcomes = ("failed",)  # an empty group, or every member refused at once
    # The caller talked to someone; when the other side hangs up, ending the call is expected.
    ending_outcomes = ("answered",)

    def run(self, call: Call) -> str:
        resolver = ringing.resolver_for(call)
        group = call.services.directory.group(self.p["group"])
        legs = resolver.group_legs(self.p["group"])
        resolver.report(call, self.id)
        ringing.remember_employees(call, legs)
        strategy = group.strategy if group is not None else "simultaneous"
        return ringing.ring(call, legs, strategy, label=f"group:{self.p['group']}").outcome
