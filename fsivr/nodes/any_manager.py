"""any_manager: connect the caller to whichever employee met earlier on this call becomes free first."""

from __future__ import annotations

import re

from fsivr import ringing
from fsivr.engine.call import Call, RingResult
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register


@register
class AnyManager(Node):
    type = "any_manager"
    summary = "ring the employees met earlier on this call (dial/group/extension) until one takes it"
    params = {
        "ring_timeout": Param(int, default=20, between=ringing.RING_SECONDS, unit="seconds",
                              doc="seconds each round rings"),
        "max_wait": Param(int, default=120, between=ringing.RING_SECONDS, unit="seconds",
                          doc="seconds in all before giving up (no_answer)"),
        "retry_interval": Param(float, default=5.0, between=(1, 60), unit="seconds",
                                doc="pause between rounds when everyone is busy or offline"),
    }
    outcomes = ("answered", "no_answer")
    waits = True
    instant_outcomes = ("no_answer",)  # nobody met earlier on the call
    # The caller talked to someone; when the other side hangs up, ending the call is expected.
    ending_outcomes = ("answered",)

    def run(self, call: Call) -> str:
        directory = call.services.directory
        accounts = [a for u in call.met_employees if (a := directory.account(u)) is not None]
        if not accounts:
            call.last_ring = RingResult(ringing.NO_ANSWER, "NO_TARGETS")
            return "no_answer"
        resolver = ringing.resolver_for(call)
        waited = 0.0
        # Rounds: ring everyone together; whoever is free answers. A busy or offline phone fails at
        # once, so between rounds the caller hears ringback for retry_interval and we try again —
        # "the first who becomes free". Time is counted on FreeSWITCH's clock (ring_seconds).
        while True:
            remaining = self.p["max_wait"] - waited
            if remaining < 1:
                break
            legs = [leg for a in accounts
                    if (leg := resolver.account_leg(a, int(min(self.p["ring_timeout"], remaining)))) is not None]
            resolver.report(call, self.id)
            result = ringing.ring(call, legs, "simultaneous", label="any_manager")
            if result.outcome == ringing.ANSWERED:
                return "answered"
            waited += float(call.vars.get("ring_seconds") or 0.0)
            pause = min(self.p["retry_interval"], self.p["max_wait"] - waited)
            if pause < 1:
                break
            waited += self._hold(call, pause)
        call.last_ring = RingResult(ringing.NO_ANSWER, call.last_ring.cause if call.last_ring else "NO_ANSWER",
                                    "any_manager")
        return "no_answer"

    @staticmethod
    def _hold(call: Call, seconds: float) -> float:
        """Ringback for about ``seconds`` between rounds (whole tone cycles); returns the time spent."""
        tone = call.services.config.ringback
        cycle = sum(int(on) + int(off) for on, off in re.findall(r"%\((\d+),(\d+)", tone)) / 1000.0 or 1.0
        loops = max(1, round(seconds / cycle))
        call.play(f"tone_stream://{tone};loops={loops}")
        return loops * cycle
