"""``python -m bench.ab A_DIR B_DIR``: two fsivr source trees, A/B interleaved.

By default the figure is server CPU per call (closed loop); ``--mode open`` compares the step
latency at ~1,000 calls in progress (p50/p99, the open-loop step of ``make bench``; each run's
samples are kept under ``--keep`` to line the tail up with what the server does on a timer) and
``--mode held --held N`` the errors and RSS of N held calls. For hot-path work: each tree (a
directory holding an ``fsivr`` package, e.g. a ``git archive`` of the commit before a change,
and this checkout) runs its own ``fsivr serve`` pinned to the server
core, on its own copy of the bench database; each gets its own captured call (so a change in the
commands sent is replayed faithfully); then closed-loop runs alternate A, B, A, B... so the shared
box's background load falls on both alike. Prints each run and the medians.

    git archive HEAD~1 fsivr migrations | tar -x -C /tmp/a
    .venv/bin/python -m bench.ab /tmp/a . --rounds 7 --concurrency 100
    .venv/bin/python -m bench.ab /tmp/a . --rounds 3 --mode open
    .venv/bin/python -m bench.ab /tmp/a . --rounds 2 --mode held --held 10000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import servers
from bench.__main__ import Bench, Plan


def start_tree(name: str, tree: Path, workdir: Path, cpu: int | None) -> servers.Server:
    """Like servers.start_fsivr, with ``tree`` first on PYTHONPATH for the server."""
    workdir.mkdir(parents=True, exist_ok=True)
    servers._raise_nofile_for_children()
    db = f"sqlite:///{workdir / 'fsivr.sqlite3'}"
    prompts = workdir / "prompts"
    servers.write_prompts(prompts)
    bundle = workdir / "bundle.yaml"
    bundle.write_text(servers.bundle_text(servers.dial_available()))
    env = {**os.environ, "FSIVR_PROMPTS_DIR": str(prompts), "PYTHONPATH": str(tree.resolve())}
    env.pop("FSIVR_CONFIG", None)
    # The bundle's accounts have SIP passwords (import refuses them without a realm); a tree from
    # before the realm existed would refuse the unknown setting instead.
    if "sip_realm" in (tree / "fsivr" / "config.py").read_text():
        env.setdefault("FSIVR_SIP_REALM", servers.BENCH_SIP_REALM)
    py = [sys.executable, "-m", "fsivr", "--database", db]
    for args in (["db", "upgrade"], ["import", str(bundle)]):
        subprocess.run([*py, *args], check=True, env=env, cwd=workdir, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    port = servers.free_port()
    log = workdir / "fsivr-serve.log"
    env["FSIVR_SQL_LOG"] = str(workdir / "fsivr-sql.log")
    proc = subprocess.Popen([*py, "serve", "--listen", f"127.0.0.1:{port}"], env=env, cwd=workdir,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, preexec_fn=servers._pinned(cpu))
    servers.wait_listening(port, proc)
    return servers.Server(name, port, proc, log, {"prompts_dir": str(prompts)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--mode", choices=["closed", "open", "held"], default="closed")
    parser.add_argument("--held", type=int, default=10000, help="held calls per round (--mode held)")
    parser.add_argument("--keep", type=Path, help="keep each tree's work directory (server log) under this one")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, generator_cpu = (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)
    plan = Plan(closed_concurrency=[args.concurrency], closed_duration=args.duration, closed_warmup=args.warmup,
                held=[args.held])
    results: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fsivr-ab-", dir=args.keep) as tmp:
        benches: dict[str, tuple[Bench, servers.Server]] = {}
        try:
            for name, tree in (("A", args.a), ("B", args.b)):
                work = Path(tmp) / name
                srv = start_tree(name, tree, work, server_cpu)
                bench = Bench(plan, work, server_cpu=server_cpu, generator_cpu=generator_cpu)
                bench.capture = bench.generate(srv, {"kind": "capture", "prompts_dir": srv.extra["prompts_dir"],
                                                     "profile": plan.profile})
                benches[name] = (bench, srv)
                bench.say(f"{name} ({tree}): {len(bench.capture['commands'])} commands per call")
            for i in range(args.rounds):
                for name in (("A", "B") if i % 2 == 0 else ("B", "A")):
                    bench, srv = benches[name]
                    if args.mode == "closed":
                        results[name].append(bench.closed(srv, args.concurrency))
                    else:
                        results[name].append(_open_or_held(bench, srv, args.mode, plan))
        finally:
            for _, srv in benches.values():
                srv.stop(timeout=10.0)
            if args.keep:
                for name in benches:
                    os.rename(Path(tmp) / name, args.keep / f"{name}-{time.strftime('%H%M%S')}")
    if args.mode != "closed":
        for name, runs in results.items():
            print(name, json.dumps(runs))
        return 0
    summary = {}
    for name, runs in results.items():
        ms = [r["server_cpu_ms_per_call"] for r in runs if r["server_cpu_ms_per_call"]]
        summary[name] = {"median_ms_per_call": statistics.median(ms), "runs_ms": [round(x, 3) for x in ms],
                         "calls_per_cpu_s": round(1000 / statistics.median(ms), 1),
                         "other_load": [round(r["other_cpu_share"], 2) for r in runs],
                         "errors": sum(r["errors"] for r in runs)}
    a, b = summary["A"]["median_ms_per_call"], summary["B"]["median_ms_per_call"]
    # Runs next to each other share the box's background load: their ratio is the steadier figure.
    pairs = [rb["server_cpu_ms_per_call"] / ra["server_cpu_ms_per_call"]
             for ra, rb in zip(results["A"], results["B"], strict=True)
             if ra["server_cpu_ms_per_call"] and rb["server_cpu_ms_per_call"]]
    for name, s in summary.items():
        print(name, json.dumps(s))
    print(f"server CPU per call (median): A {a:.3f} ms, B {b:.3f} ms, B/A {b / a:.3f}  "
          f"paired B/A median {statistics.median(pairs):.3f} ({time.strftime('%H:%M:%S')})")
    return 0


def _open_or_held(bench: Bench, srv: servers.Server, mode: str, plan: Plan) -> dict[str, Any]:
    if mode == "open":
        r = bench.generate(srv, {"kind": "open", "rate": plan.open_rate, "ramp": plan.open_ramp,
                                 "duration": plan.open_duration, "time_scale": plan.open_time_scale,
                                 "samples": str(bench.workdir / f"samples-{time.strftime('%H%M%S')}.json")})
        lat = r["step_latency_ms"]
        bench.say(f"{srv.name}: open loop, ~{r['in_progress_mean']:.0f} in progress: p50 {lat['p50']} "
                  f"p99 {lat['p99']} max {lat['max']} ms, errors {r['errors']}, other load {r['other_cpu_share']:.2f}")
        return {"p50": lat["p50"], "p99": lat["p99"], "max": lat["max"], "errors": r["errors"],
                "other_load": round(r["other_cpu_share"], 2),
                "server_cpu_ms_per_call": r["server_cpu_ms_per_call"]}
    n = plan.held[0]
    r = bench.generate(srv, {"kind": "held", "calls": n, "rate": plan.held_rate})
    bench.say(f"{srv.name}: {r['held']}/{n} held, {r['rss_kib_per_call']:.1f} KiB each, errors {r['errors']} "
              f"{r['error_samples'][:2]}")
    return {"held": r["held"], "errors": r["errors"], "kib_per_call": round(r["rss_kib_per_call"], 1),
            "samples": r["error_samples"][:3]}


if __name__ == "__main__":
    raise SystemExit(main())
