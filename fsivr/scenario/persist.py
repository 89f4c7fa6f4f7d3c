"""Scenarios as rows: import (all or nothing), load for the server, export back to YAML.

A node's YAML mapping is split by its type's declaration: parameters go to ``scenario_nodes.params``
as written, outcomes and menu keys become ``scenario_edges``. Loading rebuilds the same mapping,
so what the server compiles is exactly what was validated at import.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from fsivr.engine.scenario import ScenarioSpec, split_node
from fsivr.scenario.bundle import Bundle, BundleError, ScenarioDoc, parse_text
from fsivr.scenario.changes import (
    CHANGED,
    CREATED,
    UNCHANGED,
    ImportPlan,
    canonical,
    directory_changes,
    join_node,
    scenario_change,
)
from fsivr.scenario.secrets import protect
from fsivr.scenario.validate import BundleInvalid, Report, known_in_store, validate_bundle
from fsivr.scenario.yamlio import dump_yaml
from fsivr.store.db import Store
from fsivr.store.directory import load_directory, load_mailboxes, save_directory
from fsivr.store.models import (
    DirectoryOwnerRow,
    ImportRow,
    NumberRow,
    ScenarioEdgeRow,
    ScenarioNodeRow,
    ScenarioRow,
    ScenarioVersionRow,
)
from fsivr.store.secrets import SecretPolicy
from fsivr.store.types import utcnow


@dataclass
class ImportResult:
    #: Every imported scenario's version after the import (after a dry run: as it is now, 0 = new).
    versions: dict[str, int] = field(default_factory=dict)
    #: Scenarios created or changed (their version went up); the others were identical.
    changed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What the import changes (a dry run: would change), entry by entry.
    plan: ImportPlan = field(default_factory=lambda: ImportPlan(bundle=""))
    #: The import's record (None after a dry run).
    import_id: int | None = None


class ImportRefused(ValueError):
    """The import would change directory entries other bundles brought in; nothing was written."""

    def __init__(self, plan: ImportPlan, warnings: list[str]) -> None:
        self.plan = plan
        self.warnings = warnings
        super().__init__(plan.refusal())


def import_bundle(target: Store | Session, bundle: Bundle, *, force: bool = False, dry_run: bool = False,
                  by: str = "", label: str | None = None, prompts_dir: str | Path | None = None,
                  secrets: SecretPolicy | None = None) -> ImportResult:
    """Validate ``bundle`` against itself and the store, then write it, in one transaction.

    Raises BundleInvalid (and changes nothing) if anything is wrong, and ImportRefused when it would
    change directory entries another bundle brought in (unless ``force`` or the bundle declares
    ``owns_directory``). Scenarios whose content changed get version + 1 and a new history entry;
    identical ones keep their version, so servers do not recompile them. ``dry_run``: only the
    plan (and the refusal it would meet, as ``plan.conflicts``) — nothing is written. Every
    import is recorded: ``by`` (who), ``label`` (what was imported; default the file name), the
    file's hash. With ``prompts_dir``, file prompts must be playable files there. ``secrets`` (the
    configuration's ``secret_policy()``, which the commands pass): SIP passwords and mailbox PINs
    are stored hashed as it says (fsivr.scenario.secrets); None stores them as given (tests, tools).
    """
    def job(session: Session) -> ImportResult:
        return _import(session, bundle, force=force, dry_run=dry_run, by=by, label=label, prompts_dir=prompts_dir,
                       secrets=secrets)

    if isinstance(target, Store):
        return target.run(job)
    return job(target)


def plan_import(session: Session, bundle: Bundle, force: bool = False) -> ImportPlan:
    """Every scenario and directory entry of ``bundle`` against what the store holds."""
    stored = {spec.name: (spec, exits) for spec, exits in _load(session, _ids(session, bundle)).values()}
    plan = ImportPlan(bundle=bundle.owner)
    plan.changes += [scenario_change(doc.spec.name, (doc.spec, doc.exits), stored.get(doc.spec.name))
                     for doc in bundle.scenarios]
    owners = {(o.kind, o.name): o.bundle for o in session.scalars(select(DirectoryOwnerRow))}
    plan.changes += directory_changes(bundle.directory, load_directory(session), owners, bundle.owner,
                                      may_take_over=force or bundle.owns_directory)
    return plan


def _ids(session: Session, bundle: Bundle) -> list[int]:
    names = [doc.spec.name for doc in bundle.scenarios]
    return list(session.scalars(select(ScenarioRow.id).where(ScenarioRow.name.in_(names)))) if names else []


def _import(session: Session, bundle: Bundle, *, force: bool, dry_run: bool, by: str,
            label: str | None, prompts_dir: str | Path | None = None,
            secrets: SecretPolicy | None = None) -> ImportResult:
    report = validate_bundle(bundle, known_in_store(session), prompts_dir=prompts_dir)
    if not report.ok:
        raise BundleInvalid(report)
    if secrets is not None:
        directory, problems = protect(bundle.directory, load_mailboxes(session), secrets)
        if problems:
            raise BundleInvalid(Report(errors=problems, warnings=report.warnings))
        bundle = replace(bundle, directory=directory)
    plan = plan_import(session, bundle, force)
    if dry_run:
        versions = dict(session.execute(select(ScenarioRow.name, ScenarioRow.version)).all())
        return ImportResult(versions={doc.spec.name: versions.get(doc.spec.name, 0) for doc in bundle.scenarios},
                            changed=[c.name for c in plan.changes if c.kind == "scenario" and c.state != UNCHANGED],
                            warnings=report.warnings, plan=plan)
    if plan.conflicts:
        raise ImportRefused(plan, report.warnings)
    record = ImportRow(imported_by=by or "unknown", filename=label or bundle.filename or "(text)",
                       sha256=bundle.sha256, bundle=bundle.owner, forced=force, summary=plan.summary())
    session.add(record)
    save_directory(session, bundle.directory)
    session.flush()
    _claim(session, plan, record)
    result = ImportResult(warnings=report.warnings, plan=plan, import_id=record.id)
    names = [doc.spec.name for doc in bundle.scenarios]
    rows = {r.name: r for r in session.scalars(
        select(ScenarioRow).where(ScenarioRow.name.in_(names)).with_for_update())}
    current = _load(session, [r.id for r in rows.values()])
    all_numbers = [n for doc in bundle.scenarios for n in doc.spec.numbers]
    # Numbers of the bundle's scenarios are rewritten as a whole: a number moving from one scenario
    # of the bundle to another must not collide with itself on the way.
    if rows or all_numbers:
        session.execute(delete(NumberRow).where(or_(NumberRow.scenario_id.in_([r.id for r in rows.values()]),
                                                    NumberRow.number.in_(all_numbers))))
    for doc in bundle.scenarios:
        row = rows.get(doc.spec.name)
        old = current.get(row.id) if row is not None else None
        if row is not None and old is not None and canonical(*old) == canonical(doc.spec, doc.exits):
            if doc.source is not None:
                row.source = doc.source
        else:
            if row is not None and old is not None:
                _keep_history(session, row, *old)
            row = _write_scenario(session, row, doc)
            session.add(ScenarioVersionRow(scenario=row.name, version=row.version, import_id=record.id,
                                           document=scenario_document(doc.spec, doc.exits), source=doc.source))
            result.changed.append(doc.spec.name)
        if doc.spec.numbers:
            session.execute(insert(NumberRow), [{"number": n, "scenario_id": row.id,
                                                 "exit_destination": doc.exits.get(n)} for n in doc.spec.numbers])
        result.versions[doc.spec.name] = row.version
    session.flush()
    return result


def _claim(session: Session, plan: ImportPlan, record: ImportRow) -> None:
    """Record the bundle as the owner of the directory entries it created or changed, and of those
    nobody owned yet; entries of other bundles it left as they were stay theirs."""
    owned = {(o.kind, o.name): o for o in session.scalars(select(DirectoryOwnerRow))}
    for c in plan.changes:
        if c.kind == "scenario":
            continue
        row = owned.get((c.kind, c.name))
        if row is None:
            session.add(DirectoryOwnerRow(kind=c.kind, name=c.name, bundle=plan.bundle, import_id=record.id))
        elif c.state in (CREATED, CHANGED) and row.bundle != plan.bundle:
            row.bundle, row.import_id = plan.bundle, record.id


def _keep_history(session: Session, row: ScenarioRow, spec: ScenarioSpec, exits: Mapping[str, str]) -> None:
    """The version about to be replaced, if history does not have it yet (a scenario imported
    before history was kept)."""
    have = session.scalars(select(ScenarioVersionRow.id).where(
        ScenarioVersionRow.scenario == row.name, ScenarioVersionRow.version == row.version)).first()
    if have is None:
        session.add(ScenarioVersionRow(scenario=row.name, version=row.version, created_at=row.updated_at,
                                       document=scenario_document(spec, exits), source=row.source))


def _write_scenario(session: Session, row: ScenarioRow | None, doc: ScenarioDoc) -> ScenarioRow:
    spec = doc.spec
    if row is None:
        row = ScenarioRow(name=spec.name, version=1, start=spec.start)
        session.add(row)
    else:
        row.version += 1
        session.execute(delete(ScenarioEdgeRow).where(ScenarioEdgeRow.scenario_id == row.id))
        session.execute(delete(ScenarioNodeRow).where(ScenarioNodeRow.scenario_id == row.id))
    row.description, row.start, row.after_call = spec.description, spec.start, spec.after_call
    row.fallback = spec.fallback
    row.source = doc.source
    row.updated_at = utcnow()
    session.flush()
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for position, (node_id, raw) in enumerate(spec.nodes.items()):
        type_name, params, outcomes, options = split_node(raw).written()
        nodes.append({"scenario_id": row.id, "key": node_id, "type": type_name, "params": params,
                      "position": position})
        edges += [{"scenario_id": row.id, "from_node": node_id, "outcome": o, "to_node": t, "is_option": False}
                  for o, t in outcomes.items()]
        edges += [{"scenario_id": row.id, "from_node": node_id, "outcome": k, "to_node": t, "is_option": True}
                  for k, t in options.items()]
    session.execute(insert(ScenarioNodeRow), nodes)
    if edges:
        session.execute(insert(ScenarioEdgeRow), edges)
    return row


# --- loading ---------------------------------------------------------------------------------


def _load(session: Session, ids: list[int] | None = None) -> dict[int, tuple[ScenarioSpec, dict[str, str]]]:
    """Scenario id -> (spec, exits), in four queries whatever the number of scenarios."""
    def where(stmt: Any, column: Any) -> Any:
        return stmt if ids is None else stmt.where(column.in_(ids))

    if ids is not None and not ids:
        return {}
    specs: dict[int, tuple[ScenarioSpec, dict[str, str]]] = {}
    for r in session.scalars(where(select(ScenarioRow), ScenarioRow.id).order_by(ScenarioRow.name)):
        specs[r.id] = (ScenarioSpec(name=r.name, start=r.start, nodes={}, description=r.description,
                                    numbers=[], after_call=r.after_call, fallback=r.fallback), {})
    edges: dict[tuple[int, str], tuple[dict[str, str], dict[str, str]]] = {}
    edge_rows = where(select(ScenarioEdgeRow), ScenarioEdgeRow.scenario_id)
    for e in session.scalars(edge_rows.order_by(ScenarioEdgeRow.id)):
        outcomes, options = edges.setdefault((e.scenario_id, e.from_node), ({}, {}))
        (options if e.is_option else outcomes)[e.outcome] = e.to_node
    node_rows = where(select(ScenarioNodeRow), ScenarioNodeRow.scenario_id)
    for n in session.scalars(node_rows.order_by(ScenarioNodeRow.scenario_id, ScenarioNodeRow.position)):
        outcomes, options = edges.get((n.scenario_id, n.key), ({}, {}))
        specs[n.scenario_id][0].nodes[n.key] = join_node(n.type, n.params or {}, outcomes, options)
    for num in session.scalars(where(select(NumberRow), NumberRow.scenario_id).order_by(NumberRow.id)):
        spec, exits = specs[num.scenario_id]
        spec.numbers.append(num.number)
        if num.exit_destination is not None:
            exits[num.number] = num.exit_destination
    return specs


def load_scenarios(session: Session, names: Collection[str] | None = None) -> list[tuple[ScenarioSpec, int]]:
    """Every scenario (or those named) with its version, for the server to compile and cache."""
    query = select(ScenarioRow.id, ScenarioRow.version)
    if names is not None:
        query = query.where(ScenarioRow.name.in_(list(names)))
    versions = dict(session.execute(query).all())
    specs = _load(session, None if names is None else list(versions))
    return [(spec, versions[sid]) for sid, (spec, _) in specs.items()]


def load_scenario(session: Session, name: str) -> tuple[ScenarioSpec, int] | None:
    row = session.scalars(select(ScenarioRow).where(ScenarioRow.name == name)).one_or_none()
    if row is None:
        return None
    return _load(session, [row.id])[row.id][0], row.version


def stored_scenarios(session: Session) -> list[ScenarioDoc]:
    """Every stored scenario with its numbers' exit destinations."""
    return [ScenarioDoc(spec=spec, exits=exits) for spec, exits in _load(session).values()]


def copy_scenarios(session: Session, docs: list[ScenarioDoc]) -> None:
    """Write scenarios read from another database as they are, without validating them again
    (they were validated when imported there): ``fsivr simulate NAME``'s scratch copy runs exactly
    what production runs. The target must hold none of them yet."""
    for doc in docs:
        row = _write_scenario(session, None, doc)
        if doc.spec.numbers:
            session.execute(insert(NumberRow), [{"number": n, "scenario_id": row.id,
                                                 "exit_destination": doc.exits.get(n)} for n in doc.spec.numbers])
    session.flush()


# --- export ----------------------------------------------------------------------------------


def scenario_document(spec: ScenarioSpec, exits: Mapping[str, str]) -> dict[str, Any]:
    """The YAML mapping of one scenario (the shape of spec section 2)."""
    doc: dict[str, Any] = {"scenario": spec.name}
    if spec.description:
        doc["description"] = spec.description
    doc["numbers"] = [{"number": n, "exit_destination": exits[n]} if n in exits else n for n in spec.numbers]
    doc["start"] = spec.start
    if spec.after_call:
        doc["after_call"] = spec.after_call
    if spec.fallback:
        doc["fallback"] = spec.fallback
    doc["nodes"] = spec.nodes
    return doc


def export_scenario(session: Session, name: str) -> str:
    """The scenario as YAML that imports back to the same scenario. Raises LookupError if missing.

    The imported file itself is returned when it is still what the rows say (keeping its comments
    and layout); otherwise the YAML is generated from the rows.
    """
    row = session.scalars(select(ScenarioRow).where(ScenarioRow.name == name)).one_or_none()
    if row is None:
        raise LookupError(f"no scenario {name!r}")
    spec, exits = _load(session, [row.id])[row.id]
    if row.source is not None:
        try:
            stored = parse_text(row.source).scenarios
        except BundleError:
            stored = []
        if len(stored) == 1 and _same(stored[0], spec, exits):
            return row.source
    return dump_yaml(scenario_document(spec, exits))


def _same(doc: ScenarioDoc, spec: ScenarioSpec, exits: Mapping[str, str]) -> bool:
    try:
        return doc.spec.name == spec.name and canonical(doc.spec, doc.exits) == canonical(spec, exits)
    except (ValueError, KeyError):
        return False


__all__ = ["BundleInvalid", "ImportRefused", "ImportResult", "Report", "copy_scenarios", "export_scenario",
           "import_bundle", "join_node", "load_scenario", "load_scenarios", "plan_import", "scenario_document",
           "split_node", "stored_scenarios"]
