"""The alembic chain builds exactly the models' schema, and unwinds, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from fsivr.store import migrate
from fsivr.store.db import PG_CONNECT_TIMEOUT, Store
from fsivr.store.models import metadata


def test_upgrade_from_empty_matches_models_and_downgrades_to_base(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.upgrade()
        assert migrate.is_up_to_date(store.engine)
        tables = set(inspect(store.engine).get_table_names())
        assert set(metadata.tables) <= tables
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)
        assert diff == []

        migrate.downgrade(store.engine, "base")
        assert migrate.current_revision(store.engine) is None
        assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}

        store.upgrade()  # and the chain replays cleanly after a full unwind
        assert migrate.is_up_to_date(store.engine)
    finally:
        store.close()


def test_upgrade_is_idempotent(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.upgrade()
        store.upgrade()
        assert migrate.current_revision(store.engine) == migrate.head_revision()
    finally:
        store.close()


def test_postgres_connections_time_out() -> None:
    # A host that accepts TCP but never answers (or drops packets) must not hold a threadpool
    # thread for the kernel's TCP timeout.
    assert Store("postgresql+psycopg://u:p@db.invalid/x").url.query["connect_timeout"] == str(PG_CONNECT_TIMEOUT)
    assert Store("postgresql+psycopg://u:p@db.invalid/x?connect_timeout=9").url.query["connect_timeout"] == "9"
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        store = Store(f"postgresql+psycopg://u:p@127.0.0.1:{port}/x?connect_timeout=1")
        started = time.monotonic()
        with pytest.raises(OperationalError), store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert time.monotonic() - started < 10
        store.close()


def test_call_sessions_migration_keeps_existing_records(db_url: str) -> None:
    """0009 (call sessions) re-keys calls by (uuid, session): a record written before it is its
    channel's first session, steps and all; going back keeps the first sessions."""
    store = Store(db_url)
    try:
        migrate.upgrade(store.engine, "0008")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO calls (uuid, caller, number, scenario, started_at, status) "
                              "VALUES ('u-1', '+48501000001', '100', 'office', '2026-03-02 09:00:00', 'answered')"))
            conn.execute(text("INSERT INTO call_steps (call_uuid, seq, node, node_type, started_at) "
                              "VALUES ('u-1', 0, 'hello', 'play', '2026-03-02 09:00:01')"))
        store.upgrade()
        with store.engine.begin() as conn:
            assert conn.execute(text("SELECT uuid, session, fault FROM calls")).all() == [("u-1", 1, None)]
            assert conn.execute(text("SELECT call_uuid, call_session, seq FROM call_steps")).all() == [("u-1", 1, 0)]
            conn.execute(text("INSERT INTO calls (uuid, session, started_at, status) "
                              "VALUES ('u-1', 2, '2026-03-02 09:05:00', 'answered')"))
        migrate.downgrade(store.engine, "0008")
        with store.engine.begin() as conn:
            assert conn.execute(text("SELECT uuid FROM calls")).all() == [("u-1",)]
            assert conn.execute(text("SELECT call_uuid, seq FROM call_steps")).all() == [("u-1", 0)]
    finally:
        store.close()


def test_the_declared_head_is_alembics_head() -> None:
    """Commands read the head revision from the migration files as text (alembic's import is
    ~0.25 s per command); it must be the one alembic computes from the same files."""
    from alembic.script import ScriptDirectory

    declared = migrate.declared_head()
    assert declared is not None
    assert declared == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def _migration(revision: str, down: str | None, extra: str = "") -> str:
    down_text = "None" if down is None else repr(down)
    return (f'"""r{revision}"""\n\nrevision: str = {revision!r}\ndown_revision: str | None = {down_text}\n'
            f"branch_labels: str | None = None\ndepends_on: str | None = None\n{extra}")


@pytest.mark.parametrize(("files", "head"), [
    ({"a": _migration("0001", None), "b": _migration("0002", "0001")}, "0002"),
    # two heads: alembic would refuse `upgrade head`; the text reader leaves it to alembic
    ({"a": _migration("0001", None), "b": _migration("0002", "0001"), "c": _migration("0003", "0001")}, None),
    # a merge point's tuple of down revisions, branch labels: not followed, left to alembic
    ({"a": _migration("0001", None), "m": '"""m"""\nrevision = "0002"\ndown_revision = ("0001", "x")\n'}, None),
    ({"a": _migration("0001", None).replace("branch_labels: str | None = None", "branch_labels = ('x',)")}, None),
    # a down revision no file declares
    ({"a": _migration("0002", "0001")}, None),
])
def test_the_text_reader_names_a_head_only_where_it_is_sure(tmp_path, files: dict[str, str], head: str | None) -> None:
    for name, body in files.items():
        (tmp_path / f"{name}.py").write_text(body)
    assert migrate.declared_head(tmp_path) == head
