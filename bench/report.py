"""Results: the JSON document, the printed table, and the picture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SERVERS = ("fsivr", "greenswitch", "floor")

#: Issue 4's targets (2-core machine, server on one core).
TARGET_CPU_VS_GREENSWITCH = 5.0
TARGET_CPU_VS_FLOOR = 1 / 3
TARGET_P99_MS = 2.0
TARGET_HELD = 10000
TARGET_KIB_PER_HELD = 32.0


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def headline(runs: dict[str, dict[str, Any]], sql: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The figures issue 4 asks for, from the per-server runs."""
    cps: dict[str, float | None] = {}
    cpu: dict[str, float | None] = {}
    ms_per_call: dict[str, float | None] = {}
    lat: dict[str, Any] = {}
    held: dict[str, dict[str, float | None]] = {}
    held_max: dict[str, int] = {}
    for name, run in runs.items():
        closed = [c for c in run.get("closed", []) if not c["errors"] and c["completed"]]
        best = max(closed, key=lambda c: c["calls_per_second"], default=None)
        cps[name] = round(best["calls_per_second"], 1) if best else None
        # Server-CPU efficiency at the busiest point: where batching and the loop are as they
        # would be on a loaded box.
        cpu[name] = round(best["calls_per_server_cpu_second"], 1) if best else None
        ms_per_call[name] = round(best["server_cpu_ms_per_call"], 3) if best else None
        if run.get("open"):
            lat[name] = {k: run["open"]["step_latency_ms"][k] for k in ("p50", "p99", "max")}
        held[name] = {str(h["calls"]): round(h["rss_kib_per_call"], 1) for h in run.get("held", [])}
        ok = [h["held"] for h in run.get("held", []) if not h["errors"] and h["held"] == h["calls"]]
        held_max[name] = max(ok, default=0)
    fs = "fsivr"
    ratios = {
        "calls_per_server_cpu_second_vs_greenswitch": _ratio(cpu.get(fs), cpu.get("greenswitch")),
        "calls_per_server_cpu_second_vs_floor": _ratio(cpu.get(fs), cpu.get("floor")),
        "calls_per_second_vs_greenswitch": _ratio(cps.get(fs), cps.get("greenswitch")),
        "calls_per_second_vs_floor": _ratio(cps.get(fs), cps.get("floor")),
        "p99_step_latency_vs_greenswitch": _ratio((lat.get(fs) or {}).get("p99"),
                                                  (lat.get("greenswitch") or {}).get("p99")),
        "p99_step_latency_vs_floor": _ratio((lat.get(fs) or {}).get("p99"), (lat.get("floor") or {}).get("p99")),
    }
    fs_held = held.get(fs, {})
    kib_10k = fs_held.get(str(TARGET_HELD))
    targets = {
        "cpu_5x_greenswitch": _ge(ratios["calls_per_server_cpu_second_vs_greenswitch"], TARGET_CPU_VS_GREENSWITCH),
        "cpu_within_3x_of_floor": _ge(ratios["calls_per_server_cpu_second_vs_floor"], TARGET_CPU_VS_FLOOR),
        "p99_le_2ms": None if not lat.get(fs) or lat[fs]["p99"] is None else lat[fs]["p99"] <= TARGET_P99_MS,
        "held_10000": held_max.get(fs, 0) >= TARGET_HELD if kib_10k is not None else None,
        "rss_le_32kib_per_held_call": None if kib_10k is None else kib_10k <= TARGET_KIB_PER_HELD,
    }
    return {
        "calls_per_second": cps,
        "calls_per_server_cpu_second": cpu,
        "server_cpu_ms_per_call": ms_per_call,
        "step_latency_ms": lat,
        "rss_kib_per_held_call": fs_held,
        "rss_kib_per_held_call_by_server": held,
        "held_calls_max": held_max.get(fs, 0),
        "held_calls_max_by_server": held_max,
        "db_round_trips_per_call": sql,
        "ratios": ratios,
        "targets_met": targets,
        "meta": meta,
        "runs": runs,
    }


def _ge(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def _fmt(value: Any, spec: str = ".1f") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


def table(doc: dict[str, Any]) -> str:
    """The printed summary (also written to bench/results.txt)."""
    names = [n for n in SERVERS if n in doc["runs"]]
    meta = doc["meta"]
    lines = [
        f"fsivr benchmark - {meta.get('date', '')}  commit {meta.get('commit', '?')}  "
        f"{meta.get('cpu_model', '')} x{meta.get('cpus', '?')}  Python {meta.get('python', '')}",
        f"scenario: {meta.get('scenario', '')}; frames: {meta.get('profile', '')} profile, "
        f"CHANNEL_EXECUTE_COMPLETE ~{meta.get('complete_bytes', '?')} B; server on CPU {meta.get('server_cpu')}, "
        f"generator on CPU {meta.get('generator_cpu')}",
        "",
        f"{'':34}" + "".join(f"{n:>16}" for n in names),
    ]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:34}" + "".join(f"{v:>16}" for v in values))

    row("calls/s (closed loop, best)", [_fmt(doc["calls_per_second"].get(n)) for n in names])
    row("calls per server CPU-second", [_fmt(doc["calls_per_server_cpu_second"].get(n)) for n in names])
    row("server CPU ms per call", [_fmt(doc["server_cpu_ms_per_call"].get(n), ".3f") for n in names])
    for c in sorted({c["concurrency"] for n in names for c in doc["runs"][n].get("closed", [])}):
        vals = []
        for n in names:
            point = next((p for p in doc["runs"][n].get("closed", []) if p["concurrency"] == c), None)
            vals.append("-" if point is None else
                        f"{point['calls_per_second']:.0f}{'!' if point['errors'] else ''}"
                        f" g{100 * point['generator_cpu_share']:.0f}% o{point.get('other_cpu_share', 0):.1f}")
        row(f"  calls/s at {c} in flight", vals)
    rate = next((doc["runs"][n]["open"].get("rate") for n in names if doc["runs"][n].get("open")), None)
    inprog = {n: doc["runs"][n]["open"]["in_progress_mean"] for n in names if doc["runs"][n].get("open")}
    lat = doc["step_latency_ms"]
    for key in ("p50", "p99", "max"):
        label = f"step latency {key} ms" + (f" ({_fmt(rate, '.0f')} calls/s)" if key == "p50" else "")
        row(label, [_fmt((lat.get(n) or {}).get(key), ".3f") for n in names])
    row("  calls in progress (mean)", [_fmt(inprog.get(n), ".0f") for n in names])
    row("  other jobs' CPU meanwhile, cores", [_fmt(doc["runs"][n]["open"].get("other_cpu_share"), ".2f")
                                              if doc["runs"][n].get("open") else "-" for n in names])
    held_sizes = sorted({k for n in names for k in doc["rss_kib_per_held_call_by_server"].get(n, {})}, key=int)
    for size in held_sizes:
        row(f"RSS KiB per held call @{size}",
            [_fmt(doc["rss_kib_per_held_call_by_server"].get(n, {}).get(size)) for n in names])
    row("held calls max (no errors)", [_fmt(doc["held_calls_max_by_server"].get(n), "d") for n in names])
    db = doc["db_round_trips_per_call"]
    lines += [
        "",
        f"fsivr database round trips per call (steady state): scenario reads {_fmt(db.get('scenario_reads'), '.3f')}, "
        f"call-record inserts {_fmt(db.get('call_record_inserts'), '.4f')} "
        f"({_fmt(db.get('calls_per_insert'), '.0f')} calls per multi-row insert), periodic polls "
        f"{_fmt(db.get('periodic_polls_per_second'), '.2f')}/s (independent of calls)",
        "",
        "ratios (fsivr / reference): " + ", ".join(f"{k} {_fmt(v, '.2f')}" for k, v in doc["ratios"].items()),
        "targets: " + ", ".join(f"{k} {_fmt(v)}" for k, v in doc["targets_met"].items()),
    ]
    gen = [f"{n} {100 * c['generator_cpu_share']:.0f}%" for n in names for c in doc["runs"][n].get("closed", [])[-1:]]
    lines.append("generator CPU at the busiest closed-loop point: " + ", ".join(gen)
                 + " (100% = generator-bound: that server's calls/s is a lower bound)")
    lines.append("g = generator CPU, o = cores used by other jobs on the machine during the window "
                 "(figures taken while o > 0.2 are disturbed)")
    lines += parts_tables(doc)
    return "\n".join(lines) + "\n"


#: Figures measured by their own commands (`make bench-scale`), each under its own key of
#: results.json with its own date and commit: (key, module with ``table(part)``). `python -m bench`
#: keeps them from the previous results.json.
PARTS = [("directory_scale", "bench.scale"), ("queue_waiting", "bench.queues"), ("outbox", "bench.outbox"),
         ("campaign_pace", "bench.campaign")]


def parts_tables(doc: dict[str, Any]) -> list[str]:
    import importlib

    lines: list[str] = []
    for key, module in PARTS:
        if doc.get(key):
            # imported here: those modules import this one
            lines += ["", importlib.import_module(module).table(doc[key]).rstrip("\n")]
    return lines


def merge_part(out_dir: Path, key: str, part: dict[str, Any]) -> dict[str, Any]:
    """Put one part's figures under ``key`` in out_dir/results.json (the other keys kept) and
    rewrite results.txt."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    whole = json.loads(results.read_text()) if results.exists() else {}
    whole[key] = part
    results.write_text(json.dumps(whole, indent=2) + "\n")
    text = table(whole) if "runs" in whole else "\n".join(parts_tables(whole)).lstrip("\n") + "\n"
    (out_dir / "results.txt").write_text(text)
    return whole


def write(doc: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    (out_dir / "results.txt").write_text(table(doc))


def plot(doc: dict[str, Any], path: Path) -> bool:
    """Step latency against calls in progress, and calls per second against concurrency."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    colors = {"fsivr": "tab:blue", "greenswitch": "tab:red", "floor": "tab:gray"}
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 5))
    rate = None
    for name, run in doc["runs"].items():
        op = run.get("open")
        if op:
            rate = op.get("rate")
            pts = op.get("by_concurrency", [])
            xs = [p["in_progress"] for p in pts]
            ax1.plot(xs, [p["p99"] for p in pts], "-o", ms=3, color=colors.get(name), label=f"{name} p99")
            ax1.plot(xs, [p["p50"] for p in pts], "--", color=colors.get(name), alpha=0.6, label=f"{name} p50")
        closed = sorted(run.get("closed", []), key=lambda c: c["concurrency"])
        if closed:
            cs = [c["concurrency"] for c in closed]
            ax2.plot(cs, [c["calls_per_second"] for c in closed], "-o", color=colors.get(name), label=name)
            ax3.plot(cs, [c["calls_per_server_cpu_second"] for c in closed], "-o", color=colors.get(name),
                     label=name)
    ax1.axhline(TARGET_P99_MS, color="tab:green", lw=0.8, ls=":", label="target p99 2 ms")
    ax1.set_yscale("log")
    ax1.set_xlabel(f"calls in progress (open loop, {rate:g} new calls/s)" if rate else "calls in progress")
    ax1.set_ylabel("step latency, ms (EXECUTE_COMPLETE sent → next command)")
    ax1.set_title("Step latency vs concurrency")
    ax1.legend(fontsize=7)
    for ax, title, ylabel in ((ax2, "Completed calls per second", "calls/s (closed loop)"),
                              (ax3, "Calls per server CPU-second", "calls / server CPU-s")):
        ax.set_xscale("log")
        ax.set_xlabel("calls in flight (closed loop)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ax1.grid(alpha=0.3)
    fig.suptitle(f"fsivr vs greenswitch OutboundESLServer vs bare gevent floor — {doc['meta'].get('date', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
