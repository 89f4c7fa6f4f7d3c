"""The database as the commands open it: the one named by ``--database`` (``args.database``), and
only once its schema is current."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from fsivr.cli.output import err
from fsivr.store import migrate
from fsivr.store.db import Store, default_url


def database_url(args: argparse.Namespace) -> str:
    # None when a command's handler is run without main() (which always sets it).
    return getattr(args, "database", None) or default_url()


@contextmanager
def open_store(args: argparse.Namespace) -> Iterator[Store]:
    store = Store(database_url(args))
    try:
        yield store
    finally:
        store.close()


def require_schema(store: Store) -> bool:
    """True when the schema is current; else say what to run and return False."""
    if migrate.is_up_to_date(store.engine):
        return True
    err("the database schema is not up to date: run `fsivr db upgrade` first")
    return False
