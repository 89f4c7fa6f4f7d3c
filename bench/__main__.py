"""``python -m bench`` (``make bench``): run every phase against fsivr and both references.

The orchestrator only starts processes and collects figures: the server under test runs pinned
to one core, the load generator (bench/loadgen.py) in its own process pinned to the other.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, servers

HERE = Path(__file__).resolve().parent


@dataclass
class Plan:
    """What to run; the defaults fit `make bench` in a few minutes on a 2-core box."""

    closed_concurrency: list[int] = field(default_factory=lambda: [1, 10, 100])
    closed_duration: float = 4.0
    closed_warmup: float = 1.0
    #: Open loop: new calls per second and how long they ramp up before measuring.
    open_rate: float = 100.0
    open_ramp: float = 10.0
    open_duration: float = 6.0
    open_time_scale: float = 1.0
    held: list[int] = field(default_factory=lambda: [1000, 10000])
    held_rate: float = 2000.0
    references: list[str] = field(default_factory=lambda: ["greenswitch", "floor"])
    profile: str = "loopback"

    @classmethod
    def quick(cls) -> Plan:
        """Tiny scale for the smoke test: checks the machinery, not the figures."""
        return cls(closed_concurrency=[4], closed_duration=1.0, closed_warmup=0.3, open_rate=20.0,
                   open_ramp=0.6, open_duration=1.0, open_time_scale=0.05, held=[50], held_rate=500.0)


class Bench:
    def __init__(self, plan: Plan, workdir: Path, *, server_cpu: int | None, generator_cpu: int | None,
                 log: Any = sys.stderr) -> None:
        self.plan = plan
        self.workdir = workdir
        self.server_cpu = server_cpu
        self.generator_cpu = generator_cpu
        self.log = log
        self.template = workdir / "template.pickle"
        self.capture: dict[str, Any] = {}

    def say(self, text: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=self.log, flush=True)

    def generate(self, server: servers.Server, job: dict[str, Any]) -> dict[str, Any]:
        """Run one load-generator job in its own process; return its JSON result."""
        job = {"host": "127.0.0.1", "port": server.port, "server_pid": server.pid, "template": str(self.template),
               "cpu": self.generator_cpu, **job}
        path = self.workdir / "job.json"
        path.write_text(json.dumps(job))
        proc = subprocess.run([sys.executable, "-m", "bench.loadgen", str(path)], cwd=HERE.parent,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed ({job['kind']} on {server.name}):\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def closed(self, server: servers.Server, concurrency: int) -> dict[str, Any]:
        p = self.plan
        r = self.generate(server, {"kind": "closed", "concurrency": concurrency, "duration": p.closed_duration,
                                   "warmup": p.closed_warmup})
        self.say(f"{server.name}: closed loop, {concurrency} in flight: {r['calls_per_second']:.0f} calls/s, "
                 f"{r['calls_per_server_cpu_second']:.0f} calls/server-CPU-s, errors {r['errors']}, "
                 f"generator CPU {100 * r['generator_cpu_share']:.0f}%, other load {r['other_cpu_share']:.2f}")
        return r

    def open_and_held(self, server: servers.Server) -> dict[str, Any]:
        p = self.plan
        out: dict[str, Any] = {"held": []}
        r = self.generate(server, {"kind": "open", "rate": p.open_rate, "ramp": p.open_ramp,
                                   "duration": p.open_duration, "time_scale": p.open_time_scale})
        lat = r["step_latency_ms"]
        self.say(f"{server.name}: open loop {p.open_rate:g}/s, ~{r['in_progress_mean']:.0f} in progress: "
                 f"p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms, errors {r['errors']}, "
                 f"other load {r['other_cpu_share']:.2f}")
        out["open"] = r
        for n in p.held:
            r = self.generate(server, {"kind": "held", "calls": n, "rate": p.held_rate})
            self.say(f"{server.name}: {r['held']}/{n} held calls: {r['rss_kib_per_call']:.1f} KiB each "
                     f"(RSS {r['base_rss_kib']} → {r['held_rss_kib']} KiB), errors {r['errors']}")
            out["held"].append(r)
        return out

    def run(self) -> dict[str, Any]:
        with_dial = servers.dial_available()
        self.say(f"workdir {self.workdir}; dial node {'present' if with_dial else 'missing: a play stands in'}")
        running: dict[str, servers.Server] = {}
        try:
            fs = running["fsivr"] = servers.start_fsivr(self.workdir, self.server_cpu, with_dial=with_dial)
            self.capture = self.generate(fs, {"kind": "capture", "prompts_dir": fs.extra["prompts_dir"],
                                              "profile": self.plan.profile})
            self.say(f"captured one simulated call: {len(self.capture['commands'])} commands, "
                     f"{self.capture['call_seconds']:g} simulated seconds")
            ref_config = self._reference_config()
            for name in self.plan.references:
                running[name] = servers.start_reference(name, self.workdir, self.server_cpu, ref_config)
            runs: dict[str, Any] = {name: {"closed": []} for name in running}
            # Servers take turns at each load level, so that the shared box's background load
            # (other jobs) falls on all of them alike rather than on whichever ran last.
            for c in self.plan.closed_concurrency:
                for name, srv in running.items():
                    runs[name]["closed"].append(self.closed(srv, c))
            for name, srv in running.items():
                runs[name].update(self.open_and_held(srv))
            sql = self._sql(fs, runs["fsivr"])
            self.say(f"fsivr: database statements per call {sql['total']:.4f} "
                     f"(scenario reads {sql['scenario_reads']:.4f})")
        finally:
            for srv in running.values():
                srv.stop(timeout=10.0)
        return report.headline(runs, sql, self._meta(with_dial))

    def _sql(self, fs: servers.Server, run: dict[str, Any]) -> dict[str, Any]:
        """Round trips per call over the closed-loop and open-loop measurement windows."""
        windows = [*run["closed"], run["open"]]
        total = {"calls": 0, "seconds": 0.0}
        counts: dict[str, int] = {}
        for w in windows:
            c = servers.sql_counts(fs.extra["sql_log"], w["wall_start"], w["wall_end"])
            for k, v in c.items():
                counts[k] = counts.get(k, 0) + v
            total["calls"] += w["completed"]
            total["seconds"] += w["window_s"]
        calls = max(1, total["calls"])
        polls = counts["version_polls"] + counts["other_polls"]
        return {
            "scenario_reads": counts["scenario_reads"] / calls,
            "call_record_inserts": counts["call_record_inserts"] / calls,
            "call_record_selects": counts.get("call_record_selects", 0) / calls,
            "calls_per_insert": (counts["call_record_rows"] / (counts["call_record_inserts"] / 2)
                                 if counts["call_record_inserts"] else None),
            "periodic_polls": polls / calls,
            "periodic_polls_per_second": polls / total["seconds"] if total["seconds"] else None,
            "other": counts["other"] / calls,
            "total": sum(v for k, v in counts.items() if k != "call_record_rows") / calls,
            "counted": {**counts, **total},
            "note": "statements executed by fsivr serve during the measurement windows (FSIVR_SQL_LOG); "
                    "call records are batched: calls and their steps go in two multi-row INSERTs per batch, "
                    "written off the call's greenlet; polls run on a timer, not per call",
        }

    def _reference_config(self) -> dict[str, Any]:
        """What the references need from fsivr's captured call: the same application arguments
        (greenswitch) and the very same command bytes (floor)."""
        cmds = self.capture["commands"]
        apps: list[list[str]] = []
        for cmd in cmds:
            if cmd.startswith("sendmsg"):
                headers = dict(line.split(": ", 1) for line in cmd.strip().split("\n")[1:] if ": " in line)
                apps.append([headers.get("execute-app-name", ""), headers.get("execute-app-arg", "")])
        names = [a for a, _ in apps]
        menu = names.index("play_and_get_digits")
        args = {
            "welcome": next(arg for app, arg in apps[:menu] if app == "playback"),
            "menu": apps[menu][1],
            # What fsivr ran for key 1: the dial node's ring set-up (multiset) and the bridge.
            "after_menu": apps[menu + 1:],
        }
        linger = next((int(c.split()[1]) for c in cmds if c.startswith("linger ")), 30)
        return {"args": args, "linger": linger, "commands": cmds, "uuid": self.capture["uuid"]}

    def _meta(self, with_dial: bool) -> dict[str, Any]:
        cpu_model = ""
        try:
            with open("/proc/cpuinfo") as fh:
                cpu_model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
        except OSError:
            pass
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True,
                                text=True).stdout.strip()
        sizes = self.capture.get("frame_bytes", {})
        complete = max((s[-1] for k, s in sizes.items() if k.startswith("sendmsg")), default=None)
        return {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit or "?",
            "cpu_model": cpu_model,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "server_cpu": self.server_cpu,
            "generator_cpu": self.generator_cpu,
            "profile": self.plan.profile,
            "complete_bytes": complete,
            "scenario": "time_condition → play → menu (key 1) → "
                        + ("dial (answered after 1 s)" if with_dial else "play (dial node not present yet)")
                        + " → hangup",
            "call_simulated_seconds": self.capture.get("call_seconds"),
            "plan": asdict(self.plan),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny scale (smoke test)")
    parser.add_argument("--out", default=str(HERE), help="where results.{json,txt,png} go (default bench/)")
    parser.add_argument("--only", choices=["fsivr"], help="skip the references")
    parser.add_argument("--held", help="comma-separated held-call counts (default 1000,10000)")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    if args.only:
        plan.references = []
    if args.held is not None:
        plan.held = [int(x) for x in args.held.split(",") if x]
    cpus = sorted(os.sched_getaffinity(0))
    # Server on one core, generator on another; on a single core both share it (figures then say so).
    server_cpu, generator_cpu = (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fsivr-bench-") as tmp:
        bench = Bench(plan, Path(tmp), server_cpu=server_cpu, generator_cpu=generator_cpu)
        doc = bench.run()
    doc["meta"]["bench_seconds"] = round(time.monotonic() - started, 1)
    out = Path(args.out)
    # The hosted-PBX figures (python -m bench.scale, `make bench-scale`) are measured separately:
    # keep the last ones, with their own date and commit, beside the fresh call-path figures.
    previous = out / "results.json"
    if previous.exists():
        try:
            before = json.loads(previous.read_text())
        except ValueError:
            before = {}
        # and the campaign pace (python -m bench.campaign), likewise measured on its own
        for key in ("directory_scale", "campaign_pace"):
            if before.get(key):
                doc[key] = before[key]
    report.write(doc, out)
    if not args.no_plot and report.plot(doc, out / "results.png"):
        print(f"picture: {out / 'results.png'}", file=sys.stderr)
    print(report.table(doc), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
