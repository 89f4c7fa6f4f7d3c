"""``fsivr override list|set|clear``: the day/night switch from a shell, as the feature code does it
by phone (the time_override node); every change is logged as ``shell:<user>``."""

from __future__ import annotations

import argparse
import getpass
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fsivr.cli.output import err
from fsivr.cli.store import open_store, require_schema

if TYPE_CHECKING:
    from fsivr.nodes.time_condition import TimeCondition

_CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def add_commands(sub: Any) -> None:
    ov = sub.add_parser("override", help="force a time condition's day/night switch open or closed for a while")
    osub = ov.add_subparsers(dest="override_command", required=True, metavar="COMMAND")
    p = osub.add_parser("list", help="every switch: open or closed now, and why (schedule or override)")
    p.add_argument("--history", type=int, nargs="?", const=20, default=0, metavar="N",
                   help="also the last N changes (default 20): who, when, what")
    p.set_defaults(func=cmd_list)
    p = osub.add_parser("set", help="force a switch open or closed until a time or the schedule's next change")
    p.add_argument("name", help="the switch (a time_condition's `override`)")
    p.add_argument("state", choices=("open", "closed"))
    p.add_argument("--until", metavar="WHEN",
                   help="HH:MM (the next such time on the switch's clock) or an ISO 8601 time with offset; "
                        "default: the schedule's next change")
    p.set_defaults(func=cmd_set)
    p = osub.add_parser("clear", help="end a switch's override: back to its schedule")
    p.add_argument("name")
    p.set_defaults(func=cmd_clear)


def _who() -> str:
    return f"shell:{getpass.getuser()}"


def _conditions(session: Any) -> dict[str, list[TimeCondition]]:
    """The stored scenarios' time conditions by switch name (compiled as the server does)."""
    from fsivr.engine.scenario import ValidationFailed, compile_scenario
    from fsivr.nodes.time_condition import TimeCondition, switch_conditions
    from fsivr.scenario.persist import load_scenarios

    compiled = []
    for spec, version in load_scenarios(session):
        try:
            compiled.append(compile_scenario(spec, version))
        except ValidationFailed:
            continue  # the server keeps serving its previous version; nothing to show for it here
    names = {n.p.get("override") for sc in compiled for n in sc.nodes.values() if isinstance(n, TimeCondition)}
    return {name: switch_conditions(compiled, name) for name in sorted(n for n in names if n)}


def _local(moment: datetime, conds: list[TimeCondition]) -> str:
    zone = conds[0].zone if conds else UTC
    return moment.astimezone(zone).isoformat(timespec="minutes")


def cmd_list(args: argparse.Namespace) -> int:
    from fsivr.store import overrides

    now = datetime.now(UTC)
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        with store.session() as session:
            switches = _conditions(session)
            rows = overrides.load(session)
            changes = overrides.history(session, limit=args.history) if args.history else []
    for name in sorted(set(switches) | set(rows)):
        conds = switches.get(name, [])
        row = rows.get(name)
        if row is not None and row.active(now):
            print(f"{name}: {row.state} (override until {_local(row.until, conds)}, set by {row.set_by} "
                  f"at {_local(row.set_at, conds)})")
        elif conds:
            state = "open" if conds[0].scheduled(now) else "closed"
            change = conds[0].next_change(now)
            print(f"{name}: {state} (schedule" + (f"; changes at {_local(change, conds)})" if change else ")"))
        else:
            print(f"{name}: no time_condition uses this switch")
    if not switches and not rows:
        print("no switches: give a time_condition an `override: NAME`")
    for c in changes:
        what = c.action + (f" until {c.until.isoformat(timespec='minutes')}" if c.until else "")
        print(f"  {c.at.isoformat(timespec='seconds')}  {c.name}: {what} by {c.who}")
    return 0


def _until(text: str, conds: list[TimeCondition], now: datetime) -> datetime:
    from fsivr.nodes.time_override import until_clock

    m = _CLOCK.match(text)
    if m:
        end = until_clock(conds[0].zone, now, f"{int(m.group(1)):02d}{m.group(2)}")
        assert end is not None
        return end
    try:
        end = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--until {text!r}: give HH:MM or an ISO 8601 time with offset") from None
    if end.tzinfo is None:
        raise ValueError(f"--until {text!r} needs a UTC offset, e.g. 2026-12-24T14:00:00+01:00")
    if end <= now:
        raise ValueError(f"--until {text!r} is not in the future")
    return end


def cmd_set(args: argparse.Namespace) -> int:
    from fsivr.nodes.time_override import NoChange, plan_override
    from fsivr.store import overrides

    now = datetime.now(UTC)
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        with store.session() as session:
            conds = _conditions(session).get(args.name)
            if not conds:
                err(f"no time_condition has override: {args.name}")
                return 1
            until = _until(args.until, conds, now) if args.until else None
            try:
                plan = plan_override(conds, args.state, now, None, until)
            except NoChange as exc:
                err(str(exc))
                return 1
            assert plan.until is not None
            overrides.set_override(session, args.name, plan.action, plan.until, _who(), now)
    print(f"{args.name}: {plan.action} until {_local(plan.until, conds)}")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    from fsivr.store import overrides

    now = datetime.now(UTC)
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        with store.session() as session:
            cleared = overrides.clear_override(session, args.name, _who(), now)
    print(f"{args.name}: back to its schedule" if cleared else f"{args.name}: had no override in force")
    return 0
