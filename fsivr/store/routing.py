"""The cheap queries a running server polls: which scenario versions exist, which number runs what."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fsivr.store.models import NumberRow, ScenarioRow


def scenario_versions(session: Session) -> dict[str, int]:
    """Scenario name -> version, in one query; a changed version means: recompile that scenario."""
    return dict(session.execute(select(ScenarioRow.name, ScenarioRow.version)).all())


def number_routes(session: Session) -> dict[str, tuple[str, str | None]]:
    """Dialled number -> (scenario name, exit destination)."""
    rows = session.execute(select(NumberRow.number, ScenarioRow.name, NumberRow.exit_destination)
                           .join(ScenarioRow, NumberRow.scenario_id == ScenarioRow.id))
    return {number: (scenario, exit_to) for number, scenario, exit_to in rows}
