"""``fsivr pin hash``: the hashed form of a PIN for an authorize node's ``pins``."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from fsivr.engine.pins import hash_pin


def add_commands(sub: Any) -> None:
    pin = sub.add_parser("pin", help="PINs for the authorize node")
    psub = pin.add_subparsers(dest="pin_command", required=True, metavar="COMMAND")
    h = psub.add_parser("hash", help="read a PIN (prompted, or one line on standard input) and print its hash")
    h.set_defaults(func=cmd_hash)


def cmd_hash(args: argparse.Namespace) -> int:
    # Never an argument: a PIN on the command line lands in the shell history and in ps.
    pin = getpass.getpass("PIN: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    print(hash_pin(pin))
    return 0
