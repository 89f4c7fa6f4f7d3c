"""extension: collect an employee's short number and ring that employee."""

from __future__ import annotations

from fsivr import ringing
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes._prompt import prompt_or_text


@register
class Extension(Node):
    type = "extension"
    summary = "collect an employee's short number (ended by # or a pause) and ring that employee"
    params = {
        "prompt": Param(str, ref="prompt", doc="prompt asking for the extension (none: silence)"),
        "text": Param(str, doc="text to speak instead of a stored prompt"),
        "digits": Param(int, default=3, between=(1, 10), doc="longest extension number"),
        "input_timeout": Param(float, default=5.0, between=(0, 60), low_open=True, unit="seconds",
                                doc="seconds to wait for the first key"),
        "digit_timeout": Param(float, default=3.0, between=(0, 60), low_open=True, unit="seconds",
                                doc="seconds between keys"),
        "ring_timeout": Param(int, default=20, between=ringing.RING_SECONDS, unit="seconds",
                              doc="seconds the employee rings"),
    }
    outcomes = (*ringing.RING_OUTCOMES, "invalid")
    waits = True
    instant_outcomes = ("failed",)  # the employee's phone refuses at once
    # The caller talked to someone; when the other side hangs up, ending the call is expected.
    ending_outcomes = ("answered",)

    def compile(self) -> None:
        prompt_or_text(self, required=False)

    def run(self, call: Call) -> str:
        call.answer()
        has_prompt = self.p["prompt"] or self.p["text"]
        # "silence": play_and_get_digits plays nothing and just collects (mod_dptools.c).
        prompt = call.playable(self.p["prompt"], self.p["text"]) if has_prompt else "silence"
        got = call.collect(prompt, min_digits=1, max_digits=self.p["digits"], tries=1,
                           timeout=self.p["input_timeout"], terminators="#", regex=r"\d+",
                           digit_timeout=self.p["digit_timeout"])
        if not got.digits:
            return "invalid"
        call.vars["extension"] = got.digits
        result = ringing.ring_extension(call, got.digits, self.p["ring_timeout"])
        if result is None:
            call.vars["invalid_digits"] = got.digits
            return "invalid"
        return result.outcome
