"""`make bench-scale`'s queue and outbox parts (bench/queues.py, bench/outbox.py) at tiny scale:
each runs against the real server / real workers, the simulator, real sinks and PostgreSQL, and
its results say what they should about *what* happened (every caller stayed in line, the member
lists were fetched and counted, every notification arrived exactly once); never timings, which
belong to the real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(module: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", module, "--quick", "--out", str(out), *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_queue_part_at_tiny_scale(tmp_path: Path) -> None:
    # An earlier result: its figures must survive.
    (tmp_path / "results.json").write_text(json.dumps({"calls_per_server_cpu_second": {"fsivr": 1.0}}))
    proc = _run("bench.queues", tmp_path)
    whole = json.loads((tmp_path / "results.json").read_text())
    assert whole["calls_per_server_cpu_second"] == {"fsivr": 1.0}
    doc = whole["queue_waiting"]
    plan = doc["plan"]
    assert [(s["queues"], s["callers_per_queue"]) for s in doc["shapes"]] == [tuple(x) for x in plan["shapes"]]
    for shape in doc["shapes"]:
        assert shape["still_waiting_after"] == shape["callers"]  # nobody left the line meanwhile
        kinds = shape["commands_per_second_by_kind"]
        # the waiting is seen on the wire: member lists, and the announcements and ads as broadcasts
        assert kinds.get("queue list members", 0) > 0 and kinds.get("api uuid_broadcast", 0) > 0
        assert shape["server_cpu_s"] >= 0
        other = shape["other_calls"]
        # calls last ~10 s: in the tiny run none ends, but their steps are measured
        assert other["errors"] == 0 and other["step_latency_ms"]["n"] > 0
    assert doc["targets_met"]["every_caller_stayed_in_line"] is True
    assert "callers waiting in queues" in proc.stdout


def test_outbox_part_at_tiny_scale(tmp_path: Path, pg_url: str) -> None:
    proc = _run("bench.outbox", tmp_path, "--pg-url", pg_url)
    doc = json.loads((tmp_path / "results.json").read_text())["outbox"]
    plan = doc["plan"]
    assert [r["workers"] for r in doc["throughput"]] == list(plan["workers"])
    for run in doc["throughput"]:
        assert run["delivered"] == plan["rows"] and run["duplicates"] == 0 and run["lost"] == 0
        assert run["row_states"] == {"sent": plan["rows"]}
        assert run["by_kind"] == {"email": plan["rows"] // 2, "sms": plan["rows"] // 2}
    steady = doc["steady"]
    assert steady["lost"] == 0 and steady["duplicates"] == 0
    assert steady["lag_ms"]["n"] == int(plan["steady_rate"] * plan["steady_seconds"])
    assert doc["targets_met"]["no_duplicates"] is True and doc["targets_met"]["none_lost"] is True
    assert "outbox on PostgreSQL" in proc.stdout
