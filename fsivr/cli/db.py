"""``fsivr db upgrade``: migrate the database schema to the latest version."""

from __future__ import annotations

import argparse
from typing import Any

from fsivr.cli.store import open_store
from fsivr.store import migrate


def add_commands(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="migrate the database schema to the latest version").set_defaults(
        func=cmd_db_upgrade)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    with open_store(args, create=True) as store:
        store.upgrade()
        print(f"database {store.url.render_as_string(hide_password=True)} is at revision "
              f"{migrate.current_revision(store.engine)}")
    return 0
