"""`make bench` machinery at tiny scale: every phase against fsivr and both references.

Checks the results' shape and that the runs did what they say (calls completed, calls held,
no scenario reads); never timings, which belong to `make bench` on a quiet machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

REQUIRED = ("calls_per_second", "calls_per_server_cpu_second", "step_latency_ms", "rss_kib_per_held_call",
            "held_calls_max", "db_round_trips_per_call")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    # As `make bench` runs it: without the SIP realm the test suite sets for every test (conftest),
    # which once hid that the bench's bundle could not be imported.
    env = {k: v for k, v in os.environ.items() if k != "FSIVR_SIP_REALM"}
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    doc["_out"] = str(out)
    doc["_stdout"] = proc.stdout
    return doc


def test_required_keys_for_every_server(results: dict) -> None:
    for key in REQUIRED:
        assert key in results, key
    for key in ("calls_per_second", "calls_per_server_cpu_second"):
        assert set(results[key]) == {"fsivr", "greenswitch", "floor"}, key
        assert all(v is not None and v > 0 for v in results[key].values()), results[key]
    for name in ("fsivr", "greenswitch"):
        lat = results["step_latency_ms"][name]
        assert set(lat) == {"p50", "p99", "max"}
        assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]


def test_runs_had_no_errors_and_held_every_call(results: dict) -> None:
    for name, run in results["runs"].items():
        for point in run["closed"]:
            assert point["errors"] == 0 and point["completed"] > 0, (name, point)
        assert run["open"]["errors"] == 0, name
        for held in run["held"]:
            assert held["errors"] == 0 and held["held"] == held["calls"], (name, held)
    assert results["held_calls_max"] == 50
    assert set(results["rss_kib_per_held_call"]) == {"50"}
    assert results["rss_kib_per_held_call"]["50"] > 0


def test_no_scenario_reads_and_batched_records(results: dict) -> None:
    db = results["db_round_trips_per_call"]
    assert db["scenario_reads"] == 0
    # Two multi-row inserts per batch, and a batch holds several calls.
    assert db["call_record_inserts"] < 2
    assert db["counted"]["calls"] > 0


def test_table_and_picture(results: dict) -> None:
    out = Path(results["_out"])
    assert "calls per server CPU-second" in results["_stdout"]
    assert (out / "results.txt").read_text() == results["_stdout"]
    pytest.importorskip("matplotlib")
    assert (out / "results.png").stat().st_size > 10_000
