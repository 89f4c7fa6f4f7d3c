"""Change counters: every write to a cached kind of data bumps its row of ``data_versions``.

A running ``fsivr serve`` keeps the directory and the compiled scenarios in memory and has to learn
when another process (``fsivr import``, the API, another server's admin) changed them. Re-reading
the tables to compare is O(directory) per check; instead each kind has a counter, bumped in the
*same transaction* as the write, and a server asks for the counters (one query, two rows) and
reloads only the kinds whose counter moved. Being in the writer's transaction makes it correct
with several servers on one database: the new counter becomes visible exactly when the data does
(SQLite: one writer at a time; PostgreSQL: the counter row's lock serialises the writers, and
under READ COMMITTED the ``version + 1`` re-reads the latest committed value, so no bump is lost).

The one place every write goes through is the SQLAlchemy Session, so the bump lives there, as
Session events registered for every Session of the process (imported by fsivr.store.db):

* ``before_flush`` — rows of tracked tables added, changed (with a net change) or deleted;
* ``do_orm_execute`` — INSERT/UPDATE/DELETE statements on tracked tables run through
  ``session.execute`` (bulk inserts, ``delete(GroupMemberRow)...``).

Writes that bypass the Session (raw SQL in psql, ``engine.connect()``) must call :func:`bump`
themselves. Tables that change with traffic (call records) are deliberately not tracked: nothing
caches them, and bumping on them would reload the directory for no reason. The same goes for the
columns of a tracked table that change with traffic (an agent's live status, a PIN changed by
phone): their UPDATEs carry the ``TRAFFIC`` execution option and bump nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from fsivr.store.models import DataVersionRow

DIRECTORY = "directory"
SCENARIOS = "scenarios"

#: Table -> the counter a write to it bumps: the tables each in-memory cache reads.
#: DirectoryCache (fsivr/engine/directory.py) reads the first group, the callcenter sync
#: (fsivr/callcenter/sync.py: queues, tiers, agents with accounts and gateways) shares its counter,
#: ScenarioCache (fsivr/engine/cache.py) reads the second. A cache that starts reading a table
#: must add it here. (agents.status is also written live, by the agent IVR and from mod_callcenter's
#: own changes: those writes are TRAFFIC, else each would reload the directory — ~0.4 s of CPU for
#: 10,000 accounts, bench/scale.py — in every serve, and rebuild the callcenter sync's state.)
TRACKED: dict[str, str] = {
    "accounts": DIRECTORY, "mailboxes": DIRECTORY, "groups": DIRECTORY, "group_members": DIRECTORY,
    "contacts": DIRECTORY, "gateways": DIRECTORY,
    "queues": DIRECTORY, "queue_agents": DIRECTORY, "agents": DIRECTORY,
    "scenarios": SCENARIOS, "scenario_nodes": SCENARIOS, "scenario_edges": SCENARIOS, "numbers": SCENARIOS,
    "prompts": SCENARIOS,
}

_T = DataVersionRow.__table__

#: Execution option of a write that changes with traffic, not configuration: no cache reads what it
#: sets, so it bumps nothing (``update(...).execution_options(**{TRAFFIC: True})``).
TRAFFIC = "fsivr_traffic"


_BUMPED = "fsivr.versions.bumped"


def bump(session: Session, names: set[str]) -> None:
    """Add one to the named counters, in the session's transaction (once per transaction: an
    import of 2,000 scenarios runs thousands of statements, one bump each would be a third of it)."""
    done: set[str] = session.info.setdefault(_BUMPED, set())
    todo = names - done
    if todo:
        # Core statements on the session's connection: not ORM executes, so no recursion.
        conn = session.connection()
        if not done:
            # PostgreSQL: lock every counter row, in name order, at the transaction's first bump.
            # A writer bumping `directory` then `scenarios` (an import) and another bumping them the
            # other way round would otherwise deadlock. (SQLite: no FOR UPDATE; one writer anyway.)
            conn.execute(select(_T.c.name).order_by(_T.c.name).with_for_update())
        conn.execute(update(_T).where(_T.c.name.in_(sorted(todo))).values(version=_T.c.version + 1))
        done |= todo


@event.listens_for(Session, "after_transaction_create")
@event.listens_for(Session, "after_transaction_end")
def _forget_bumps(session: Session, transaction: SessionTransaction) -> None:
    # "Bumped" holds only within one transaction: a new one (or a savepoint) must bump again, and a
    # savepoint rolled back took its bump with it. An extra bump costs one reload; a missing one,
    # a change no server sees. The subtransactions each flush opens are neither (a failed flush
    # rolls back the real transaction, which ends here too).
    if transaction.parent is None or transaction.nested:
        session.info.pop(_BUMPED, None)


def read(session: Session) -> dict[str, int]:
    """Every counter (one query). Empty for a schema without the table's rows."""
    return {name: int(version) for name, version in session.execute(select(_T.c.name, _T.c.version))}


def _table_of(obj: Any) -> str | None:
    table = getattr(obj, "__table__", None)
    return None if table is None else table.name


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    names: set[str] = set()
    for obj in session.new:
        names.add(TRACKED.get(_table_of(obj) or "", ""))
    for obj in session.deleted:
        names.add(TRACKED.get(_table_of(obj) or "", ""))
    for obj in session.dirty:
        counter = TRACKED.get(_table_of(obj) or "")
        # An upsert that sets every field to what it was leaves the row in session.dirty with no
        # net change: re-importing an unchanged bundle must not make every server reload.
        if counter and counter not in names and session.is_modified(obj, include_collections=False):
            names.add(counter)
    names.discard("")
    bump(session, names)


@event.listens_for(Session, "do_orm_execute")
def _do_orm_execute(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete) or state.execution_options.get(TRAFFIC):
        return
    table = getattr(state.statement, "table", None)
    counter = TRACKED.get(getattr(table, "name", ""))
    if counter:
        bump(state.session, {counter})
