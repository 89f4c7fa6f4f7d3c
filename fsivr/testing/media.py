"""Durations of things FreeSWITCH would play, without playing them."""

from __future__ import annotations

import os
import re
import struct

DEFAULT_FILE_SECONDS = 2.0

_TONE_RE = re.compile(r"%\(([^)]*)\)")
_LOOPS_RE = re.compile(r"loops=(-?\d+)")


def tone_seconds(spec: str) -> float:
    """tone_stream://%(on,off,freq...)[;loops=N] (teletone: each segment on+off ms, repeated)."""
    total_ms = 0
    for seg in _TONE_RE.findall(spec):
        nums = seg.split(",")
        try:
            on = int(nums[0])
            off = int(nums[1]) if len(nums) > 1 else 0
        except ValueError:
            continue
        total_ms += max(0, on) + max(0, off)
    m = _LOOPS_RE.search(spec)
    loops = int(m.group(1)) if m else 1
    if loops < 0:
        loops = 1000  # "forever": long enough to be interrupted
    return total_ms * max(1, loops) / 1000.0


def wav_seconds(path: str) -> float | None:
    """Duration from a RIFF/WAVE header; None if the file is not a readable WAV."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            byte_rate = 0
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = struct.unpack("<4sI", chunk)
                if cid == b"fmt ":
                    fmt = fh.read(size)
                    if len(fmt) >= 12:
                        byte_rate = struct.unpack("<I", fmt[8:12])[0]
                    if size % 2:
                        fh.read(1)
                elif cid == b"data":
                    return size / byte_rate if byte_rate else None
                else:
                    fh.seek(size + (size % 2), os.SEEK_CUR)
    except OSError:
        return None


def speak_seconds(text: str) -> float:
    """flite speaks roughly 14 characters a second."""
    return max(0.5, len(text) / 14.0)


def file_seconds(target: str, overrides: dict[str, float | None]) -> float | None:
    """Seconds a playback target lasts; None = FILE NOT FOUND."""
    if target in overrides:
        return overrides[target]
    if target.startswith("tone_stream://"):
        return tone_seconds(target)
    if target.startswith("silence_stream://"):
        ms = target[len("silence_stream://"):].split(",", 1)[0].split(";", 1)[0]
        try:
            value = int(ms)
        except ValueError:
            return DEFAULT_FILE_SECONDS
        return 3600.0 if value <= 0 else value / 1000.0  # -1 = until interrupted
    if target.startswith("file_string://"):
        total = 0.0
        for part in target[len("file_string://"):].split("!"):
            sec = file_seconds(part, overrides)
            if sec is None:
                return None
            total += sec
        return total
    if target.startswith(("say:", "phrase:", "local_stream://", "http://", "https://", "shout://", "${")):
        return DEFAULT_FILE_SECONDS
    if os.path.isabs(target):
        if not os.path.exists(target):
            return None
        sec = wav_seconds(target)
        return DEFAULT_FILE_SECONDS if sec is None else sec
    # Relative paths resolve against FreeSWITCH's sound prefix, which we cannot see.
    return DEFAULT_FILE_SECONDS
