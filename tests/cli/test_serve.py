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

import gevent
import pytest

from fsivr.scenario import repository
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
    proc = subprocess.Popen([sys.executable, "-m", "fsivr", "serve", "--listen", f"127.0.0.1:{port}"],
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
