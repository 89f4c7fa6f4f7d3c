"""The alembic chain builds exactly the models' schema, and unwinds, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from fsivr.store import migrate
from fsivr.store.db import Store
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
