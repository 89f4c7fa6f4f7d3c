"""status_condition: branch on how the last dial/forward/group/... of this call ended."""

from __future__ import annotations

from fsivr import ringing
from fsivr.engine.call import Call
from fsivr.engine.node import Node
from fsivr.engine.registry import register


@register
class StatusCondition(Node):
    type = "status_condition"
    summary = "branch on the result of the last dial/forward/group/queue of this call"
    params = {}
    outcomes = ringing.RING_OUTCOMES
    runs_after_call = True

    def run(self, call: Call) -> str:
        last = call.last_ring
        # Nothing rang yet on this call: nobody could be reached — "failed", never "answered".
        if last is None or last.outcome not in ringing.RING_OUTCOMES:
            return ringing.FAILED
        return last.outcome
