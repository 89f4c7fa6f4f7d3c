"""Recording: ``record`` (switch_ivr_play_say.c switch_ivr_record_file_event via mod_dptools
record_function) and ``record_session`` / ``stop_record_session`` (switch_ivr_async.c, a media
bug: record_callback, send_record_stop_event). Trace 06.

What the caller says into a ``record`` comes from ``CallScript.speech`` (one entry per run).
Where the path's directory exists and is writable (a test's temporary directory), the file is
written as FreeSWITCH writes it: an 8 kHz 16-bit mono WAV, 44 header bytes + 2 per sample (trace
15: 45804 bytes for 22880 samples), the speech a quiet 400 Hz tone, the rest silence. Elsewhere (the
traces' /tmp/esltest paths) only the variables say what would have been written.
"""

from __future__ import annotations

import math
import os
import sys
import wave
from array import array
from typing import TYPE_CHECKING

from fsivr.testing import apps
from fsivr.testing.expand import separate_string
from fsivr.testing.mods.common import fire_ex
from fsivr.testing.script import Speech

if TYPE_CHECKING:
    from fsivr.testing.api import ApiFunc
    from fsivr.testing.session import CallSession

RATE = 8000
_PLAY_SAY = "switch_ivr_play_say.c"
_ASYNC = "switch_ivr_async.c"
_RECORD_FN = "switch_ivr_record_file_event"


def _file_path(s: CallSession, path: str) -> str:
    """switch_ivr_record_file_event: a relative path gets the sound prefix, no extension → codec name."""
    if "://" in path:
        return path
    if not path.startswith("/") and not path.startswith("{"):
        prefix = s.channel.get_var("sound_prefix") or "/usr/share/freeswitch/sounds"
        path = f"{prefix}/{path}"
    if "." not in path.rsplit("/", 1)[-1]:
        path = f"{path}.{s.channel.profile.codec[0]}"
    return path


def _uint(text: str | None) -> int:
    # switch_atoui: leading digits, garbage → 0
    digits = ""
    for c in (text or "").strip():
        if not c.isdigit():
            break
        digits += c
    return int(digits) if digits else 0


def _next_speech(s: CallSession) -> Speech:
    queue: list[Speech] = s.__dict__.setdefault("_speech", list(s.script.speech))
    return queue.pop(0) if queue else Speech(talk=0.0, then="silence")


def record(s: CallSession, arg: str) -> None:
    """record <path> [<time_limit_secs>] [<silence_thresh>] [<silence_hits>] (mod_dptools record_function)."""
    ch = s.channel
    argv = separate_string(arg, 4)
    if not argv:
        return  # "No file specified."
    path = argv[0]
    limit = _uint(argv[1].lstrip("+")) if len(argv) > 1 else 0
    thresh = _uint(argv[2]) if len(argv) > 2 else 0
    hits = _uint(argv[3]) if len(argv) > 3 else 0
    if thresh and not hits:
        hits = 3  # switch_ivr_record_file_event: silence_hits defaults to 3 s worth of frames
    ch.set_var("playback_terminator_used", None)  # record_function sets it to "" (= unset)
    if not ch.answered and not ch.early:
        apps.pre_answer(s, "")  # switch_channel_pre_answer
    file = _file_path(s, path)
    ch.set_var("silence_hits_exhausted", "false")
    orig_codec = (ch.get_var("read_codec"), ch.get_var("read_rate"))
    raw_codec(s)
    fire_ex(s, "RECORD_START", post=[("Record-File-Path", file)], source=(_PLAY_SAY, _RECORD_FN, "770"))
    start_us = s.clock.now_us
    speech = _next_speech(s)
    if s.current is not None:
        s.current.digits = speech.key if speech.then == "key" else None
    # When does the recording end by itself?  The time limit is checked as whole epoch seconds
    # ("now - start > limit"), so it ends between limit and limit + 1 s after the start.
    limit_end = (start_us // 1_000_000 + limit + 1) * 1_000_000 - start_us if limit else None
    terminators = ch.get_var("playback_terminators") or "*"
    if terminators.lower() == "any":
        terminators = "1234567890*#"
    elif terminators.lower() == "none":
        terminators = ""
    talk_us = int(max(0.0, speech.talk) * 1_000_000)
    end_us: int | None = None
    why = "limit"
    if speech.then == "key" and speech.key in terminators:
        end_us, why = talk_us, "key"
    elif speech.then == "hangup":
        end_us, why = talk_us, "hangup"
    elif speech.then != "talk" and thresh:
        end_us, why = talk_us + hits * 1_000_000, "silence"
    if limit_end is not None and (end_us is None or limit_end <= end_us):
        end_us, why = limit_end, "limit"
    if end_us is None:
        end_us, why = 3600 * 1_000_000, "limit"  # nothing ends it: the call's timeout will
    outcome = s.media(end_us / 1_000_000)
    elapsed_us = s.clock.now_us - start_us
    if outcome == "done" and why == "hangup" and ch.ready:
        s.hangup("NORMAL_CLEARING", "caller")
    if outcome == "done" and why == "key":
        s.fire_dtmf(speech.key)
        ch.set_var("playback_terminator_used", speech.key)
    if outcome == "done" and why == "silence":
        ch.set_var("silence_hits_exhausted", "true")
    # Audio actually written: speech (a loopback leg sends no frames while the far end is quiet,
    # trace 06) — a SIP leg sends silence frames, which are written too.
    audio_us = min(elapsed_us, talk_us) if ch.profile.is_loopback else elapsed_us
    if speech.then == "talk":
        audio_us = elapsed_us
    samples = audio_us * RATE // 1_000_000
    write_wav(file, samples, min(samples, talk_us * RATE // 1_000_000))
    size = str(44 + 2 * samples)
    ch.set_var("record_record_file_size", size)
    ch.set_var("record_file_size", size)
    ch.set_var("record_seconds", str(samples // RATE))
    ch.set_var("record_ms", str(samples // (RATE // 1000)))
    ch.set_var("record_samples", str(samples))
    fire_ex(s, "RECORD_STOP", post=[("Record-File-Path", file)], source=(_PLAY_SAY, _RECORD_FN, "1033"))
    # switch_core_session_reset: the channel's own read codec is back
    ch.set_var("read_codec", orig_codec[0])
    ch.set_var("read_rate", orig_codec[1])
    if s.current is not None:
        s.current.interrupted = None if outcome == "done" else outcome


def write_wav(path: str, samples: int, speech: int, channels: int = 1) -> bool:
    """Write the recording where we may (see the module docstring); False when not written."""
    folder = os.path.dirname(path)
    if "://" in path or not folder or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        return False
    tone = array("h", (int(3000 * math.sin(2 * math.pi * 400 * i / RATE)) for i in range(RATE // 400)))
    audio = (tone * (speech // len(tone) + 1))[:speech]
    if sys.byteorder == "big":
        audio.byteswap()  # WAV samples are little-endian
    if channels == 2:  # the caller (read) left, the other side (write) quiet on the right
        both = array("h", bytes(4 * speech))
        both[0::2] = audio
        audio = both
    frames = audio.tobytes() + bytes(2 * channels * (samples - speech))
    with wave.open(path, "wb") as out:  # the 44-byte RIFF/WAVE header of a PCM file
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return True


def raw_codec(s: CallSession) -> None:
    """switch_core_session_set_read_codec with an L16 codec (record, txfax): read_codec/read_rate."""
    s.channel.set_var("read_codec", "L16")
    s.channel.set_var("read_rate", str(RATE))


# ----------------------------------------------------------------------------- record_session


class _Bug:
    __slots__ = ("channels", "file", "limit", "start_us")

    def __init__(self, file: str, start_us: int, limit: int, channels: int = 1) -> None:
        self.file = file
        self.start_us = start_us
        self.limit = limit
        self.channels = channels


def _bugs(s: CallSession) -> dict[str, _Bug]:
    bugs: dict[str, _Bug] | None = s.__dict__.get("_record_bugs")
    if bugs is None:
        bugs = {}
        s.__dict__["_record_bugs"] = bugs
        s.hangup_hooks.append(_close_all_at_hangup)
    return bugs


def record_session(s: CallSession, arg: str) -> None:
    """record_session <path> [+<time_limit>] [{var=val,...}] (mod_dptools record_session_function).

    RECORD_START comes from the media bug's first callback, before the app completes (06).
    Departure: a ``+limit`` is only applied when the recording is stopped (stop_record_session or
    hangup), not at the moment it runs out, so no RECORD_STOP fires in the middle of another app.
    """
    # record_session_function: switch_split (switch_separate_string: quotes and escapes honoured)
    argv = separate_string(arg, 5)
    if not argv:
        return
    limit = 0
    if len(argv) > 1 and argv[1].startswith("+"):
        limit = _uint(argv[1][1:])
    file = argv[0]
    bugs = _bugs(s)
    if file in bugs:
        return
    # switch_ivr_record_session_event reads RECORD_STEREO when the bug is added: two channels.
    channels = 2 if apps.is_true(s.channel.get_var("RECORD_STEREO")) else 1
    bugs[file] = _Bug(file, s.clock.now_us, limit, channels)
    fire_ex(s, "RECORD_START", post=[("Record-File-Path", file)], source=(_ASYNC, "record_callback", "1482"))


def stop_record_session(s: CallSession, arg: str) -> None:
    """stop_record_session <path>|all (switch_ivr_stop_record_session)."""
    bugs = _bugs(s)
    names = list(bugs) if arg.strip().lower() == "all" else [arg.strip()]
    for name in names:
        bug = bugs.pop(name, None)
        if bug is not None:
            _close(s, bug, "success-maxtime")


def _close_all_at_hangup(s: CallSession) -> None:
    # switch_core_session_hangup_state → switch_core_media_bug_remove_all: the channel is down, so
    # record_callback's CLOSE picks success-silence / no-input-timeout (no speech detection here).
    bugs = _bugs(s)
    for name in list(bugs):
        _close(s, bugs.pop(name), "no-input-timeout")


def _close(s: CallSession, bug: _Bug, cause: str) -> None:
    ch = s.channel
    elapsed = s.clock.now_us - bug.start_us
    if bug.limit:
        elapsed = min(elapsed, bug.limit * 1_000_000)
        if s.clock.now_us - bug.start_us >= bug.limit * 1_000_000:
            cause = "success-maxtime"
    samples = elapsed * RATE // 1_000_000
    # What was said on the call is not scripted: the file is the call's length of quiet audio.
    write_wav(bug.file, samples, 0, bug.channels)
    ch.set_var("record_file_size", str(44 + 2 * bug.channels * samples))
    ch.set_var("record_samples", str(samples))
    ch.set_var("record_seconds", str(samples // RATE))
    ch.set_var("record_ms", str(samples // (RATE // 1000)))
    ch.set_var("record_completion_cause", cause)
    fire_ex(s, "RECORD_STOP", post=[("Record-File-Path", bug.file), ("Record-Completion-Cause", cause)],
            source=(_ASYNC, "send_record_stop_event", "1241"))


APPLICATIONS = {
    "record": record,
    "record_session": record_session,
    "stop_record_session": stop_record_session,
}
API_COMMANDS: dict[str, ApiFunc] = {}
