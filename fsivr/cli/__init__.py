"""The ``fsivr`` command line: the main parser and ``main()``.

Each command group is a module of this package with ``add_commands(sub)``, which registers its
commands on the main parser's subparsers object with ``set_defaults(func=handler)``. A handler
takes the parsed arguments (``args.database`` is set by ``main()`` from ``--database``, the
configuration file or the environment) and returns the exit status. Command modules only parse
arguments and print; the work is done by the packages they call.
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
from fsivr.store import phone
from fsivr.store.outage import UNREACHABLE, unreachable_message


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
    except UNREACHABLE as exc:
        # One line naming the database (password masked) and the driver's reason, not a
        # SQLAlchemy traceback ending in the statement that happened to be first.
        print(f"fsivr {args.command}: {unreachable_message(args.database, exc)}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"fsivr {args.command}: {exc}", file=sys.stderr)
        return 2
