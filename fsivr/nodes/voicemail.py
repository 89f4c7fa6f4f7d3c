"""voicemail: greeting, beep, record a message into a mailbox, keep it, e-mail it with the audio.

The message is kept even when the caller ends it by hanging up — that is how most people leave one:
``Call.record`` catches the record's completion that FreeSWITCH sends after CHANNEL_HANGUP
(trace 15), and the rest of this node (the row, the e-mail) needs no channel. Files are named from
the call's uuid, never from caller text.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes._prompt import prompt_or_text

log = logging.getLogger("fsivr.call")

#: tone_stream:// (mod_tone_stream): 250 ms of 1 kHz, the usual voicemail beep.
BEEP = "tone_stream://%(250,0,1000)"
#: The energy level below which a frame counts as silence (switch_ivr_record_file's
#: silence_threshold; FreeSWITCH's own voicemail uses 200).
SILENCE_THRESHOLD = 200
DEFAULT_GREETING = "Please leave a message after the tone."
#: A WAV's header: a file no bigger holds no audio.
WAV_HEADER = 44
UNSAFE = re.compile(r"[^A-Za-z0-9-]")


@register
class Voicemail(Node):
    type = "voicemail"
    summary = "greeting, beep, record a message into a mailbox, e-mail it with the audio attached"
    params = {
        "box": Param(str, required=True, ref="mailbox", doc="the mailbox (mailboxes: in the directory)"),
        "prompt": Param(str, ref="prompt", doc="greeting prompt (default: the prompt 'voicemail-<box>' if it "
                                              "exists, else a spoken default)"),
        "text": Param(str, doc="greeting spoken by TTS"),
        "beep": Param(bool, default=True),
        "max_seconds": Param(float, default=120.0, between=(1, 3600), unit="seconds",
                             doc="longest message"),
        "silence_seconds": Param(float, default=5.0, between=(0, 60), unit="seconds",
                                 doc="silence that ends the message (0: only the time limit, a key or hangup)"),
        "min_seconds": Param(float, default=1.0, between=(0, 60), unit="seconds",
                             doc="shorter messages are discarded"),
        "notify": Param(bool, default=True, doc="e-mail the mailbox's address with the audio attached"),
    }
    outcomes = ("next",)
    waits = True

    def compile(self) -> None:
        prompt_or_text(self, required=False)

    def run(self, call: Call) -> str:
        box = self.p["box"]
        call.answer()
        greeting = self.p["prompt"] or None
        text = self.p["text"]
        if greeting is None and text is None:
            own = f"voicemail-{box}"
            greeting, text = (own, None) if own in call.services.prompts.rows else (None, DEFAULT_GREETING)
        call.play(call.playable(greeting, text))
        if self.p["beep"]:
            call.play(BEEP)
        stamp = call.now().strftime("%Y%m%dT%H%M%S")
        path = call.services.media.path("voicemail", f"{stamp}-{UNSAFE.sub('', call.uuid)[:64]}-"
                                                     f"{UNSAFE.sub('', self.id)[:40]}.wav")
        recorded = call.record(str(path), int(self.p["max_seconds"]), SILENCE_THRESHOLD,
                               int(self.p["silence_seconds"]))
        ms = recorded.ms if recorded.ms is not None else _wav_ms(path)
        call.step_detail.update(record_ms=ms, caller_hung_up=recorded.hung_up)
        if ms < self.p["min_seconds"] * 1000 or not _has_audio(path):
            call.step_detail["discarded"] = "too short or empty"
            path.unlink(missing_ok=True)
            return "next"
        call.files["voicemail"] = str(path)
        call.vars.update(voicemail_box=box, voicemail_seconds=round(ms / 1000))
        archive, notify = call.services.archive, call.services.notify
        if archive is not None:
            call.step_detail["message"] = archive.voicemail(box, call.caller or None, call.uuid, ms,
                                                            call.services.media.relative(path))
        mailbox = call.services.directory.mailbox(box)
        if self.p["notify"] and mailbox is not None and mailbox.email and notify is not None:
            name = call.caller_name if call.caller_name != call.caller else ""
            who = " ".join(f"{name} {call.caller}".split()) or "an unknown caller"
            try:
                queued = notify.email(
                    call.send_key(self.id), mailbox.email, f"Voicemail ({box}) from {who}",
                    f"A message of {round(ms / 1000)} s was left in mailbox {box} by {who} "
                    f"at {call.arrived_at.isoformat()}, calling {call.number}.",
                    attachments=[{"path": str(path), "filename": f"voicemail-{stamp}.wav",
                                  "content_type": "audio/wav"}], call_uuid=call.uuid)
                call.step_detail["outbox"] = queued.id
            except ValueError as exc:  # the mailbox's address is no address: the message stays kept
                call.step_detail["error"] = str(exc)
                log.warning("call %s: voicemail %s: e-mail not queued: %s", call.uuid, self.id, exc)
        return "next"


def _wav_ms(path: Path) -> int:
    """The length of a 16-bit mono 8 kHz WAV from its size (when FreeSWITCH never said)."""
    try:
        return max(0, path.stat().st_size - WAV_HEADER) // 16
    except OSError:
        return 0


def _has_audio(path: Path) -> bool:
    try:
        return path.stat().st_size > WAV_HEADER
    except OSError:
        return False
