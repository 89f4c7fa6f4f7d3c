"""Scenario history from the stored versions: ``fsivr scenario history NAME`` lists them and
``fsivr scenario rollback NAME VERSION`` brings one back (as a new version, through the import
path, so it is validated against today's directory and recorded like any import)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fsivr.scenario.bundle import parse_text
from fsivr.scenario.persist import ImportResult, import_bundle
from fsivr.scenario.yamlio import dump_yaml
from fsivr.store.db import Store
from fsivr.store.models import ImportRow, ScenarioRow, ScenarioVersionRow


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: datetime
    #: Who imported it and from what (None: the version predates recorded imports).
    imported_by: str | None
    filename: str | None
    sha256: str | None
    current: bool


def scenario_history(session: Session, name: str) -> list[VersionInfo]:
    """Every stored version of scenario ``name``, oldest first. Raises LookupError if it has none."""
    current = session.scalars(select(ScenarioRow.version).where(ScenarioRow.name == name)).first()
    rows = session.execute(
        select(ScenarioVersionRow, ImportRow).outerjoin(ImportRow, ScenarioVersionRow.import_id == ImportRow.id)
        .where(ScenarioVersionRow.scenario == name).order_by(ScenarioVersionRow.version)).all()
    if not rows and current is None:
        raise LookupError(f"no scenario {name!r}")
    return [VersionInfo(v.version, v.created_at, i.imported_by if i else None, i.filename if i else None,
                        i.sha256 if i else None, v.version == current) for v, i in rows]


def rollback_scenario(store: Store, name: str, version: int, by: str = "") -> ImportResult:
    """Make stored ``version`` of ``name`` live again, as version current + 1 (unchanged when it is
    the live content already). Raises LookupError for an unknown version, BundleInvalid when it no
    longer fits the directory (a prompt it plays was removed...)."""
    def stored(session: Session) -> tuple[dict[str, object], str | None] | None:
        row = session.scalars(select(ScenarioVersionRow).where(
            ScenarioVersionRow.scenario == name, ScenarioVersionRow.version == version)).first()
        return None if row is None else (dict(row.document), row.source)

    found = store.run(stored)
    if found is None:
        raise LookupError(f"scenario {name!r} has no stored version {version} (see `fsivr scenario history {name}`)")
    document, source = found
    label = f"rollback of scenario {name} to version {version}"
    bundle = parse_text(source if source is not None else dump_yaml(document), label)
    bundle.sha256 = None
    return import_bundle(store, bundle, by=by, label=label)
