"""The outbox's store side and the worker loop, in-process with an injected clock (no sleeping), on
SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import gevent
import pytest
from sqlalchemy import select, text

from fsivr.store import outbox
from fsivr.store.db import Store
from fsivr.store.models import OutboxRow
from fsivr.store.outbox import OutboxRefused, RetryPolicy
from fsivr.worker.errors import PermanentFailure, SendFailed
from fsivr.worker.loop import Worker, WorkerSettings
from fsivr.worker.notify import Notifier, call_key
from fsivr.worker.sms import SmsRules

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorder:
    """A sender that records what it was given and fails as told (a list of exceptions or None)."""

    kind = "test"

    def __init__(self, outcomes: list[Exception | None] | None = None) -> None:
        self.calls: list[tuple[dict[str, Any], str]] = []
        self.outcomes = outcomes or []

    def __call__(self, payload: dict[str, Any], key: str) -> str:
        self.calls.append((payload, key))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return "ok"


def _row(store: Store, row_id: int) -> OutboxRow:
    with store.session() as s:
        return s.execute(select(OutboxRow).where(OutboxRow.id == row_id)).scalar_one()


def _add(store: Store, key: str, kind: str = "test", now: datetime = T0, **payload: Any) -> int:
    with store.session() as s:
        return outbox.enqueue(s, kind, payload or {"n": key}, key, now).id


def test_enqueue_is_idempotent_by_key(store: Store) -> None:
    with store.session() as s:
        first = outbox.enqueue(s, "test", {"a": 1}, "k1", T0)
        again = outbox.enqueue(s, "test", {"a": 2}, "k1", T0)
    assert first.created and not again.created and first.id == again.id
    row = _row(store, first.id)
    assert (row.state, row.attempts, row.payload, row.next_attempt_at) == ("pending", 0, {"a": 1}, T0)


def test_claim_leases_one_due_row_and_complete_marks_it_sent(store: Store) -> None:
    early = _add(store, "early", now=T0)
    with store.session() as s:
        outbox.enqueue(s, "test", {}, "later", T0, not_before=T0 + timedelta(minutes=5))
        outbox.enqueue(s, "other-kind", {}, "other", T0)
    lease = timedelta(seconds=60)
    with store.session() as s:
        got = outbox.claim(s, "w1", T0, lease, {"test"}, 8)
    assert got is not None and (got.id, got.attempt, got.reclaimed) == (early, 1, False)
    row = _row(store, early)
    assert (row.state, row.lease_owner, row.lease_expires_at, row.attempts) == ("leased", "w1", T0 + lease, 1)
    with store.session() as s:  # "later" is not due, "other" is not a kind this worker sends
        assert outbox.claim(s, "w2", T0, lease, {"test"}, 8) is None
        assert not outbox.complete(s, early, "w2", T0)  # not w2's row
        assert outbox.complete(s, early, "w1", T0 + timedelta(seconds=1))
    row = _row(store, early)
    assert (row.state, row.sent_at, row.lease_owner) == ("sent", T0 + timedelta(seconds=1), "w1")


def test_expired_lease_comes_back_and_the_late_holder_cannot_record(store: Store) -> None:
    row_id = _add(store, "k")
    lease = timedelta(seconds=60)
    with store.session() as s:
        assert outbox.claim(s, "dead-worker", T0, lease, {"test"}, 8) is not None
    with store.session() as s:  # before expiry nobody else gets it
        assert outbox.claim(s, "w2", T0 + timedelta(seconds=59), lease, {"test"}, 8) is None
    with store.session() as s:
        again = outbox.claim(s, "w2", T0 + timedelta(seconds=60), lease, {"test"}, 8)
    assert again is not None and again.id == row_id and again.reclaimed and again.attempt == 2
    with store.session() as s:
        assert not outbox.complete(s, row_id, "dead-worker", T0 + timedelta(seconds=61))
        assert outbox.complete(s, row_id, "w2", T0 + timedelta(seconds=61))
    assert _row(store, row_id).lease_owner == "w2"


def test_a_row_whose_last_attempt_never_finished_goes_dead(store: Store) -> None:
    row_id = _add(store, "poison")
    lease = timedelta(seconds=10)
    now = T0
    for attempt in (1, 2):
        with store.session() as s:
            got = outbox.claim(s, f"w{attempt}", now, lease, {"test"}, 2)
        assert got is not None and got.attempt == attempt
        now += lease  # the worker died: its lease runs out
    with store.session() as s:
        assert outbox.claim(s, "w3", now, lease, {"test"}, 2) is None
    row = _row(store, row_id)
    assert row.state == "dead" and "attempt 2 never finished" in (row.last_error or "")
    assert "w2" in (row.last_error or "")


def test_backoff_doubles_with_jitter_and_caps() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base=10, backoff_max=100, jitter=0.5)
    rng = random.Random(1)
    for attempts, raw in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        delays = [policy.delay(attempts, rng) for _ in range(200)]
        assert all(raw * 0.5 <= d <= raw for d in delays)
        assert max(delays) - min(delays) > raw * 0.3  # really spread, not a constant
    assert RetryPolicy(backoff_base=10, jitter=0).delay(3, rng) == 40
    with pytest.raises(ValueError):
        RetryPolicy(jitter=2)


def test_worker_retries_with_backoff_then_gives_up(store: Store) -> None:
    clock = Clock()
    sender = Recorder([SendFailed("gateway says 503")] * 3)
    policy = RetryPolicy(max_attempts=3, backoff_base=60, backoff_max=3600, jitter=0)
    worker = Worker(store, {"test": sender}, WorkerSettings(policy, lease_seconds=120, poll_interval=0.01),
                    clock=clock, name="w")
    row_id = _add(store, "k")
    assert worker.run_once()
    row = _row(store, row_id)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "gateway says 503")
    assert row.next_attempt_at == T0 + timedelta(seconds=60) and row.lease_owner is None
    assert not worker.run_once()  # not due yet
    clock.advance(60)
    assert worker.run_once()
    assert _row(store, row_id).next_attempt_at == T0 + timedelta(seconds=60 + 120)
    clock.advance(119)
    assert not worker.run_once()
    clock.advance(1)
    assert worker.run_once()
    row = _row(store, row_id)
    assert (row.state, row.attempts, row.last_error) == ("dead", 3, "gateway says 503")
    clock.advance(10**6)
    assert not worker.run_once()
    assert len(sender.calls) == 3 and {key for _, key in sender.calls} == {"k"}


def test_a_burst_of_rows_lets_the_companions_run_between_sends(store: Store) -> None:
    """The campaign dialler and the live link run as greenlets beside the loop: a batch of sends
    must not hold them until the outbox is empty (each send blocks the hub while it runs)."""
    sender = Recorder()
    worker = Worker(store, {"test": sender}, WorkerSettings(batch=10), clock=Clock(), name="w")
    for i in range(10):
        _add(store, f"burst-{i}")
    seen: list[int] = []

    def companion() -> None:  # what the dialler's pass loop does between its passes
        while True:
            seen.append(len(sender.calls))
            gevent.sleep(0)

    beside = gevent.spawn(companion)
    try:
        gevent.sleep(0)
        assert worker.run_once()
    finally:
        beside.kill()
    assert len(sender.calls) == 10
    # the companion ran after each of the ten sends, not only once the batch was done
    assert set(range(1, 11)) <= set(seen)


def test_permanent_failure_is_dead_at_once_and_a_crashing_sender_is_retried(store: Store) -> None:
    clock = Clock()
    sender = Recorder([PermanentFailure("no such number"), ZeroDivisionError("bug")])
    worker = Worker(store, {"test": sender}, WorkerSettings(RetryPolicy(backoff_base=1, jitter=0)),
                    clock=clock)
    bad = _add(store, "bad")
    buggy = _add(store, "buggy")
    assert worker.run_once() and worker.run_once()
    assert (_row(store, bad).state, _row(store, bad).attempts) == ("dead", 1)
    row = _row(store, buggy)
    assert row.state == "pending" and row.last_error == "ZeroDivisionError: bug"
    clock.advance(1)
    assert worker.run_once()
    assert _row(store, buggy).state == "sent"


def test_operator_retry_and_drop(store: Store) -> None:
    clock = Clock()
    worker = Worker(store, {"test": Recorder([PermanentFailure("x"), PermanentFailure("y")])},
                    WorkerSettings(), clock=clock)
    dead1, dead2, sent = _add(store, "d1"), _add(store, "d2"), _add(store, "s")
    assert worker.run_once() and worker.run_once() and worker.run_once()
    assert [_row(store, i).state for i in (dead1, dead2, sent)] == ["dead", "dead", "sent"]
    with store.session() as s, pytest.raises(OutboxRefused, match="already sent"):
        outbox.retry(s, [sent], clock())
    with store.session() as s, pytest.raises(OutboxRefused, match="no outbox row 999"):
        outbox.retry(s, [999], clock())
    with store.session() as s:
        assert outbox.retry(s, [], clock(), dead=True) == [dead1, dead2]
    row = _row(store, dead1)
    assert (row.state, row.attempts, row.last_error) == ("pending", 0, "x")  # the error stays visible
    with store.session() as s:
        got = outbox.claim(s, "w", clock(), timedelta(seconds=30), {"test"}, 8)
    assert got is not None
    with store.session() as s, pytest.raises(OutboxRefused, match="being sent by a worker"):
        outbox.drop(s, [got.id], clock())
    with store.session() as s:
        assert outbox.drop(s, [sent], clock()) == [sent]
        assert outbox.counts(s) == {"pending": 1, "leased": 1}


def test_worker_stop_finishes_the_row_in_hand(store: Store) -> None:
    started, release = threading.Event(), threading.Event()

    class Slow(Recorder):
        def __call__(self, payload: dict[str, Any], key: str) -> str:
            started.set()
            release.wait(10)
            return super().__call__(payload, key)

    now = datetime.now(UTC)
    first, second = _add(store, "a", now=now), _add(store, "b", now=now)
    worker = Worker(store, {"test": Slow()}, WorkerSettings(poll_interval=0.01))
    runner = threading.Thread(target=worker.run)
    runner.start()
    assert started.wait(10)
    worker.stop()
    release.set()
    runner.join(10)
    assert not runner.is_alive()
    assert (_row(store, first).state, _row(store, second).state) == ("sent", "pending")


def test_a_batch_claim_leases_distinct_rows_and_release_gives_back_the_untried(store: Store) -> None:
    ids = [_add(store, f"k{n}") for n in range(5)]
    lease = timedelta(seconds=60)
    with store.session() as s:
        first = outbox.claim_many(s, "w1", T0, lease, {"test"}, 8, 3)
    with store.session() as s:  # the next claim (another worker) gets the others, never the same
        second = outbox.claim_many(s, "w2", T0, lease, {"test"}, 8, 3)
    assert [c.id for c in first] == ids[:3] and [c.id for c in second] == ids[3:]
    assert all(c.attempt == 1 and not c.reclaimed for c in first + second)
    assert [(_row(store, i).state, _row(store, i).lease_owner, _row(store, i).attempts) for i in ids[:3]] == \
        [("leased", "w1", 1)] * 3
    with store.session() as s:
        assert outbox.claim_many(s, "w3", T0, lease, {"test"}, 8, 3) == []
        # only the holder's rows go back, as they were: pending, due, the claim not counted
        assert outbox.release(s, [ids[1], ids[2], ids[3]], "w1") == 2
    assert [(_row(store, i).state, _row(store, i).attempts, _row(store, i).lease_owner) for i in ids[1:4]] == \
        [("pending", 0, None), ("pending", 0, None), ("leased", 1, "w2")]
    with store.session() as s:
        again = outbox.claim_many(s, "w3", T0, lease, {"test"}, 8, 10)
    assert [c.id for c in again] == ids[1:3]


def test_a_worker_stopping_mid_batch_sends_the_row_in_hand_and_gives_back_the_rest(store: Store) -> None:
    started, release = threading.Event(), threading.Event()

    class Slow(Recorder):
        def __call__(self, payload: dict[str, Any], key: str) -> str:
            started.set()
            release.wait(10)
            return super().__call__(payload, key)

    now = datetime.now(UTC)
    ids = [_add(store, f"k{n}", now=now) for n in range(3)]
    worker = Worker(store, {"test": Slow()}, WorkerSettings(poll_interval=0.01, batch=10))
    runner = threading.Thread(target=worker.run)
    runner.start()
    assert started.wait(10)
    assert [_row(store, i).state for i in ids] == ["leased"] * 3  # one claim took all three
    worker.stop()
    release.set()
    runner.join(10)
    assert not runner.is_alive()
    assert [(_row(store, i).state, _row(store, i).attempts) for i in ids] == \
        [("sent", 1), ("pending", 0), ("pending", 0)]


def test_a_batch_row_whose_lease_would_run_out_mid_send_is_given_back(store: Store) -> None:
    """A send started when less than ``send_timeout`` of the lease is left could outlive it, and
    another worker would send the row again: such rows go back untried."""
    clock = Clock()
    sender = Recorder()
    ids = [_add(store, f"k{n}") for n in range(3)]
    worker = Worker(store, {"test": sender}, WorkerSettings(lease_seconds=60, send_timeout=60, batch=10),
                    clock=clock)
    assert worker.run_once()
    assert [(_row(store, i).state, _row(store, i).attempts) for i in ids] == \
        [("sent", 1), ("pending", 0), ("pending", 0)]
    assert len(sender.calls) == 1


def test_notifier_checks_and_enqueues(store: Store, tmp_path: Any) -> None:
    notifier = Notifier(store, SmsRules(default_region="PL", max_segments=1, sender="ACME"))
    key = call_key("uuid-1", "sms_caller")
    got = notifier.sms(key, "501 000 001", "Thanks for calling", call_uuid="uuid-1")
    assert got.created and not notifier.sms(key, "501 000 001", "Thanks for calling").created
    row = _row(store, got.id)
    assert (row.kind, row.payload, row.call_uuid) == (
        "sms", {"to": "+48501000001", "text": "Thanks for calling", "from": "ACME"}, "uuid-1")
    with pytest.raises(ValueError, match="not a possible phone number"):
        notifier.sms("k2", "12", "hi")
    with pytest.raises(ValueError, match="segments"):
        notifier.sms("k3", "+48501000001", "x" * 161)
    with pytest.raises(ValueError, match="does not exist"):
        notifier.email("k4", "a@example.com", "Voicemail", "hi", attachments=[str(tmp_path / "none.wav")])
    with pytest.raises(ValueError, match="not an e-mail address"):
        notifier.email("k5", "nobody", "Voicemail", "hi")
    with store.session() as s:
        assert outbox.counts(s) == {"pending": 1}  # refused ones left nothing behind


def test_enqueue_from_a_call_never_blocks_the_hub(sqlite_url: str) -> None:
    """An insert that has to wait for the database (here: another connection holds SQLite's write
    lock) waits on the threadpool; other greenlets — other calls — keep running meanwhile."""
    store = Store(sqlite_url)
    store.upgrade()
    blocker = Store(sqlite_url)
    try:
        notifier = Notifier(store, SmsRules(default_region="PL"))
        with blocker.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.execute(text("INSERT INTO outbox (kind, payload, idempotency_key, state, attempts, "
                              "next_attempt_at, created_at) VALUES ('x', '{}', 'blocker', 'pending', 0, "
                              "'2026-12-01 08:00:00', '2026-12-01 08:00:00')"))
            ticks: list[float] = []

            def ticker() -> None:
                while True:
                    ticks.append(time.monotonic())
                    gevent.sleep(0.01)

            tick = gevent.spawn(ticker)
            call = gevent.spawn(notifier.sms, "call:u:n", "501000001", "hello")
            gevent.sleep(0.3)
            assert not call.ready()  # waiting for the write lock...
            # ...while the hub ran the other greenlet all along (a blocked hub: at most one tick;
            # not 30 asked of a loaded box)
            assert len(ticks) >= 3
            conn.rollback()
        result = call.get(timeout=10)
        tick.kill()
        assert result.created
    finally:
        blocker.close()
        store.close()


# --- a slow worker must not let its row be sent twice (at-least-once only across a crash) ---------


def _wait(check: Any, guard: float = 10.0) -> bool:
    """Poll ``check`` until true; ``guard`` only bounds a broken run (nothing is timed)."""
    deadline = time.monotonic() + guard
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_worker_stalled_longer_than_its_lease_keeps_the_row_and_no_other_worker_sends_it(store: Store) -> None:
    """Worker ``a`` is inside its send while its clock runs past the lease (a slow gateway, a
    starved CPU). Its heartbeat keeps renewing the lease while it is alive, so worker ``b``, polling
    meanwhile, finds nothing due; the row is sent once, by ``a``."""
    clock = Clock()
    row_id = _add(store, "slow")
    settings = WorkerSettings(lease_seconds=60, poll_interval=0.01, renew_seconds=0.01)
    other = Recorder()
    b = Worker(store, {"test": other}, settings, clock=clock, name="b")
    b_found: list[bool] = []

    class Stalled(Recorder):
        def __call__(self, payload: dict[str, Any], key: str) -> str:
            clock.advance(300)  # five leases pass while the request is under way
            # a's heartbeat moves the expiry past the new now (the guard only bounds a broken run)
            _wait(lambda: _row(store, row_id).lease_expires_at > clock())
            b_found.append(b.run_once())
            return super().__call__(payload, key)

    a_sender = Stalled()
    a = Worker(store, {"test": a_sender}, settings, clock=clock, name="a")
    assert a.run_once()
    assert b_found == [False] and other.calls == []
    assert [k for _, k in a_sender.calls] == ["slow"]
    row = _row(store, row_id)
    assert (row.state, row.lease_owner, row.attempts) == ("sent", "a", 1)


def test_a_worker_whose_lease_was_taken_before_it_sent_does_not_send(store: Store) -> None:
    """Worker ``a`` claimed the row, then stalled before sending until its lease was gone and ``b``
    had sent the row: the fence (renewing the lease, conditional on still holding it, just before
    the send) stops ``a`` from sending it a second time."""
    clock = Clock()
    row_id = _add(store, "late")
    settings = WorkerSettings(lease_seconds=60, poll_interval=0.01)
    with store.session() as s:
        claimed = outbox.claim(s, "a", clock(), timedelta(seconds=60), {"test"}, 8)
    assert claimed is not None
    clock.advance(61)
    other = Recorder()
    assert Worker(store, {"test": other}, settings, clock=clock, name="b").run_once()
    assert [k for _, k in other.calls] == ["late"]
    late = Recorder()
    Worker(store, {"test": late}, settings, clock=clock, name="a")._process(claimed, T0)
    assert late.calls == []
    row = _row(store, row_id)
    assert (row.state, row.lease_owner, row.attempts) == ("sent", "b", 2)


def test_renewing_a_lease_is_fenced_by_owner_and_attempt(store: Store) -> None:
    row_id = _add(store, "fence")
    lease = timedelta(seconds=60)
    with store.session() as s:
        first = outbox.claim(s, "a", T0, lease, {"test"}, 8)
    assert first is not None
    with store.session() as s:
        assert outbox.renew(s, row_id, "a", 1, T0 + timedelta(seconds=50), lease)
    assert _row(store, row_id).lease_expires_at == T0 + timedelta(seconds=110)
    with store.session() as s:  # expired: b takes it; a's renewals and completion are refused
        assert outbox.claim(s, "b", T0 + timedelta(seconds=110), lease, {"test"}, 8) is not None
        assert not outbox.renew(s, row_id, "a", 1, T0 + timedelta(seconds=111), lease)
        assert not outbox.renew(s, row_id, "b", 1, T0 + timedelta(seconds=111), lease)  # an older attempt
        assert outbox.renew(s, row_id, "b", 2, T0 + timedelta(seconds=111), lease)
        assert not outbox.complete(s, row_id, "a", T0 + timedelta(seconds=112))


# --- the worker's store: ping only connections that sat idle --------------------------------------


def test_the_worker_store_pings_only_idle_connections_and_replaces_dead_ones(
        pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Store(ping_idle=...)``: back-to-back transactions (the worker's per-row writes) are not
    pinged; a connection idle past the threshold is, and one the server ended meanwhile (a restart,
    a firewall) is replaced at checkout instead of failing the transaction."""
    hot = Store(pg_database, ping_idle=3600)
    idle = Store(pg_database, ping_idle=0)
    admin = Store(pg_database)
    pings: list[object] = []
    for store in (hot, idle):
        real = store.engine.dialect.do_ping
        monkeypatch.setattr(store.engine.dialect, "do_ping", lambda conn, real=real: pings.append(conn) or real(conn))
    try:
        assert not hot.engine.pool._pre_ping  # type: ignore[attr-defined]
        for _ in range(5):
            with hot.connection() as conn:
                conn.execute(text("SELECT 1"))
        assert pings == []
        with idle.connection() as conn:  # a new connection: not pinged
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert pings == []
        with admin.session() as s:
            assert s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        with idle.connection() as conn:  # pinged, found dead, replaced: no error here
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        assert len(pings) == 1
    finally:
        for store in (hot, idle, admin):
            store.close()
