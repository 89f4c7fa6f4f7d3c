"""The database as the commands open it: the one named by ``--database`` (``args.database``), and
only once its schema is current.

A SQLite database that does not exist is refused (only ``fsivr db upgrade`` creates one): opening
it would create an empty file, and a command run in the wrong directory would then report "no
calls" from it instead of saying that there is no database here. An unreachable database is
said in one line by ``fsivr.cli.main`` (fsivr.store.outage).

Command modules import this module at their top, so it imports the store (SQLAlchemy, alembic)
only when a command opens one: ``fsivr --help`` needs none of it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fsivr.cli.output import err

if TYPE_CHECKING:
    from fsivr.store.db import Store


def database_url(args: argparse.Namespace) -> str:
    from fsivr.store.db import default_url

    # None when a command's handler is run without main() (which always sets it).
    return getattr(args, "database", None) or default_url()


class NoDatabase(ValueError):
    """The SQLite file the URL names does not exist."""


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database, an in-memory or a ``file:`` URI one)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def open_store(args: argparse.Namespace, create: bool = False) -> Iterator[Store]:
    """The command's database; NoDatabase if it is a SQLite file that does not exist, unless ``create``."""
    from fsivr.store.db import Store

    url = database_url(args)
    path = sqlite_file(url)
    if not create and path is not None and not path.exists():
        raise NoDatabase(f"there is no database here: {path.resolve()} does not exist (the database is {url}; "
                         "give another with --database, or create this one with `fsivr db upgrade`)")
    store = Store(url)
    try:
        yield store
    finally:
        store.close()


def require_schema(store: Store) -> bool:
    """True when the schema is current; else say what to run and return False."""
    from fsivr.store import migrate

    if migrate.is_up_to_date(store.engine):
        return True
    err("the database schema is not up to date: run `fsivr db upgrade` first")
    return False
