"""Text rendered to a WAV file FreeSWITCH plays, by a TTS engine of the system (espeak-ng), cached.

FreeSWITCH's own TTS (mod_flite) has English voices only, so text in other languages is rendered
here: espeak-ng speaks it, sox makes it 16-bit mono at the rate FreeSWITCH plays (8 or 16 kHz, so
playback needs no resampling), and the file is kept under a name made from a hash of everything that
changes the sound (engine, voice, text, rate, speed, volume): a change of any renders anew, the same
text is rendered once. Files are written under a temporary name and renamed into place, so a
playback never sees half a file and two renders of one text at once are harmless.

The subprocesses run through gevent.subprocess: inside the server a render waits for its child
without blocking the hub (other calls go on); from the CLI it is an ordinary wait.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gevent import subprocess

#: Engines fsivr runs itself; a voice without one of these prefixes is FreeSWITCH's (tts_engine).
ENGINES = ("espeak-ng",)
#: Subdirectory of the prompts directory holding rendered text (FreeSWITCH plays it from there).
CACHE_SUBDIR = "_tts"
RATES = (8000, 16000)
#: A render that takes longer than this is stuck (espeak-ng renders a minute of speech in well
#: under a second).
RENDER_TIMEOUT = 60.0


class RenderFailed(RuntimeError):
    """The TTS engine or sox failed; the message says which and why."""


@dataclass(frozen=True)
class Voice:
    """A voice fsivr renders with: ``espeak-ng:pl`` → engine espeak-ng, voice pl."""

    engine: str
    name: str

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}"


def rendered_voice(spec: str | None) -> Voice | None:
    """The Voice for a configured voice name if fsivr renders it, else None (FreeSWITCH speaks)."""
    engine, sep, name = (spec or "").partition(":")
    if sep and engine in ENGINES and name:
        return Voice(engine, name)
    return None


@dataclass(frozen=True)
class Renderer:
    """Renders text to WAV files under ``prompts_dir/_tts``."""

    prompts_dir: Path
    #: Sample rate of the files (FreeSWITCH's codec rate: 8000 for G.711, 16000 for G.722).
    rate: int = 8000
    #: espeak-ng's speed in words per minute and amplitude (0-200, 100 = its default).
    speed: int = 160
    volume: int = 100

    def __post_init__(self) -> None:
        if self.rate not in RATES:
            raise ValueError(f"prompt rate {self.rate} Hz: FreeSWITCH plays prompts at {RATES}")

    def key(self, text: str, voice: Voice) -> str:
        material = json.dumps([voice.engine, voice.name, text, self.rate, self.speed, self.volume],
                              ensure_ascii=False)
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def relative(self, text: str, voice: Voice) -> str:
        """The rendered file's path relative to the prompts directory."""
        return f"{CACHE_SUBDIR}/{self.key(text, voice)}.wav"

    def is_rendered(self, text: str, voice: Voice) -> bool:
        return (self.prompts_dir / self.relative(text, voice)).is_file()

    def render(self, text: str, voice: Voice) -> str:
        """Render ``text`` unless it already is; return its path relative to the prompts directory."""
        relative = self.relative(text, voice)
        target = self.prompts_dir / relative
        if target.is_file():
            return relative
        self._check_voice(voice)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, raw = tempfile.mkstemp(suffix=".raw.wav", dir=target.parent)
        os.close(fd)
        fd, out = tempfile.mkstemp(suffix=".tmp.wav", dir=target.parent)
        os.close(fd)
        try:
            # The text goes on stdin: as an argument, a text starting with "-" would be an option.
            self._run([voice.engine, "-v", voice.name, "-s", str(self.speed), "-a", str(self.volume),
                       "-w", raw, "--stdin"], text)
            self._run(["sox", "-q", raw, "-r", str(self.rate), "-c", "1", "-b", "16", "-e", "signed-integer",
                       out], None)
            os.replace(out, target)
        finally:
            for leftover in (raw, out):
                try:
                    os.unlink(leftover)
                except FileNotFoundError:
                    pass
        return relative

    def _check_voice(self, voice: Voice) -> None:
        # espeak-ng speaks an unknown voice with its default (English) voice and exits 0: Polish
        # read by an English voice. So the voice must be one it lists (language, name or file;
        # a "+variant" suffix such as "pl+f3" picks a variant of it).
        known = _espeak_voices() if voice.engine == "espeak-ng" else frozenset()
        if voice.name.split("+", 1)[0].lower() not in known:
            raise RenderFailed(f"{voice.engine} has no voice {voice.name!r} (see espeak-ng --voices)")

    def _run(self, argv: list[str], stdin: str | None) -> None:
        try:
            done = subprocess.run(argv, input=None if stdin is None else stdin.encode(), capture_output=True,
                                  timeout=RENDER_TIMEOUT, check=False)
        except FileNotFoundError:
            raise RenderFailed(f"{argv[0]} is not installed (make install installs it)") from None
        except subprocess.TimeoutExpired:
            raise RenderFailed(f"{argv[0]} took more than {RENDER_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            raise RenderFailed(f"{argv[0]} failed ({done.returncode}): {err[-1] if err else 'no message'}")


@functools.cache
def _espeak_voices() -> frozenset[str]:
    """What ``espeak-ng -v`` accepts: each listed voice's language, name and file (lower case)."""
    try:
        done = subprocess.run(["espeak-ng", "--voices"], capture_output=True, timeout=RENDER_TIMEOUT, check=False)
    except FileNotFoundError:
        raise RenderFailed("espeak-ng is not installed (make install installs it)") from None
    names: set[str] = set()
    # "Pty Language Age/Gender VoiceName File Other Languages": one voice a line after the header.
    for line in done.stdout.decode(errors="replace").splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5:
            names.update(c.lower() for c in (cols[1], cols[3], cols[4]))
    return frozenset(names)
