"""``fsivr outbox list|retry|drop``: show and handle the outbox's rows, dead ones included."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from fsivr.cli.output import err
from fsivr.cli.store import open_store, require_schema

if TYPE_CHECKING:
    from fsivr.store.models import OutboxRow

#: fsivr.store.models.OUTBOX_STATES, written out so that building the parser needs no SQLAlchemy
#: (tests/cli/test_imports.py checks that the two agree).
OUTBOX_STATES = ("pending", "leased", "sent", "dead")


def add_commands(sub: Any) -> None:
    box = sub.add_parser("outbox", help="show and handle outbox rows (dead ones included)")
    box_sub = box.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    p = box_sub.add_parser("list", help="rows, newest first, with their state and last error")
    p.add_argument("--state", action="append", choices=OUTBOX_STATES, help="only rows in this state (repeatable)")
    p.add_argument("--kind", help="only rows of this kind (email, sms)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_list)
    for name, func, text in (("retry", cmd_retry, "make rows due now with a fresh set of attempts"),
                             ("drop", cmd_drop, "delete rows: they will not be sent")):
        p = box_sub.add_parser(name, help=text)
        p.add_argument("ids", nargs="*", type=int, metavar="ID")
        p.add_argument("--dead", action="store_true", help="every dead row")
        p.set_defaults(func=func)


def cmd_list(args: argparse.Namespace) -> int:
    from fsivr.store import outbox

    with open_store(args) as store:
        if not require_schema(store):
            return 2
        with store.session() as session:
            found = outbox.rows(session, args.state or (), args.kind, args.limit)
            totals = outbox.counts(session)
    for row in found:
        print(json.dumps(_as_json(row)) if args.json else _as_text(row))
    if not args.json:
        print("total: " + (", ".join(f"{n} {state}" for state, n in sorted(totals.items())) or "empty"))
    return 0


def _as_json(row: OutboxRow) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "state": row.state, "attempts": row.attempts,
            "key": row.idempotency_key, "next_attempt_at": row.next_attempt_at.isoformat(),
            "lease_owner": row.lease_owner, "last_error": row.last_error, "call_uuid": row.call_uuid,
            "created_at": row.created_at.isoformat(),
            "sent_at": row.sent_at.isoformat() if row.sent_at else None, "payload": row.payload}


def _as_text(row: OutboxRow) -> str:
    # The time that matters in each state: when it was sent, until when it is leased, when it is due.
    when = {"sent": row.sent_at, "leased": row.lease_expires_at}.get(row.state, row.next_attempt_at)
    to = row.payload.get("to") if isinstance(row.payload, dict) else None
    to_text = ", ".join(map(str, to)) if isinstance(to, list) else str(to or "")
    line = (f"{row.id:>6}  {row.kind:<6} {row.state:<7} {row.attempts:>2}x  "
            f"{when.isoformat(timespec='seconds') if when else '-':<25}  {to_text}  [{row.idempotency_key}]")
    return line + (f"\n        last error: {row.last_error}" if row.last_error else "")


def _change(args: argparse.Namespace, what: str) -> int:
    if not args.ids and not args.dead:
        err(f"outbox {what}: name row ids or --dead")
        return 2
    from fsivr.store import outbox
    from fsivr.store.outbox import OutboxRefused
    from fsivr.store.types import utcnow

    change = outbox.retry if what == "retry" else outbox.drop
    with open_store(args) as store:
        if not require_schema(store):
            return 2
        try:
            with store.session() as session:
                done = change(session, args.ids, utcnow(), dead=args.dead)
        except OutboxRefused as exc:
            err(f"outbox {what}: {exc}")
            return 1
    verb = "due again" if what == "retry" else "dropped"
    print(f"{len(done)} row(s) {verb}" + (f": {', '.join(map(str, done))}" if done else ""))
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    return _change(args, "retry")


def cmd_drop(args: argparse.Namespace) -> int:
    return _change(args, "drop")
