"""forward: send the call to an external number through a gateway."""

from __future__ import annotations

from fsivr import ringing
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.store.names import DIALABLE_NUMBER


def _number(value: str) -> str:
    value = value.strip()
    if not DIALABLE_NUMBER.match(value):
        raise ValueError("must be a phone number: digits, optionally starting with +")
    return value


@register
class Forward(Node):
    type = "forward"
    summary = "forward the call to an external number through a gateway"
    params = {
        "number": Param(str, required=True, check=_number, doc="number to dial, e.g. +48600100200"),
        "gateway": Param(str, ref="gateway", doc="gateway to dial through (default: the default gateway)"),
        "caller_id": Param(str, check=ringing.caller_id_check,
                           doc="caller ID shown to the far end (default: the gateway's, else the caller's)"),
        "ring_timeout": Param(int, default=30, between=ringing.RING_SECONDS, unit="seconds",
                              doc="seconds to let it ring"),
    }
    outcomes = ringing.RING_OUTCOMES
    waits = True
    instant_outcomes = ("failed",)  # no gateway, or the gateway refuses at once
    # The caller talked to someone; when the other side hangs up, ending the call is expected.
    ending_outcomes = ("answered",)

    def run(self, call: Call) -> str:
        resolver = ringing.resolver_for(call, gateway=self.p["gateway"], caller_id=self.p["caller_id"])
        leg = resolver.number_leg(self.p["number"], self.p["ring_timeout"])
        resolver.report(call, self.id)
        return ringing.ring(call, [leg] if leg else [], "simultaneous", label=self.p["number"]).outcome
