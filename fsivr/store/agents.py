"""The agent IVR's reads and writes of agents (AgentRow): who an agent is, its PIN hash, its status.

Each function runs inside ``Store.run`` (a threadpool thread) and is one or two statements on a
primary key or a unique index. An agent is named by its account's user, as mod_callcenter names it
(fsivr.callcenter.state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from fsivr.store.models import AGENT_STATUSES, AccountRow, AgentRow
from fsivr.store.versions import TRAFFIC

#: Why a status is what it is (AgentRow.status_reason).
REASONS = ("break", "not_ready", "freeswitch")


@dataclass(frozen=True)
class AgentLogin:
    """What logging in needs to know of an agent. ``pin_hash`` never leaves the call that checks it."""

    name: str
    pin_hash: str | None
    status: str
    status_reason: str | None


def find(session: Session, name: str) -> AgentLogin | None:
    """The agent whose account user is ``name``; None if there is none."""
    row = session.execute(
        select(AccountRow.user, AgentRow.pin_hash, AgentRow.status, AgentRow.status_reason)
        .join(AgentRow, AgentRow.account_id == AccountRow.id).where(AccountRow.user == name)).first()
    return AgentLogin(*row) if row is not None else None


def by_phone(session: Session, caller: str) -> str | None:
    """The agent calling from its own phone: ``caller`` is its account's user or extension (an
    internal call shows the SIP user as the caller ID). None when no agent, or more than one, fits."""
    if not caller:
        return None
    users = session.scalars(
        select(AccountRow.user).join(AgentRow, AgentRow.account_id == AccountRow.id)
        .where(or_(AccountRow.user == caller, AccountRow.extension == caller))).all()
    return users[0] if len(set(users)) == 1 else None


#: A status or PIN written during the day changes nothing a cache holds: it bumps no change counter
#: (fsivr.store.versions.TRAFFIC). Whoever writes a status tells mod_callcenter itself
#: (fsivr.callcenter.agents), so the callcenter sync needs no counter to find it either.
_LIVE = {TRAFFIC: True}


def _agent_id(name: str) -> object:
    return select(AccountRow.id).where(AccountRow.user == name).scalar_subquery()


def set_status(session: Session, name: str, status: str, reason: str | None, at: datetime) -> bool:
    """Save a status; False when there is no such agent."""
    if status not in AGENT_STATUSES:
        raise ValueError(f"{status!r} is not a mod_callcenter agent status")
    if reason is not None and reason not in REASONS:
        raise ValueError(f"{reason!r} is not a status reason")
    done = session.execute(update(AgentRow).where(AgentRow.account_id == _agent_id(name))
                           .values(status=status, status_reason=reason, status_changed_at=at)
                           .execution_options(**_LIVE))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def note_switch_status(session: Session, name: str, status: str, at: datetime) -> bool:
    """mod_callcenter says the agent's status is ``status``: saved (reason ``freeswitch``) unless
    the store says so already. True when a row changed."""
    if status not in AGENT_STATUSES:
        return False
    done = session.execute(update(AgentRow).where(AgentRow.account_id == _agent_id(name), AgentRow.status != status)
                           .values(status=status, status_reason="freeswitch", status_changed_at=at)
                           .execution_options(**_LIVE))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def set_pin(session: Session, name: str, pin_hash: str) -> bool:
    """Store a PIN hash (check it with fsivr.engine.pins.check_hash first); False: no such agent."""
    done = session.execute(update(AgentRow).where(AgentRow.account_id == _agent_id(name)).values(pin_hash=pin_hash)
                           .execution_options(**_LIVE))
    return bool(done.rowcount)  # type: ignore[attr-defined]
