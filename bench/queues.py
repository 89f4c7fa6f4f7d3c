"""``python -m bench.queues`` (part of ``make bench-scale``): callers waiting in queues (issue 14, point 1).

The real ``fsivr serve`` (pinned to the server core, SQLite in a temporary directory) and the
project's simulator (``fsivr.testing.Simulator``, its mod_callcenter) in this process, on the other
core. Two shapes, each 1,000 callers: one queue of 1,000, and 100 queues of 10. Every caller waits
in a queue node with position and wait announcements every 30 s and two ads between them; the
queue's only agent is ``On Break`` (logged in, never offered a call), so nobody leaves the line.

* *CPU per waiting caller per minute* — the server's CPU (``/proc``, all threads) over one whole
  announcement interval once everybody is in line, ÷ callers ÷ minutes. One interval, because each
  caller then hears exactly one announcement and one ad in it, whenever it joined.
* *FreeSWITCH commands per second caused by the waiting* — every command the simulator receives
  over the same window, by kind; the member lists (``callcenter_config queue list members``) are
  the "position commands" of the target (≤ queues ÷ the board's interval).
* *p99 step latency of other calls beside them* — while they still wait, the load generator
  (bench/loadgen.py, its own process) replays the benchmark's ordinary call in open loop; latency
  from its ``CHANNEL_EXECUTE_COMPLETE`` to the server's next command (kernel receive timestamp).

The server's clocks are wall clocks (the queue node ticks every second of real time), so the
simulator runs at ``time_scale=1`` and a measured minute costs a wall minute: the window is one
announcement interval (30 s) per shape. The figures go to ``results.json`` under ``queue_waiting``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.subprocess

from bench import metrics, report, servers

HERE = Path(__file__).resolve().parent
FSIVR = str(servers.BIN / "fsivr")
#: The queue node's board interval (fsivr/engine/queueboard.py QueueBoard.interval default).
BOARD_INTERVAL = 1.0
AD_SECONDS = 5.0


@dataclass
class QueuePlan:
    #: (queues, callers per queue) per shape.
    shapes: list[tuple[int, int]] = field(default_factory=lambda: [(1, 1000), (100, 10)])
    announce_every: float = 30.0
    #: New callers per second while the line fills up.
    join_rate: float = 100.0
    #: The measurement window, in announcement intervals.
    window_intervals: float = 1.0
    #: Other calls beside the waiting ones: new calls per second, ramp, measured seconds.
    other_rate: float = 20.0
    other_ramp: float = 3.0
    other_duration: float = 6.0

    @classmethod
    def quick(cls) -> QueuePlan:
        """Tiny scale for the smoke test: checks the machinery, not the figures."""
        return cls(shapes=[(1, 6), (3, 2)], announce_every=2.0, join_rate=50.0, window_intervals=1.0,
                   other_rate=5.0, other_ramp=0.5, other_duration=1.5)


def bundle_text(queues: int, announce_every: float) -> str:
    """The benchmark's ordinary call (bench/scenario.yaml) plus ``queues`` queues, each with its
    own number (3000 + i) running a queue node."""
    text = servers.bundle_text(servers.dial_available())
    head, _, rest = text.partition("\nscenarios:\n")
    lines = [head, "  - {name: ad1, file: ad1.wav}", "  - {name: ad2, file: ad2.wav}", "", "queues:"]
    lines += [f"  - {{name: q{i}, strategy: longest-idle-agent, agents: [\"101\"]}}" for i in range(queues)]
    lines += ["", "scenarios:", rest.rstrip("\n")]
    for i in range(queues):
        lines += [f"  - scenario: wait-q{i}", f"    numbers: [\"{3000 + i}\"]", "    start: q", "    nodes:",
                  f"      q: {{type: queue, queue: q{i}, announce_every: {announce_every:g}, "
                  "periodic_prompts: [ad1, ad2], answered: bye, timeout: bye, no_agents: bye, exit: bye}",
                  "      bye: {type: hangup}"]
    return "\n".join(lines) + "\n"


class CommandCounter:
    """Every command the simulated FreeSWITCH receives on the calls' sockets, by kind: the
    simulator's session (fsivr/testing/session.py ``_command``) is wrapped in this process."""

    def __init__(self) -> None:
        from fsivr.testing.session import CallSession

        self.counts: dict[str, int] = {}
        original = CallSession._command
        counts = self.counts

        def counted(session: Any, cmd: Any) -> str | None:
            line = cmd.first_line
            kind = _kind(line, cmd)
            counts[kind] = counts.get(kind, 0) + 1
            return original(session, cmd)

        CallSession._command = counted  # type: ignore[method-assign]

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


def _kind(line: str, cmd: Any) -> str:
    low = line.lower()
    if low.startswith("api "):
        args = line[4:].split()
        if args[:4] == ["callcenter_config", "queue", "list", "members"]:
            return "queue list members"
        if args[:4] == ["callcenter_config", "queue", "list", "agents"]:
            return "queue list agents"
        return f"api {args[0] if args else ''}"
    if low.startswith("sendmsg"):
        return f"sendmsg {cmd.header('execute-app-name') or cmd.header('call-command') or ''}".strip()
    return low.split(" ", 1)[0]


class QueueBench:
    def __init__(self, plan: QueuePlan, workdir: Path, server_cpu: int | None, generator_cpu: int | None,
                 log: Any = sys.stderr) -> None:
        self.plan = plan
        self.workdir = workdir
        self.server_cpu = server_cpu
        self.generator_cpu = generator_cpu
        self.log = log
        self.template = workdir / "template.pickle"

    def say(self, text: str) -> None:
        print(f"[bench-queues {time.strftime('%H:%M:%S')}] {text}", file=self.log, flush=True)

    def start_server(self) -> servers.Server:
        """``fsivr serve`` on the bundle, pinned like bench/servers.py start_fsivr."""
        servers._raise_nofile_for_children()
        p = self.plan
        prompts = self.workdir / "prompts"
        servers.write_prompts(prompts)
        for name in ("ad1.wav", "ad2.wav"):
            (prompts / name).write_bytes((prompts / "welcome.wav").read_bytes())
        bundle = self.workdir / "bundle.yaml"
        queues = max(q for q, _ in p.shapes)
        bundle.write_text(bundle_text(queues, p.announce_every))
        db = f"sqlite:///{self.workdir / 'fsivr.sqlite3'}"
        env = servers.tree_env({**os.environ, "FSIVR_PROMPTS_DIR": str(prompts), "FSIVR_LIVE_LINK": "false"})
        env.pop("FSIVR_CONFIG", None)
        for args in (["db", "upgrade"], ["import", str(bundle)]):
            done = gevent.subprocess.run([FSIVR, "--database", db, *args], env=env, cwd=self.workdir,
                                         stdout=gevent.subprocess.DEVNULL, stderr=gevent.subprocess.PIPE)
            if done.returncode != 0:
                raise RuntimeError(f"fsivr {args[0]} failed: {done.stderr.decode()[-2000:]}")
        port = servers.free_port()
        log = self.workdir / "fsivr-serve.log"
        sql_log = self.workdir / "fsivr-sql.log"
        env["FSIVR_SQL_LOG"] = str(sql_log)
        proc = gevent.subprocess.Popen([FSIVR, "--database", db, "serve", "--listen", f"127.0.0.1:{port}"],
                                       env=env, cwd=self.workdir, stdout=log.open("wb"),
                                       stderr=gevent.subprocess.STDOUT, preexec_fn=servers._pinned(self.server_cpu))
        deadline = time.monotonic() + 60
        while True:
            try:
                servers.wait_listening(port, proc, timeout=0.2)
                break
            except RuntimeError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                gevent.sleep(0.2)
        return servers.Server("fsivr", port, proc, log, {"sql_log": sql_log, "prompts_dir": str(prompts)})

    def generate(self, server: servers.Server, job: dict[str, Any]) -> dict[str, Any]:
        """One load-generator job (bench/loadgen.py) in its own process, without blocking this
        process's hub: the simulator here keeps answering the waiting callers meanwhile."""
        job = {"host": "127.0.0.1", "port": server.port, "server_pid": server.pid, "template": str(self.template),
               "cpu": self.generator_cpu, **job}
        path = self.workdir / "job.json"
        path.write_text(json.dumps(job))
        proc = gevent.subprocess.run([sys.executable, "-m", "bench.loadgen", str(path)], cwd=HERE.parent,
                                     stdout=gevent.subprocess.PIPE, stderr=gevent.subprocess.PIPE, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed ({job['kind']}):\n{proc.stderr.decode()[-3000:]}")
        return json.loads(proc.stdout.decode().strip().splitlines()[-1])

    def run(self) -> dict[str, Any]:
        from fsivr.testing import Simulator

        p = self.plan
        doc: dict[str, Any] = {"plan": asdict(p), "board_interval": BOARD_INTERVAL, "shapes": []}
        srv = self.start_server()
        try:
            # The ordinary call the generator replays beside the waiting ones (as `make bench`).
            self.generate(srv, {"kind": "capture", "prompts_dir": srv.extra["prompts_dir"], "profile": "loopback"})
            counter = CommandCounter()
            sim = Simulator(("127.0.0.1", srv.port), time_scale=1.0)
            queues = max(q for q, _ in p.shapes)
            for i in range(queues):
                sim.add_queue(f"q{i}")
            for cmd in ("agent add 101 callback", "agent set contact 101 user/101",
                        "agent set status 101 'On Break'", *(f"tier add q{i} 101" for i in range(queues))):
                if sim.callcenter_config(cmd) != "+OK\n":
                    raise RuntimeError(f"simulator refused: {cmd}")
            doc["baseline"] = self.other_calls(srv)
            lat = doc["baseline"]["step_latency_ms"]
            self.say(f"other calls alone, {p.other_rate:g}/s: p50 {lat['p50']} ms, p99 {lat['p99']} ms, "
                     f"max {lat['max']} ms, other load {doc['baseline']['other_cpu_share']:.2f}")
            for shape in p.shapes:
                doc["shapes"].append(self.shape(srv, sim, counter, *shape))
        finally:
            srv.stop(timeout=20.0)
        return doc

    def shape(self, srv: servers.Server, sim: Any, counter: CommandCounter, queues: int,
              per_queue: int) -> dict[str, Any]:
        from fsivr.testing import CallScript
        from fsivr.testing.api import ApiContext, execute

        p = self.plan
        callers = queues * per_queue
        prompts = Path(srv.extra["prompts_dir"])
        files = {str(prompts / "ad1.wav"): AD_SECONDS, str(prompts / "ad2.wav"): AD_SECONDS}
        handles = []
        started = time.monotonic()
        for n in range(callers):
            due = started + n / p.join_rate
            if due > time.monotonic():
                gevent.sleep(due - time.monotonic())
            script = CallScript(number=str(3000 + n % queues), caller=f"+4850{n:07d}", profile="loopback",
                                files=files, timeout=3600.0)
            handles.append(sim.start_call(script))
        deadline = time.monotonic() + max(60.0, callers / 10)
        waiting = list(handles)
        while True:
            # only the callers not yet seen in line: queue_position looks through the queue's members
            waiting = [h for h in waiting if sim.queue_position(h.uuid) is None]
            if not waiting:
                break
            if time.monotonic() > deadline or any(h.done() for h in handles):
                ended = [h.wait(0) for h in handles if h.done()][:3]
                why = [(r.error, [a.name for a in r.apps]) for r in ended]
                tail = srv.log.read_bytes()[-3000:].decode(errors="replace")
                raise RuntimeError(f"not every caller got in line (ended early: {why}); server log:\n{tail}")
            gevent.sleep(1.0)
        joined = time.monotonic() - started
        self.say(f"{queues} queue(s) x {per_queue}: {callers} callers in line after {joined:.1f} s")
        gevent.sleep(min(2.0, p.announce_every / 2))  # the last joiners' first announcement
        window = p.announce_every * p.window_intervals
        c0, cpu0, busy0 = counter.snapshot(), metrics.proc_cpu_seconds(srv.pid), metrics.machine_busy_seconds()
        t0 = time.monotonic()
        wall0 = time.time()
        self_cpu0 = _self_cpu()
        gevent.sleep(window)
        c1, cpu1, busy1 = counter.snapshot(), metrics.proc_cpu_seconds(srv.pid), metrics.machine_busy_seconds()
        t1 = time.monotonic()
        wall1 = time.time()
        sim_cpu = _self_cpu() - self_cpu0
        dt = t1 - t0
        server_cpu = cpu1 - cpu0
        commands = {k: c1.get(k, 0) - c0.get(k, 0) for k in c1 if c1.get(k, 0) - c0.get(k, 0)}
        per_s = {k: round(v / dt, 3) for k, v in sorted(commands.items(), key=lambda kv: -kv[1])}
        members_per_s = commands.get("queue list members", 0) / dt
        sql = servers.sql_counts(srv.extra["sql_log"], wall0, wall1)
        waiting = {
            "queues": queues, "callers_per_queue": per_queue, "callers": callers, "joined_seconds": round(joined, 1),
            "window_s": round(dt, 2),
            "server_cpu_s": round(server_cpu, 3),
            "server_cpu_ms_per_caller_minute": round(server_cpu * 1000 / callers / (dt / 60), 3),
            "server_cores": round(server_cpu / dt, 3),
            "commands_per_second": round(sum(commands.values()) / dt, 2),
            "commands_per_second_by_kind": per_s,
            "member_lists_per_second": round(members_per_s, 3),
            "member_list_limit_per_second": queues / BOARD_INTERVAL,
            "announcements_per_caller_minute": round(commands.get("api uuid_broadcast", 0) / callers / (dt / 60), 2),
            "sql_statements": sum(v for k, v in sql.items() if k != "call_record_rows"),
            "simulator_cpu_share": round(sim_cpu / dt, 2),
            "other_cpu_share": round(max(0.0, (busy1 - busy0) - server_cpu - sim_cpu) / dt, 2),
            "server_rss_kib": metrics.proc_rss_kib(srv.pid),
        }
        self.say(f"  waiting: {waiting['server_cpu_ms_per_caller_minute']:.2f} ms server CPU per caller-minute "
                 f"({waiting['server_cores']:.2f} cores), {waiting['commands_per_second']:.1f} commands/s "
                 f"({waiting['member_lists_per_second']:.2f} member lists/s, limit {queues / BOARD_INTERVAL:g}); "
                 f"simulator {waiting['simulator_cpu_share']:.2f}, other {waiting['other_cpu_share']:.2f} cores")
        other = self.other_calls(srv)
        lat = other["step_latency_ms"]
        still = sum(1 for h in handles if not h.done())
        self.say(f"  other calls beside them, {p.other_rate:g}/s (~{other['in_progress_mean']:.0f} in progress): "
                 f"p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms, errors {other['errors']}; "
                 f"{still} still waiting")
        ctx = ApiContext(sim.switch, sim)
        for h in handles:
            if not h.done():
                execute(ctx, f"uuid_kill {h.uuid}")
        for h in handles:
            h.wait(30)
        gevent.sleep(1.0)  # the server's side of the hang-ups (records, linger) before the next shape
        return {**waiting, "still_waiting_after": still, "other_calls": other}

    def other_calls(self, srv: servers.Server) -> dict[str, Any]:
        """The benchmark's ordinary call in open loop (bench/loadgen.py); its step latency."""
        p = self.plan
        r = self.generate(srv, {"kind": "open", "rate": p.other_rate, "ramp": p.other_ramp,
                                "duration": p.other_duration, "time_scale": 1.0})
        return {"rate": p.other_rate, "in_progress_mean": r["in_progress_mean"], "completed": r["completed"],
                "errors": r["errors"], "step_latency_ms": r["step_latency_ms"],
                "other_cpu_share": round(r["other_cpu_share"], 2),
                "server_cpu_ms_per_call": r.get("server_cpu_ms_per_call")}


def _self_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def targets(doc: dict[str, Any]) -> dict[str, bool | None]:
    shapes = doc.get("shapes", [])
    if not shapes:
        return {}
    return {
        "member_list_once_per_interval_per_queue": all(
            s["member_lists_per_second"] <= s["member_list_limit_per_second"] * 1.05 for s in shapes),
        "other_calls_p99_le_2ms": all((s["other_calls"]["step_latency_ms"]["p99"] or 0) <= 2.0 for s in shapes),
        "every_caller_stayed_in_line": all(s["still_waiting_after"] == s["callers"] for s in shapes),
    }


def table(doc: dict[str, Any]) -> str:
    p = doc["plan"]
    lines = [f"callers waiting in queues ({doc.get('date', '')}, commit {doc.get('commit', '?')}): announcements "
             f"every {p['announce_every']:g} s, ads between; window {p['announce_every'] * p['window_intervals']:g} s; "
             f"server on one core"]
    base = doc.get("baseline")
    if base:
        lat = base["step_latency_ms"]
        lines.append(f"  no caller waiting     other calls {base['rate']:g}/s alone: "
                     f"p99 {report._fmt(lat['p99'], '.2f')} ms "
                     f"(max {report._fmt(lat['max'], '.1f')}); o {base['other_cpu_share']:.2f}")
    for s in doc["shapes"]:
        o = s["other_calls"]
        lat = o["step_latency_ms"]
        lines.append(
            f"  {s['queues']:>3} queue(s) x {s['callers_per_queue']:<4}  {s['server_cpu_ms_per_caller_minute']:.2f} ms "
            f"server CPU per caller-minute ({s['server_cores']:.2f} cores); {s['commands_per_second']:.1f} commands/s, "
            f"of which {s['member_lists_per_second']:.2f} member lists/s "
            f"(limit {s['member_list_limit_per_second']:g}); "
            f"other calls {o['rate']:g}/s beside them: p99 {report._fmt(lat['p99'], '.2f')} ms "
            f"(max {report._fmt(lat['max'], '.1f')}); o {o['other_cpu_share']:.2f}")
    lines.append("  targets: " + ", ".join(f"{k} {report._fmt(v)}" for k, v in doc["targets_met"].items()))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queues", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny scale (smoke test)")
    parser.add_argument("--out", default=str(HERE), help="directory of results.json/.txt (default bench/)")
    parser.add_argument("--shapes", help="queues x callers, comma-separated (default 1x1000,100x10)")
    args = parser.parse_args(argv)
    plan = QueuePlan.quick() if args.quick else QueuePlan()
    if args.shapes:
        plan.shapes = [(int(q), int(c)) for q, c in (x.split("x") for x in args.shapes.split(","))]
    metrics.raise_nofile()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, generator_cpu = (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)
    if generator_cpu is not None:
        os.sched_setaffinity(0, {generator_cpu})  # the simulator (this process) off the server's core
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fsivr-bench-queues-") as tmp:
        doc = QueueBench(plan, Path(tmp), server_cpu, generator_cpu).run()
    doc["targets_met"] = targets(doc)
    doc["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc["commit"] = gevent.subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent,
                                          stdout=gevent.subprocess.PIPE).stdout.decode().strip() or "?"
    doc["bench_seconds"] = round(time.monotonic() - started, 1)
    report.merge_part(Path(args.out), "queue_waiting", doc)
    print(table(doc), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
