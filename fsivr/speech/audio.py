"""Audio files as prompts: is a file one FreeSWITCH can play, and making an upload one.

sox reads the file (soxi tells format, channels, rate, length) and converts uploads to 16-bit mono
WAV at the rate FreeSWITCH plays, so playback needs no resampling and any upload sounds the same.
Uploads are refused with the reason when sox cannot read them, when they hold no sound, when they
are larger than hosted PBXs accept (2 MB for MP3), or when their name would leave the prompts
directory. A conversion is written beside the target and renamed over it only when it succeeded:
a bad upload replaces nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: What uploads may be, by sox's format name, and the largest file of each (bytes).
UPLOAD_LIMITS = {"mp3": 2 * 1024 * 1024, "wav": 20 * 1024 * 1024, "flac": 20 * 1024 * 1024,
                 "vorbis": 5 * 1024 * 1024, "ogg": 5 * 1024 * 1024}
#: The lowest sample rate taken: what a phone line carries (G.711). A lower one would be upsampled
#: into muffled sound; the operator should upload the original instead.
MIN_UPLOAD_RATE = 8000
#: More channels than stereo is a multitrack file, not a prompt.
MAX_UPLOAD_CHANNELS = 2
#: A prompt name: letters, digits, "_", "-", "." — never a path ("..", "/") or a hidden file.
PROMPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
#: What soxi may take on a damaged file.
SOX_TIMEOUT = 60.0


class BadAudio(ValueError):
    """The file is no prompt FreeSWITCH can play (or may be given); the message says why."""


@dataclass(frozen=True)
class AudioInfo:
    format: str
    channels: int
    rate: int
    seconds: float
    size: int


def check_name(name: str) -> str:
    """The prompt name, or BadAudio when it is a path or has characters a file name should not."""
    if not PROMPT_NAME.match(name) or ".." in name:
        raise BadAudio(f"prompt name {name!r} must be letters, digits, '_', '-' or '.' "
                       "(not a path: no '/', no '..')")
    return name


def inspect(path: Path) -> AudioInfo:
    """What sox sees in ``path``; BadAudio when it is missing or sox cannot read it."""
    if not path.is_file():
        raise BadAudio(f"{path}: no such file")
    size = path.stat().st_size
    fields = {}
    for option in ("-t", "-c", "-r", "-D"):
        fields[option] = _soxi(path, option)
        if not fields[option]:
            # Debian 12's soxi (14.4.2+git20190427) exits 0 with nothing on stdout for a file it
            # cannot read; older builds exit non-zero (_run).
            raise BadAudio(f"{path}: not audio sox can read (soxi {option} gave nothing)")
    try:
        info = AudioInfo(format=fields["-t"], channels=int(fields["-c"]), rate=int(float(fields["-r"])),
                         seconds=float(fields["-D"]), size=size)
    except ValueError:
        raise BadAudio(f"{path}: not audio sox can read (soxi reported {fields})") from None
    if info.channels < 1 or info.rate < 1:
        raise BadAudio(f"{path}: no audio channels or sample rate")
    return info


def check_playable(path: Path) -> AudioInfo:
    """A prompt file FreeSWITCH plays: readable audio with sound in it."""
    info = inspect(path)
    if info.seconds <= 0:
        raise BadAudio(f"{path}: holds no sound (0 seconds)")
    return info


def check_upload(path: Path) -> AudioInfo:
    """An upload's format, size and sound, before it is converted."""
    info = check_playable(path)
    limit = UPLOAD_LIMITS.get(info.format)
    if limit is None:
        raise BadAudio(f"{path}: {info.format} files are not accepted (give "
                       f"{', '.join(sorted(UPLOAD_LIMITS))})")
    if info.size > limit:
        raise BadAudio(f"{path}: {info.size / 1048576:.1f} MB is more than the {limit // 1048576} MB "
                       f"allowed for {info.format}")
    if info.rate < MIN_UPLOAD_RATE:
        raise BadAudio(f"{path}: {info.rate} Hz is below the {MIN_UPLOAD_RATE} Hz a phone line carries")
    if info.channels > MAX_UPLOAD_CHANNELS:
        raise BadAudio(f"{path}: {info.channels} channels (give mono or stereo; it becomes mono)")
    return info


def convert(source: Path, target: Path, rate: int) -> AudioInfo:
    """Convert ``source`` to 16-bit mono WAV at ``rate`` as ``target`` (replaced only on success);
    the result is checked to be what was asked for."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=target.parent, prefix=".upload-")
    os.close(fd)
    try:
        # remix -: all channels mixed into one, so a stereo upload loses neither side.
        _run(["sox", "-q", str(source), "-r", str(rate), "-b", "16", "-e", "signed-integer", "-t", "wav", tmp,
              "remix", "-"])
        info = check_playable(Path(tmp))
        if (info.channels, info.rate) != (1, rate):
            raise BadAudio(f"{source}: conversion gave {info.channels} channel(s) at {info.rate} Hz")
        os.replace(tmp, target)
        return info
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _soxi(path: Path, option: str) -> str:
    return _run(["soxi", option, str(path)], what=path).strip()


def _run(argv: list[str], what: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=SOX_TIMEOUT, check=False)
    except FileNotFoundError:
        raise BadAudio(f"{argv[0]} is not installed (make install installs sox)") from None
    except subprocess.TimeoutExpired:
        raise BadAudio(f"{argv[0]} took more than {SOX_TIMEOUT:.0f} s on {what or argv[-1]}") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise BadAudio(f"{what or argv[-1]}: not audio sox can read ({reason})")
    return done.stdout.decode(errors="replace")
