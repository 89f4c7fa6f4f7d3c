"""espeak-ng rendering: real WAV files at the prompt rate, one per text+voice+rate+speed+volume,
and a render that leaves the gevent hub free for other calls."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import gevent
import pytest

from fsivr.speech.tts import Renderer, RenderFailed, Voice, rendered_voice

PL = Voice("espeak-ng", "pl")
LONG = "Dzień dobry. " * 40


def soxi(path: Path, option: str) -> str:
    return subprocess.run(["soxi", option, str(path)], capture_output=True, text=True, check=True).stdout.strip()


def test_voices_fsivr_renders() -> None:
    assert rendered_voice("espeak-ng:ru") == Voice("espeak-ng", "ru")
    assert rendered_voice("slt") is None and rendered_voice("espeak-ng:") is None and rendered_voice(None) is None


@pytest.mark.parametrize("rate", [8000, 16000])
def test_renders_mono_16_bit_at_the_rate(tmp_path: Path, rate: int) -> None:
    relative = Renderer(tmp_path, rate=rate).render("-dwa złote", PL)  # a leading "-" is text, not an option
    path = tmp_path / relative
    assert (soxi(path, "-c"), soxi(path, "-r"), soxi(path, "-b")) == ("1", str(rate), "16")
    assert float(soxi(path, "-D")) > 0.3
    assert [p.name for p in (tmp_path / "_tts").iterdir()] == [path.name]  # no temporary files left


def test_every_setting_is_part_of_the_cache_key(tmp_path: Path) -> None:
    base = Renderer(tmp_path)
    names = {base.relative("dwa", PL), base.relative("trzy", PL), base.relative("dwa", Voice("espeak-ng", "ru")),
             Renderer(tmp_path, rate=16000).relative("dwa", PL), Renderer(tmp_path, speed=120).relative("dwa", PL),
             Renderer(tmp_path, volume=150).relative("dwa", PL)}
    assert len(names) == 6
    assert base.relative("dwa", PL) == Renderer(tmp_path).relative("dwa", PL)


def test_a_render_does_not_block_the_hub(tmp_path: Path) -> None:
    ticks: list[float] = []

    def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.005)

    t = gevent.spawn(ticker)
    try:
        gevent.sleep(0.02)
        started = time.monotonic()
        Renderer(tmp_path).render(LONG, PL)
        ended = time.monotonic()
    finally:
        t.kill()
    took = ended - started
    assert took > 0.05  # a real render of ~30 s of speech
    # The ticker kept running while espeak-ng and sox worked. Judged by the longest pause between
    # two ticks, not by a tick count, so a loaded box (fewer ticks) does not fail it: a render
    # that blocked the hub would leave one pause as long as the whole render.
    during = [a for a in ticks if started <= a <= ended]
    pauses = [b - a for a, b in zip([started, *during], [*during, ended], strict=True)]
    assert len(during) >= 3 and max(pauses) < took / 2, (len(during), max(pauses), took)


def test_a_failing_engine_says_why(tmp_path: Path) -> None:
    # espeak-ng itself would speak it with its English voice and exit 0.
    with pytest.raises(RenderFailed, match=r"no voice 'no-such-voice'"):
        Renderer(tmp_path).render("x", Voice("espeak-ng", "no-such-voice"))
    assert not (tmp_path / "_tts").exists()
    with pytest.raises(ValueError, match="FreeSWITCH plays prompts"):
        Renderer(tmp_path, rate=44100)


def test_voices_by_language_name_file_and_variant(tmp_path: Path) -> None:
    renderer = Renderer(tmp_path)
    for name in ("pl", "Polish", "zlw/pl", "pl+f3", "ru"):
        assert (tmp_path / renderer.render("raz", Voice("espeak-ng", name))).is_file()
