"""``fsivr prompts build|add`` as an operator runs them (real processes, a real database), and the
import check that every file prompt is a playable file."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from fsivr.config import Config
from fsivr.scenario import repository
from fsivr.scenario.validate import BundleInvalid
from fsivr.store.db import Store
from fsivr.testing.harness import running

TEXTS = """
prompts:
  - {name: welcome_pl, text: "Dzień dobry, zapraszamy.", language: pl}
  - {name: welcome_ru, text: "Здравствуйте, добро пожаловать.", language: ru}
  - {name: welcome_en, text: "Welcome", language: en}
scenarios:
  - scenario: greet
    numbers: ["700"]
    start: hello
    nodes:
      hello: {type: play, text: "Witamy  w firmie", language: pl, next: ru}
      ru: {type: play, prompt: welcome_ru, next: bye}
      bye: {type: hangup}
"""


def fsivr(tmp_path: Path, *args: str, config: str = "") -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "fsivr.yaml"
    cfg.write_text(f"prompts_dir: {tmp_path / 'prompts'}\ndatabase_url: sqlite:///{tmp_path / 'db.sqlite3'}\n"
                   + config)
    env = {**os.environ, "FSIVR_CONFIG": str(cfg)}
    return subprocess.run([sys.executable, "-m", "fsivr", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def soxi(path: Path, option: str) -> str:
    return subprocess.run(["soxi", option, str(path)], capture_output=True, text=True, check=True).stdout.strip()


def store_with(tmp_path: Path, bundle: str) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.upgrade()
    path = tmp_path / "bundle.yaml"
    path.write_text(bundle)
    (tmp_path / "prompts").mkdir(exist_ok=True)
    repository.import_file(store, path, prompts_dir=tmp_path / "prompts")
    return store


def rendered(out: str) -> dict[str, str]:
    """prompt name → file, from build's "NAME: FILE (voice, state)" lines."""
    return {line.split(":")[0]: line.split(" ")[1] for line in out.splitlines() if "_tts/" in line}


@pytest.mark.parametrize("rate", [8000, 16000])
def test_build_renders_polish_and_russian_mono_at_the_prompt_rate(tmp_path: Path, rate: int) -> None:
    store_with(tmp_path, TEXTS).close()
    done = fsivr(tmp_path, "prompts", "build", config=f"prompt_rate: {rate}\n")
    assert done.returncode == 0, done.stderr
    files = rendered(done.stdout)
    assert set(files) == {"welcome_pl", "welcome_ru", "greet.hello"}
    assert "welcome_en: spoken by FreeSWITCH (slt)" in done.stdout  # flite stays for English
    for name in files.values():
        path = tmp_path / "prompts" / name
        assert (soxi(path, "-c"), soxi(path, "-r"), soxi(path, "-b")) == ("1", str(rate), "16")
        assert float(soxi(path, "-D")) > 0.5  # real speech, not a stub
    assert "3 rendered, 0 up to date, 1 spoken by FreeSWITCH" in done.stdout


def test_build_renders_again_only_what_changed(tmp_path: Path) -> None:
    store = store_with(tmp_path, TEXTS)
    first = rendered(fsivr(tmp_path, "prompts", "build").stdout)
    again = fsivr(tmp_path, "prompts", "build")
    assert rendered(again.stdout) == first and "0 rendered, 3 up to date" in again.stdout
    # A new text, a new voice, a new speed or volume is a new file.
    path = tmp_path / "bundle.yaml"
    path.write_text(TEXTS.replace("Dzień dobry, zapraszamy.", "Dzień dobry."))
    repository.import_file(store, path)
    store.close()
    changed = rendered(fsivr(tmp_path, "prompts", "build").stdout)
    assert changed["welcome_ru"] == first["welcome_ru"] and changed["welcome_pl"] != first["welcome_pl"]
    louder = rendered(fsivr(tmp_path, "prompts", "build", config="tts_volume: 150\n").stdout)
    assert not set(louder.values()) & (set(first.values()) | set(changed.values()))


def test_calls_play_what_build_rendered(tmp_path: Path) -> None:
    store_with(tmp_path, TEXTS).close()
    files = rendered(fsivr(tmp_path, "prompts", "build").stdout)
    before = sorted((tmp_path / "prompts" / "_tts").iterdir())
    cfg = Config()
    cfg.prompts_dir = str(tmp_path / "prompts")
    with running(None, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", config=cfg) as harness:
        placed = harness.call(number="700")
    played = [a.arg for a in placed.result.apps if a.name == "playback"]
    assert played == [str(tmp_path / "prompts" / files["greet.hello"]), str(tmp_path / "prompts" / files["welcome_ru"])]
    assert sorted((tmp_path / "prompts" / "_tts").iterdir()) == before  # nothing rendered during the call


def write_wav(path: Path, *, channels: int = 1, rate: int = 8000, seconds: float = 0.5) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\1\0" * channels * int(seconds * rate))
    return path


def test_add_converts_an_upload_to_mono_at_the_prompt_rate(tmp_path: Path) -> None:
    store_with(tmp_path, "prompts: []\n").close()
    stereo = write_wav(tmp_path / "upload.wav", channels=2, rate=44100, seconds=1.0)
    done = fsivr(tmp_path, "prompts", "add", "greeting", str(stereo))
    assert done.returncode == 0, done.stderr
    target = tmp_path / "prompts" / "greeting.wav"
    assert (soxi(target, "-c"), soxi(target, "-r")) == ("1", "8000")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        prompts = store.run(repository.load_prompts)
    finally:
        store.close()
    assert prompts["greeting"].file == "greeting.wav"


def test_add_takes_mp3_up_to_2_mb(tmp_path: Path) -> None:
    store_with(tmp_path, "prompts: []\n").close()
    wav = write_wav(tmp_path / "long.wav", rate=44100, seconds=3.0)
    small = tmp_path / "small.mp3"
    subprocess.run(["sox", str(wav), "-C", "128", str(small)], check=True)
    assert fsivr(tmp_path, "prompts", "add", "music", str(small)).returncode == 0
    big = tmp_path / "big.mp3"
    long = write_wav(tmp_path / "longer.wav", rate=44100, seconds=200.0)
    subprocess.run(["sox", str(long), "-C", "128", str(big)], check=True)
    assert big.stat().st_size > 2 * 1024 * 1024
    before = (tmp_path / "prompts" / "music.wav").read_bytes()
    done = fsivr(tmp_path, "prompts", "add", "music", str(big))
    assert done.returncode == 1
    assert "MB allowed for mp3" in done.stderr and "nothing was changed" in done.stderr
    assert (tmp_path / "prompts" / "music.wav").read_bytes() == before


def test_a_bad_upload_is_refused_with_the_reason_and_replaces_nothing(tmp_path: Path) -> None:
    store_with(tmp_path, "prompts: []\n").close()
    good = write_wav(tmp_path / "good.wav")
    assert fsivr(tmp_path, "prompts", "add", "hello", str(good)).returncode == 0
    before = (tmp_path / "prompts" / "hello.wav").read_bytes()
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....WAVEjunk" * 10)
    done = fsivr(tmp_path, "prompts", "add", "hello", str(junk))
    assert done.returncode == 1 and "not audio sox can read" in done.stderr
    empty = write_wav(tmp_path / "empty.wav", seconds=0)
    done = fsivr(tmp_path, "prompts", "add", "hello", str(empty))
    assert done.returncode == 1 and "holds no sound" in done.stderr
    low = write_wav(tmp_path / "low.wav", rate=4000)
    done = fsivr(tmp_path, "prompts", "add", "hello", str(low))
    assert done.returncode == 1 and "4000 Hz is below the 8000 Hz" in done.stderr
    surround = write_wav(tmp_path / "six.wav", channels=6)
    done = fsivr(tmp_path, "prompts", "add", "hello", str(surround))
    assert done.returncode == 1 and "6 channels" in done.stderr
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    done = fsivr(tmp_path, "prompts", "add", "hello", str(text))
    assert done.returncode == 1 and "not audio sox can read" in done.stderr and "nothing was changed" in done.stderr
    assert (tmp_path / "prompts" / "hello.wav").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "prompts").iterdir()) == ["hello.wav"]


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "x/../../etc/passwd"])
def test_a_path_in_the_name_is_refused(tmp_path: Path, name: str) -> None:
    store_with(tmp_path, "prompts: []\n").close()
    good = write_wav(tmp_path / "good.wav")
    done = fsivr(tmp_path, "prompts", "add", name, str(good))
    assert done.returncode == 1 and "not a path" in done.stderr
    assert list((tmp_path / "prompts").iterdir()) == []
    assert not (tmp_path / "evil.wav").exists()


def test_a_missing_or_unplayable_file_prompt_is_a_validation_error(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    write_wav(prompts / "ok.wav")
    (prompts / "broken.wav").write_bytes(b"RIFF")
    bundle = """
prompts:
  - {name: ok, file: ok.wav}
  - {name: gone, file: gone.wav}
  - {name: broken, file: broken.wav}
"""
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.upgrade()
    path = tmp_path / "bundle.yaml"
    path.write_text(bundle)
    try:
        with pytest.raises(BundleInvalid) as caught:
            repository.import_file(store, path, prompts_dir=prompts)
        assert store.run(repository.load_prompts) == {}
    finally:
        store.close()
    errors = caught.value.report.errors
    assert len(errors) == 2
    assert "prompt 'gone'" in errors[0] and "no such file" in errors[0]
    assert "prompt 'broken'" in errors[1] and "not audio sox can read" in errors[1]
    # The command line says the same.
    done = fsivr(tmp_path, "scenario", "validate", str(path))
    assert done.returncode == 1 and "prompt 'gone'" in done.stdout and "ok.wav" not in done.stdout
