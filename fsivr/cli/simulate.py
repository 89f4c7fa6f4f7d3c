"""``fsivr simulate``: run one call through the real server against the built-in simulator and
print its path (the run itself is ``fsivr.simulation``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from fsivr.config import load_config

OUTCOMES = ("answered", "no_answer", "busy", "failed")


def add_commands(sub: Any) -> None:
    p = sub.add_parser("simulate", help="run a call against the built-in FreeSWITCH simulator and print its path")
    p.add_argument("target", metavar="FILE_OR_NAME", help="a scenario/bundle YAML file, or a stored scenario name")
    p.add_argument("--number", help="dialled number (default: the scenario's first number)")
    p.add_argument("--caller", default="+15550000001", help="caller's number")
    p.add_argument("--at", help="arrival time, ISO 8601 with offset (default: now)")
    p.add_argument("--digits", default=None,
                   help="keys pressed per prompt that waits for keys, comma-separated; an empty entry = no key")
    p.add_argument("--answer", action="append", default=[], metavar="TARGET=OUTCOME",
                   help=f"how a ringing target behaves: {', '.join(OUTCOMES)} (default answered)")
    p.add_argument("--pickup", type=float, default=None, metavar="SECONDS",
                   help="a phone picks a parked caller up this many seconds into the park (default: nobody does)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_simulate)


def parse_at(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ValueError(f"--at {text!r} needs a UTC offset, e.g. 2026-11-23T09:00:00+01:00")
    return at


def parse_answers(items: list[str]) -> dict[str, str]:
    answers = {}
    for item in items:
        target, sep, outcome = item.rpartition("=")
        if not sep or not target:
            raise ValueError(f"--answer {item!r}: use TARGET=OUTCOME, e.g. sip:101=busy")
        if outcome not in OUTCOMES:
            raise ValueError(f"--answer {item!r}: outcome must be one of {', '.join(OUTCOMES)}")
        answers[target] = outcome
    return answers


def parse_digits(text: str | None) -> list[str]:
    if text is None:
        return []
    entries = text.split(",")
    for entry in entries:
        if any(c not in "0123456789*#ABCD" for c in entry):
            raise ValueError(f"--digits entry {entry!r}: keys are 0-9, *, #, A-D")
    return entries


def cmd_simulate(args: argparse.Namespace) -> int:
    from gevent import monkey

    # Before the server's modules are imported, so that what they import uses gevent's sockets.
    monkey.patch_all()
    from fsivr.simulation import NoCallRecord, simulate

    if not args.verbose:
        # The printed path is the output; the server's own log lines would drown it.
        logging.getLogger().setLevel(logging.WARNING)
    at = parse_at(args.at)
    answers = parse_answers(args.answer)
    digits = parse_digits(args.digits)
    try:
        result = simulate(args.target, load_config(args.config, args.database), number=args.number,
                          caller=args.caller, at=at, digits=digits, answers=answers, pickup=args.pickup)
    except NoCallRecord as exc:
        print(f"fsivr simulate: {exc}", file=sys.stderr)
        return 1
    for warning in result["warnings"]:
        print(f"fsivr simulate: warning: {warning}", file=sys.stderr)
    if args.json:
        # Exactly the shape of the spec (section 7): node and outcome per step, and the cause.
        path = [{"node": step["node"], "outcome": step["outcome"]} for step in result["path"]]
        print(json.dumps({"path": path, "hangup_cause": result["hangup_cause"]}))
    else:
        print(f"call {result['caller']} -> {result['number']} at {at.isoformat()} (scenario {result['scenario']})")
        for step in result["path"]:
            print(f"  {step['node']:<24} {step['type']:<18} -> {step['outcome']}")
        print(f"hangup: {result['hangup_cause']} (by {result['hangup_by']})")
    return 0
