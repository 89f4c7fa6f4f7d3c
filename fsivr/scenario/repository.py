"""What the server, the simulator and the commands read and write, in one place: each function takes a Session
and is meant to be called through ``Store.run`` (``store.run(repository.scenario_versions)``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fsivr.scenario.bundle import load_file
from fsivr.scenario.persist import import_bundle, load_scenario, load_scenarios
from fsivr.store.callrecords import get_call, recent_calls
from fsivr.store.db import Store
from fsivr.store.directory import (
    load_accounts,
    load_contacts,
    load_directory,
    load_gateways,
    load_groups,
    load_mailboxes,
    load_prompts,
    load_queues,
)
from fsivr.store.models import NumberRow, ScenarioNodeRow, ScenarioRow
from fsivr.store.routing import number_routes, scenario_versions


def import_file(store: Store, path: str | Path, *, force: bool = False,
                prompts_dir: str | Path | None = None) -> list[str]:
    """Import a scenario or bundle file (all or nothing); return the scenario names it holds.

    Raises fsivr.scenario.bundle.BundleError (unreadable file),
    fsivr.scenario.validate.BundleInvalid (invalid content) with every problem listed, or
    fsivr.scenario.persist.ImportRefused (it would change directory entries of another bundle and
    ``force`` is false).
    """
    bundle = load_file(path)
    import_bundle(store, bundle, force=force, by="fsivr", label=str(path), prompts_dir=prompts_dir)
    return [doc.spec.name for doc in bundle.scenarios]


def call_path(session: Session, uuid: str) -> dict[str, Any] | None:
    """One call's record as plain data: who, which scenario, the path taken, how it ended."""
    record = get_call(session, uuid)
    if record is None:
        return None
    return {
        "uuid": record.uuid, "caller": record.caller, "number": record.number, "scenario": record.scenario,
        "path": [{"node": s.node, "type": s.node_type, "outcome": s.outcome, "detail": s.detail}
                 for s in record.steps],
        "hangup_cause": record.hangup_cause, "hangup_by": record.hangup_by, "status": record.status,
        "session": record.session, "fault": record.fault,
    }


@dataclass(frozen=True)
class ScenarioSummary:
    """One stored scenario as ``fsivr scenario list`` shows it."""

    name: str
    version: int
    nodes: int
    numbers: list[str]
    updated_at: datetime
    description: str


def scenario_summaries(session: Session) -> list[ScenarioSummary]:
    """Every stored scenario by name, with its numbers (sorted) and how many nodes it has."""
    numbers: dict[int, list[str]] = {}
    for n in session.scalars(select(NumberRow).order_by(NumberRow.number)):
        numbers.setdefault(n.scenario_id, []).append(n.number)
    node_counts = {sid: count for sid, count in session.execute(
        select(ScenarioNodeRow.scenario_id, func.count()).group_by(ScenarioNodeRow.scenario_id))}
    return [ScenarioSummary(r.name, r.version, node_counts.get(r.id, 0), numbers.get(r.id, []), r.updated_at,
                            r.description)
            for r in session.scalars(select(ScenarioRow).order_by(ScenarioRow.name))]


__all__ = ["ScenarioSummary", "call_path", "get_call", "import_file", "load_accounts", "load_contacts",
           "load_directory", "load_gateways", "load_groups", "load_mailboxes", "load_prompts", "load_queues",
           "load_scenario", "load_scenarios", "number_routes", "recent_calls", "scenario_summaries",
           "scenario_versions"]
