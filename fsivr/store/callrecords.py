"""Call records: what every call leaves behind, written in batches off the call's greenlet.

A call must never wait for the database, so the runner only queues what happened: the session's
start (``begin``), each step as it ends (``step``) and the end (``end``). One writer greenlet drains
the queue a batch at a time, in one transaction on gevent's threadpool: one INSERT of new calls, one
of steps and one UPDATE of ended calls (each one executemany of the driver). Under load batches grow
by themselves: whatever arrives while one batch is being written goes into the next; and the writer
lets up to ``gather`` seconds pass from the oldest queued item before a batch, because the cost of a
batch (threadpool hand-off, transaction, statement set-up) is paid per batch, not per item.

The window: a call's row exists (status ``in_progress``) within ``gather`` plus one batch's write
after it connects, each step within as long after it ends, and its end as long after it ends. So a
crash loses at most that last fraction of a second; ``mark_interrupted`` (run by the next process on
the same address) closes the rows the dead process left in progress, with what they hold.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import gevent
from gevent.event import Event
from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from fsivr.store.db import Store
from fsivr.store.models import CallRow, CallStepRow
from fsivr.store.outage import OutageLog
from fsivr.store.tables import note_last_agents

log = logging.getLogger(__name__)

_CALLS = CallRow.__table__
_STEPS = CallStepRow.__table__

#: A row whose session has not ended (yet); see mark_interrupted for the ones that never will.
IN_PROGRESS = "in_progress"
#: A row whose process died before the session ended.
INTERRUPTED = "interrupted"


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
    """One socket session of a call (see models.CallRow)."""

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
    #: Stored as given; derived when None: in_progress until ended_at is set, then from answered_at.
    status: str | None = None
    #: The session's number on its channel: 2 and up for a channel that came back (exit, transfer).
    session: int = 1
    #: What went wrong with FreeSWITCH or with fsivr (None: nothing did).
    fault: str | None = None
    #: The fsivr that took the call (the writer fills it in).
    server: str | None = None


def _clip(value: str | None, limit: int) -> str | None:
    # Caller IDs and causes come from the network; PostgreSQL would reject an over-long value and,
    # with it, the whole batch.
    return value[:limit] if value is not None and len(value) > limit else value


def _status(r: CallRecord) -> str:
    if r.status:
        return r.status
    if r.ended_at is None:
        return IN_PROGRESS
    return "answered" if r.answered_at is not None else "unanswered"


_CALL_COLUMNS = ("uuid", "session", "caller", "number", "scenario", "started_at", "answered_at", "ended_at",
                 "hangup_cause", "hangup_by", "status", "fault", "server")
_STEP_COLUMNS = ("call_uuid", "call_session", "seq", "node", "node_type", "outcome", "started_at", "ended_at",
                 "detail")
#: What an ended session changes in the row its start wrote (then the key: uuid, session).
_END_COLUMNS = ("scenario", "answered_at", "ended_at", "hangup_cause", "hangup_by", "status", "fault")


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


def _same(value: Any) -> Any:
    return value


Convert = Callable[[Any], Any]


def _call_row(r: CallRecord, when: Convert) -> tuple[Any, ...]:
    return (r.uuid, r.session, _clip(r.caller, 64), _clip(r.number, 64), _clip(r.scenario, 200),
            when(r.started_at), when(r.answered_at), when(r.ended_at), _clip(r.hangup_cause, 64),
            _clip(r.hangup_by, 32), _status(r), _clip(r.fault, 200), _clip(r.server, 100))


def _step_row(r: CallRecord, s: StepRecord, when: Convert, detail: Convert) -> tuple[Any, ...]:
    return (r.uuid, r.session, s.seq, _clip(s.node, 200), _clip(s.node_type, 100), _clip(s.outcome, 200),
            when(s.started_at), when(s.ended_at), detail(s.detail))


def _end_row(r: CallRecord, when: Convert) -> tuple[Any, ...]:
    return (_clip(r.scenario, 200), when(r.answered_at), when(r.ended_at), _clip(r.hangup_cause, 64),
            _clip(r.hangup_by, 32), _status(r), _clip(r.fault, 200), r.uuid, r.session)


#: What the writer is told, in order: a session began, a step ended, the session ended; WHOLE is a
#: finished record in one go (imports, tests).
BEGIN, STEP, END, WHOLE = range(4)
Item = tuple[int, CallRecord, StepRecord | None]


@dataclass
class Rows:
    """One batch as the database driver takes it: new calls, steps, ended calls."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    ends: list[tuple[Any, ...]] = field(default_factory=list)
    #: The records that ended in this batch (whole): nothing changes them any more.
    ended: list[CallRecord] = field(default_factory=list)


#: Items turned into rows between two yields of the writer to the hub (see ``_rows``).
ROWS_PER_YIELD = 25


def _rows(items: list[Item], when: Convert, detail: Convert, pause: Callable[[], object] | None = None) -> Rows:
    """The rows of a batch, read off the records now (on the hub, where the runner changes them:
    never in the threadpool). A session begun in this batch is inserted as it stands, so its end,
    if in the same batch, needs no UPDATE.

    ``pause`` is called every ``ROWS_PER_YIELD`` items (the writer passes ``gevent.sleep``): a
    batch of ~150 items took ~1.4 ms of the hub in one go at 100 calls/s, every batch, which was
    the tail of every other call's step latency (bench/). A record read after a pause is read as
    it stands then, which the rule above already allows: its END, if in this batch, came before."""
    rows = Rows()
    begun: set[int] = set()
    for n, (kind, r, step) in enumerate(items, 1):
        if pause is not None and n % ROWS_PER_YIELD == 0:
            pause()
        if kind == STEP:
            assert step is not None
            rows.steps.append(_step_row(r, step, when, detail))
        elif kind == BEGIN:
            begun.add(id(r))
            rows.calls.append(_call_row(r, when))
        elif kind == END:
            if id(r) not in begun:
                rows.ends.append(_end_row(r, when))
            rows.ended.append(r)
        else:
            rows.calls.append(_call_row(r, when))
            rows.steps.extend(_step_row(r, s, when, detail) for s in r.steps)
            rows.ended.append(r)
    return rows


def _insert(table: str, columns: tuple[str, ...], mark: str, casts: dict[str, str]) -> str:
    values = ", ".join(mark + casts.get(c, "") for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


def _update(mark: str) -> str:
    sets = ", ".join(f"{c} = {mark}" for c in _END_COLUMNS)
    return f"UPDATE calls SET {sets} WHERE uuid = {mark} AND session = {mark}"


@dataclass(frozen=True)
class DriverPlan:
    """Per dialect: the statements and how datetimes and JSON go to its driver. These are what
    SQLAlchemy's own insert()/update() send for our column types (UTCDateTime, JSON), measured on
    each driver; here the rows go to the driver's executemany as tuples, without SQLAlchemy's
    per-row type processing (~11% of fsivr serve's CPU at load, bench/README.md)."""

    calls: str
    steps: str
    ends: str
    when: Convert
    detail: Convert


_DRIVER_WRITES: dict[str, DriverPlan] = {
    # sqlite3: naive UTC datetimes as text, JSON as text.
    "sqlite": DriverPlan(_insert("calls", _CALL_COLUMNS, "?", {}), _insert("call_steps", _STEP_COLUMNS, "?", {}),
                         _update("?"), _sqlite_time, _json),
    # psycopg: aware datetimes (timestamptz), JSON text cast to json as SQLAlchemy's Json() is.
    "postgresql": DriverPlan(_insert("calls", _CALL_COLUMNS, "%s", {}),
                             _insert("call_steps", _STEP_COLUMNS, "%s", {"detail": "::JSON"}), _update("%s"),
                             _utc, _json),
}


def _plan_for(dialect: Any) -> DriverPlan | None:
    plan = _DRIVER_WRITES.get(dialect.name)
    if plan is None or dialect.paramstyle not in ("qmark", "format", "pyformat"):
        return None  # another database: SQLAlchemy's insert() and its type processing
    return plan


def write_rows(session: Session, rows: Rows) -> None:
    """Write a batch's rows in the session's transaction: one executemany per statement."""
    if rows.ended:
        # Who answered each caller, for the lookup node's built-in last_agent table: from whole
        # records, so once they have ended.
        note_last_agents(session, rows.ended)
    conn = session.connection()
    plan = _plan_for(conn.dialect)
    if plan is None:
        if rows.calls:
            conn.execute(insert(_CALLS), [dict(zip(_CALL_COLUMNS, row, strict=True)) for row in rows.calls])
        if rows.steps:
            conn.execute(insert(_STEPS), [dict(zip(_STEP_COLUMNS, row, strict=True)) for row in rows.steps])
        if rows.ends:
            stmt = (update(_CALLS).where(and_(_CALLS.c.uuid == bindparam("k_uuid"),
                                              _CALLS.c.session == bindparam("k_session")))
                    .values({c: bindparam(c) for c in _END_COLUMNS}))
            conn.execute(stmt, [dict(zip((*_END_COLUMNS, "k_uuid", "k_session"), row, strict=True))
                                for row in rows.ends])
        return
    # exec_driver_sql: the driver's executemany, still inside SQLAlchemy's connection and
    # transaction (and its statement events: FSIVR_SQL_LOG counts these).
    if rows.calls:
        conn.exec_driver_sql(plan.calls, rows.calls)
    if rows.steps:
        conn.exec_driver_sql(plan.steps, rows.steps)
    if rows.ends:
        conn.exec_driver_sql(plan.ends, rows.ends)


def write_records(session: Session, records: list[CallRecord]) -> None:
    """Insert finished records (calls and their steps) in the session's transaction."""
    plan = _plan_for(session.connection().dialect)
    when, detail = (plan.when, plan.detail) if plan is not None else (_same, _same)
    write_rows(session, _rows([(WHOLE, r, None) for r in records], when, detail))


def mark_interrupted(session: Session, server: str) -> int:
    """Close the rows a previous process on ``server`` left in progress: status ``interrupted``,
    ended at its last recorded step (or its start), a fault saying so; the rest stays as written.
    Only the same server's: two live processes cannot listen on one address, so whatever that
    address left in progress belongs to a process that is gone, while another server's rows may be
    live calls. Returns how many rows it closed."""
    last_step = (select(func.max(func.coalesce(CallStepRow.ended_at, CallStepRow.started_at)))
                 .where(CallStepRow.call_uuid == CallRow.uuid, CallStepRow.call_session == CallRow.session)
                 .scalar_subquery())
    result = session.execute(
        update(CallRow)
        .where(CallRow.server == server, CallRow.status == IN_PROGRESS)
        .values(status=INTERRUPTED, ended_at=func.coalesce(CallRow.ended_at, last_step, CallRow.started_at),
                fault=func.coalesce(CallRow.fault, "interrupted: the fsivr process serving the call stopped "
                                    "before it ended (ended_at: its last recorded step)"))
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _existing(session: Session, r: CallRecord) -> CallRow | None:
    return session.get(CallRow, (r.uuid, r.session))


def _reason(exc: BaseException) -> str:
    """What the database said, without SQLAlchemy's "[SQL: ...] [parameters: ...]" (caller numbers)
    and without a driver's DETAIL lines (PostgreSQL's "Failing row contains (...)")."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return f"{type(orig if orig is not None else exc).__name__}: {text.splitlines()[0] if text else ''}"


#: Errors that say nothing about the data: the database is down, locked or restarting.
_TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
#: How many sessions of one channel we look past for a free number before giving up.
_MAX_SESSIONS = 100


class CallRecordWriter:
    """Queues call records and writes them in the background.

    Failures are logged and retried: a database outage is retried with backoff until it ends; a
    batch the database rejects is split so one bad item cannot hold back the others, and a record
    that still fails after ``max_attempts`` is logged in full at ERROR level (never silently lost).
    """

    def __init__(self, store: Store, *, batch_size: int = 1000, gather: float = 0.2, retry_delay: float = 0.5,
                 max_retry_delay: float = 30.0, max_attempts: int = 3, server: str | None = None,
                 outage: OutageLog | None = None) -> None:
        #: Where an outage is reported once (shared with the server's other loops); retries are then
        #: logged at DEBUG only. Without it every retry is a WARNING.
        self.outage = outage
        self.store = store
        self.batch_size = batch_size
        self.gather = gather
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_attempts = max_attempts
        #: Stamped on every row (models.CallRow.server).
        self.server = server
        plan = _plan_for(store.engine.dialect)
        self._when, self._detail = (plan.when, plan.detail) if plan is not None else (_same, _same)
        self._queue: deque[Item] = deque()
        #: When the oldest queued item came (time.monotonic): the gather counts from it.
        self._since = 0.0
        self._submitted = 0
        #: Items taken care of (written, already present, or given up on and logged).
        self._done = 0
        #: Batches taken off the queue (one transaction each, unless one is written item by item).
        self.batches = 0
        self._wake = Event()
        #: Set by flush()/close(): write what is queued now instead of gathering more.
        self._hurry = Event()
        self._progress = Event()
        self._closing = False
        #: The batch being written (still ours to report if the writer is stopped mid-way).
        self._inflight: list[Item] = []
        #: Sessions whose row could not be stored at all (logged in full): their later items are
        #: not tried one by one (each would fail on the missing row), only the end is logged again.
        self._lost: set[tuple[str, int]] = set()
        self._greenlet = gevent.spawn(self._loop)

    # ---- what the runner tells it (never blocks, never touches the database) ---------------------

    def begin(self, record: CallRecord) -> None:
        """A session began: its row, in progress, goes out with the next batch."""
        record.server = self.server
        self._put((BEGIN, record, None))

    def step(self, record: CallRecord, step: StepRecord) -> None:
        """A step of a begun session ended."""
        self._put((STEP, record, step))

    def end(self, record: CallRecord) -> None:
        """A begun session ended: its row is completed."""
        self._put((END, record, None))

    def submit(self, record: CallRecord) -> None:
        """A finished record in one go (its row and all its steps)."""
        record.server = record.server or self.server
        self._put((WHOLE, record, None))

    def _put(self, item: Item) -> None:
        if self._closing:
            raise RuntimeError("CallRecordWriter is closed")
        queue = self._queue
        if not queue:
            self._since = time.monotonic()
        queue.append(item)
        self._submitted += 1
        self._wake.set()

    @property
    def pending(self) -> int:
        """Items (a call begun, a step, a call ended) not yet written."""
        return self._submitted - self._done

    def lag(self, now: datetime | None = None) -> float:
        """Seconds since what the oldest item not yet written tells happened - a call began, a
        step or a call ended (0: none waits)."""
        oldest = self._inflight[0] if self._inflight else (self._queue[0] if self._queue else None)
        if oldest is None:
            return 0.0
        _, record, step = oldest
        when = (step.ended_at if step is not None else None) or record.ended_at or record.started_at
        return max(0.0, ((now or datetime.now(UTC)) - when).total_seconds())

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every item submitted so far is written; False if ``timeout`` ran out first."""
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
            records = list({id(r): r for _, r, _ in unwritten}.values())
            log.error("call record writer closed with %d record(s) unwritten: %s", len(records),
                      "; ".join(_dump(r) for r in records))
        return flushed

    # ---- the writer greenlet -----------------------------------------------------------------

    def _loop(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                if self._closing:
                    return
                self._wake.wait()
                self._wake.clear()
                continue
            if self.gather > 0 and len(queue) < self.batch_size and not self._closing:
                # Measured by bench/ at ~600 calls/s: without this, batches held ~2 calls and
                # the per-batch cost was a large part of fsivr serve's CPU per call. Counted from
                # the oldest queued item, so none waits longer than gather plus one write - and
                # what arrives during a write waits for its own gather too, instead of going out
                # at once in a small batch of its own (a call's steps arrive one by one).
                wait = self._since + self.gather - time.monotonic()
                if wait > 0:
                    self._hurry.wait(wait)
            batch = [queue.popleft() for _ in range(min(self.batch_size, len(queue)))]
            behind = bool(queue)
            if behind:
                self._since = 0.0  # a full batch left these behind: they are due now
            self._inflight = batch
            # A writer that keeps up writes at a low priority (Store.run background): its batches
            # then cost other calls no latency. One that has fallen behind (a full batch left
            # items queued: the core is saturated, and at nice +10 it would starve) writes at the
            # process's priority until it has caught up.
            self._write_batch(batch, background=not behind)
            self._inflight = []
            if not queue:
                # Whatever a flush() waits for has gone out; a later flush() sets it again.
                self._hurry.clear()
            self._advance(len(batch))
            # Not kept while idle: the last batch (its records and steps) would stay alive until
            # the next one, a few hundred objects that come and go with the batch's size.
            del batch

    def _advance(self, n: int) -> None:
        self._done += n
        self.batches += 1
        progress, self._progress = self._progress, Event()
        progress.set()

    def _unreachable(self, exc: Exception, message: str, *args: Any) -> None:
        if self.outage is None:
            log.warning(message + ": %s", *args, _reason(exc))
        else:
            self.outage.failed(exc)
            log.debug(message + ": %s", *args, _reason(exc))

    def _write_batch(self, batch: list[Item], background: bool = False) -> None:
        delay = self.retry_delay
        #: A transient failure may have come after the commit (its acknowledgement lost): then
        #: what this batch inserted may be there already.
        maybe_written = False
        try:
            rows = _rows(batch, self._when, self._detail, gevent.sleep if background else None)
        except Exception as exc:  # a record the column types refuse (a naive datetime...)
            log.warning("a batch of %d call record item(s) holds a bad value, writing them one by one: %s",
                        len(batch), exc)
            for item in batch:
                self._write_one(item, maybe_written)
            return
        while True:
            try:
                self.store.run(lambda s: write_rows(s, rows), background=background)
                return
            except _TRANSIENT as exc:
                maybe_written = True
                self._unreachable(exc, "writing %d call record item(s) failed, retrying in %.1fs", len(batch),
                                  delay)
            except Exception as exc:
                log.warning("database rejected a batch of %d call record item(s), writing them one by one: %s",
                            len(batch), _reason(exc))
                for item in batch:
                    self._write_one(item, maybe_written)
                return
            gevent.sleep(delay)
            delay = min(delay * 2, self.max_retry_delay)

    def _write_one(self, item: Item, maybe_written: bool) -> None:
        delay = self.retry_delay
        attempt = 0
        kind, record, _ = item
        key = (record.uuid, record.session)
        if key in self._lost and kind != BEGIN:
            if kind == END:
                log.error("call record %s session %d could not be stored; as it ended: %s", record.uuid,
                          record.session, _dump(record))
            return
        while True:
            try:
                self.store.run(partial(self._write_item, item=item, maybe_written=maybe_written))
                return
            except _TRANSIENT as exc:
                maybe_written = True
                self._unreachable(exc, "writing call record %s failed, retrying in %.1fs", record.uuid, delay)
            except Exception as exc:
                attempt += 1
                if attempt >= self.max_attempts:
                    log.error("giving up on call record %s after %d attempts (%s): %s", record.uuid,
                              attempt, _reason(exc), _dump(record))
                    if kind == BEGIN:
                        if len(self._lost) >= 10_000:
                            self._lost.clear()  # bounded: forgetting one only costs its retries
                        self._lost.add(key)
                    return
                log.warning("writing call record %s failed (attempt %d), retrying: %s",
                            record.uuid, attempt, _reason(exc))
            gevent.sleep(delay)
            delay = min(delay * 2, self.max_retry_delay)

    def _write_item(self, session: Session, item: Item, maybe_written: bool) -> None:
        kind, record, step = item
        if kind in (BEGIN, WHOLE):
            found = _existing(session, record)
            if found is not None:
                if maybe_written and found.server == record.server and found.started_at == record.started_at:
                    # Ours: a batch whose commit succeeded but whose acknowledgement was lost.
                    log.warning("call record %s session %d is already stored; not writing it twice",
                                record.uuid, record.session)
                    return
                # The channel had a session this process did not know of (another process, or one
                # it has forgotten): this one is the next.
                taken = session.scalar(select(func.max(CallRow.session)).where(CallRow.uuid == record.uuid)) or 0
                if taken >= _MAX_SESSIONS:
                    raise ValueError(f"channel {record.uuid} already has {taken} sessions recorded")
                log.info("call %s: session %d is taken; recording this one as session %d", record.uuid,
                         record.session, taken + 1)
                record.session = taken + 1
        elif kind == STEP:
            assert step is not None
            if session.get(CallStepRow, (record.uuid, record.session, step.seq)) is not None:
                return  # written by a batch whose acknowledgement was lost
        write_rows(session, _rows([item], self._when, self._detail))


def _dump(record: CallRecord) -> str:
    return json.dumps(asdict(record), default=str)


def recent_calls(session: Session, limit: int = 20, *, number: str | None = None,
                 since: datetime | None = None) -> list[CallRecord]:
    """The latest call sessions, newest first, with their paths: to ``number`` only, from ``since`` on."""
    query = select(CallRow)
    if number is not None:
        query = query.where(CallRow.number == number)
    if since is not None:
        query = query.where(CallRow.started_at >= since)
    rows = session.scalars(query.order_by(CallRow.started_at.desc(), CallRow.session.desc()).limit(limit)).all()
    return _with_steps(session, rows)


def get_call(session: Session, uuid: str, number: int | None = None) -> CallRecord | None:
    """A channel's record: session ``number``, or its latest."""
    query = select(CallRow).where(CallRow.uuid == uuid)
    query = query.where(CallRow.session == number) if number is not None else query.order_by(
        CallRow.session.desc()).limit(1)
    row = session.scalars(query).first()
    return _with_steps(session, [row])[0] if row is not None else None


def call_sessions(session: Session, uuid: str) -> list[CallRecord]:
    """Every session of a channel, in order (session N follows session N-1)."""
    return _with_steps(session, session.scalars(select(CallRow).where(CallRow.uuid == uuid)
                                                .order_by(CallRow.session)).all())


def _with_steps(session: Session, rows: list[CallRow] | Any) -> list[CallRecord]:
    records = {
        (r.uuid, r.session): CallRecord(
            uuid=r.uuid, caller=r.caller, number=r.number, scenario=r.scenario, started_at=r.started_at,
            answered_at=r.answered_at, ended_at=r.ended_at, hangup_cause=r.hangup_cause, hangup_by=r.hangup_by,
            status=r.status, session=r.session, fault=r.fault, server=r.server)
        for r in rows
    }
    if records:
        uuids = list({uuid for uuid, _ in records})
        steps = session.scalars(select(CallStepRow).where(CallStepRow.call_uuid.in_(uuids))
                                .order_by(CallStepRow.call_uuid, CallStepRow.call_session, CallStepRow.seq))
        for s in steps:
            record = records.get((s.call_uuid, s.call_session))
            if record is not None:
                record.steps.append(StepRecord(
                    seq=s.seq, node=s.node, node_type=s.node_type, outcome=s.outcome, started_at=s.started_at,
                    ended_at=s.ended_at, detail=s.detail))
    return list(records.values())
