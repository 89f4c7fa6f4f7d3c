"""The change counters (fsivr/store/versions.py): every write to a cached table bumps its counter in
the writer's transaction, an unchanged re-import does not, on SQLite and PostgreSQL."""

from __future__ import annotations

import gevent
from sqlalchemy import delete, insert, text

from fsivr.scenario.bundle import parse_text
from fsivr.scenario.persist import import_bundle
from fsivr.store import versions
from fsivr.store.db import Store
from fsivr.store.directory import Account, Contact, Directory, Group, GroupMember, Prompt, save_directory
from fsivr.store.models import AccountRow, ContactRow

SCENARIO = """
scenarios:
  - scenario: s
    numbers: ["1"]
    start: bye
    nodes:
      bye: {type: hangup}
"""


def _counters(store: Store) -> dict[str, int]:
    return store.run(versions.read)


def test_every_directory_write_bumps_the_directory_counter_and_only_it(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.upgrade()
        start = _counters(store)
        assert set(start) == {versions.DIRECTORY, versions.SCENARIOS}

        def save(d: Directory) -> dict[str, int]:
            store.run(lambda s: save_directory(s, d))
            return _counters(store)

        people = Directory(accounts=[Account("101", extension="101"), Account("102", extension="102")],
                           groups=[Group("sales", members=[GroupMember("101")])],
                           contacts=[Contact("+48501000001", owner="101")])
        after = save(people)
        assert after[versions.DIRECTORY] > start[versions.DIRECTORY]
        assert after[versions.SCENARIOS] == start[versions.SCENARIOS]

        # The same data again: accounts and contacts upserted to what they are write nothing, so
        # servers do not reload (the group's members are rewritten as a whole, so leave it out).
        same = save(Directory(accounts=people.accounts, contacts=people.contacts))
        assert same == after

        # Swapping two extensions is a change.
        swapped = save(Directory(accounts=[Account("101", extension="102"), Account("102", extension="101")]))
        assert swapped[versions.DIRECTORY] > after[versions.DIRECTORY]

        # Statements through session.execute, not the unit of work, count too.
        store.run(lambda s: s.execute(delete(ContactRow)))
        deleted = _counters(store)
        assert deleted[versions.DIRECTORY] > swapped[versions.DIRECTORY]
        store.run(lambda s: s.execute(insert(AccountRow), [{"user": "103"}]))
        inserted = _counters(store)
        assert inserted[versions.DIRECTORY] > deleted[versions.DIRECTORY]

        # Prompts are read by the scenario cache: they move the scenarios counter.
        prompted = save(Directory(prompts=[Prompt("hi", text="Hello")]))
        assert prompted[versions.SCENARIOS] > inserted[versions.SCENARIOS]
        assert prompted[versions.DIRECTORY] == inserted[versions.DIRECTORY]
    finally:
        store.close()


def test_a_scenario_import_bumps_the_scenarios_counter_in_its_transaction(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.upgrade()
        start = _counters(store)
        import_bundle(store, parse_text(SCENARIO))
        after = _counters(store)
        assert after[versions.SCENARIOS] > start[versions.SCENARIOS]
        assert after[versions.DIRECTORY] == start[versions.DIRECTORY]

        # A write that rolls back takes its bump with it: nobody reloads for nothing, and (the
        # point) nobody can see a new counter without the data that goes with it.
        def failing(session) -> None:  # type: ignore[no-untyped-def]
            save_directory(session, Directory(accounts=[Account("999")]))
            assert versions.read(session)[versions.DIRECTORY] > after[versions.DIRECTORY]
            raise RuntimeError("abort")

        try:
            store.run(failing)
        except RuntimeError:
            pass
        assert _counters(store) == after
    finally:
        store.close()


def test_a_rolled_back_savepoint_does_not_swallow_the_next_bump(db_url: str) -> None:
    # Bumps are made once per transaction; a savepoint that bumped and rolled back must not leave
    # the outer transaction believing it has bumped already.
    store = Store(db_url)
    try:
        store.upgrade()
        before = _counters(store)[versions.DIRECTORY]
        with store.session() as session:
            nested = session.begin_nested()
            save_directory(session, Directory(accounts=[Account("501")]))
            nested.rollback()
            save_directory(session, Directory(accounts=[Account("502")]))
        assert _counters(store)[versions.DIRECTORY] == before + 1
        # Many writes in one transaction: one bump.
        store.run(lambda s: save_directory(s, Directory(accounts=[Account(f"6{i:02d}") for i in range(30)])))
        assert _counters(store)[versions.DIRECTORY] == before + 2
    finally:
        store.close()


def test_bumps_from_concurrent_writers_are_not_lost(db_url: str) -> None:
    # Transactions on several threadpool threads at once (Store.run): on PostgreSQL each waits for
    # the counter row's lock and, under READ COMMITTED, adds to the value committed before it;
    # on SQLite they queue for the write lock. Either way every bump counts.
    store = Store(db_url, pool_size=8) if db_url.startswith("postgresql") else Store(db_url)
    try:
        store.upgrade()
        before = _counters(store)[versions.DIRECTORY]

        def slow_bump(session) -> None:  # type: ignore[no-untyped-def]
            versions.bump(session, {versions.DIRECTORY})
            session.execute(text("SELECT 1"))  # keep the transaction open a little after the bump

        jobs = [gevent.spawn(store.run, slow_bump) for _ in range(40)]
        gevent.joinall(jobs, raise_error=True)
        assert _counters(store)[versions.DIRECTORY] == before + 40
    finally:
        store.close()


def test_writers_bumping_the_counters_in_opposite_orders_do_not_deadlock(db_url: str) -> None:
    # An import bumps `directory` then `scenarios`; another writer may bump them the other way
    # round. Each transaction's first bump locks both rows in one order (PostgreSQL), so the second
    # writer waits instead of deadlocking (which PostgreSQL would break by failing one of them).
    import time

    store = Store(db_url, pool_size=4) if db_url.startswith("postgresql") else Store(db_url)
    try:
        store.upgrade()
        before = _counters(store)

        def directory_first(session) -> None:  # type: ignore[no-untyped-def]
            versions.bump(session, {versions.DIRECTORY})
            time.sleep(0.3)
            versions.bump(session, {versions.SCENARIOS})

        def scenarios_first(session) -> None:  # type: ignore[no-untyped-def]
            time.sleep(0.1)
            versions.bump(session, {versions.SCENARIOS})
            versions.bump(session, {versions.DIRECTORY})

        jobs = [gevent.spawn(store.run, directory_first), gevent.spawn(store.run, scenarios_first)]
        gevent.joinall(jobs, raise_error=True)
        after = _counters(store)
        assert after == {name: value + 2 for name, value in before.items()}
    finally:
        store.close()
