"""``fsivr simulate examples/office.yaml`` (the spec's section-2 bundle) with every ringing outcome,
as a user runs it: a real process, the real server, the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OPEN = "2026-06-01T10:00:00+02:00"  # a Monday, 10:00 in Warsaw
START = [{"node": "hours", "outcome": "match"}, {"node": "welcome", "outcome": "next"}]
CLOSED = [{"node": "closed", "outcome": "next"}, {"node": "bye", "outcome": "hangup"}]


def simulate(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "fsivr", "simulate", str(REPO / "examples" / "office.yaml"),
                           "--json", *args], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("answers, tail", [
    ([], [{"node": "sales", "outcome": "answered"}]),
    (["sip:101=busy", "sip:102=busy"], [{"node": "sales", "outcome": "busy"},
                                        {"node": "mobile", "outcome": "answered"}]),
    (["sip:101=no_answer", "sip:102=no_answer", "+48600100200=no_answer"],
     [{"node": "sales", "outcome": "no_answer"}, {"node": "mobile", "outcome": "no_answer"}, *CLOSED]),
    (["sip:101=failed", "sip:102=failed", "+48600100200=busy"],
     [{"node": "sales", "outcome": "failed"}, {"node": "mobile", "outcome": "busy"}, *CLOSED]),
    (["sip:101=busy", "sip:102=no_answer", "+48600100200=failed"],
     [{"node": "sales", "outcome": "no_answer"}, {"node": "mobile", "outcome": "failed"}, *CLOSED]),
])
def test_office_every_ringing_outcome(answers: list[str], tail: list[dict]) -> None:
    args = ["--at", OPEN]
    for answer in answers:
        args += ["--answer", answer]
    out = simulate(*args)
    assert out["path"] == START + tail
    assert out["hangup_cause"] == "NORMAL_CLEARING"


def test_office_closed_on_saturday() -> None:
    out = simulate("--at", "2026-06-06T10:00:00+02:00")
    assert out["path"] == [{"node": "hours", "outcome": "nomatch"}, *CLOSED]
