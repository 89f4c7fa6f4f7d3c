"""`make bench-scale`'s campaign pace machinery (bench/campaign.py) small and short: a real worker
dials a campaign against the simulator, the figures land under their key beside the others, and
the limit holds; no timing assertion (the rate is the real run's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_campaign_pace_bench_small(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"calls_per_server_cpu_second": {"fsivr": 1.0}}))
    proc = subprocess.run([sys.executable, "-m", "bench.campaign", "--quick", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    whole = json.loads((tmp_path / "results.json").read_text())
    assert whole["calls_per_server_cpu_second"] == {"fsivr": 1.0}
    doc = whole["campaign_pace"]
    assert doc["placed"] > 0 and doc["worker_cpu_ms_per_call"] is not None
    assert 0 < doc["peak_concurrent"] <= doc["plan"]["concurrency"]
    assert doc["targets_met"]["concurrency_never_above_limit"] is True
    assert "campaign pace" in proc.stdout
