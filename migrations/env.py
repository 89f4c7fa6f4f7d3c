"""Alembic environment: one chain for SQLite and PostgreSQL, driven by fsivr.store.models."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from fsivr.store.db import Store
from fsivr.store.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("engine") is None:
    fileConfig(config.config_file_name)


def run_migrations_offline() -> None:
    from fsivr.store.db import default_url

    context.configure(url=default_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    store = None
    if engine is None:
        store = Store()
        engine = store.engine
    try:
        with engine.connect() as connection:
            # render_as_batch: SQLite cannot ALTER most things, batch mode rebuilds the table instead.
            context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                              compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        if store is not None:
            store.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
