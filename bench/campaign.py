"""``python -m bench.campaign`` (part of ``make bench-scale``): the campaign pace (issue 14, point 4).

A campaign set to 20 new calls a second and 200 at once, dialled by a real ``fsivr worker``
process through the simulator's inbound ESL port into a real server (the test harness's App, in
this process with the simulator). Each answered leg rings 0.5 s and plays a 7 s prompt in real
time (``time_scale`` 1: the simulator's clock is the real one here), so about 150 calls are up at
once — near the limit, which must still hold.

Measured over one minute of the switch's clock after a warm-up:

* the achieved rate: originates the switch received in the window ÷ its length, against the 20/s
  set (target: within ±5 %);
* concurrency: the most legs up at once, by the switch's own count (``Simulator.originate_peak``;
  target: never above 200);
* the worker's CPU per placed call: its process's user+system CPU (``/proc/<pid>/stat``) over the
  window ÷ the calls placed in it.

The figures go to ``results.json`` under ``campaign_pace`` (the other keys are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass
class PacePlan:
    pace: float = 20.0
    concurrency: int = 200
    window: float = 60.0
    warmup: float = 8.0
    ring: float = 0.5
    prompt_seconds: float = 7.0

    @property
    def rows(self) -> int:
        # Enough that the list never runs dry within the warm-up and the window.
        return int(self.pace * (self.warmup + self.window + 10))

    @classmethod
    def quick(cls) -> PacePlan:
        """Small and short for the smoke test: checks the machinery, not the figures."""
        return cls(pace=10.0, concurrency=10, window=3.0, warmup=1.0, ring=0.1, prompt_seconds=0.5)


BUNDLE = """
prompts:
  - {name: notice, file: notice.wav}
scenarios:
  - scenario: notice
    start: play
    nodes:
      play: {type: play, prompt: notice, next: bye}
      bye: {type: hangup}
"""


def _silence(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(plan: PacePlan, workdir: Path) -> dict[str, Any]:
    # The server and the simulator live in this process: gevent's hub, unpatched like the tests.
    import logging

    import gevent

    # The server's one line per call would drown the figures.
    logging.getLogger("fsivr").setLevel(logging.WARNING)

    from fsivr.cli import main as fsivr
    from fsivr.config import Config
    from fsivr.testing.harness import running
    from fsivr.testing.inbound import InboundSwitch

    prompts = workdir / "prompts"
    prompts.mkdir()
    _silence(prompts / "notice.wav", plan.prompt_seconds)
    url = f"sqlite:///{workdir / 'fsivr.sqlite3'}"
    rows = workdir / "list.csv"
    rows.write_text("phone,amount\n" + "".join(f"+4850{i:07d},{i % 500}\n" for i in range(plan.rows)))
    with running(BUNDLE, database_url=url,
                 config=Config(prompts_dir=str(prompts)), time_scale=1.0) as h, \
            InboundSwitch(sim=h.simulator) as switch:
        sim = h.simulator
        sim.ring_scale = 1.0
        for i in range(plan.rows):
            sim.originate_ring[f"+4850{i:07d}"] = plan.ring
        quiet = open(os.devnull, "w")  # noqa: SIM115 - the CLI's output is not the bench's
        saved = sys.stdout
        sys.stdout = quiet
        try:
            assert fsivr(["--database", url, "campaign", "load", str(rows), "--scenario", "notice", "--name", "pace",
                          "--pace", str(plan.pace), "--concurrency", str(plan.concurrency), "--attempts", "1"]) == 0
            assert fsivr(["--database", url, "campaign", "start", "pace"]) == 0
        finally:
            sys.stdout = saved
            quiet.close()
        host, port = h.app.server.address[:2]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FSIVR_")}
        env.update({"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
                    "FSIVR_DATABASE_URL": url, "FSIVR_ESL_HOST": switch.address[0],
                    "FSIVR_ESL_PORT": str(switch.address[1]),
                    "FSIVR_OUTBOUND_ENDPOINT": "sofia/gateway/trunk/{number}",
                    "FSIVR_OUTBOUND_SOCKET": f"{host}:{port}", "FSIVR_ORIGINATE_TIMEOUT": "30",
                    "FSIVR_WORKER_POLL_INTERVAL": "0.05"})
        log = (workdir / "worker.log").open("wb")
        worker = subprocess.Popen([sys.executable, "-m", "fsivr", "worker"], env=env, cwd=workdir, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            # The window starts once calls flow and the warm-up has passed, on the switch's clock.
            while not sim.originate_log:
                assert worker.poll() is None, (workdir / "worker.log").read_text()[-2000:]
                gevent.sleep(0.05)
            first_us = sim.originate_log[0].at_us
            gevent.sleep(plan.warmup)
            start_us, cpu0 = sim.switch_us(), _cpu_seconds(worker.pid)
            peak_before = sim.originate_peak
            gevent.sleep(plan.window)
            end_us, cpu1 = sim.switch_us(), _cpu_seconds(worker.pid)
        finally:
            worker.terminate()
            # Waited for with the hub running: the worker finishes its originates, which this
            # process's simulated switch answers.
            deadline = time.monotonic() + 60
            while worker.poll() is None and time.monotonic() < deadline:
                gevent.sleep(0.05)
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            log.close()
        placed = sum(1 for o in sim.originate_log if start_us <= o.at_us < end_us)
        seconds = (end_us - start_us) / 1e6
        rate = placed / seconds
        return {
            "plan": asdict(plan),
            "window_seconds": round(seconds, 2),
            "warmup_seconds": round((start_us - first_us) / 1e6, 2),
            "placed": placed,
            "rate_per_second": round(rate, 3),
            "rate_error": round(rate / plan.pace - 1, 4),
            "peak_concurrent": sim.originate_peak,
            "peak_concurrent_before_window": peak_before,
            "worker_cpu_ms_per_call": round((cpu1 - cpu0) * 1000 / placed, 3) if placed else None,
            "worker_cpu_share": round((cpu1 - cpu0) / seconds, 3),
        }


def targets(doc: dict[str, Any]) -> dict[str, bool]:
    plan = doc["plan"]
    return {"rate_within_5_percent": abs(doc["rate_error"]) <= 0.05,
            "concurrency_never_above_limit": doc["peak_concurrent"] <= plan["concurrency"]}


def table(doc: dict[str, Any]) -> str:
    p = doc["plan"]
    met = ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in doc["targets_met"].items())
    return (f"campaign pace ({doc.get('date', '')}, commit {doc.get('commit', '?')}): set {p['pace']:g} new calls/s, "
            f"{p['concurrency']} at once; {p['ring']:g} s ringing + {p['prompt_seconds']:g} s played per call\n"
            f"  achieved  {doc['rate_per_second']:.2f} calls/s over {doc['window_seconds']:.0f} s of the switch's "
            f"clock ({doc['rate_error'] * 100:+.1f} %), {doc['placed']} placed\n"
            f"  at once   at most {doc['peak_concurrent']} legs up (limit {p['concurrency']})\n"
            f"  worker    {doc['worker_cpu_ms_per_call']} ms CPU per placed call "
            f"({doc['worker_cpu_share']:.2f} of a core)\n"
            f"  targets: {met}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.campaign", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small and short (smoke test)")
    parser.add_argument("--out", default=str(HERE), help="directory of results.json (default bench/)")
    args = parser.parse_args(argv)
    plan = PacePlan.quick() if args.quick else PacePlan()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fsivr-bench-campaign-") as tmp:
        doc = run(plan, Path(tmp))
    doc["targets_met"] = targets(doc)
    doc["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                   text=True).stdout.strip() or "?"
    doc["bench_seconds"] = round(time.monotonic() - started, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.json"
    whole = json.loads(results.read_text()) if results.exists() else {}
    whole["campaign_pace"] = doc
    results.write_text(json.dumps(whole, indent=2) + "\n")
    if "runs" in whole:  # the call-path table, with this beside it
        from bench import report

        (out / "results.txt").write_text(report.table(whole))
    print(table(doc), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
