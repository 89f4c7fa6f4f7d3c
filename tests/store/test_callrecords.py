"""Call records are queued without blocking and written in batches, surviving database trouble."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import gevent
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from fsivr.store import callrecords
from fsivr.store.callrecords import CallRecord, CallRecordWriter, StepRecord, get_call, recent_calls
from fsivr.store.db import Store
from fsivr.store.models import CallRow, CallStepRow

T = TypeVar("T")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def record(i: int, steps: int = 6, *, start: datetime = T0) -> CallRecord:
    t = start + timedelta(seconds=i)
    return CallRecord(
        uuid=f"call-{i:06d}", caller="+48501000001", number="+48221234567", scenario="office",
        started_at=t, answered_at=t + timedelta(seconds=1), ended_at=t + timedelta(seconds=30),
        hangup_cause="NORMAL_CLEARING", hangup_by="caller",
        steps=[StepRecord(seq=n, node=f"n{n}", node_type="play", outcome="next",
                          started_at=t + timedelta(seconds=n), ended_at=t + timedelta(seconds=n + 1),
                          detail={"digits": "1"} if n == 0 else None) for n in range(steps)])


def counts(store: Store) -> tuple[int, int]:
    with store.session() as s:
        return (s.scalar(select(func.count()).select_from(CallRow)) or 0,
                s.scalar(select(func.count()).select_from(CallStepRow)) or 0)


def test_records_round_trip_with_paths(store: Store) -> None:
    writer = CallRecordWriter(store)
    unanswered = record(2, steps=1)
    unanswered.answered_at = None
    for r in (record(0), record(1), unanswered):
        writer.submit(r)
    assert writer.flush(timeout=10)
    writer.close()

    with store.session() as s:
        recent = recent_calls(s, limit=2)
        assert [r.uuid for r in recent] == ["call-000002", "call-000001"]
        assert recent[0].status == "unanswered" and recent[1].status == "answered"
        got = get_call(s, "call-000000")
    assert got is not None
    want = record(0)
    want.status = "answered"
    assert got == want
    assert got.started_at.tzinfo is not None and got.started_at.utcoffset() == timedelta(0)


def test_submit_never_touches_the_database(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_run = store.run

    def spy(fn: Callable[[Session], T]) -> T:
        calls.append("run")
        return real_run(fn)

    monkeypatch.setattr(store, "run", spy)
    writer = CallRecordWriter(store)
    for i in range(50):
        writer.submit(record(i))
    assert calls == []  # the writer greenlet has not even been scheduled yet
    assert writer.pending == 50
    writer.close()
    assert calls and counts(store) == (50, 300)


def test_bulk_throughput(store: Store) -> None:
    """The benchmark's load shape: thousands of calls of ~6 steps each, in batches."""
    n = 3000
    records = [record(i) for i in range(n)]
    writer = CallRecordWriter(store)
    t = time.perf_counter()
    for r in records:
        writer.submit(r)
    assert writer.flush(timeout=60)
    elapsed = time.perf_counter() - t
    writer.close()
    assert counts(store) == (n, 6 * n)
    # How fast is the bench's business (bench/README.md), not a test's: no test depends on the
    # machine's speed. Written in batches, not one transaction per call:
    assert writer.batches < n / 10, (writer.batches, f"{n / elapsed:.0f} calls/s")


class FlakyStore:
    """A store whose first ``failures`` runs fail as if the database were down."""

    def __init__(self, store: Store, failures: int) -> None:
        self.store, self.failures = store, failures
        self.engine = store.engine

    def run(self, fn: Callable[[Session], T], **kwargs: Any) -> T:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("database is restarting"))
        return self.store.run(fn, **kwargs)


def test_outage_is_retried_until_written(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    flaky: Any = FlakyStore(store, failures=3)
    writer = CallRecordWriter(flaky, retry_delay=0.01)
    with caplog.at_level(logging.WARNING, "fsivr.store.callrecords"):
        for i in range(10):
            writer.submit(record(i))
        assert writer.flush(timeout=10)
    writer.close()
    assert counts(store) == (10, 60)
    assert sum("retrying" in m for m in caplog.messages) == 3


class AckLostStore(FlakyStore):
    """A store whose first ``failures`` runs commit, then fail as if the acknowledgement was lost."""

    def run(self, fn: Callable[[Session], T], **kwargs: Any) -> T:
        result = self.store.run(fn, **kwargs)
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        return result


def test_bad_record_does_not_hold_back_others(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    writer = CallRecordWriter(store, retry_delay=0.01)
    writer.submit(record(0))
    assert writer.flush(timeout=10)

    bad = record(1)
    bad.started_at = datetime(2026, 3, 2, 9, 0)  # naive: refused by the column type
    with caplog.at_level(logging.WARNING, "fsivr.store.callrecords"):
        writer.submit(record(2))
        writer.submit(bad)
        writer.submit(record(3))
        assert writer.flush(timeout=10)
    writer.close()

    with store.session() as s:
        assert sorted(s.scalars(select(CallRow.uuid))) == ["call-000000", "call-000002", "call-000003"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "call-000001" in errors[0].getMessage()
    assert '"caller": "+48501000001"' in errors[0].getMessage()  # the full record, for recovery


def test_a_lost_commit_acknowledgement_writes_nothing_twice(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    lossy: Any = AckLostStore(store, failures=1)
    writer = CallRecordWriter(lossy, retry_delay=0.01, server="box 127.0.0.1:8084")
    with caplog.at_level(logging.WARNING, "fsivr.store.callrecords"):
        for i in range(3):
            writer.submit(record(i))
        assert writer.flush(timeout=10)
    writer.close()
    assert counts(store) == (3, 18)
    with store.session() as s:
        assert sorted(s.execute(select(CallRow.uuid, CallRow.session))) == [
            ("call-000000", 1), ("call-000001", 1), ("call-000002", 1)]
    assert sum("already stored" in m for m in caplog.messages) == 3


def test_no_sql_parameters_in_the_log(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    """A rejected batch is logged by what the database said, never with the batch's values (caller
    numbers): issue 11 point 2."""
    writer = CallRecordWriter(store, retry_delay=0.01)
    bad = record(1)
    bad.caller = "+48509999999"
    bad.steps[2].seq = 1  # two steps with one key: the database refuses the batch
    with caplog.at_level(logging.WARNING, "fsivr.store.callrecords"):
        writer.submit(record(0))
        writer.submit(bad)
        assert writer.flush(timeout=10)
    writer.close()
    rejected = [m for m in caplog.messages if "rejected a batch" in m]
    assert rejected
    for message in rejected:
        assert "+48501000001" not in message and "[parameters:" not in message and "INSERT" not in message


def test_close_flushes_and_refuses_more(store: Store) -> None:
    writer = CallRecordWriter(store)
    for i in range(5):
        writer.submit(record(i))
    assert writer.close(timeout=10)
    assert counts(store) == (5, 30)
    with pytest.raises(RuntimeError):
        writer.submit(record(9))


def test_over_long_network_values_are_clipped(store: Store) -> None:
    r = record(0)
    r.caller = "9" * 500
    writer = CallRecordWriter(store)
    writer.submit(r)
    writer.close(timeout=10)
    with store.session() as s:
        got = get_call(s, r.uuid)
    assert got is not None and got.caller == "9" * 64


def test_store_run_does_not_block_the_hub(store: Store) -> None:
    ticks: list[float] = []

    def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    def slow(session: Session) -> int:
        time.sleep(0.1)  # a real (unpatched) blocking call, like a driver waiting on the network
        return 1

    g = gevent.spawn(ticker)
    started = time.monotonic()
    assert store.run(slow) == 1
    ended = time.monotonic()
    g.kill()
    # The ticker greenlet kept running while the DB call blocked its thread: a blocked hub would
    # give it at most the one tick it had before the call (counted this way, a loaded box that
    # ticks less often still passes).
    assert sum(1 for t in ticks if started < t < ended) >= 2


def test_store_run_raises_what_fn_raised(store: Store) -> None:
    def boom(session: Session) -> None:
        raise LookupError("nothing here")

    with pytest.raises(LookupError, match="nothing here"):
        store.run(boom)
    assert store.run(lambda s: 7) == 7  # the pool and the engine are still fine


def test_close_is_bounded_when_the_database_stays_down(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    flaky: Any = FlakyStore(store, failures=10**9)
    writer = CallRecordWriter(flaky, retry_delay=0.01)
    writer.submit(record(0))
    writer.submit(record(1))
    with caplog.at_level(logging.ERROR, "fsivr.store.callrecords"):
        assert writer.close(timeout=0.2) is False
    assert counts(store) == (0, 0)
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(lost) == 1 and "call-000000" in lost[0] and "call-000001" in lost[0]


def in_progress(i: int) -> CallRecord:
    r = record(i, steps=0)
    r.answered_at = r.ended_at = r.hangup_cause = r.hangup_by = None
    return r


def test_a_session_is_written_from_its_start_and_completed_at_its_end(store: Store) -> None:
    writer = CallRecordWriter(store, server="box 127.0.0.1:8084")
    r = in_progress(0)
    writer.begin(r)
    assert writer.flush(timeout=10)
    with store.session() as s:
        got = get_call(s, r.uuid)
    assert got is not None and got.status == "in_progress" and got.ended_at is None and got.steps == []
    assert got.server == "box 127.0.0.1:8084"

    full = record(0, steps=3)
    for step in full.steps:
        r.steps.append(step)
        writer.step(r, step)
    assert writer.flush(timeout=10)
    with store.session() as s:
        got = get_call(s, r.uuid)
    assert got is not None and got.status == "in_progress" and len(got.steps) == 3

    r.answered_at, r.ended_at, r.hangup_cause, r.hangup_by = (full.answered_at, full.ended_at, "NORMAL_CLEARING",
                                                              "caller")
    writer.end(r)
    writer.close()
    with store.session() as s:
        got = get_call(s, r.uuid)
    full.status, full.server = "answered", "box 127.0.0.1:8084"
    assert got == full


def test_a_session_another_server_recorded_gets_the_next_number(store: Store) -> None:
    """The channel's earlier session was taken by another fsivr (or by this one before a restart):
    this one is recorded after it, not dropped."""
    elsewhere = CallRecordWriter(store, server="other 10.0.0.2:8084")
    elsewhere.submit(record(0))
    elsewhere.close()
    here = CallRecordWriter(store, server="box 127.0.0.1:8084", retry_delay=0.01)
    again = record(0, steps=2)
    again.started_at += timedelta(minutes=1)
    here.begin(again)
    for step in again.steps:
        here.step(again, step)
    here.end(again)
    here.close()
    with store.session() as s:
        sessions = callrecords.call_sessions(s, "call-000000")
    assert [(r.session, r.server, len(r.steps)) for r in sessions] == [
        (1, "other 10.0.0.2:8084", 6), (2, "box 127.0.0.1:8084", 2)]


def test_rows_a_dead_process_left_in_progress_are_marked_interrupted(store: Store) -> None:
    mine, theirs = "box 127.0.0.1:8084", "other 10.0.0.2:8084"
    dead = CallRecordWriter(store, server=mine)
    live = CallRecordWriter(store, server=theirs)
    cut = in_progress(0)
    dead.begin(cut)
    for step in record(0, steps=2).steps:
        cut.steps.append(step)
        dead.step(cut, step)
    dead.begin(in_progress(1))  # no step yet
    dead.submit(record(2))  # finished: left alone
    live.begin(in_progress(3))  # another server's call in progress: left alone
    dead.close()
    live.close()
    assert store.run(lambda s: callrecords.mark_interrupted(s, mine)) == 2
    with store.session() as s:
        got = {r.uuid: r for r in recent_calls(s)}
    assert [got[f"call-{i:06d}"].status for i in range(4)] == ["interrupted", "interrupted", "answered",
                                                                "in_progress"]
    assert got["call-000000"].ended_at == cut.steps[-1].ended_at and len(got["call-000000"].steps) == 2
    assert got["call-000001"].ended_at == got["call-000001"].started_at
    assert got["call-000000"].fault is not None and got["call-000000"].fault.startswith("interrupted")
    assert got["call-000002"].fault is None


def test_a_session_whose_row_cannot_be_stored_is_logged_whole_without_stalling_the_writer(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    writer = CallRecordWriter(store, retry_delay=0.2)
    bad = in_progress(0)
    bad.started_at = datetime(2026, 3, 2, 9, 0)  # naive: refused by the column type
    good = in_progress(1)
    with caplog.at_level(logging.WARNING, "fsivr.store.callrecords"):
        writer.begin(bad)
        writer.begin(good)
        assert writer.flush(timeout=10)
        t = time.perf_counter()
        for step in record(0, steps=5).steps:
            bad.steps.append(step)
            writer.step(bad, step)
        bad.ended_at, bad.hangup_cause = T0, "NORMAL_CLEARING"
        writer.end(bad)
        good.ended_at = T0
        writer.end(good)
        assert writer.flush(timeout=10)
        assert time.perf_counter() - t < 1.0  # its steps are not each retried against a missing row
    writer.close()
    with store.session() as s:
        assert [r.uuid for r in recent_calls(s)] == ["call-000001"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and all("call-000000" in m for m in errors)
    assert '"node": "n4"' in errors[1] and '"hangup_cause": "NORMAL_CLEARING"' in errors[1]


class PriorityStore:
    """A store that notes, per run, whether it was background work and at what nice value it ran."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self.runs: list[tuple[bool, int]] = []

    def run(self, fn: Callable[[Session], T], background: bool = False) -> T:
        import os
        import threading

        def noted(session: Session) -> T:
            nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            self.runs.append((background, nice - os.getpriority(os.PRIO_PROCESS, os.getpid())))
            return fn(session)

        return self.store.run(noted, background=background)


def test_a_writer_that_keeps_up_writes_at_low_priority_and_one_behind_at_full(store: Store) -> None:
    """Batches no call waits for yield the CPU to the hub (nice +10 on their own thread) while the
    writer keeps up; a batch that left items queued behind it is written at the process's priority,
    else a saturated core would starve the writer (its queue grew without bound in bench/)."""
    noted = PriorityStore(store)
    writer: Any = CallRecordWriter(noted, batch_size=5, gather=0.05)
    writer.submit(record(0))
    assert writer.flush(timeout=10)
    assert noted.runs == [(True, 10)]
    noted.runs.clear()
    for i in range(1, 13):  # 12 items a batch of 5 cannot take at once
        writer.submit(record(i))
    assert writer.flush(timeout=10)
    writer.close()
    assert counts(store) == (13, 78)
    assert [bg for bg, _ in noted.runs] == [False, False, True]
    assert [nice for _, nice in noted.runs] == [0, 0, 10]


def test_rows_of_a_batch_are_read_in_slices_with_the_hub_in_between() -> None:
    """A batch's rows are read off the records on the hub; every ROWS_PER_YIELD items the writer
    lets the hub run, and the rows are the same as read in one go."""
    items: list[callrecords.Item] = []
    for i in range(30):
        r = record(i, steps=2)
        items.append((callrecords.BEGIN, r, None))
        items.extend((callrecords.STEP, r, s) for s in r.steps)
        items.append((callrecords.END, r, None))
    pauses: list[int] = []
    sliced = callrecords._rows(items, callrecords._sqlite_time, callrecords._json, lambda: pauses.append(1))
    whole = callrecords._rows(items, callrecords._sqlite_time, callrecords._json)
    assert len(pauses) == len(items) // callrecords.ROWS_PER_YIELD
    assert (sliced.calls, sliced.steps, sliced.ends) == (whole.calls, whole.steps, whole.ends)
    assert len(whole.calls) == 30 and len(whole.steps) == 60 and whole.ends == []
