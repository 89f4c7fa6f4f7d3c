"""`make bench-scale` machinery (bench/scale.py) at tiny scale: every phase runs and the results
say what they should about *what* happened (one scenario compiled for one change, one query per
unchanged tick, existing keys kept); never timings, which belong to the real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scale_bench_at_tiny_scale(tmp_path: Path) -> None:
    # An earlier `python -m bench` result: its figures must survive the scale run.
    (tmp_path / "results.json").write_text(json.dumps({"calls_per_server_cpu_second": {"fsivr": 1.0}}))
    proc = subprocess.run([sys.executable, "-m", "bench.scale", "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    whole = json.loads((tmp_path / "results.json").read_text())
    assert whole["calls_per_server_cpu_second"] == {"fsivr": 1.0}
    doc = whole["directory_scale"]
    for key in ("import", "render_conf"):
        assert doc[key]["seconds"] > 0 and doc[key]["peak_rss_kib"] > 0, key
    assert doc["render_conf"]["bytes"] > 0
    plan = doc["plan"]
    assert doc["serve_start"]["compiled"] == plan["scenarios"]
    assert doc["serve_start"]["rss_kib"] > 0
    # A change to one scenario compiles that one; an unchanged tick is one counter query (give or
    # take a tick cut by the window's edges).
    assert doc["scenario_change"]["compiled"] == 1
    assert doc["targets_met"]["one_change_compiles_one_scenario"] is True
    assert 0 < doc["idle"]["statements_per_tick"] <= 1.5
    assert doc["refresh"]["counter_read_ms"] > 0
    assert "hosted PBX directory" in proc.stdout
