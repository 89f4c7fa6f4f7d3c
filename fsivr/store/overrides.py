"""Time-condition overrides (the day/night switch) and the log of every change to them.

Each function runs inside one transaction (``Store.run`` or a CLI session): a change and its log
row are written together or not at all. Expired overrides are left in place and ignored by
whoever reads them (``Override.active``): expiry needs no writer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fsivr.store.models import TimeOverrideLogRow, TimeOverrideRow

STATES = ("open", "closed")


@dataclass(frozen=True)
class Override:
    name: str
    state: str  # open | closed
    until: datetime
    set_by: str
    set_at: datetime

    def active(self, now: datetime) -> bool:
        return now < self.until


@dataclass(frozen=True)
class Change:
    name: str
    action: str  # open | closed | clear
    until: datetime | None
    who: str
    at: datetime


def load(session: Session) -> dict[str, Override]:
    """Every override row (active or expired) by name: a handful of rows, one per switch."""
    return {r.name: Override(r.name, r.state, r.until, r.set_by, r.set_at)
            for r in session.scalars(select(TimeOverrideRow))}


def restore(session: Session, rows: Iterable[Override]) -> None:
    """Write overrides as they were (a copy of a store for ``fsivr simulate``): no log rows, as
    nobody changed anything."""
    for o in rows:
        session.add(TimeOverrideRow(name=o.name, state=o.state, until=o.until, set_by=o.set_by, set_at=o.set_at))
    session.flush()


def set_override(session: Session, name: str, state: str, until: datetime, who: str, at: datetime) -> Override:
    if state not in STATES:
        raise ValueError(f"an override is {' or '.join(STATES)}, not {state!r}")
    if until <= at:
        raise ValueError("an override must end in the future")
    # Delete + insert rather than a dialect's upsert: one portable statement pair, in one transaction.
    session.execute(delete(TimeOverrideRow).where(TimeOverrideRow.name == name))
    session.add(TimeOverrideRow(name=name, state=state, until=until, set_by=who, set_at=at))
    session.add(TimeOverrideLogRow(name=name, action=state, until=until, who=who, at=at))
    session.flush()
    return Override(name, state, until, who, at)


def clear_override(session: Session, name: str, who: str, at: datetime) -> bool:
    """Remove the override; False (and no log row) if there was none in force."""
    row = session.get(TimeOverrideRow, name)
    if row is None or row.until <= at:
        return False
    session.delete(row)
    session.add(TimeOverrideLogRow(name=name, action="clear", until=None, who=who, at=at))
    session.flush()
    return True


def history(session: Session, name: str | None = None, limit: int = 50) -> list[Change]:
    """The latest changes, newest first."""
    query = select(TimeOverrideLogRow).order_by(TimeOverrideLogRow.at.desc(), TimeOverrideLogRow.id.desc())
    if name is not None:
        query = query.where(TimeOverrideLogRow.name == name)
    return [Change(r.name, r.action, r.until, r.who, r.at) for r in session.scalars(query.limit(limit))]
