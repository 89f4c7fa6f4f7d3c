"""``fsivr calls``: recent call records with the path each call took."""

from __future__ import annotations

import argparse
from typing import Any

from fsivr.cli.store import open_store, require_schema
from fsivr.store.callrecords import recent_calls


def add_commands(sub: Any) -> None:
    calls = sub.add_parser("calls", help="recent call records with their paths")
    calls.add_argument("--limit", type=int, default=20)
    calls.set_defaults(func=cmd_calls)


def cmd_calls(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        with store.session() as session:
            records = recent_calls(session, args.limit)
    if not records:
        print("no calls recorded")
        return 0
    for r in records:
        duration = f"{(r.ended_at - r.started_at).total_seconds():.0f}s" if r.ended_at else "-"
        print(f"{r.started_at:%Y-%m-%d %H:%M:%S}  {r.caller or '-'} -> {r.number or '-'}  {r.scenario or '-'}  "
              f"{r.status}  {r.hangup_cause or '-'} (by {r.hangup_by or '-'})  {duration}  {r.uuid}")
        if r.steps:
            print("    " + " > ".join(f"{s.node}:{s.outcome or '-'}" for s in r.steps))
    return 0
