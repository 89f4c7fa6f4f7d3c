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
    (tmp_path / "hello.wav").write_bytes(b"RIFF")
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
