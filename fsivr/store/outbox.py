"""The outbox table's store side: enqueue, claim, complete, fail, and the operator's retry/drop.

Every function takes a Session and the current time (``now``) from the caller, so the worker's clock
can be injected in tests and each step is one short transaction.

Claiming is a lease: a worker marks one due row ``leased`` with its own name and an expiry, commits,
and only then sends. On PostgreSQL the candidate row is picked with ``SELECT … FOR UPDATE SKIP
LOCKED``, so concurrent workers on several machines never pick the same row and never wait for each
other; every state change is also conditional on the row still being in the state (and lease) it
was read in, so a row can change hands only through an expired lease. The holder keeps its lease
alive while it works (``renew``: a heartbeat every ``lease/4`` during the send, and a fence before
sending a row claimed a quarter lease ago or more, both conditional on still holding that
attempt's lease), so a slow send or a stalled process does
not hand the row to another worker, and a holder that lost its lease before sending does not send.
A worker that dies mid-send (SIGKILL, power loss) stops renewing and leaves its row ``leased``; once
the lease expires any worker takes it again. That is at-least-once delivery: the far end recognises
the resend by the idempotency key (the e-mail's Message-ID, the SMS gateway's idempotency header).
Exactly-once is impossible with SMTP/HTTP: a send and the database write recording it cannot be one
transaction, so a crash (or a stall/outage longer than a whole lease with no renewal) between the
far end accepting and the row being marked sent means a resend under the same key.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Update, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from fsivr.store.models import OutboxRow

#: What the worker's statements run on: a Session, or a plain Connection (the worker's hot path,
#: fsivr/worker/loop.py: no ORM unit of work around a single UPDATE).
Executor = Session | Connection

#: Longest error text kept in ``last_error`` (a gateway may answer with a whole HTML page).
MAX_ERROR = 1000


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again, and when to give up."""

    max_attempts: int = 8
    backoff_base: float = 30.0
    backoff_max: float = 3600.0
    #: Share of the delay that is random ("equal jitter"): rows that failed together (a gateway
    #: outage) spread out instead of retrying in lockstep.
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("worker_max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("worker backoff delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("worker_backoff_jitter must be between 0 and 1")

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt: base, 2·base, 4·base… capped."""
        raw = min(self.backoff_max, self.backoff_base * 2 ** min(max(attempts - 1, 0), 62))
        return raw * (1 - self.jitter) + rng.uniform(0, raw * self.jitter)


@dataclass(frozen=True)
class Enqueued:
    id: int
    #: False when a row with this idempotency key already existed (nothing was added).
    created: bool


def enqueue(session: Session, kind: str, payload: dict[str, Any], key: str, now: datetime, *,
            call_uuid: str | None = None, not_before: datetime | None = None) -> Enqueued:
    """Add a row, due at ``not_before`` (default: now). Enqueueing a key that exists is a no-op, so a
    step that is repeated (a node re-run after a restart) never sends twice."""
    if not key or len(key) > 200:
        raise ValueError("an outbox idempotency key must be 1 to 200 characters")
    values = {"kind": kind, "payload": payload, "idempotency_key": key, "state": "pending",
              "attempts": 0, "next_attempt_at": not_before or now, "call_uuid": call_uuid,
              "created_at": now}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(OutboxRow).values(values).on_conflict_do_nothing(
            index_elements=["idempotency_key"])
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(OutboxRow).values(values).on_conflict_do_nothing(
            index_elements=["idempotency_key"])
    else:  # pragma: no cover - the store runs on SQLite and PostgreSQL only
        raise RuntimeError(f"outbox: unsupported database {dialect}")
    # ON CONFLICT DO NOTHING rather than catching IntegrityError: on PostgreSQL an error would abort
    # the caller's whole transaction.
    new_id = session.execute(stmt.returning(OutboxRow.id)).scalar()
    if new_id is not None:
        return Enqueued(int(new_id), True)
    existing = session.execute(select(OutboxRow.id).where(OutboxRow.idempotency_key == key)).scalar_one()
    return Enqueued(int(existing), False)


# --- the worker's hot statements -----------------------------------------------------------------
# Built once, with bind parameters, as Core statements on the table: building the expression per
# call (each ``==`` a coercion), the ORM's bulk-UPDATE machinery (with ``synchronize_session``
# evaluating the criteria against the session) and compiling were most of the CPU a notification
# cost the worker (bench/outbox.py: complete() alone 2.4 ms of CPU as an ORM update, 0.4 ms like
# this on a plain connection). A statement built once keeps its cache key, so SQLAlchemy's compiled
# cache serves it without walking it again. Each is the same conditional write as before.

_T = OutboxRow.__table__
_c = _T.c


def _p(name: str, column: Any) -> Any:
    """A bind parameter typed as ``column`` (UTC datetimes go through the column's type)."""
    return bindparam(name, type_=column.type)


_NOW = _p("b_now", _c.next_attempt_at)
_CLAIM = (select(_c.id, _c.kind, _c.payload, _c.idempotency_key, _c.state, _c.attempts, _c.lease_owner,
                 _c.last_error)
          .where(_c.kind.in_(bindparam("b_kinds", expanding=True)),
                 or_(and_(_c.state == "pending", _c.next_attempt_at <= _NOW),
                     and_(_c.state == "leased", _c.lease_expires_at <= _NOW)))
          .order_by(_c.next_attempt_at, _c.id).limit(_p("b_limit", _c.attempts))
          # PostgreSQL: lock the candidates and skip rows other workers are locking right now.
          # SQLite renders no FOR UPDATE; there one worker runs (fsivr/worker/lock.py).
          .with_for_update(skip_locked=True))
_MINE = and_(_c.id == _p("b_id", _c.id), _c.state == "leased", _c.lease_owner == _p("b_owner", _c.lease_owner))
_COMPLETE = update(_T).where(_MINE).values(state="sent", sent_at=_p("b_now", _c.sent_at), lease_expires_at=None,
                                          last_error=None)
_RENEW = (update(_T).where(_MINE, _c.attempts == _p("b_attempt", _c.attempts))
          .values(lease_expires_at=_p("b_expires", _c.lease_expires_at)))
_FAIL_READ = select(_c.attempts).where(_MINE)
_FAIL_DEAD = update(_T).where(_MINE).values(state="dead", lease_owner=None, lease_expires_at=None,
                                           last_error=_p("b_error", _c.last_error))
_FAIL_RETRY = update(_T).where(_MINE).values(state="pending", lease_owner=None, lease_expires_at=None,
                                            last_error=_p("b_error", _c.last_error),
                                            next_attempt_at=_p("b_next", _c.next_attempt_at))
_RELEASE = (update(_T).where(_c.id.in_(bindparam("b_ids", expanding=True)), _c.state == "leased",
                             _c.lease_owner == _p("b_owner", _c.lease_owner))
            .values(state="pending", lease_owner=None, lease_expires_at=None, attempts=_c.attempts - 1))


@functools.cache
def _take(n: int) -> Update:
    """The claim's UPDATE of ``n`` rows, each conditional on what was read (state, attempts, lease
    owner): on PostgreSQL the rows are locked, on SQLite a row changed in between (an operator's
    retry or drop) is left out and looked at again by the next claim."""
    conds = [and_(_c.id == _p(f"b_id{i}", _c.id), _c.state == _p(f"b_state{i}", _c.state),
                  _c.attempts == _p(f"b_attempts{i}", _c.attempts),
                  _c.lease_owner.is_not_distinct_from(_p(f"b_was{i}", _c.lease_owner)))
             for i in range(n)]
    return (update(_T).where(or_(*conds))
            .values(state="leased", lease_owner=_p("b_owner", _c.lease_owner),
                    lease_expires_at=_p("b_expires", _c.lease_expires_at), attempts=_c.attempts + 1)
            .returning(_c.id))


@dataclass(frozen=True)
class Claimed:
    """A row in a worker's hands: what to send, and which attempt this is."""

    id: int
    kind: str
    payload: dict[str, Any]
    key: str
    attempt: int
    #: The previous holder's lease had expired (it died or hung mid-send): this may be a resend.
    reclaimed: bool


def claim(session: Executor, owner: str, now: datetime, lease: timedelta, kinds: Collection[str],
          max_attempts: int) -> Claimed | None:
    """Lease the next due row of one of ``kinds`` to ``owner``, or None when nothing is due."""
    got = claim_many(session, owner, now, lease, kinds, max_attempts, 1)
    return got[0] if got else None


def claim_many(session: Executor, owner: str, now: datetime, lease: timedelta, kinds: Collection[str],
               max_attempts: int, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due rows of ``kinds`` to ``owner`` (oldest due first) in one
    transaction; an empty list when nothing is due. One claim per row was half of a worker's
    database work per notification (bench/outbox.py).

    A row whose lease expired on its last allowed attempt is not tried again: it goes ``dead``
    (a notification that kills every worker that sends it must not kill them forever)."""
    if not kinds or limit < 1:
        return []
    while True:
        rows = session.execute(_CLAIM, {"b_kinds": list(kinds), "b_now": now, "b_limit": limit}).all()
        if not rows:
            return []
        taken: list[Claimed] = []
        read = {}
        retired = 0
        for row in rows:
            reclaimed = row.state == "leased"
            if reclaimed and row.attempts >= max_attempts:
                _set(session, row, {"state": "dead", "lease_owner": None, "lease_expires_at": None,
                                    "last_error": _cut(f"attempt {row.attempts} never finished (the worker "
                                                       f"{row.lease_owner} died or hung mid-send); "
                                                       f"last error: {row.last_error or 'none'}")})
                retired += 1
                continue
            read[row.id] = row
            taken.append(Claimed(row.id, row.kind, dict(row.payload), row.idempotency_key, row.attempts + 1,
                                 reclaimed))
        if taken:
            # One statement for the batch, conditional per row on what was read (_take).
            params: dict[str, Any] = {"b_owner": owner, "b_expires": now + lease}
            for i, c in enumerate(taken):
                was = read[c.id]
                params.update({f"b_id{i}": c.id, f"b_state{i}": was.state, f"b_attempts{i}": was.attempts,
                               f"b_was{i}": was.lease_owner})
            done = {int(i) for i in session.execute(_take(len(taken)), params).scalars()}
            taken = [c for c in taken if c.id in done]
        if taken or retired < len(rows):
            return taken
        # every candidate went dead: look again


def release(session: Executor, row_ids: Sequence[int], owner: str) -> int:
    """Give back rows claimed but not tried (a worker stopping mid-batch): pending again, due as
    they were, the claim not counted as an attempt."""
    if not row_ids:
        return 0
    result = session.execute(_RELEASE, {"b_ids": list(row_ids), "b_owner": owner})
    return int(result.rowcount)  # type: ignore[attr-defined]


def _set(session: Executor, row: Any, values: dict[str, Any]) -> bool:
    """Update ``row`` if it is still as it was read (compare-and-set on state, lease and attempts)."""
    result = session.execute(
        update(OutboxRow).where(OutboxRow.id == row.id, OutboxRow.state == row.state,
                                OutboxRow.attempts == row.attempts,
                                _same(OutboxRow.lease_owner, row.lease_owner))
        .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _same(column: Any, value: Any) -> Any:
    return column.is_(None) if value is None else column == value


def _mine(row_id: int, owner: str) -> Any:
    return and_(OutboxRow.id == row_id, OutboxRow.state == "leased", OutboxRow.lease_owner == owner)


def renew(session: Executor, row_id: int, owner: str, attempt: int, now: datetime, lease: timedelta) -> bool:
    """Extend the lease of a row ``owner`` holds for ``attempt`` to ``now + lease``: the holder's
    heartbeat while it sends, and its fence just before it sends. False when the row is no longer
    that lease's (it expired and another worker took it — a later attempt —, or an operator dropped
    it): the holder must then not send. Renewing a lease that has run out but that nobody took yet
    is fine — nobody else has sent the row."""
    result = session.execute(_RENEW, {"b_id": row_id, "b_owner": owner, "b_attempt": attempt,
                                      "b_expires": now + lease})
    return bool(result.rowcount)  # type: ignore[attr-defined]


def complete(session: Executor, row_id: int, owner: str, now: datetime) -> bool:
    """Mark a leased row sent. False when the lease was lost meanwhile (it expired and another worker
    took the row, or an operator dropped it): the caller should say so."""
    result = session.execute(_COMPLETE, {"b_id": row_id, "b_owner": owner, "b_now": now})
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail(session: Executor, row_id: int, owner: str, error: str, now: datetime, policy: RetryPolicy,
         rng: random.Random, permanent: bool = False) -> str | None:
    """Record a failed attempt: back to ``pending`` after the backoff, or ``dead`` when out of
    attempts or the error is permanent. Returns the new state (None: the lease was lost)."""
    mine = {"b_id": row_id, "b_owner": owner}
    attempts = session.execute(_FAIL_READ, mine).scalar()
    if attempts is None:
        return None
    if permanent or attempts >= policy.max_attempts:
        state, stmt = "dead", _FAIL_DEAD
        params = {**mine, "b_error": _cut(error)}
    else:
        state, stmt = "pending", _FAIL_RETRY
        params = {**mine, "b_error": _cut(error),
                  "b_next": now + timedelta(seconds=policy.delay(attempts, rng))}
    result = session.execute(stmt, params)
    return state if result.rowcount else None  # type: ignore[attr-defined]


def expire_leases(session: Session, now: datetime) -> int:
    """Make every lease expire now. Only for a worker that knows no other worker is alive (SQLite,
    under the single-worker lock): a row left ``leased`` is then a dead worker's and can be taken
    at once instead of after its lease."""
    result = session.execute(update(OutboxRow).where(OutboxRow.state == "leased").values(lease_expires_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 1] + "…"


# --- the operator's side (fsivr outbox list|retry|drop) ------------------------------------------


def rows(session: Session, states: Sequence[str] = (), kind: str | None = None,
         limit: int = 100) -> list[OutboxRow]:
    query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
    if states:
        query = query.where(OutboxRow.state.in_(list(states)))
    if kind:
        query = query.where(OutboxRow.kind == kind)
    return list(session.execute(query).scalars())


def counts(session: Session) -> dict[str, int]:
    """Rows per state."""
    result = session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state))
    return {state: int(n) for state, n in result.all()}


class OutboxRefused(ValueError):
    """An operator's request that would lose or duplicate a notification; the message says which."""


def _select_ids(session: Session, ids: Sequence[int], dead: bool) -> list[OutboxRow]:
    if dead:
        return list(session.execute(select(OutboxRow).where(OutboxRow.state == "dead")).scalars())
    found = {r.id: r for r in session.execute(select(OutboxRow).where(OutboxRow.id.in_(list(ids)))).scalars()}
    missing = [i for i in ids if i not in found]
    if missing:
        raise OutboxRefused(f"no outbox row {', '.join(map(str, missing))}")
    return [found[i] for i in ids]


def _refuse_live_leases(selected: list[OutboxRow], now: datetime, what: str) -> None:
    busy = [r.id for r in selected if r.state == "leased" and r.lease_expires_at is not None
            and r.lease_expires_at > now]
    if busy:
        raise OutboxRefused(f"row {', '.join(map(str, busy))} is being sent by a worker right now; "
                            f"{what} it when its lease has expired or the worker has finished")


def retry(session: Session, ids: Sequence[int], now: datetime, dead: bool = False) -> list[int]:
    """Make rows due now with a fresh set of attempts (dead ones included). A row already sent is
    refused: retrying it would send it twice."""
    selected = _select_ids(session, ids, dead)
    sent = [r.id for r in selected if r.state == "sent"]
    if sent:
        raise OutboxRefused(f"row {', '.join(map(str, sent))} was already sent; retrying would send it twice")
    _refuse_live_leases(selected, now, "retry")
    chosen = [r.id for r in selected]
    if chosen:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(chosen)).values(
            state="pending", attempts=0, next_attempt_at=now, lease_owner=None, lease_expires_at=None))
    return chosen


def drop(session: Session, ids: Sequence[int], now: datetime, dead: bool = False) -> list[int]:
    """Delete rows (they will not be sent); a row a worker holds right now is refused."""
    selected = _select_ids(session, ids, dead)
    _refuse_live_leases(selected, now, "drop")
    chosen = [r.id for r in selected]
    if chosen:
        session.execute(delete(OutboxRow).where(OutboxRow.id.in_(chosen)))
    return chosen


def reschedule(session: Executor, row_id: int, owner: str, at: datetime, error: str | None, *,
               uncount: bool = False) -> bool:
    """Back to ``pending`` at ``at`` chosen by the sender (a callback's spacing and allowed hours)
    rather than the backoff. ``uncount``: the claim was no attempt (outside the allowed hours)."""
    values: dict[str, Any] = {"state": "pending", "next_attempt_at": at, "lease_owner": None,
                              "lease_expires_at": None}
    if error is not None:
        values["last_error"] = _cut(error)
    if uncount:
        values["attempts"] = OutboxRow.attempts - 1
    result = session.execute(update(OutboxRow).where(_mine(row_id, owner)).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def pending_keys(session: Session, key_prefix: str) -> list[str]:
    """The keys of the pending rows starting with ``key_prefix`` (the callbacks still to place)."""
    return list(session.execute(select(OutboxRow.idempotency_key).where(
        OutboxRow.state == "pending", OutboxRow.idempotency_key.startswith(key_prefix, autoescape=True))).scalars())


def cancel(session: Session, key_prefix: str, reason: str, now: datetime, *, except_prefix: str | None = None) -> int:
    """Cancel the pending rows whose key starts with ``key_prefix`` (a caller's callbacks): they go
    ``dead`` with the reason, kept for the record. A row a worker holds is being placed right now
    and is left alone."""
    query = update(OutboxRow).where(OutboxRow.state == "pending",
                                    OutboxRow.idempotency_key.startswith(key_prefix, autoescape=True))
    if except_prefix is not None:
        query = query.where(~OutboxRow.idempotency_key.startswith(except_prefix, autoescape=True))
    result = session.execute(query.values(state="dead", last_error=_cut(f"cancelled: {reason}"))
                             .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
