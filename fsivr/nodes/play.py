"""play: play a recorded prompt or speak a text, optionally for a limited time."""

from __future__ import annotations

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.registry import register


def _positive(value: float) -> float:
    if not 0 < value <= 3600:
        raise ValueError("must be more than 0 and at most 3600 seconds")
    return value


@register
class Play(Node):
    type = "play"
    summary = "play a recorded prompt or speak text (TTS)"
    params = {
        "prompt": Param(str, doc="name of a stored prompt", ref="prompt"),
        "text": Param(str, doc="text to speak instead of a prompt"),
        "language": Param(str, doc="language of a text prompt: picks the TTS voice configured for it"),
        "voice": Param(str, doc="TTS voice for text (overrides the language's voice)"),
        "duration": Param(float, check=_positive, doc="stop after this many seconds"),
        "answer": Param(bool, default=True, doc="answer the call first (false: early media)"),
    }
    outcomes = ("next",)
    waits = True

    def compile(self) -> None:
        if bool(self.p["prompt"]) == bool(self.p["text"]):
            raise self.error("give exactly one of prompt or text", "prompt")
        if self.p["prompt"]:
            self.refs.append(Ref("prompt", self.p["prompt"], "prompt"))

    def run(self, call: Call) -> str:
        if self.p["answer"]:
            call.answer()
        elif not call.conn.answered:
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
