"""``fsivr serve`` as a process: SIGTERM stops accepting, lets calls in progress finish, exits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
import procs
import pytest
from sqlalchemy.orm import Session

from fsivr.scenario import repository
from fsivr.store import callrecords
from fsivr.store.db import Store
from fsivr.testing import CallScript, Simulator

BUNDLE = """
scenarios:
  - scenario: slow
    numbers: ["300"]
    start: talk
    nodes:
      talk: {type: play, text: "x", next: bye}
      bye: {type: hangup}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen[str], limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"fsivr serve exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("fsivr serve did not start listening")


@pytest.fixture
def served(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    (tmp_path / "b.yaml").write_text(BUNDLE)
    store = Store(db)
    store.upgrade()
    repository.import_file(store, tmp_path / "b.yaml")
    store.close()
    port = free_port()
    env = {**os.environ, "FSIVR_DATABASE_URL": db, "FSIVR_SHUTDOWN_GRACE": "20"}
    proc = procs.spawn([sys.executable, "-m", "fsivr", "serve", "--listen", f"127.0.0.1:{port}"],
                       env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(port, proc)
        yield proc, port, db
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_sigterm_drains_calls_in_progress(served) -> None:
    proc, port, db = served
    # Real time: the 2 s text prompt really takes 2 s, so the call is mid-playback at SIGTERM.
    sim = Simulator(("127.0.0.1", port), time_scale=1.0)
    handle = sim.start_call(CallScript(number="300", at=datetime.now(UTC), timeout=30.0))
    gevent.sleep(0.8)  # a blocking sleep would stop the simulator (it runs on this process's hub)
    proc.send_signal(signal.SIGTERM)
    gevent.sleep(0.3)
    # No new calls once stopping...
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    # ...but the one in progress ends normally: played to the end, then our hangup.
    result = handle.wait(30.0)
    assert result.hangup_by == "server", (result, proc.communicate(timeout=20))
    assert [a.response for a in result.apps if a.name == "playback"] == ["FILE PLAYED"]
    assert proc.wait(20) == 0
    store = Store(db)
    try:
        record = store.run(lambda s: repository.call_path(s, result.uuid))
    finally:
        store.close()
    assert record is not None
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("talk", "next"), ("bye", "hangup")]


def _serve(db: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FSIVR_DATABASE_URL": db}
    return subprocess.run([sys.executable, "-m", "fsivr", "serve", "--listen", f"127.0.0.1:{free_port()}"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)


def test_serve_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    done = _serve(db, tmp_path)
    assert done.returncode == 2
    assert f"fsivr serve: database {db} is not migrated: run `fsivr db upgrade`" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_names_an_unreachable_database_without_its_password(tmp_path: Path) -> None:
    done = _serve(f"postgresql+psycopg://fsivr:s3cret@127.0.0.1:{free_port()}/fsivr", tmp_path)
    assert done.returncode == 2
    assert "fsivr serve: database postgresql+psycopg://fsivr:***@127.0.0.1:" in done.stderr
    assert "cannot be read" in done.stderr and "s3cret" not in done.stderr and "Traceback" not in done.stderr


CRASH_BUNDLE = """
scenarios:
  - scenario: steps
    numbers: ["400"]
    start: one
    nodes:
      one: {type: play, text: "one", next: two}
      two: {type: play, text: "two", next: three}
      three: {type: play, text: "three", next: bye}
      bye: {type: hangup}
"""
#: What the README promises a crash may lose: the last fraction of a second (the writer's 0.2 s
#: gather plus one write), with room for a shared, busy test machine.
WINDOW = 0.75


def _start_serve(db: str, port: int, tmp_path: Path, log_name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FSIVR_DATABASE_URL": db}
    # The log goes to a file: a pipe nobody reads would block the server once it is full.
    log = (tmp_path / log_name).open("w")
    proc = procs.spawn([sys.executable, "-m", "fsivr", "serve", "--listen", f"127.0.0.1:{port}"],
                       env=env, cwd=tmp_path, stdout=log, stderr=log, text=True)
    log.close()
    wait_listening(port, proc)
    return proc


def test_sigkill_under_load_loses_at_most_the_last_fraction_of_a_second(tmp_path: Path) -> None:
    """Issue 11 point 1: a real SIGKILL of a real ``fsivr serve`` with 20 calls in flight. Every
    call that connected, and every step that ended, more than the window before the kill is in
    the database; every call that ended that long before is complete; the next ``serve`` on the
    same address marks what the dead one left in progress as interrupted."""
    db = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    (tmp_path / "b.yaml").write_text(CRASH_BUNDLE)
    store = Store(db)
    store.upgrade()
    repository.import_file(store, tmp_path / "b.yaml")
    port = free_port()
    proc = _start_serve(db, port, tmp_path, "serve1.log")
    # Each prompt is 2 s of simulated speech, 0.6 s of real time: a call lasts ~1.8 s, so at the
    # kill some are long past their start and others long past their end.
    sim = Simulator(("127.0.0.1", port), time_scale=0.3)
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    running = True

    def caller(delay: float) -> None:
        gevent.sleep(delay)  # staggered: at the kill, calls are at every stage
        while running:
            handle = sim.start_call(CallScript(number="400", at=datetime.now(UTC), timeout=10.0))
            uuid = handle.session.channel.uuid
            started[uuid] = time.monotonic()
            result = handle.wait(15.0)
            if result.hangup_by == "server":  # ended by the scenario, not by the crash
                ended[uuid] = time.monotonic()

    callers = [gevent.spawn(caller, i * 0.1) for i in range(20)]
    try:
        gevent.sleep(6.0)
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        running = False
        gevent.joinall(callers, timeout=20)
    finally:
        running = False
        gevent.killall(callers)
        if proc.poll() is None:
            proc.kill()

    def load(s: Session) -> dict[str, Any]:
        return {r.uuid: r for r in callrecords.recent_calls(s, limit=100_000)}

    rows = store.run(load)
    finished = [u for u, t in ended.items() if t < killed_at - WINDOW]
    in_flight = [u for u, t in started.items() if t < killed_at - WINDOW and u not in ended]
    assert len(finished) >= 15 and len(in_flight) >= 3, (len(finished), len(in_flight))
    missing = [u for u in finished if u not in rows or rows[u].status != "answered"]
    assert not missing, f"{len(missing)} of {len(finished)} finished calls lost or incomplete"
    for uuid in finished:
        r = rows[uuid]
        assert [(s.node, s.outcome) for s in r.steps] == [
            ("one", "next"), ("two", "next"), ("three", "next"), ("bye", "hangup")]
        assert r.hangup_cause == "NORMAL_CLEARING" and r.ended_at is not None
    lost = [u for u in in_flight if u not in rows]
    assert not lost, f"{len(lost)} of {len(in_flight)} calls in progress left no row"
    assert any(rows[u].status == "in_progress" for u in in_flight)

    # The next serve on the same address closes what the dead one left open, with what it holds.
    proc = _start_serve(db, port, tmp_path, "serve2.log")
    try:
        rows = store.run(load)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        store.close()
    assert not [r for r in rows.values() if r.status == "in_progress"]
    interrupted = [r for r in rows.values() if r.status == "interrupted"]
    assert interrupted and {r.uuid for r in interrupted} <= set(started) - set(finished)
    for r in interrupted:
        assert r.fault is not None and r.fault.startswith("interrupted")
        assert r.ended_at is not None and r.ended_at >= r.started_at
        assert r.ended_at == max([s.ended_at for s in r.steps if s.ended_at] or [r.started_at])
        assert [s.node for s in r.steps] == ["one", "two", "three", "bye"][:len(r.steps)]
    assert "marked interrupted" in (tmp_path / "serve2.log").read_text()
