"""The servers under test, each a subprocess pinned to the server core.

* ``fsivr``: the real ``fsivr serve`` (after ``fsivr db upgrade`` and ``fsivr import``) on SQLite
  in a temporary directory, with FSIVR_SQL_LOG so its SQL statements can be counted;
* ``greenswitch``: bench/ref_greenswitch.py;
* ``floor``: bench/ref_floor.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCENARIO = Path(__file__).resolve().parent / "scenario.yaml"


#: The SIP realm of the bench's accounts (their passwords are stored as a1-hashes in it: issue 11).
BENCH_SIP_REALM = "bench.fsivr.invalid"


def tree_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this source tree first on PYTHONPATH: the ``fsivr`` console script of a shared
    venv imports whichever tree was installed (editable) into it, and a bench run from another
    worktree must measure its own code. Also a SIP realm unless one is set: the bundles' accounts
    have passwords, which import refuses without it (the test suite sets its own for every test,
    which hid this from the bench's smoke tests)."""
    return {"FSIVR_SIP_REALM": BENCH_SIP_REALM, **env,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout:g} s")


def dial_available() -> bool:
    """The dial node is being written beside this benchmark; until it exists a play stands in."""
    from fsivr.engine.registry import node_type

    return node_type("dial") is not None


def bundle_text(with_dial: bool) -> str:
    text = SCENARIO.read_text()
    if not with_dial:
        # The same call shape without ringing: a 6 s prompt where the answered dial would be.
        text = re.sub(r"      sales:\n        type: dial\n(?:        .*\n)+",
                      "      sales: {type: play, prompt: sales, next: done}\n", text)
    return text


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _pinned(cpu: int | None):  # type: ignore[no-untyped-def]
    def pre() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        # The child starts in its own session, so a ^C to make does not kill it mid-measurement
        # before the bench has read its figures; the bench ends it itself.
        os.setsid()
    return pre


def write_prompts(prompts: Path) -> None:
    """The bundle's prompt files, as real (silent) WAVs: import refuses a file prompt it cannot
    play. Their length does not matter: the load generator tells the simulator how long each plays
    (loadgen.PROMPT_SECONDS; not imported here, it monkey-patches on import)."""
    import wave

    prompts.mkdir(exist_ok=True)
    for name in re.findall(r"file: ([\w.-]+)", SCENARIO.read_text()):
        with wave.open(str(prompts / name), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\0\0" * 800)


def _raise_nofile_for_children() -> None:
    # Children inherit the soft limit; raising it here covers `fsivr serve`, which does not.
    from bench.metrics import raise_nofile

    raise_nofile()


def start_fsivr(workdir: Path, cpu: int | None, *, with_dial: bool) -> Server:
    _raise_nofile_for_children()
    db = f"sqlite:///{workdir / 'fsivr.sqlite3'}"
    prompts = workdir / "prompts"
    write_prompts(prompts)
    bundle = workdir / "bundle.yaml"
    bundle.write_text(bundle_text(with_dial))
    fsivr = str(BIN / "fsivr")
    env = tree_env({**os.environ, "FSIVR_PROMPTS_DIR": str(prompts)})
    env.pop("FSIVR_CONFIG", None)
    for args in (["db", "upgrade"], ["import", str(bundle)]):
        subprocess.run([fsivr, "--database", db, *args], check=True, env=env, cwd=workdir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port = free_port()
    log = workdir / "fsivr-serve.log"
    sql_log = workdir / "fsivr-sql.log"
    env["FSIVR_SQL_LOG"] = str(sql_log)
    proc = subprocess.Popen([fsivr, "--database", db, "serve", "--listen", f"127.0.0.1:{port}"],
                            env=env, cwd=workdir, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            preexec_fn=_pinned(cpu))
    wait_listening(port, proc)
    return Server("fsivr", port, proc, log, {"sql_log": sql_log, "prompts_dir": str(prompts)})


def start_reference(name: str, workdir: Path, cpu: int | None, config: dict[str, Any]) -> Server:
    _raise_nofile_for_children()
    module = {"greenswitch": "bench.ref_greenswitch", "floor": "bench.ref_floor"}[name]
    conf = workdir / f"{name}.json"
    conf.write_text(json.dumps(config))
    port = free_port()
    log = workdir / f"{name}.log"
    proc = subprocess.Popen([sys.executable, "-m", module, str(port), str(conf)], cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, preexec_fn=_pinned(cpu))
    wait_listening(port, proc)
    return Server(name, port, proc, log)


#: The caches' periodic checks: the change counters (fsivr/store/versions.py) — all there is when
#: nothing changed — and, after a change, scenario versions and number routes (fsivr/store/routing.py).
_POLLS = ("SELECT DATA_VERSIONS.NAME, DATA_VERSIONS.VERSION", "SELECT SCENARIOS.NAME, SCENARIOS.VERSION",
          "SELECT NUMBERS.NUMBER, SCENARIOS.NAME")


def sql_counts(sql_log: Path, start: float, end: float) -> dict[str, Any]:
    """Statements fsivr executed in [start, end], by kind: scenario reads (loading a scenario's
    definition — none in steady state), the cache's periodic version/route polls, other periodic
    reads (prompts, directory), and call-record inserts (multi-row, several calls each)."""
    counts = {"scenario_reads": 0, "version_polls": 0, "other_polls": 0, "call_record_inserts": 0,
              "call_record_rows": 0, "call_record_selects": 0, "other": 0}
    if not sql_log.exists():
        return counts
    for line in sql_log.read_text().splitlines():
        ts_text, rows_text, text = line.split("\t", 2)
        if not start <= float(ts_text) <= end:
            continue
        up = text.upper()
        if up.startswith("INSERT INTO CALLS") or up.startswith("INSERT INTO CALL_STEPS"):
            counts["call_record_inserts"] += 1
            if up.startswith("INSERT INTO CALLS"):
                counts["call_record_rows"] += int(rows_text)
        elif up.startswith(("SELECT CALLS.UUID", "SELECT LAST_AGENTS.")):
            # Per batch of call records (already-written check, last agent per caller): not polls.
            counts["call_record_selects"] += 1
        elif up.startswith(_POLLS):
            counts["version_polls"] += 1
        elif up.startswith("SELECT") and "SCENARIO" in up:
            counts["scenario_reads"] += 1
        elif up.startswith("SELECT"):
            counts["other_polls"] += 1
        else:
            counts["other"] += 1
    return counts
