"""hangup: end the call with a cause."""

from __future__ import annotations

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register

#: Causes a scenario may end a call with (switch_types.h, switch_call_cause_t), the usual ones.
CAUSES = ("NORMAL_CLEARING", "USER_BUSY", "CALL_REJECTED", "NO_ANSWER", "UNALLOCATED_NUMBER",
          "NORMAL_TEMPORARY_FAILURE", "SERVICE_UNAVAILABLE", "NO_ROUTE_DESTINATION", "NORMAL_UNSPECIFIED")


@register
class Hangup(Node):
    type = "hangup"
    summary = "end the call"
    params = {"cause": Param(str, default="NORMAL_CLEARING", choices=CAUSES, doc="hangup cause sent to the caller")}
    outcomes = ()
    runs_after_call = True
    terminal = True

    def run(self, call: Call) -> str:
        if call.after_call:
            return "hangup"  # the call is over (or released): nothing of ours to end
        call.hangup(self.p["cause"])
        # Wait (bounded) for FreeSWITCH to confirm, so the record carries the real cause.
        call.wait_hangup()
        return "hangup"
