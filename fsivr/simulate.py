"""``fsivr simulate``: run one call through the real server against the built-in simulator.

Real sockets and the real ``serve`` code: a server is started on an ephemeral loopback port, the
simulator connects to it as FreeSWITCH would, and the path printed is read back from the call
record the server wrote — so what this prints is what production would have recorded.

Always in a throw-away SQLite database: a file is imported into it; a stored scenario is copied
into it from the configured database (every scenario, since goto may reach any, and the whole
directory), which is only read — never migrated, and no simulated call record lands in it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUTCOMES = ("answered", "no_answer", "busy", "failed")


def add_command(sub: Any) -> None:
    p = sub.add_parser("simulate", help="run a call against the built-in FreeSWITCH simulator and print its path")
    p.add_argument("target", metavar="FILE_OR_NAME", help="a scenario/bundle YAML file, or a stored scenario name")
    p.add_argument("--number", help="dialled number (default: the scenario's first number)")
    p.add_argument("--caller", default="+15550000001", help="caller's number")
    p.add_argument("--at", help="arrival time, ISO 8601 with offset (default: now)")
    p.add_argument("--digits", default=None,
                   help="keys pressed per prompt that waits for keys, comma-separated; an empty entry = no key")
    p.add_argument("--answer", action="append", default=[], metavar="TARGET=OUTCOME",
                   help=f"how a ringing target behaves: {', '.join(OUTCOMES)} (default answered)")
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
    import logging

    from gevent import monkey

    monkey.patch_all()
    if not args.verbose:
        # The printed path is the output; the server's own log lines would drown it.
        logging.getLogger().setLevel(logging.WARNING)
    at = parse_at(args.at)
    answers = parse_answers(args.answer)
    digits = parse_digits(args.digits)
    result = simulate(args.target, database=args.database, config_path=args.config, number=args.number,
                      caller=args.caller, at=at, digits=digits, answers=answers)
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


def simulate(target: str, *, database: str, config_path: str | None, number: str | None, caller: str,
             at: datetime, digits: list[str], answers: dict[str, str]) -> dict[str, Any]:
    from fsivr.config import Config
    from fsivr.testing.harness import running

    cfg = Config.load(config_path)
    is_file = Path(target).is_file()
    with tempfile.TemporaryDirectory(prefix="fsivr-simulate-") as tmp:
        scratch = None
        if not is_file:
            scratch = f"sqlite:///{os.path.join(tmp, 'fsivr.sqlite3')}"
            copy_store(database, scratch)
        # database_url=None: running() imports the file into a throw-away database of its own.
        with running(Path(target) if is_file else None, database_url=scratch, config=cfg) as harness:
            return _simulate_in(harness, target, is_file, cfg, number=number, caller=caller, at=at,
                                digits=digits, answers=answers)


def copy_store(source_url: str, target_url: str) -> None:
    """Copy every scenario and the directory from ``source_url`` (read only; its schema must be
    current) into a new database at ``target_url``."""
    from sqlalchemy.engine import make_url

    from fsivr.scenario.persist import copy_scenarios, stored_scenarios
    from fsivr.store.db import Store
    from fsivr.store.directory import load_directory, save_directory
    from fsivr.store.migrate import require_up_to_date

    url = make_url(source_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not url.database.startswith("file:") and not Path(url.database).is_file():
        # Opening it would create an empty database file where the operator expects theirs.
        raise ValueError(f"database {url.render_as_string(hide_password=True)} does not exist")
    source = Store(source_url)
    try:
        require_up_to_date(source.engine)
        with source.session() as session:
            docs, directory = stored_scenarios(session), load_directory(session)
    finally:
        source.close()
    target = Store(target_url)
    try:
        target.upgrade()
        with target.session() as session:
            save_directory(session, directory)
            copy_scenarios(session, docs)
    finally:
        target.close()


def _simulate_in(harness: Any, target: str, is_file: bool, cfg: Any, *, number: str | None, caller: str,
                 at: datetime, digits: list[str], answers: dict[str, str]) -> dict[str, Any]:
    from fsivr.scenario import repository
    from fsivr.scenario.bundle import load_file
    from fsivr.testing import CallScript, Target

    routes = harness.store.run(repository.number_routes)
    versions = harness.store.run(repository.scenario_versions)
    if is_file:
        docs = load_file(target).scenarios
        scenario_name = docs[0].spec.name if docs else ""
    else:
        scenario_name = target
    if scenario_name not in versions:
        where = f" in {target}" if is_file else " in the database"
        raise ValueError(f"no scenario named {scenario_name!r}{where}")
    if number is None:
        mine = sorted(n for n, (s, _) in routes.items() if s == scenario_name)
        number = mine[0] if mine else "simulated"
    if number not in routes:
        # A number the scenario does not own: run it as the default scenario.
        cfg.default_scenario = scenario_name
    placed = harness.call(CallScript(number=number, caller=caller, at=at, digits=digits,
                                     targets={t: Target(o) for t, o in answers.items()}, timeout=60.0))
    if placed.record is None:
        print("fsivr simulate: the server left no call record", file=sys.stderr)
        raise SystemExit(1)
    return {**placed.record, "caller": caller, "number": number}
