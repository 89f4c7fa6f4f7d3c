"""Callers' waits in queues, and the estimated wait a new caller hears from them.

mod_callcenter keeps no history of its own worth asking (its members table forgets a row once
discard-abandoned-after passes, and answered rows only while the call lasts), so each queue node
writes one row when its caller leaves the line. ``recent`` is one statement on the
``(queue, left_at)`` index; each function runs inside ``Store.run``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from fsivr.store.models import QueueWaitRow

_T = QueueWaitRow.__table__
#: How many of the queue's latest answered waits the estimate is made from.
HISTORY = 20
#: Fewer answered waits than this say too little: the caller hears no estimate.
THIN = 3


@dataclass(frozen=True)
class Wait:
    queue: str
    position: int  # place in line on joining (1 = next)
    waited: int  # seconds in line
    outcome: str  # answered | timeout | exit | no_agents | hangup
    left_at: datetime
    call_uuid: str = ""


def record(session: Session, wait: Wait) -> None:
    session.execute(insert(QueueWaitRow), [{
        "queue": wait.queue, "position": max(1, wait.position), "waited": max(0, wait.waited),
        "outcome": wait.outcome, "left_at": wait.left_at, "call_uuid": wait.call_uuid}])


def recent(session: Session, queue: str, limit: int = HISTORY) -> list[Wait]:
    """The queue's latest ``limit`` answered waits, newest first."""
    query = (select(_T.c.position, _T.c.waited, _T.c.outcome, _T.c.left_at, _T.c.call_uuid)
             .where(_T.c.queue == queue, _T.c.outcome == "answered")
             .order_by(_T.c.left_at.desc(), _T.c.id.desc()).limit(limit))
    return [Wait(queue, r.position, r.waited, r.outcome, r.left_at, r.call_uuid) for r in session.execute(query)]


def estimate(history: list[Wait], position: int) -> int | None:
    """Seconds a caller at ``position`` may still wait: the median time one place in line took
    (each answered caller's wait over the places it had to move), times the places left. None when
    the history is too thin to say anything."""
    if len(history) < THIN or position < 1:
        return None
    per_place = statistics.median(w.waited / max(1, w.position) for w in history)
    return round(per_place * position)
