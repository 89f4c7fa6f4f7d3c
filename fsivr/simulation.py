"""One call through the real server against the built-in simulator: what ``fsivr simulate`` runs.

Real sockets and the real ``serve`` code: a server is started on an ephemeral loopback port, the
simulator connects to it as FreeSWITCH would, and the path returned is read back from the call
record the server wrote — so it is what production would have recorded.

Always in a throw-away SQLite database: a file is imported into it; a stored scenario is copied
into it from the configured database (every scenario, since goto may reach any, the whole
directory and the data tables the lookup node reads), which is only read — never migrated, and no
simulated call record lands in it.

This starts the server: a process calling it monkey-patches with gevent first (``fsivr simulate``
does).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from fsivr.callcenter.commands import plan
from fsivr.callcenter.state import CallcenterState, build_state
from fsivr.config import Config
from fsivr.scenario import repository
from fsivr.scenario.bundle import load_file
from fsivr.scenario.persist import copy_scenarios, stored_scenarios
from fsivr.store import overrides, tables
from fsivr.store.db import Store
from fsivr.store.directory import (
    Agent,
    load_accounts,
    load_agents,
    load_directory,
    load_gateways,
    load_queues,
    save_directory,
)
from fsivr.store.migrate import require_up_to_date
from fsivr.testing import CallScript, Retrieve, Target
from fsivr.testing.harness import Harness, running
from fsivr.testing.mods.callcenter import Queue as SimQueue


class NoCallRecord(RuntimeError):
    """The call ran but the server wrote no record of it: there is no path to show."""


def simulate(target: str, cfg: Config, *, number: str | None, caller: str, at: datetime,
             digits: list[str], answers: dict[str, str], pickup: float | None = None) -> dict[str, Any]:
    """Run one call to ``target`` (a scenario/bundle file, or the name of a scenario stored in
    ``cfg.database_url``) and return its call record with the caller and number dialled.

    ``cfg`` is the server's configuration for this run: it is changed (the scratch database, a
    loopback port, the default scenario when ``number`` belongs to none). ``pickup``: a phone
    picks the caller up that many seconds into a park (None: nobody comes, the lot's timeout runs).
    """
    is_file = Path(target).is_file()
    with tempfile.TemporaryDirectory(prefix="fsivr-simulate-") as tmp:
        # Simulated voicemails, recordings and faxes are files too: they go with the scratch
        # database, never into the real media directory.
        cfg.media_dir = os.path.join(tmp, "media")
        scratch = None
        if not is_file:
            scratch = f"sqlite:///{os.path.join(tmp, 'fsivr.sqlite3')}"
            copy_store(cfg.database_url, scratch)
        # database_url=None: running() imports the file into a throw-away database of its own.
        with running(Path(target) if is_file else None, database_url=scratch, config=cfg) as harness:
            return _simulate_in(harness, target, is_file, cfg, number=number, caller=caller, at=at,
                                digits=digits, answers=answers, pickup=pickup)


def copy_store(source_url: str, target_url: str) -> None:
    """Copy every scenario, the directory, the lookup node's data tables and the day/night
    switches' overrides from ``source_url`` (read only; its schema must be current) into a new
    database at ``target_url``: the simulated call meets what a real one would."""
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
            data = tables.dump(session)
            forced = overrides.load(session)
    finally:
        source.close()
    target = Store(target_url)
    try:
        target.upgrade()
        with target.session() as session:
            save_directory(session, directory)
            copy_scenarios(session, docs)
            tables.load(session, data)
            overrides.restore(session, forced.values())
    finally:
        target.close()


def _simulate_in(harness: Harness, target: str, is_file: bool, cfg: Config, *, number: str | None, caller: str,
                 at: datetime, digits: list[str], answers: dict[str, str], pickup: float | None = None,
                 ) -> dict[str, Any]:
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
    warnings: list[str] = []
    mine = sorted(n for n, (s, _) in routes.items() if s == scenario_name)
    if number is None:
        number = mine[0] if mine else "simulated"
    elif number in routes and routes[number][0] != scenario_name:
        # The call would run the other scenario: the path shown would not be the one asked for.
        raise ValueError(f"--number {number} belongs to scenario {routes[number][0]!r}, not {scenario_name!r}"
                         + (f" (its numbers: {', '.join(mine)})" if mine else ""))
    if number not in routes:
        # A number nobody owns: run it as the default scenario, as the server would with
        # default_scenario set - and say so, since production would not route it here.
        if mine:
            warnings.append(f"--number {number} is not a number of {scenario_name} (its numbers: "
                            f"{', '.join(mine)}); simulated as the default scenario")
        cfg.default_scenario = scenario_name
    targets = {t: Target(o) for t, o in answers.items()}
    # --answer for a queue agent says how it takes an offered call (it is not rung by a bridge)
    seated = seat_agents(harness, targets)
    placed = harness.call(CallScript(number=number, caller=caller, at=at, digits=digits,
                                     targets=targets, timeout=60.0,
                                     valet_retrieve=[Retrieve(after=pickup)] if pickup is not None else []))
    if placed.record is None:
        raise NoCallRecord("the server left no call record")
    rang = {leg.target for bridge in placed.result.bridges for leg in bridge.legs}
    for target in answers:
        if target not in rang and target not in seated:
            warnings.append(f"--answer {target}: this target was never rung"
                            + (f" (rung: {', '.join(sorted(rang))})" if rang else " (nobody was rung)"))
    if placed.result.unused_digits:
        warnings.append(f"--digits: {len(placed.result.unused_digits)} entr"
                        f"{'y was' if len(placed.result.unused_digits) == 1 else 'ies were'} never asked for: "
                        + ",".join(placed.result.unused_digits))
    return {**placed.record, "caller": caller, "number": number, "warnings": warnings}


def seat_agents(harness: Harness, targets: dict[str, Target]) -> set[str]:
    """The simulator's mod_callcenter as the live sync would leave it, with every agent the bundle
    lists logged in and available (spec §7): each queue as callcenter.conf.xml defines it, and the
    sync's own commands (fsivr.callcenter.commands.plan from nothing) applied to it. How an agent
    answers an offered call is ``--answer sip:<user>=...`` (an agent is named by its account user);
    an agent not named answers."""
    def wanted_state(session: Any) -> CallcenterState:
        queues, agents = load_queues(session), load_agents(session)
        # a queue's agent without an entry in the agents section: the account's SIP phone
        for q in queues.values():
            for tier in q.agents:
                agents.setdefault(tier.account, Agent(account=tier.account))
        agents = {user: replace(a, status="Available") for user, a in agents.items()}
        return build_state(queues.values(), agents.values(), load_accounts(session),
                           load_gateways(session).values())

    wanted = harness.store.run(wanted_state)
    sim = harness.simulator
    settings = set(SimQueue.__dataclass_fields__) - {"name", "calls_answered", "calls_abandoned"}
    for name, conf in wanted.queues.items():
        sim.callcenter.define_queue(name, **{k.replace("-", "_"): _value(v) for k, v in conf.params
                                             if k.replace("-", "_") in settings})
    for command in plan(CallcenterState(), wanted).commands:
        reply = sim.callcenter_config(command)
        if not reply.startswith("+OK"):
            raise RuntimeError(f"the simulated mod_callcenter refused {command!r}: {reply.strip()}")
    used = set()
    for name in wanted.agents:
        for key in (f"sip:{name}", name):
            if key in targets:
                sim.set_agent_behaviour(name, targets[key])
                used.add(key)
                break
    return used


def _value(text: str) -> object:
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.lstrip("-").isdigit() else text
