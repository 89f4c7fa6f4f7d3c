"""``fsivr db upgrade``: migrate the database schema to the latest version; ``fsivr db
hash-secrets``: replace the SIP passwords and mailbox PINs still stored plain by their hashes."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fsivr.cli.output import err
from fsivr.cli.store import open_store, require_schema
from fsivr.config import load_config


def add_commands(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="migrate the database schema to the latest version").set_defaults(
        func=cmd_db_upgrade)
    db_sub.add_parser("hash-secrets", help="keep only the a1-hash of SIP passwords (for sip_realm) and the scrypt "
                                           "hash of mailbox PINs still stored plain").set_defaults(
        func=cmd_db_hash_secrets)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from fsivr.scenario.secrets import plain_secrets
    from fsivr.store import migrate

    with open_store(args, create=True) as store:
        store.upgrade()
        print(f"database {store.url.render_as_string(hide_password=True)} is at revision "
              f"{migrate.current_revision(store.engine)}")
        passwords, pins = store.run(plain_secrets)
    policy = load_config(args.config, args.database).secret_policy()
    if (passwords and not policy.plain_passwords) or (pins and not policy.plain_pins):
        print(f"note: {passwords} SIP password(s) and {pins} mailbox PIN(s) are stored plain: run "
              "`fsivr db hash-secrets` to keep only their hashes (README: SIP passwords and PINs)", file=sys.stderr)
    return 0


def cmd_db_hash_secrets(args: argparse.Namespace) -> int:
    from fsivr.scenario.secrets import CannotHash, hash_stored_secrets

    policy = load_config(args.config, args.database).secret_policy()
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        try:
            done = store.run(lambda session: hash_stored_secrets(session, policy))
        except CannotHash as exc:
            err(f"nothing changed: {exc}")
            return 1
    if policy.realm:
        print(f"SIP passwords: {done.a1_hashed} a1-hash(es) made for realm {policy.realm}; "
              f"{done.passwords_dropped} plain password(s) removed")
    else:
        print("SIP passwords: kept plain (sip_plain_passwords, no sip_realm)")
    print(f"mailbox PINs: {done.pins_hashed} hashed" if not policy.plain_pins else
          "mailbox PINs: kept plain (mailbox_plain_pins)")
    print("run `fsivr render-conf` to hand FreeSWITCH what changed")
    return 0
