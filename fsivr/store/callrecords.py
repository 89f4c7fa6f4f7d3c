"""Call records: what every call leaves behind, written in batches off the call's greenlet.

A call ending must not wait for the database, so ``submit`` only queues the record; one writer
greenlet drains the queue, a batch at a time, with two inserts (calls, then steps, each one executemany
of the driver) per transaction on gevent's threadpool. Under load batches grow by themselves: whatever
arrives while one batch is being written goes into the next; and the writer lets up to ``gather``
seconds of records collect before a batch, because the cost of a batch (threadpool hand-off,
transaction, statement set-up) is paid per batch, not per record.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import gevent
from gevent.event import Event
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from fsivr.store.db import Store
from fsivr.store.models import CallRow, CallStepRow
from fsivr.store.tables import note_last_agents

log = logging.getLogger(__name__)

_CALLS = CallRow.__table__
_STEPS = CallStepRow.__table__


@dataclass
class StepRecord:
    """One node visited: which, how it ended, when."""

    seq: int
    node: str
    node_type: str
    outcome: str | None
    started_at: datetime
    ended_at: datetime | None
    detail: dict[str, Any] | None = None


@dataclass
class CallRecord:
    uuid: str
    caller: str | None
    number: str | None
    scenario: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    hangup_cause: str | None
    hangup_by: str | None
    steps: list[StepRecord] = field(default_factory=list)
    #: Stored as given; derived from answered_at when None.
    status: str | None = None


def _clip(value: str | None, limit: int) -> str | None:
    # Caller IDs and causes come from the network; PostgreSQL would reject an over-long value and,
    # with it, the whole batch.
    return value[:limit] if value is not None and len(value) > limit else value


_CALL_COLUMNS = ("uuid", "caller", "number", "scenario", "started_at", "answered_at", "ended_at",
                 "hangup_cause", "hangup_by", "status")
_STEP_COLUMNS = ("call_uuid", "seq", "node", "node_type", "outcome", "started_at", "ended_at", "detail")


def _utc(value: datetime | None) -> datetime | None:
    """What UTCDateTime.process_bind_param checks and does, before any dialect formatting."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: store aware datetimes only")
    return value.astimezone(UTC)


def _sqlite_time(value: datetime | None) -> str | None:
    # The text SQLAlchemy's SQLite DATETIME writes for UTCDateTime's naive UTC value
    # ("2026-11-22 03:31:00.000000": microseconds always, so text order is time order).
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = _utc(value)
    # The first 26 characters are the naive form; the rest is "+00:00".
    return value.isoformat(" ", "microseconds")[:26]


def _json(value: Any) -> str:
    # SQLAlchemy's JSON type writes None as the JSON 'null' (none_as_null is off), with json.dumps.
    return "null" if value is None else json.dumps(value)


def _rows(records: list[CallRecord], when: Callable[[datetime | None], Any] = _utc,
          detail: Callable[[Any], Any] = _json) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows in _CALL_COLUMNS / _STEP_COLUMNS order; ``when`` and ``detail`` give a datetime and a
    step's detail as the database driver takes them."""
    calls: list[tuple[Any, ...]] = []
    steps: list[tuple[Any, ...]] = []
    for r in records:
        calls.append((
            r.uuid, _clip(r.caller, 64), _clip(r.number, 64), _clip(r.scenario, 200), when(r.started_at),
            when(r.answered_at), when(r.ended_at), _clip(r.hangup_cause, 64), _clip(r.hangup_by, 32),
            r.status or ("answered" if r.answered_at is not None else "unanswered"),
        ))
        uuid = r.uuid
        for s in r.steps:
            steps.append((uuid, s.seq, _clip(s.node, 200), _clip(s.node_type, 100), _clip(s.outcome, 200),
                          when(s.started_at), when(s.ended_at), detail(s.detail)))
    return calls, steps


def _insert(table: str, columns: tuple[str, ...], mark: str, casts: dict[str, str]) -> str:
    values = ", ".join(mark + casts.get(c, "") for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


#: Per dialect: the two INSERT statements and how datetimes and JSON go to its driver. These are
#: what SQLAlchemy's own insert() sends for our column types (UTCDateTime, JSON), measured on each
#: driver; here the rows go to the driver's executemany as tuples, without SQLAlchemy's per-row
#: type processing (~11% of fsivr serve's CPU at load, bench/README.md).
_DRIVER_WRITES: dict[str, tuple[str, str, Callable[[datetime | None], Any], Callable[[Any], Any]]] = {
    # sqlite3: naive UTC datetimes as text, JSON as text.
    "sqlite": (_insert("calls", _CALL_COLUMNS, "?", {}), _insert("call_steps", _STEP_COLUMNS, "?", {}),
               _sqlite_time, _json),
    # psycopg: aware datetimes (timestamptz), JSON text cast to json as SQLAlchemy's Json() is.
    "postgresql": (_insert("calls", _CALL_COLUMNS, "%s", {}),
                   _insert("call_steps", _STEP_COLUMNS, "%s", {"detail": "::JSON"}), _utc, _json),
}


def write_records(session: Session, records: list[CallRecord]) -> None:
    """Insert records (calls and their steps) in the session's transaction: one executemany per
    table, with the rows as the driver takes them."""
    # Who answered each caller, for the lookup node's built-in last_agent table.
    note_last_agents(session, records)
    conn = session.connection()
    dialect = conn.dialect
    plan = _DRIVER_WRITES.get(dialect.name)
    if plan is None or dialect.paramstyle not in ("qmark", "format", "pyformat"):
        # Another database: SQLAlchemy's insert() and its type processing.
        calls, steps = _rows(records, lambda v: v, lambda v: v)
        conn.execute(insert(_CALLS), [dict(zip(_CALL_COLUMNS, row, strict=True)) for row in calls])
        if steps:
            conn.execute(insert(_STEPS), [dict(zip(_STEP_COLUMNS, row, strict=True)) for row in steps])
        return
    calls_sql, steps_sql, when, detail = plan
    calls, steps = _rows(records, when, detail)
    # exec_driver_sql: the driver's executemany, still inside SQLAlchemy's connection and
    # transaction (and its statement events: FSIVR_SQL_LOG counts these).
    conn.exec_driver_sql(calls_sql, calls)
    if steps:
        conn.exec_driver_sql(steps_sql, steps)


def _existing(session: Session, uuids: list[str]) -> set[str]:
    return set(session.scalars(select(CallRow.uuid).where(CallRow.uuid.in_(uuids))))


#: Errors that say nothing about the data: the database is down, locked or restarting.
_TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


class CallRecordWriter:
    """Queues call records and writes them in the background.

    Failures are logged and retried: a database outage is retried with backoff until it ends; a
    batch the database rejects is split so one bad record cannot hold back the others, and a record
    that still fails after ``max_attempts`` is logged in full at ERROR level (never silently lost).
    """

    def __init__(self, store: Store, *, batch_size: int = 1000, gather: float = 0.25, retry_delay: float = 0.5,
                 max_retry_delay: float = 30.0, max_attempts: int = 3) -> None:
        self.store = store
        self.batch_size = batch_size
        self.gather = gather
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_attempts = max_attempts
        self._queue: deque[CallRecord] = deque()
        self._submitted = 0
        #: Records taken care of (written, already present, or given up on and logged).
        self._done = 0
        self._wake = Event()
        #: Set by flush()/close(): write what is queued now instead of gathering more.
        self._hurry = Event()
        self._progress = Event()
        self._closing = False
        #: The batch being written (still ours to report if the writer is stopped mid-way).
        self._inflight: list[CallRecord] = []
        self._greenlet = gevent.spawn(self._loop)

    def submit(self, record: CallRecord) -> None:
        """Queue a record for writing. Never blocks, never touches the database."""
        if self._closing:
            raise RuntimeError("CallRecordWriter is closed")
        self._queue.append(record)
        self._submitted += 1
        self._wake.set()

    @property
    def pending(self) -> int:
        return self._submitted - self._done

    def lag(self, now: datetime | None = None) -> float:
        """Seconds since the call of the oldest record not yet written ended (0: none waits)."""
        oldest = self._inflight[0] if self._inflight else (self._queue[0] if self._queue else None)
        if oldest is None:
            return 0.0
        ended = oldest.ended_at or oldest.started_at
        return max(0.0, ((now or datetime.now(UTC)) - ended).total_seconds())

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record submitted so far is written; False if ``timeout`` ran out first."""
        target = self._submitted
        self._hurry.set()
        with gevent.Timeout(timeout, False):
            while self._done < target:
                if self._greenlet.dead:
                    raise RuntimeError("call record writer stopped") from self._greenlet.exception
                self._progress.wait()
            return True
        return False

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush, then stop the writer. Bounded, so a dead database cannot hang a shutdown: records
        still unwritten at ``timeout`` are logged in full at ERROR level. Returns whether all were written."""
        flushed = self.flush(timeout)
        self._closing = True
        self._hurry.set()
        self._wake.set()
        if flushed:
            self._greenlet.join(timeout)
        if not self._greenlet.dead:
            self._greenlet.kill()
        unwritten = self._inflight + list(self._queue)
        if unwritten:
            log.error("call record writer closed with %d record(s) unwritten: %s", len(unwritten),
                      "; ".join(_dump(r) for r in unwritten))
        return flushed

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self.gather > 0 and len(self._queue) < self.batch_size and not self._closing:
                # Measured by bench/ at ~600 calls/s: without this, batches held ~2 calls and
                # the per-batch cost was a large part of fsivr serve's CPU per call.
                self._hurry.wait(self.gather)
            # Whatever a flush() waits for is queued by now and goes out below; a later flush()
            # sets it again.
            self._hurry.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                self._inflight = batch
                self._write_batch(batch)
                self._inflight = []
                self._advance(len(batch))
            if self._closing:
                return

    def _advance(self, n: int) -> None:
        self._done += n
        progress, self._progress = self._progress, Event()
        progress.set()

    def _write_batch(self, batch: list[CallRecord]) -> None:
        delay = self.retry_delay
        while True:
            try:
                self.store.run(lambda s: write_records(s, batch))
                return
            except _TRANSIENT as exc:
                log.warning("writing %d call record(s) failed, retrying in %.1fs: %s", len(batch), delay, exc)
            except Exception as exc:
                log.warning("database rejected a batch of %d call record(s), writing them one by one: %s",
                            len(batch), exc)
                for record in batch:
                    self._write_one(record)
                return
            gevent.sleep(delay)
            delay = min(delay * 2, self.max_retry_delay)

    def _write_one(self, record: CallRecord) -> None:
        delay = self.retry_delay
        attempt = 0
        while True:
            try:
                self.store.run(lambda s: self._insert_if_new(s, record))
                return
            except _TRANSIENT as exc:
                log.warning("writing call record %s failed, retrying in %.1fs: %s", record.uuid, delay, exc)
            except Exception as exc:
                attempt += 1
                if attempt >= self.max_attempts:
                    log.error("giving up on call record %s after %d attempts (%s): %s", record.uuid,
                              attempt, exc, _dump(record))
                    return
                log.warning("writing call record %s failed (attempt %d), retrying: %s",
                            record.uuid, attempt, exc)
            gevent.sleep(delay)
            delay = min(delay * 2, self.max_retry_delay)

    @staticmethod
    def _insert_if_new(session: Session, record: CallRecord) -> None:
        # A batch whose commit succeeded but whose acknowledgement was lost comes back as duplicates.
        if _existing(session, [record.uuid]):
            log.warning("call record %s is already stored; not writing it twice", record.uuid)
            return
        write_records(session, [record])


def _dump(record: CallRecord) -> str:
    return json.dumps(asdict(record), default=str)


def recent_calls(session: Session, limit: int = 20, *, number: str | None = None,
                 since: datetime | None = None) -> list[CallRecord]:
    """The latest calls, newest first, with their paths: to ``number`` only, from ``since`` on."""
    query = select(CallRow)
    if number is not None:
        query = query.where(CallRow.number == number)
    if since is not None:
        query = query.where(CallRow.started_at >= since)
    rows = session.scalars(query.order_by(CallRow.started_at.desc()).limit(limit)).all()
    return _with_steps(session, rows)


def get_call(session: Session, uuid: str) -> CallRecord | None:
    row = session.get(CallRow, uuid)
    return _with_steps(session, [row])[0] if row is not None else None


def _with_steps(session: Session, rows: list[CallRow] | Any) -> list[CallRecord]:
    records = {
        r.uuid: CallRecord(uuid=r.uuid, caller=r.caller, number=r.number, scenario=r.scenario,
                           started_at=r.started_at, answered_at=r.answered_at, ended_at=r.ended_at,
                           hangup_cause=r.hangup_cause, hangup_by=r.hangup_by, status=r.status)
        for r in rows
    }
    if records:
        steps = session.scalars(select(CallStepRow).where(CallStepRow.call_uuid.in_(list(records)))
                                .order_by(CallStepRow.call_uuid, CallStepRow.seq))
        for s in steps:
            records[s.call_uuid].steps.append(StepRecord(
                seq=s.seq, node=s.node, node_type=s.node_type, outcome=s.outcome, started_at=s.started_at,
                ended_at=s.ended_at, detail=s.detail))
    return list(records.values())
