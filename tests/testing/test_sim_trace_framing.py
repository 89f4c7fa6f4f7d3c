"""Every message FreeSWITCH sent in the recorded traces is a header block plus Content-Length body."""

from __future__ import annotations

from pathlib import Path

import pytest
from simharness import load_trace, split_messages, traces_path


def _trace_files() -> list[Path]:
    return sorted(traces_path().glob("*.jsonl"))


@pytest.mark.parametrize("path", _trace_files(), ids=lambda p: p.stem)
def test_every_recv_record_is_one_framed_message(path: Path) -> None:
    for rec in load_trace(path):
        if rec.get("dir") != "recv":
            continue
        raw = rec["data"].encode("latin-1")
        assert b"\n\n" in raw, f"{path.name} t={rec['t']}: no end of header block"
        head = raw.split(b"\n\n", 1)[0].decode()
        names = [ln.split(": ", 1)[0] for ln in head.split("\n")]
        if "Content-Length" not in names:
            # Only headers, ending in the blank line (command/reply and the connect reply).
            assert raw.endswith(b"\n\n") and raw.count(b"\n\n") == 1, f"{path.name} t={rec['t']}"
            continue
        msgs, rest = split_messages(raw)
        assert len(msgs) == 1 and not rest, f"{path.name} t={rec['t']}: not exactly one message"
        if msgs[0].content_type == "text/event-plain":
            body = msgs[0].body
            # the plain event body is itself a header block (optionally with its own body)
            assert b"\n\n" in body
