"""play: play a recorded prompt or speak a text, optionally for a limited time."""

from __future__ import annotations

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes._prompt import prompt_or_text


@register
class Play(Node):
    type = "play"
    summary = "play a recorded prompt or speak text (TTS)"
    params = {
        "prompt": Param(str, doc="name of a stored prompt", ref="prompt"),
        "text": Param(str, doc="text to speak instead of a prompt"),
        "language": Param(str, doc="language of a text prompt: picks the TTS voice configured for it"),
        "voice": Param(str, doc="TTS voice for text (overrides the language's voice)"),
        "duration": Param(float, between=(0, 3600), low_open=True, unit="seconds",
                          doc="stop after this many seconds"),
        "answer": Param(bool, default=True, doc="answer the call first (false: early media)"),
    }
    outcomes = ("next",)
    waits = True

    def compile(self) -> None:
        prompt_or_text(self, required=True)

    def run(self, call: Call) -> str:
        if self.p["answer"]:
            call.answer()
        elif not call.answered:
            call.execute("pre_answer", timeout=call.quick_timeout)
        playable = call.playable(self.p["prompt"], self.p["text"], language=self.p["language"],
                                 voice=self.p["voice"])
        if self.p["duration"]:
            # Not playback_timeout_sec: FreeSWITCH ignores it below 2 s and for "say:" text
            # (switch_ivr_play_file returns through speak_text first, switch_ivr_play_say.c).
            # uuid_break ends whatever plays, file or speech, at the moment we choose.
            call.play_for(playable, self.p["duration"])
        else:
            call.play(playable)
        return "next"
