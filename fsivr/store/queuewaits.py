"""Callers' waits in queues, the agents' handling times, and the estimated wait a new caller
hears from them.

mod_callcenter keeps no history of its own worth asking (its members table forgets a row once
discard-abandoned-after passes, and answered rows only while the call lasts; its agents' talk_time
is a running total since the agent was added, across queues), so each queue node writes one row
when its caller leaves the line. The handling time of an answered caller is not written anywhere
new: the runner follows a call that left the IVR until FreeSWITCH reports its hangup and records
that moment as the call's ``ended_at`` (fsivr/engine/runner.py ``_finish``), so the time the agent
spent on it is ``calls.ended_at - queue_waits.left_at`` (both on the channel's clock), read with
the waits. ``recent`` is one statement on the ``(queue, left_at)`` index plus a lookup of each
row's call by primary key; each function runs inside ``Store.run``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from fsivr.store.models import CallRow, QueueWaitRow

_T = QueueWaitRow.__table__
#: How many of the queue's latest answered waits the estimate is made from.
HISTORY = 20
#: Fewer answered waits (or handling times) than this say too little: that source is not used.
THIN = 3
#: A "handling time" longer than this is not one (a call that went on elsewhere after the agent,
#: a record completed late after a crash): left out rather than let it skew the median.
MAX_HANDLED = 4 * 3600


@dataclass(frozen=True)
class Wait:
    queue: str
    position: int  # place in line on joining (1 = next)
    waited: int  # seconds in line
    outcome: str  # answered | timeout | exit | no_agents | hangup
    left_at: datetime
    call_uuid: str = ""
    #: Seconds the agent had the caller (answered waits whose call has ended; else None).
    handled: int | None = None


def record(session: Session, wait: Wait) -> None:
    session.execute(insert(QueueWaitRow), [{
        "queue": wait.queue, "position": max(1, wait.position), "waited": max(0, wait.waited),
        "outcome": wait.outcome, "left_at": wait.left_at, "call_uuid": wait.call_uuid}])


def recent(session: Session, queue: str, limit: int = HISTORY) -> list[Wait]:
    """The queue's latest ``limit`` answered waits, newest first, each with its handling time when
    its call has ended (any session of the channel: the last one ends when the channel does)."""
    call_end = (select(func.max(CallRow.ended_at)).where(CallRow.uuid == _T.c.call_uuid)
                .correlate(_T).scalar_subquery())
    query = (select(_T.c.position, _T.c.waited, _T.c.outcome, _T.c.left_at, _T.c.call_uuid,
                    call_end.label("ended_at"))
             .where(_T.c.queue == queue, _T.c.outcome == "answered")
             .order_by(_T.c.left_at.desc(), _T.c.id.desc()).limit(limit))
    return [Wait(queue, r.position, r.waited, r.outcome, r.left_at, r.call_uuid, _handled(r.left_at, r.ended_at))
            for r in session.execute(query)]


def _handled(left_at: datetime, ended_at: datetime | None) -> int | None:
    if ended_at is None:
        return None
    seconds = round((ended_at - left_at).total_seconds())
    return seconds if 0 <= seconds <= MAX_HANDLED else None


def estimate(history: list[Wait], position: int, agents: int = 1) -> int | None:
    """Seconds a caller at ``position`` may still wait, from two views of the queue's recent
    answered calls, each the time one place in line takes:

    - waits: the median of each answered caller's wait over the places it had to move;
    - handling: the median time an agent had a caller, over the ``agents`` now logged in (with n
      agents taking calls of that length, a place in line frees every handling/n seconds on
      average). This one follows the staffing of the moment, the waits follow what it has been.

    Both known: their mean; one: that one; times the places left. A view needs ``THIN`` answered
    calls of its own. None when neither has enough to say anything."""
    if position < 1:
        return None
    rates = []
    if len(history) >= THIN:
        rates.append(statistics.median(w.waited / max(1, w.position) for w in history))
    handled = [w.handled for w in history if w.handled is not None]
    if len(handled) >= THIN:
        rates.append(statistics.median(handled) / max(1, agents))
    if not rates:
        return None
    return round(statistics.fmean(rates) * position)
