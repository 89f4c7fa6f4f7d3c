"""The ``fsivr`` command line: the main parser and ``main()``.

Each command group is a module of this package with ``add_commands(sub)``, which registers its
commands on the main parser's subparsers object with ``set_defaults(func=handler)``. A handler
takes the parsed arguments (``args.database`` is set by ``main()`` from ``--database``, the
configuration file or the environment) and returns the exit status. Command modules only parse
arguments and print; the work is done by the packages they call.

Every command module is imported here, to build the parser, so at their top they import only what
building their parsers needs (argparse, this package's small helpers, fsivr.config): a handler
imports the packages it calls (the store, SQLAlchemy, the nodes, gevent...) when it runs. `fsivr
--help`, and every command, then pays only for what it uses; tests/cli/test_imports.py checks it.
"""

from __future__ import annotations

import argparse
import logging
import sys

from fsivr.cli import (
    calls,
    campaign,
    db,
    outbox,
    override,
    pin,
    prompts,
    render,
    scenario,
    serve,
    simulate,
    table,
    worker,
)
from fsivr.config import Config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsivr", description="IVR engine for FreeSWITCH (ESL outbound socket)")
    parser.add_argument("--config", help="configuration file (YAML); env FSIVR_CONFIG")
    parser.add_argument("--database", default=None,
                        help=f"database URL (env FSIVR_DATABASE_URL, default {Config.database_url})")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In this order in `fsivr --help`.
    for group in (serve, worker, outbox, campaign, simulate, db, scenario, prompts, calls, render, table, pin,
                  override):
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from fsivr.store import phone

    try:
        cfg = Config.load(args.config)
        # Phone numbers written without a country code (bundles, tables) take this region.
        phone.configure(cfg.default_region)
        if args.database is None:
            # The config file and FSIVR_DATABASE_URL decide; --database overrides both.
            args.database = cfg.database_url
    except ValueError as exc:
        print(f"fsivr: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        if _unreachable(exc):
            from fsivr.store.outage import unreachable_message

            # One line naming the database (password masked) and the driver's reason, not a
            # SQLAlchemy traceback ending in the statement that happened to be first.
            print(f"fsivr {args.command}: {unreachable_message(args.database, exc)}", file=sys.stderr)
            return 2
        if isinstance(exc, (ValueError, OSError)):
            print(f"fsivr {args.command}: {exc}", file=sys.stderr)
            return 2
        raise


def _unreachable(exc: Exception) -> bool:
    """Is ``exc`` one of fsivr.store.outage.UNREACHABLE? Without importing SQLAlchemy for a command
    that never loaded it (its errors cannot be SQLAlchemy's then)."""
    if "sqlalchemy" not in sys.modules:
        return False
    from fsivr.store.outage import UNREACHABLE

    return isinstance(exc, UNREACHABLE)
