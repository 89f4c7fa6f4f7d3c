"""``python -m bench.scale`` (``make bench-scale``): a hosted PBX's directory (issue 14, point 2).

10,000 accounts, 2,000 scenarios with one number each (plus 500 ring groups and 2,000 contacts),
on SQLite in a temporary directory, through the real commands:

* ``fsivr import`` and ``fsivr render-conf`` — wall time and peak RSS (``wait4``'s ``ru_maxrss``);
* ``fsivr serve`` — start-up time (spawn → listening: migrate check, load and compile every
  scenario, load the directory) and RSS once listening;
* an *unchanged* refresh — the server's CPU and SQL statements while idle over a window with the
  intervals shortened (so many ticks fall in it), and, in this process on the same database, the
  CPU of one tick as it is now (the change counters) against what it was (re-reading the tables);
* one scenario changed by ``fsivr import`` — how long until a new call runs the new version, and
  how many scenarios the server compiled for it (its log's "compiled N scenario(s)" lines);
* one account changed — how long until the server's directory swaps it in.

The figures go to ``results.json`` under ``directory_scale`` (the other keys are kept).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import metrics, report, servers

HERE = Path(__file__).resolve().parent
FSIVR = str(servers.BIN / "fsivr")
#: Seconds for the server's buffered log lines to reach the file (fsivr/logs.py FLUSH_INTERVAL: 0.5).
LOG_SETTLE = 1.0


@dataclass
class ScalePlan:
    accounts: int = 10000
    scenarios: int = 2000
    groups: int = 500
    group_size: int = 5
    contacts: int = 2000
    #: The server's intervals during the idle window (production defaults: 2 s and 10 s).
    reload_interval: float = 2.0
    directory_interval: float = 10.0
    idle_window: float = 20.0
    #: Iterations of each in-process refresh timing.
    refresh_rounds: int = 20

    @classmethod
    def quick(cls) -> ScalePlan:
        """Tiny scale for the smoke test: checks the machinery, not the figures."""
        return cls(accounts=60, scenarios=12, groups=4, group_size=3, contacts=10, reload_interval=0.2,
                   directory_interval=0.2, idle_window=1.0, refresh_rounds=3)


def bundle_text(plan: ScalePlan, *, changed: int | None = None, only: int | None = None) -> str:
    """The hosted PBX as one bundle; ``changed`` scenario hangs up at once; ``only`` keeps one scenario
    and no directory (what an operator imports to edit that scenario)."""
    # Every edit is the same bundle (`bundle:`), so it may change what the first import brought in.
    out: list[str] = ["bundle: hosted-pbx"]
    if only is None:
        out += ["prompts:", "  - {name: welcome, file: welcome.wav}", "  - {name: menu, file: menu.wav}",
                "accounts:"]
        out += [f'  - {{user: "u{i}", password: "secret-{i}", name: "User {i}", extension: "{10000 + i}"}}'
                for i in range(plan.accounts)]
        out.append("groups:")
        for g in range(plan.groups):
            members = ", ".join(f"u{(g * plan.group_size + k) % plan.accounts}" for k in range(plan.group_size))
            out.append(f"  - {{name: g{g}, strategy: simultaneous, members: [{members}]}}")
        out.append("contacts:")
        out += [f'  - {{number: "+4850{i:07d}", name: "Contact {i}", owner: u{i % plan.accounts}}}'
                for i in range(plan.contacts)]
    out.append("scenarios:")
    for i in range(plan.scenarios) if only is None else [only]:
        out += [f"  - scenario: tenant{i}", f'    numbers: ["{200000 + i}"]',
                f"    start: {'done' if i == changed else 'hours'}", "    nodes:",
                "      hours:", "        type: time_condition", "        timezone: Europe/Warsaw",
                '        rules: [{days: mon-fri, hours: "08:00-18:00"}]',
                "        match: welcome", "        nomatch: welcome",
                "      welcome: {type: play, prompt: welcome, next: menu}",
                "      menu:", "        type: menu", "        prompt: menu", "        max_attempts: 1",
                f'        options: {{"1": ext, "2": grp{i % plan.groups}}}',
                "        timeout: done", "        invalid: done",
                "      ext: {type: extension, digits: 5, answered: done, invalid: done}",
                f"      grp{i % plan.groups}: {{type: play, prompt: welcome, next: done}}",
                "      done: {type: hangup}"]
    return "\n".join(out) + "\n"


def run_measured(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run a command to its end: wall seconds, peak RSS (KiB), CPU seconds."""
    errors = cwd / "command.err"
    started = time.monotonic()
    # stderr to a file, not a pipe: read only after wait4, a pipe would fill up and block the command
    # (an import of thousands of entries prints its warnings there).
    with errors.open("wb") as err_out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err_out)
        _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    err = errors.read_text(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}... exited {proc.returncode}: {err[-2000:]}")
    return {"seconds": round(wall, 3), "peak_rss_kib": usage.ru_maxrss,
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3)}


def _hwm_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1])
    return 0


class ScaleBench:
    def __init__(self, plan: ScalePlan, workdir: Path, server_cpu: int | None, log: Any = sys.stderr) -> None:
        self.plan = plan
        self.workdir = workdir
        self.server_cpu = server_cpu
        self.log = log
        self.db = f"sqlite:///{workdir / 'pbx.sqlite3'}"
        self.env = servers.tree_env({**os.environ, "FSIVR_PROMPTS_DIR": str(workdir / "prompts")})
        self.env.pop("FSIVR_CONFIG", None)

    def say(self, text: str) -> None:
        print(f"[bench-scale {time.strftime('%H:%M:%S')}] {text}", file=self.log, flush=True)

    def fsivr(self, *args: str) -> dict[str, Any]:
        return run_measured([FSIVR, "--database", self.db, *args], self.env, self.workdir)

    def run(self) -> dict[str, Any]:
        p = self.plan
        prompts = self.workdir / "prompts"
        prompts.mkdir()
        import wave

        for name in ("welcome.wav", "menu.wav"):
            with wave.open(str(prompts / name), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(8000)
                out.writeframes(b"\0\0" * 800)
        bundle = self.workdir / "pbx.yaml"
        bundle.write_text(bundle_text(p))
        self.fsivr("db", "upgrade")
        doc: dict[str, Any] = {"plan": asdict(p)}
        doc["import"] = self.fsivr("import", str(bundle))
        self.say(f"import: {p.accounts} accounts, {p.scenarios} scenarios: {doc['import']['seconds']:.1f} s, "
                 f"peak RSS {doc['import']['peak_rss_kib'] / 1024:.0f} MiB")
        conf = self.workdir / "conf"
        doc["render_conf"] = self.fsivr("render-conf", "--out-dir", str(conf), "--no-reload")
        doc["render_conf"]["bytes"] = sum(f.stat().st_size for f in conf.rglob("*") if f.is_file())
        self.say(f"render-conf: {doc['render_conf']['seconds']:.2f} s, peak RSS "
                 f"{doc['render_conf']['peak_rss_kib'] / 1024:.0f} MiB, {doc['render_conf']['bytes'] / 1024:.0f} KiB")
        doc["refresh"] = self.refresh_costs()
        self.say(f"one unchanged refresh, in-process: directory {doc['refresh']['directory_full_read_ms']:.1f} ms "
                 f"→ {doc['refresh']['counter_read_ms']:.3f} ms; scenarios "
                 f"{doc['refresh']['scenario_poll_ms']:.1f} ms → {doc['refresh']['counter_read_ms']:.3f} ms")
        doc.update(self.serve(bundle))
        return doc

    def refresh_costs(self) -> dict[str, Any]:
        """CPU of one refresh tick when nothing changed, now (a counter read) and before (the tables),
        in this process on the same database: the caches' own query functions, timed in a loop."""
        from fsivr.engine.directory import load_snapshot
        from fsivr.store import versions
        from fsivr.store.db import Store
        from fsivr.store.directory import load_prompts
        from fsivr.store.routing import number_routes, scenario_versions

        store = Store(self.db)

        def cpu_ms(fn: Any) -> float:
            with store.session() as s:
                fn(s)  # warm: connection, statement cache
            start = time.process_time()
            for _ in range(self.plan.refresh_rounds):
                with store.session() as s:
                    fn(s)
            return (time.process_time() - start) * 1000 / self.plan.refresh_rounds

        def old_scenario_poll(s: Any) -> None:
            scenario_versions(s)
            number_routes(s)
            load_prompts(s)

        def old_directory_refresh(s: Any) -> None:
            load_snapshot(s).index()

        try:
            out = {"directory_full_read_ms": round(cpu_ms(old_directory_refresh), 3),
                   "scenario_poll_ms": round(cpu_ms(old_scenario_poll), 3),
                   "counter_read_ms": round(cpu_ms(versions.read), 4)}
        finally:
            store.close()
        out["directory_ratio"] = round(out["directory_full_read_ms"] / out["counter_read_ms"], 1)
        out["scenario_ratio"] = round(out["scenario_poll_ms"] / out["counter_read_ms"], 1)
        return out

    def serve(self, bundle: Path) -> dict[str, Any]:
        p = self.plan
        port = servers.free_port()
        log_path = self.workdir / "serve.log"
        sql_log = self.workdir / "sql.log"
        env = {**self.env, "FSIVR_SQL_LOG": str(sql_log), "FSIVR_RELOAD_INTERVAL": str(p.reload_interval),
               "FSIVR_DIRECTORY_INTERVAL": str(p.directory_interval), "FSIVR_LOG_LEVEL": "INFO"}
        started = time.monotonic()
        proc = subprocess.Popen([FSIVR, "--database", self.db, "serve", "--listen", f"127.0.0.1:{port}"],
                                env=env, cwd=self.workdir, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
                                preexec_fn=servers._pinned(self.server_cpu))
        srv = servers.Server("fsivr", port, proc, log_path)
        out: dict[str, Any] = {}
        try:
            servers.wait_listening(port, proc, timeout=300)
            out["serve_start"] = {"seconds": round(time.monotonic() - started, 3),
                                  "rss_kib": metrics.proc_rss_kib(proc.pid), "peak_rss_kib": _hwm_kib(proc.pid),
                                  "cpu_seconds": round(metrics.proc_cpu_seconds(proc.pid), 3)}
            time.sleep(LOG_SETTLE)
            out["serve_start"]["compiled"] = self.compiled(log_path)
            self.say(f"serve start-up: {out['serve_start']['seconds']:.1f} s to listening, "
                     f"RSS {out['serve_start']['rss_kib'] / 1024:.0f} MiB, {out['serve_start']['compiled']} compiled")
            out["idle"] = self.idle(proc.pid, sql_log)
            self.say(f"idle: {out['idle']['server_cpu_ms_per_second']:.2f} ms CPU/s, "
                     f"{out['idle']['statements_per_tick']:.2f} statements per tick, other load "
                     f"{out['idle']['other_cpu_share']:.2f}")
            out["scenario_change"] = self.change_one_scenario(port, log_path)
            self.say(f"one scenario changed: new calls run it {out['scenario_change']['seconds']:.2f} s after the "
                     f"import committed (reload_interval {p.reload_interval:g} s); compiled "
                     f"{out['scenario_change']['compiled']} of {p.scenarios}")
            out["directory_change"] = self.change_one_account(sql_log)
            self.say(f"one account changed: swapped in after {out['directory_change']['seconds']:.2f} s "
                     f"(directory_interval {p.directory_interval:g} s)")
        finally:
            srv.stop(timeout=20.0)
        return out

    @staticmethod
    def compiled(log_path: Path) -> int:
        return sum(int(n) for n in re.findall(rb"compiled (\d+) scenario", log_path.read_bytes()))

    def idle(self, pid: int, sql_log: Path) -> dict[str, Any]:
        p = self.plan
        time.sleep(min(2.0, p.idle_window))  # let start-up's last work settle
        cpu0, busy0, t0 = metrics.proc_cpu_seconds(pid), metrics.machine_busy_seconds(), time.time()
        time.sleep(p.idle_window)
        cpu1, busy1, t1 = metrics.proc_cpu_seconds(pid), metrics.machine_busy_seconds(), time.time()
        statements = 0
        if sql_log.exists():
            stamps = (float(line.split("\t", 1)[0]) for line in sql_log.read_text().splitlines())
            statements = sum(1 for ts in stamps if t0 <= ts <= t1)
        # Four polls, each one query when nothing changed: the scenarios' change counter, the
        # time-condition overrides (fsivr/engine/overrides.py: the table itself, a handful of rows)
        # and the callers with a waiting callback (fsivr/engine/callbacks.py) every
        # reload_interval; the directory's change counter every directory_interval.
        ticks = 3 * (t1 - t0) / p.reload_interval + (t1 - t0) / p.directory_interval
        server = cpu1 - cpu0
        return {"window_s": round(t1 - t0, 2), "server_cpu_ms_per_second": round(server * 1000 / (t1 - t0), 3),
                "ticks": round(ticks, 1), "statements": statements,
                "statements_per_tick": round(statements / ticks, 3) if ticks else None,
                "server_cpu_ms_per_tick": round(server * 1000 / ticks, 3) if ticks else None,
                "other_cpu_share": round(max(0.0, (busy1 - busy0) - server) / (t1 - t0), 2),
                "note": "SQL statements and CPU of the idle server; ms per tick is bounded by the 10 ms "
                        "granularity of /proc CPU times over the window"}

    def import_here(self, path: Path) -> tuple[float, float]:
        """Import ``path`` from this process (another process than the server's); return the seconds
        it took and the monotonic time of its commit — the moment a change starts to be visible."""
        from fsivr.scenario import repository
        from fsivr.store.db import Store

        store = Store(self.db)
        try:
            started = time.monotonic()
            repository.import_file(store, path, prompts_dir=self.workdir / "prompts")
            committed = time.monotonic()
        finally:
            store.close()
        return committed - started, committed

    def change_one_scenario(self, port: int, log_path: Path) -> dict[str, Any]:
        from fsivr.testing import CallScript, Simulator

        p = self.plan
        victim = p.scenarios // 2
        number = str(200000 + victim)
        sim = Simulator(("127.0.0.1", port), time_scale=0.0)

        def runs_new_version() -> bool:
            result = sim.run_call(CallScript(number=number))
            return not any(a.name == "playback" for a in result.apps)

        assert not runs_new_version(), "the scenario under test already hangs up at once"
        before = self.compiled(log_path)
        edit = self.workdir / "edit.yaml"
        edit.write_text(bundle_text(p, changed=victim, only=victim))
        import_seconds, committed = self.import_here(edit)
        deadline = committed + max(30.0, 10 * p.reload_interval)
        calls = 0
        while True:
            calls += 1
            if runs_new_version():
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the changed scenario did not reach new calls")
            time.sleep(0.02)
        seen = time.monotonic() - committed
        # A later tick must not compile anything more; and the log lines must be written out.
        time.sleep(max(p.reload_interval * 2, LOG_SETTLE))
        return {"seconds": round(seen, 3), "within_reload_interval": seen <= p.reload_interval + 0.5,
                "compiled": self.compiled(log_path) - before, "probe_calls": calls,
                "import_seconds": import_seconds}

    def change_one_account(self, sql_log: Path) -> dict[str, Any]:
        """Time from the commit until the server starts re-reading the directory (the first
        ``SELECT accounts...`` in its SQL log, which is timestamped as it runs, not buffered); the
        swap follows that read at once."""
        p = self.plan

        def reads_after(t: float) -> list[float]:
            out = []
            for line in sql_log.read_text().splitlines():
                ts, _rows, text = line.split("\t", 2)
                if float(ts) >= t and text.upper().startswith("SELECT ACCOUNTS."):
                    out.append(float(ts))
            return out

        edit = self.workdir / "account.yaml"
        edit.write_text('bundle: hosted-pbx\naccounts:\n'
                        '  - {user: "u1", password: "changed", name: "Renamed", extension: "10001"}\n')
        _seconds, committed = self.import_here(edit)
        wall_committed = time.time() - (time.monotonic() - committed)
        deadline = committed + max(30.0, 3 * p.directory_interval)
        while not (reads := reads_after(wall_committed)):
            if time.monotonic() > deadline:
                raise RuntimeError("the changed account did not reach the server")
            time.sleep(0.02)
        seen = reads[0] - wall_committed
        return {"seconds": round(seen, 3), "within_directory_interval": seen <= p.directory_interval + 0.5}


def targets(doc: dict[str, Any]) -> dict[str, bool | None]:
    """Issue 14 point 2, as checks on the figures."""
    idle, change = doc.get("idle", {}), doc.get("scenario_change", {})
    return {
        # One counter query per tick, whatever the directory's size.
        "unchanged_refresh_one_query": None if idle.get("statements_per_tick") is None
        else idle["statements_per_tick"] <= 1.05,
        "one_change_compiles_one_scenario": None if not change else change["compiled"] == 1,
        "change_within_reload_interval": change.get("within_reload_interval"),
        "directory_change_within_interval": doc.get("directory_change", {}).get("within_directory_interval"),
    }


def table(doc: dict[str, Any]) -> str:
    p = doc["plan"]
    r, s, i, c = doc["refresh"], doc["serve_start"], doc["idle"], doc["scenario_change"]
    lines = [
        f"hosted PBX directory ({doc.get('date', '')}, commit {doc.get('commit', '?')}): {p['accounts']:,} accounts, "
        f"{p['scenarios']:,} scenarios/numbers, {p['groups']} groups, {p['contacts']:,} contacts; SQLite",
        f"  fsivr import          {doc['import']['seconds']:.1f} s, "
        f"peak RSS {doc['import']['peak_rss_kib'] / 1024:.0f} MiB",
        f"  fsivr render-conf     {doc['render_conf']['seconds']:.2f} s, peak RSS "
        f"{doc['render_conf']['peak_rss_kib'] / 1024:.0f} MiB ({doc['render_conf']['bytes'] / 1024:.0f} KiB of XML)",
        f"  fsivr serve start-up  {s['seconds']:.1f} s to listening ({s['compiled']} scenarios compiled), "
        f"RSS {s['rss_kib'] / 1024:.0f} MiB (peak {s['peak_rss_kib'] / 1024:.0f})",
        f"  unchanged refresh     directory {r['directory_full_read_ms']:.1f} ms → {r['counter_read_ms']:.3f} ms CPU "
        f"({r['directory_ratio']:.0f}x); scenarios {r['scenario_poll_ms']:.1f} ms → {r['counter_read_ms']:.3f} ms "
        f"({r['scenario_ratio']:.0f}x)",
        f"  idle serve            {i['statements_per_tick']:.2f} SQL statements per tick, "
        f"{i['server_cpu_ms_per_second']:.2f} ms CPU per second (ticks every {p['reload_interval']:g} s and "
        f"{p['directory_interval']:g} s; other load {i['other_cpu_share']:.2f} cores)",
        f"  one scenario changed  new calls run it {c['seconds']:.2f} s after the import committed; "
        f"{c['compiled']} of {p['scenarios']:,} recompiled",
        f"  one account changed   in the server's directory {doc['directory_change']['seconds']:.2f} s after commit",
        "  targets: " + ", ".join(f"{k} {report._fmt(v)}" for k, v in doc["targets_met"].items()),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny scale (smoke test)")
    parser.add_argument("--out", default=str(HERE), help="directory of results.json/.txt (default bench/)")
    args = parser.parse_args(argv)
    plan = ScalePlan.quick() if args.quick else ScalePlan()
    cpus = sorted(os.sched_getaffinity(0))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fsivr-bench-scale-") as tmp:
        doc = ScaleBench(plan, Path(tmp), cpus[0] if len(cpus) > 1 else None).run()
    doc["targets_met"] = targets(doc)
    doc["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    doc["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True,
                                   text=True).stdout.strip() or "?"
    doc["bench_seconds"] = round(time.monotonic() - started, 1)
    report.merge_part(Path(args.out), "directory_scale", doc)
    print(table(doc), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
