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
