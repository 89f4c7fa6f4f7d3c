"""Real ``fsivr worker`` processes: SIGKILL mid-send, SIGTERM mid-send, a second worker on SQLite,
two workers on PostgreSQL over 1,000 rows."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from farends import Gateway, SmtpServer, TcpProxy, free_port, start_worker, wait_for, worker_env
from procs import Popen
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from fsivr.store import outbox
from fsivr.store.db import Store
from fsivr.store.models import OutboxRow
from fsivr.worker.email import message_id
from fsivr.worker.notify import Notifier
from fsivr.worker.sms import SmsRules, sms_payload

#: Short enough that a PostgreSQL test waits little for a dead worker's lease; the send timeouts
#: must stay below it (the worker refuses to start otherwise).
FAST = {"worker_poll_interval": 0.05, "worker_backoff_base": 0.05, "worker_lease_seconds": 2,
        "smtp_timeout": 1, "sms_http_timeout": 1}


def _smtp_env(db_url: str, server: SmtpServer) -> dict[str, str]:
    return worker_env(db_url, smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
                      smtp_from="pbx@acme.example", **FAST)


def _state(store: Store, row_id: int) -> OutboxRow:
    with store.session() as s:
        return s.execute(select(OutboxRow).where(OutboxRow.id == row_id)).scalar_one()


def _stop(proc: Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def _log(tmp_path: Path, name: str = "worker.log") -> str:
    return (tmp_path / name).read_text(errors="replace")


def test_worker_killed_mid_send_loses_nothing_and_delivers_once(store: Store, tmp_path: Path) -> None:
    """SIGKILL while the SMTP conversation is under way (before the message was transferred): the
    row stays leased; a new worker takes it (SQLite: at once, under the single-worker lock;
    PostgreSQL: when the lease expires) and the mail arrives exactly once."""
    server = SmtpServer()
    server.hold_at, server.hold = "rcpt", threading.Event()
    try:
        row_id = Notifier(store).email("call:k1:vm", "anna@acme.example", "Voicemail", "hello").id
        env = _smtp_env(str(store.url.render_as_string(hide_password=False)), server)
        first = start_worker(env, tmp_path)
        assert server.holding.wait(30), _log(tmp_path)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        row = _state(store, row_id)
        assert (row.state, row.attempts) == ("leased", 1)
        server.hold.set()
        second = start_worker(env, tmp_path)
        try:
            wait_for(lambda: _state(store, row_id).state == "sent", what="the mail to be sent")
        finally:
            assert _stop(second) == 0, _log(tmp_path)
        assert _state(store, row_id).attempts == 2
        assert len(server.received) == 1
        assert server.received[0].message["Message-ID"] == message_id("call:k1:vm", "pbx@acme.example")
        assert "the previous attempt never finished" in _log(tmp_path)
    finally:
        server.stop()


def test_killed_after_the_server_took_it_resends_under_the_same_message_id(sqlite_url: str,
                                                                         tmp_path: Path) -> None:
    """The other half of a send: the server has the message but the worker died before hearing
    so. The resend is unavoidable (nobody knows it arrived) and carries the same Message-ID."""
    store = Store(sqlite_url)
    store.upgrade()
    server = SmtpServer()
    server.hold = threading.Event()
    try:
        Notifier(store).email("call:k2:vm", "anna@acme.example", "Voicemail", "hello")
        env = _smtp_env(sqlite_url, server)
        first = start_worker(env, tmp_path)
        assert server.holding.wait(30), _log(tmp_path)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        server.hold.set()
        wait_for(lambda: len(server.received) == 1, what="the first copy")
        second = start_worker(env, tmp_path)
        try:
            wait_for(lambda: len(server.received) == 2, what="the resend")
        finally:
            _stop(second)
        ids = {r.message["Message-ID"] for r in server.received}
        assert ids == {message_id("call:k2:vm", "pbx@acme.example")}
    finally:
        server.stop()
        store.close()


def test_sms_resend_after_a_kill_carries_the_same_idempotency_key(sqlite_url: str, tmp_path: Path,
                                                                 gateway: Gateway) -> None:
    store = Store(sqlite_url)
    store.upgrade()
    try:
        Notifier(store, SmsRules(default_region="PL")).sms("call:k3:sms", "501000001", "Thanks")
        env = worker_env(sqlite_url, sms_backend="http", sms_http_url=gateway.url + "/sms",
                         default_region="PL", **FAST)
        gateway.hold.clear()
        first = start_worker(env, tmp_path)
        assert gateway.arrived.wait(30), _log(tmp_path)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        gateway.hold.set()
        second = start_worker(env, tmp_path)
        try:
            wait_for(lambda: len(gateway.requests) == 2, what="the resend")
            wait_for(lambda: store_state(store) == {"sent": 1}, what="the row to be sent")
        finally:
            _stop(second)
        assert [r.headers["Idempotency-Key"] for r in gateway.requests] == ["call:k3:sms"] * 2
        assert gateway.requests[0].json() == gateway.requests[1].json() == {
            "to": "+48501000001", "from": "", "text": "Thanks"}
    finally:
        store.close()


def store_state(store: Store) -> dict[str, int]:
    with store.session() as s:
        return outbox.counts(s)


def test_sigterm_finishes_the_row_in_hand_then_stops(store: Store, tmp_path: Path) -> None:
    server = SmtpServer()
    server.hold_at, server.hold = "rcpt", threading.Event()
    try:
        notifier = Notifier(store)
        first = notifier.email("k-a", "a@acme.example", "first", "x").id
        second = notifier.email("k-b", "b@acme.example", "second", "x").id
        proc = start_worker(_smtp_env(str(store.url.render_as_string(hide_password=False)), server), tmp_path)
        assert server.holding.wait(30), _log(tmp_path)
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "finishing the row in hand" in _log(tmp_path), what="the worker to hear SIGTERM")
        assert proc.poll() is None  # still sending
        server.hold.set()
        assert proc.wait(timeout=30) == 0, _log(tmp_path)
        states = {_state(store, i).state for i in (first, second)}
        assert states == {"sent", "pending"}  # the one in hand was finished, the next not started
        assert len(server.received) == 1
    finally:
        server.stop()


def test_a_second_worker_on_sqlite_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    store = Store(sqlite_url)
    store.upgrade()
    store.close()
    env = worker_env(sqlite_url, **FAST)
    first = start_worker(env, tmp_path)
    try:
        wait_for(lambda: "sending" in _log(tmp_path), what="the first worker to start")
        second = subprocess.run([sys.executable, "-m", "fsivr", "worker"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert f"another fsivr worker (pid {first.pid}) is already processing the outbox" in second.stderr
        assert "on SQLite only one worker may run" in second.stderr
    finally:
        assert _stop(first) == 0
    # the lock goes with its holder: a new worker starts
    again = start_worker(env, tmp_path, "again.log")
    wait_for(lambda: "sending" in _log(tmp_path, "again.log"), what="a new worker to start")
    assert _stop(again) == 0


@pytest.mark.postgres
def test_two_workers_on_postgresql_share_1000_rows_without_overlap(pg_database: str, tmp_path: Path,
                                                                   gateway: Gateway) -> None:
    store = Store(pg_database)
    store.upgrade()
    try:
        rules = SmsRules(default_region="PL")
        now = datetime.now(UTC)
        with store.session() as s:
            for i in range(1000):
                outbox.enqueue(s, "sms", sms_payload(rules, f"501{i:06d}", f"message {i}"), f"bulk-{i}", now)
        # A lease far longer than any send: this is about SKIP LOCKED sharing the rows, not expiry (a
        # worker stalled past its lease is tests/worker/test_outbox.py's, with an injected clock).
        env = worker_env(pg_database, sms_backend="http", sms_http_url=gateway.url + "/sms",
                         **{**FAST, "worker_lease_seconds": 60})
        gateway.hold.clear()  # both workers must be in before any request is answered
        workers = [start_worker(env, tmp_path, f"w{n}.log") for n in (1, 2)]
        try:
            wait_for(lambda: len(gateway.requests) >= 2, what="both workers' first requests")
            gateway.hold.set()
            wait_for(lambda: store_state(store) == {"sent": 1000}, limit=240, what="1000 rows sent")
        finally:
            codes = [_stop(w) for w in workers]
        assert codes == [0, 0]
        keys = [r.headers["Idempotency-Key"] for r in gateway.requests]
        assert len(keys) == 1000 and set(keys) == {f"bulk-{i}" for i in range(1000)}  # each once
        texts = {r.json()["to"]: r.json()["text"] for r in gateway.requests}
        assert texts["+48501000042"] == "message 42"
        with store.session() as s:
            assert s.execute(select(func.max(OutboxRow.attempts))).scalar() == 1
            owners: dict[Any, int] = dict(s.execute(
                select(OutboxRow.lease_owner, func.count()).group_by(OutboxRow.lease_owner)).all())
        assert len(owners) == 2 and all(n > 0 for n in owners.values())
        assert {o.split(":")[1] for o in owners} == {str(w.pid) for w in workers}
    finally:
        store.close()


@pytest.mark.postgres
def test_the_database_going_away_is_waited_out(pg_database: str, tmp_path: Path, gateway: Gateway) -> None:
    """The worker reaches PostgreSQL through a proxy the test cuts: once while a send is under way
    (the outcome is recorded when the database is back, and the SMS is not sent again), once while
    idle (rows queued meanwhile are sent when it is back)."""
    store = Store(pg_database)
    store.upgrade()
    url = make_url(pg_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.up()
    try:
        notifier = Notifier(store, SmsRules(default_region="PL"))
        first = notifier.sms("k-db-1", "501000001", "one").id
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = worker_env(proxied, sms_backend="http", sms_http_url=gateway.url + "/sms",
                         **{**FAST, "worker_lease_seconds": 60})
        gateway.hold.clear()
        proc = start_worker(env, tmp_path)
        try:
            assert gateway.arrived.wait(30), _log(tmp_path)
            proxy.down()  # the database goes away while the gateway is still answering
            gateway.hold.set()
            wait_for(lambda: "the database is unreachable" in _log(tmp_path), what="the outage to be noticed")
            assert _state(store, first).state == "leased"
            proxy.up()
            wait_for(lambda: _state(store, first).state == "sent", what="the outcome to be recorded")
            assert "the database is reachable again" in _log(tmp_path)

            proxy.down()
            wait_for(lambda: _log(tmp_path).count("the database is unreachable") == 2, what="the second outage")
            second = notifier.sms("k-db-2", "501000002", "two").id  # serve's database is fine
            proxy.up()
            wait_for(lambda: _state(store, second).state == "sent", what="the row queued meanwhile")
        finally:
            assert _stop(proc) == 0, _log(tmp_path)
        assert [r.headers["Idempotency-Key"] for r in gateway.requests] == ["k-db-1", "k-db-2"]
        assert _log(tmp_path).count("the database is unreachable") == 2  # once per outage, not per poll
    finally:
        proxy.down()
        store.close()


def test_an_unreachable_database_at_start_is_one_line(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://fsivr:hunter2@127.0.0.1:{free_port()}/fsivr"
    done = subprocess.run([sys.executable, "-m", "fsivr", "worker"], env=worker_env(url), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "fsivr: worker: database postgresql+psycopg://fsivr:***@127.0.0.1" in done.stderr
    assert "is unreachable" in done.stderr and "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
