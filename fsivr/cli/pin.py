"""``fsivr pin hash``: the hashed form of a PIN for an authorize node's ``pins`` or an agent's
``pin_hash``; ``fsivr pin agent USER``: set an agent's agent-IVR PIN in the database."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from fsivr.cli.output import err
from fsivr.cli.store import open_store, require_schema


def add_commands(sub: Any) -> None:
    pin = sub.add_parser("pin", help="PINs for the authorize node and the agent IVR")
    psub = pin.add_subparsers(dest="pin_command", required=True, metavar="COMMAND")
    h = psub.add_parser("hash", help="read a PIN (prompted, or one line on standard input) and print its hash")
    h.set_defaults(func=cmd_hash)
    a = psub.add_parser("agent", help="set a queue agent's PIN for the agent IVR (read as `pin hash` reads it; "
                                      "only its hash is stored)")
    a.add_argument("agent", help="the agent: its account's user (e.g. 101)")
    a.set_defaults(func=cmd_agent)


def _read_pin() -> str:
    # Never an argument: a PIN on the command line lands in the shell history and in ps.
    if sys.stdin.isatty():
        first = getpass.getpass("PIN: ")
        if getpass.getpass("PIN again: ") != first:
            raise ValueError("the two PINs differ")
        return first
    return sys.stdin.readline().strip()


def cmd_hash(args: argparse.Namespace) -> int:
    from fsivr.engine.pins import hash_pin

    print(hash_pin(_read_pin()))
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from fsivr.engine.pins import hash_pin
    from fsivr.store import agents

    try:
        hashed = hash_pin(_read_pin())
    except ValueError as exc:
        err(str(exc))
        return 1
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        with store.session() as session:
            found = agents.set_pin(session, args.agent, hashed)
    if not found:
        err(f"no agent {args.agent!r}: an agent is an account that serves a queue (or is listed under `agents`)")
        return 1
    print(f"agent {args.agent}: PIN set")
    return 0
