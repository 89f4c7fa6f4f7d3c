"""``fsivr calls``: recent call records with the path each call took."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fsivr.cli.store import open_store, require_schema

if TYPE_CHECKING:
    from fsivr.store.callrecords import CallRecord

_AGO = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def add_commands(sub: Any) -> None:
    calls = sub.add_parser("calls", help="recent call records with their paths")
    calls.add_argument("--limit", type=int, default=20)
    calls.add_argument("--number", help="only calls to this number")
    calls.add_argument("--since", help="only calls from this time on: ISO 8601 (with an offset; without one, "
                                       "this machine's zone) or an age such as 30m, 2h, 1d")
    calls.add_argument("--json", action="store_true", help="one JSON object per call, times in ISO 8601 with offset")
    calls.set_defaults(func=cmd_calls)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    ago = _AGO.match(text.strip())
    if ago:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: use an ISO 8601 time (2026-11-23T09:00:00+01:00) "
                         "or an age (30m, 2h, 1d)") from None
    # A time without an offset is read as the operator reads a clock: in this machine's zone.
    return at if at.tzinfo is not None else at.astimezone()


def cmd_calls(args: argparse.Namespace) -> int:
    from fsivr.store.callrecords import recent_calls

    since = parse_since(args.since) if args.since else None
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        with store.session() as session:
            records = recent_calls(session, args.limit, number=args.number, since=since)
    if args.json:
        for r in records:
            print(json.dumps(as_json(r)))
        return 0
    if not records:
        print("no calls recorded")
        return 0
    for r in records:
        duration = f"{(r.ended_at - r.started_at).total_seconds():.0f}s" if r.ended_at else "-"
        # A later session of the same channel (it came back after an exit or a transfer) says so.
        session = f" #{r.session}" if r.session > 1 else ""
        print(f"{shown(r.started_at)}  {r.caller or '-'} -> {r.number or '-'}  {r.scenario or '-'}  "
              f"{r.status}  {r.hangup_cause or '-'} (by {r.hangup_by or '-'})  {duration}  {r.uuid}{session}")
        if r.fault:
            print(f"    fault: {r.fault}")
        if r.steps:
            print("    " + " > ".join(f"{s.node}:{s.outcome or '-'}" for s in r.steps))
    return 0


def shown(at: datetime) -> str:
    """A stored (UTC) time in this machine's zone, with the zone's name so it cannot be misread."""
    local = at.astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def as_json(r: CallRecord) -> dict[str, Any]:
    return {
        "uuid": r.uuid, "caller": r.caller, "number": r.number, "scenario": r.scenario, "status": r.status,
        "started_at": _iso(r.started_at), "answered_at": _iso(r.answered_at), "ended_at": _iso(r.ended_at),
        "duration": (r.ended_at - r.started_at).total_seconds() if r.ended_at else None,
        "hangup_cause": r.hangup_cause, "hangup_by": r.hangup_by, "session": r.session, "fault": r.fault,
        "path": [{"node": s.node, "type": s.node_type, "outcome": s.outcome, "started_at": _iso(s.started_at),
                  "ended_at": _iso(s.ended_at), "detail": s.detail} for s in r.steps],
    }
