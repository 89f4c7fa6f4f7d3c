"""The play node: TTS voices by language, prompt files where FreeSWITCH sees them, a duration cut."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import gevent

from fsivr.config import Config
from fsivr.testing.harness import running

WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=WARSAW)


NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


VOICES = """
prompts:
  - {name: hello_pl, text: "Dzien dobry", language: pl}
  - {name: hello_kal, text: "Hello", voice: kal}
scenarios:
  - scenario: voices
    numbers: ["820"]
    start: a
    nodes:
      a: {type: play, prompt: hello_pl, next: b}
      b: {type: play, prompt: hello_kal, next: c}
      c: {type: play, text: "Bye", next: z}
      z: {type: hangup}
"""


def test_prompt_language_and_voice_choose_the_tts_voice() -> None:
    cfg = Config()
    cfg.tts_voices = ["pl=jola"]
    with running(VOICES, config=cfg) as harness:
        placed = harness.call(number="820", at=MONDAY_10)
    voices = [a.arg for a in placed.result.apps if a.name == "multiset" and "tts_voice" in (a.arg or "")]
    assert voices == ["tts_engine=flite tts_voice=jola", "tts_engine=flite tts_voice=kal",
                      "tts_engine=flite tts_voice=slt"]


FS_SOUNDS = "/usr/share/freeswitch/sounds/fsivr"


def test_prompt_files_are_played_from_where_freeswitch_sees_them(tmp_path) -> None:
    write_wav(tmp_path / "hello.wav")
    cfg = Config()
    cfg.prompts_dir, cfg.freeswitch_prompts_dir = str(tmp_path), FS_SOUNDS
    bundle = """
prompts:
  - {name: hello, file: hello.wav}
scenarios:
  - scenario: files
    numbers: ["840"]
    start: a
    nodes:
      a: {type: play, prompt: hello, next: z}
      z: {type: hangup}
"""
    with running(bundle, config=cfg) as harness:
        placed = harness.call(number="840", at=MONDAY_10, files={f"{FS_SOUNDS}/hello.wav": 1.0})
    assert [a.arg for a in placed.result.apps if a.name == "playback"] == [f"{FS_SOUNDS}/hello.wav"]


DURATION_BUNDLE = """
scenarios:
  - scenario: short
    numbers: ["710"]
    start: promo
    nodes:
      promo: {type: play, text: "A very long advertisement", duration: 0.5, next: bye}
      bye: {type: hangup}
"""


def test_play_duration_cuts_a_long_prompt() -> None:
    # Real time (time_scale=1): the spoken text would take ~30 s; duration stops it after 0.5 s.
    with running(DURATION_BUNDLE, time_scale=1.0) as harness:
        started = gevent.get_hub().loop.now()
        placed = harness.call(number="710", at=NOW, files={}, timeout=20.0)
        elapsed = gevent.get_hub().loop.now() - started
    assert placed.path == [("promo", "next"), ("bye", "hangup")]
    [play] = [a for a in placed.result.apps if a.name == "playback"]
    assert play.interrupted == "break"
    assert any(c.startswith(b"api uuid_break") for c in placed.result.commands)
    assert elapsed < 10.0


MISSING = """
prompts:
  - {name: hello, file: hello.wav}
scenarios:
  - scenario: missing-play
    numbers: ["850"]
    start: a
    nodes:
      a: {type: play, prompt: hello, next: z, error: sorry}
      sorry: {type: play, text: "Sorry", next: z}
      z: {type: hangup}
  - scenario: missing-menu
    numbers: ["851"]
    start: m
    nodes:
      m: {type: menu, prompt: hello, options: {"1": z}, timeout: z, invalid: z, error: sorry}
      sorry: {type: play, text: "Sorry", next: z}
      z: {type: hangup}
  - scenario: missing-extension
    numbers: ["853"]
    start: e
    nodes:
      e: {type: extension, prompt: hello, digits: 3, answered: z, no_answer: z, busy: z, failed: z,
          invalid: z, error: sorry}
      sorry: {type: play, text: "Sorry", next: z}
      z: {type: hangup}
  - scenario: missing-cut
    numbers: ["852"]
    start: a
    nodes:
      a: {type: play, prompt: hello, duration: 5, next: z, error: sorry}
      sorry: {type: play, text: "Sorry", next: z}
      z: {type: hangup}
"""


def test_a_prompt_freeswitch_cannot_find_takes_error(tmp_path, caplog) -> None:
    # play, play with a duration, menu, extension: every node that plays. The file exists where
    # fsivr looks, but not on the switch (another host, a stale mount):
    # FreeSWITCH answers FILE NOT FOUND (trace 02) in playback and leaves read_result unset in
    # play_and_get_digits (switch_ivr_read); either way the node takes error, with one log line.
    write_wav(tmp_path / "hello.wav")
    cfg = Config()
    cfg.prompts_dir, cfg.freeswitch_prompts_dir = str(tmp_path), FS_SOUNDS
    gone = {f"{FS_SOUNDS}/hello.wav": None}
    with running(MISSING, config=cfg) as harness:
        caplog.clear()
        play = harness.call(number="850", at=MONDAY_10, files=gone)
        menu = harness.call(number="851", at=MONDAY_10, files=gone, digits=["1"])
        cut = harness.call(number="852", at=MONDAY_10, files=gone)
        extension = harness.call(number="853", at=MONDAY_10, files=gone, digits=["101"])
    for placed, first in ((play, "a"), (menu, "m"), (cut, "a"), (extension, "e")):
        assert placed.path == [(first, "error"), ("sorry", "next"), ("z", "hangup")]
        [step] = [s for s in placed.record["path"] if s["node"] == first]
        assert "hello.wav" in step["detail"]["error"]
    [response] = [a.response for a in play.result.apps if a.name == "playback"][:1]
    assert response == "FILE NOT FOUND"
    failed = [r for r in caplog.records if "failed" in r.getMessage() and "hello.wav" in r.getMessage()]
    assert len(failed) == 4


def write_wav(path, seconds: float = 0.5, rate: int = 8000) -> None:
    """A real (silent) 16-bit mono WAV file."""
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))
