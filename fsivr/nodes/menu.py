"""menu: a tone menu — prompt, wait for a key, branch per key; replay on no key or a wrong key."""

from __future__ import annotations

import re
from typing import Any

from fsivr import ringing
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.registry import register
from fsivr.nodes._prompt import prompt_or_text

KEYS = set("0123456789*#")


@register
class Menu(Node):
    type = "menu"
    summary = "tone menu: play a prompt, branch on the key pressed; replays on no key or a wrong key"
    params = {
        "prompt": Param(str, ref="prompt", doc="stored prompt to play"),
        "text": Param(str, doc="text to speak instead of a stored prompt"),
        "input_timeout": Param(float, default=5.0, between=(0, 300), low_open=True, unit="seconds",
                               doc="seconds to wait for a key after the prompt"),
        "digit_timeout": Param(float, default=3.0, between=(0, 300), low_open=True, unit="seconds",
                               doc="seconds between keys of an extension number"),
        "max_attempts": Param(int, default=3, between=(1, 20), doc="prompt plays at most this many times"),
        "invalid_prompt": Param(str, ref="prompt", doc="prompt played before a replay after no key or a wrong key"),
        "invalid_text": Param(str, doc="text spoken before a replay (instead of invalid_prompt)"),
        "language": Param(str, doc="language of text prompts: picks the TTS voice configured for it"),
        "allow_extension": Param(bool, default=False,
                                 doc="the caller may dial an employee's extension while the prompt plays"),
        "extension_digits": Param(int, default=3, doc="longest extension number (with allow_extension)"),
        "extension_ring_timeout": Param(int, default=20, between=ringing.RING_SECONDS, unit="seconds",
                                        doc="seconds a dialled extension rings (with allow_extension)"),
    }
    outcomes = ("timeout", "invalid", "extension")
    option_outcomes = True
    waits = True

    def compile(self) -> None:
        prompt_or_text(self, required=True)
        options: dict[str, Any] = self.p.get("options") or {}
        if not options and not self.p["allow_extension"]:
            raise self.error("a menu needs options (key: next node)", "options")
        for key in options:
            if key not in KEYS:
                raise self.error(f"option key {key!r} must be one key: 0-9, * or #", f"options.{key}")
        self.options = options
        if self.p["invalid_prompt"]:
            self.refs.append(Ref("prompt", self.p["invalid_prompt"], "invalid_prompt"))
        alternatives = [re.escape(k) for k in options]
        max_digits = 1
        if self.p["allow_extension"]:
            max_digits = max(1, self.p["extension_digits"])
            alternatives.append(rf"\d{{2,{max_digits}}}" if max_digits >= 2 else r"\d")
        self.max_digits = max_digits
        self.regex = "^(" + "|".join(alternatives) + ")$"
        # '#' ends digit entry in FreeSWITCH unless it is itself an option.
        self.terminators = "none" if "#" in options else "#"

    def extra_outcomes(self) -> tuple[str, ...]:
        return tuple(self.p.get("options") or ())

    def possible_outcomes(self) -> tuple[str, ...]:
        # Without allow_extension no dialled extension is collected, so `extension` never happens.
        outcomes = super().possible_outcomes()
        return outcomes if self.p["allow_extension"] else tuple(o for o in outcomes if o != "extension")

    def run(self, call: Call) -> str:
        call.answer()
        lang = self.p["language"]
        prompt = call.playable(self.p["prompt"], self.p["text"], language=lang)
        invalid = None
        if self.p["invalid_prompt"] or self.p["invalid_text"]:
            invalid = call.playable(self.p["invalid_prompt"], self.p["invalid_text"], language=lang)
        last = "timeout"
        # One play_and_get_digits per attempt (rather than FreeSWITCH's own retries) so that the
        # outcome reflects the *last* attempt and the invalid prompt precedes each replay only.
        for attempt in range(self.p["max_attempts"]):
            if attempt and invalid is not None:
                # A separate playback rather than file_string://a!b: file_string opens plain
                # files only, and a text prompt ("say:") must work here too.
                call.play(invalid)
            got = call.collect(prompt, min_digits=1, max_digits=self.max_digits, tries=1,
                               timeout=self.p["input_timeout"], terminators=self.terminators,
                               regex=self.regex, digit_timeout=self.p["digit_timeout"],
                               invalid="silence_stream://10")
            call.vars["attempts"] = attempt + 1
            if got.digits:
                call.vars["digits"] = got.digits
                if got.digits in self.options:
                    return got.digits
                call.vars["extension"] = got.digits
                # Ring that employee here (shared with the extension node); the menu then takes
                # `extension`, and call.last_ring tells a status_condition how it went. An
                # extension nobody has counts as a wrong key: replay, as for any invalid input.
                if ringing.ring_extension(call, got.digits, self.p["extension_ring_timeout"]) is not None:
                    return "extension"
                got.invalid = got.digits
            last = "invalid" if got.invalid else "timeout"
            if got.invalid:
                call.vars["invalid_digits"] = got.invalid
        return last
