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
        "number": Param(str, check=_number, doc="number to dial, e.g. +48600100200 (or give prompt)"),
        "prompt": Param(str, ref="prompt",
                        doc="instead of number: ask the caller for the number, keys ended by #"),
        "input_timeout": Param(int, default=10, between=(1, 60), unit="seconds",
                               doc="with prompt: seconds to wait for the first key"),
        "gateway": Param(str, ref="gateway", doc="gateway to dial through (default: the default gateway)"),
        "caller_id": Param(str, check=ringing.caller_id_check,
                           doc="caller ID shown to the far end (default: the gateway's, else the caller's)"),
        "ring_timeout": Param(int, default=30, between=ringing.RING_SECONDS, unit="seconds",
                              doc="seconds to let it ring"),
    }
    #: invalid: with prompt, the caller keyed no usable number.
    outcomes = (*ringing.RING_OUTCOMES, "invalid")
    waits = True
    instant_outcomes = ("failed",)  # no gateway, or the gateway refuses at once
    # The caller talked to someone; when the other side hangs up, ending the call is expected.
    ending_outcomes = ("answered",)

    def compile(self) -> None:
        if bool(self.p.get("number")) == bool(self.p.get("prompt")):
            raise self.error("give either number or prompt (the caller keys the number in)", "number")

    def possible_outcomes(self) -> tuple[str, ...]:
        found = super().possible_outcomes()
        return found if self.p.get("prompt") else tuple(o for o in found if o != "invalid")

    def run(self, call: Call) -> str:
        number = self.p["number"]
        if self.p.get("prompt"):
            # The caller keys the number in, ended by # (e.g. a "line through the company"):
            # digits only, so nothing the caller sends reaches the dial string but a number.
            got = call.collect(call.playable(self.p["prompt"]), min_digits=3, max_digits=20,
                               timeout=float(self.p["input_timeout"]), terminators="#", regex=r"\d{3,20}",
                               digit_timeout=5.0)
            if not got.digits or not DIALABLE_NUMBER.match(got.digits):
                return "invalid"
            number = got.digits
            call.vars["forward_number"] = number
        resolver = ringing.resolver_for(call, gateway=self.p["gateway"], caller_id=self.p["caller_id"])
        leg = resolver.number_leg(number, self.p["ring_timeout"])
        resolver.report(call, self.id)
        return ringing.ring(call, [leg] if leg else [], "simultaneous", label=number).outcome
