"""play: play a recorded prompt or speak a text, optionally for a limited time."""

from __future__ import annotations

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.registry import register


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0 seconds")
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
            call.execute("pre_answer", timeout=call.services.config.command_timeout * 3)
        playable = call.playable(self.p["prompt"], self.p["text"], language=self.p["language"],
                                 voice=self.p["voice"])
        if self.p["duration"]:
            # playback stops itself after playback_timeout_sec (switch_ivr_play_say.c).
            call.set_channel_vars({"playback_timeout_sec": str(int(self.p["duration"]))})
            try:
                call.play(playable)
            finally:
                if not call.conn.hungup.is_set():
                    call.execute("unset", "playback_timeout_sec", timeout=call.services.config.command_timeout * 3)
        else:
            call.play(playable)
        return "next"
