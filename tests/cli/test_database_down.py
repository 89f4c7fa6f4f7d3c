"""A database that cannot be reached, said clearly: each command prints one line naming the
database (password masked) and the cause, and exits non-zero; `fsivr serve` logs one line when its
database goes away and one when it is back, and serves calls from memory meanwhile."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import gevent
import procs
import pytest
from sqlalchemy.engine import make_url
from tcpproxy import TcpProxy, free_port

from fsivr.cli import main
from fsivr.scenario import repository
from fsivr.store.db import Store
from fsivr.testing import CallScript, Simulator

SCENARIO = """\
scenario: hello
numbers: ["300"]
start: talk
nodes:
  talk: {type: play, text: "hello", next: bye}
  bye: {type: hangup}
"""


def fsivr(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSIVR_")}
    return subprocess.run([sys.executable, "-m", "fsivr", *argv], capture_output=True, text=True, timeout=60,
                          env=env, cwd=cwd)


@pytest.mark.parametrize("command", [
    ["import", "hello.yaml"], ["calls"], ["scenario", "list"], ["db", "upgrade"],
    ["render-conf", "--out-dir", "conf", "--no-reload"],
])
def test_each_command_names_an_unreachable_database_in_one_line(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "hello.yaml").write_text(SCENARIO)
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://fsivr:hunter2@127.0.0.1:{port}/fsivr"
    done = fsivr("--database", url, *command, cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"fsivr {command[0]}: database postgresql+psycopg://fsivr:***@127.0.0.1:{port}/fsivr "
                               "is unreachable: ")
    # The driver's reason, not SQLAlchemy's wrapping of it.
    assert re.search(rf'port {port} failed: Connection refused', lines[0]), lines[0]
    assert "hunter2" not in done.stderr and "sqlalche.me" not in done.stderr


def test_calls_where_there_is_no_database_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "var" / "fsivr.sqlite3"
    assert main(["--database", f"sqlite:///{db}", "calls"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (f"fsivr calls: there is no database here: {db} does not exist (the database is "
                       f"sqlite:///{db}; give another with --database, or create this one with `fsivr db upgrade`)\n")
    assert not db.exists() and not db.parent.exists()  # not created as a side effect
    # The commands that read the store say the same; `db upgrade` creates it.
    assert main(["--database", f"sqlite:///{db}", "scenario", "list"]) == 2
    assert "there is no database here" in capsys.readouterr().err
    assert main(["--database", f"sqlite:///{db}", "db", "upgrade"]) == 0
    assert db.exists()
    capsys.readouterr()
    assert main(["--database", f"sqlite:///{db}", "calls"]) == 0
    assert capsys.readouterr().out == "no calls recorded\n"


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _wait_for(check: Callable[[], object], what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        gevent.sleep(0.1)  # the simulator runs on this process's hub


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _call(port: int) -> None:
    sim = Simulator(("127.0.0.1", port), time_scale=0.0)
    result = sim.start_call(CallScript(number="300", at=datetime.now(UTC), timeout=20.0)).wait(30.0)
    assert result.hangup_by == "server", result
    assert [a.response for a in result.apps if a.name == "playback"] == ["FILE PLAYED"]


@pytest.mark.postgres
def test_serve_reports_an_outage_once_and_serves_from_memory(pg_database: str, tmp_path: Path) -> None:
    store = Store(pg_database)
    store.upgrade()
    (tmp_path / "hello.yaml").write_text(SCENARIO)
    repository.import_file(store, tmp_path / "hello.yaml")
    store.close()
    url = make_url(pg_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.up()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    port = free_port()
    env = {**os.environ, "FSIVR_DATABASE_URL": proxied, "FSIVR_RELOAD_INTERVAL": "0.2",
           "FSIVR_DIRECTORY_INTERVAL": "0.2"}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log_file:
        proc = procs.spawn([sys.executable, "-m", "fsivr", "serve", "--listen", f"127.0.0.1:{port}"],
                           env=env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _listening(port) or proc.poll() is not None, "serve to listen")
        assert proc.poll() is None, _log(log_path)
        _call(port)

        proxy.down()
        _wait_for(lambda: "the database is unreachable" in _log(log_path), "the outage to be logged")
        _call(port)  # served from the scenarios in memory
        _call(port)
        gevent.sleep(1.5)  # several refresh intervals of 0.2 s fail meanwhile
        during = _log(log_path)
        proxy.up()
        _wait_for(lambda: "the database is reachable again" in _log(log_path), "the recovery to be logged")
        _call(port)
    finally:
        proc.terminate()
        proc.wait(30)
        proxy.down()
    log = _log(log_path)
    assert during.count("the database is unreachable") == 1, during
    unreachable = next(line for line in log.splitlines() if "the database is unreachable" in line)
    assert " ERROR " in unreachable and "calls are served from memory" in unreachable
    # Nothing else complained meanwhile (the call records waiting to be written included). The live
    # link's lines are about FreeSWITCH's inbound socket, which this test does not run.
    assert [line for line in log.splitlines() if (" WARNING " in line or " ERROR " in line)
            and " fsivr.esl.link: " not in line] == [
        unreachable, next(line for line in log.splitlines() if "the database is reachable again" in line)]
    assert f"127.0.0.1:{proxy.port}" in unreachable
    assert log.count("the database is reachable again") == 1
    assert "Traceback" not in log, log
    if url.password:
        assert url.password not in log
