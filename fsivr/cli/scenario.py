"""``fsivr import`` and ``fsivr scenario ...``: scenarios between YAML files and the database."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fsivr.cli.output import err
from fsivr.cli.store import database_url, open_store, require_schema
from fsivr.config import load_config

if TYPE_CHECKING:
    from fsivr.engine.scenario import ScenarioSpec
    from fsivr.scenario.changes import ImportPlan
    from fsivr.scenario.validate import Known


def _import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path)
    p.add_argument("--dry-run", action="store_true", help="only print what would change; write nothing")
    p.add_argument("--force", action="store_true",
                   help="also change directory entries (accounts, prompts...) another bundle brought in")
    p.set_defaults(func=cmd_import)


def add_commands(sub: Any) -> None:
    _import_arguments(sub.add_parser("import", help="import a scenario or bundle YAML file (all or nothing)"))
    exp = sub.add_parser("export", help="write the whole PBX (--all) or one scenario as YAML")
    exp.add_argument("name", nargs="?", help="the scenario to export (or --all)")
    exp.add_argument("--all", dest="all_file", type=Path, metavar="FILE",
                     help="write one bundle with the directory and every scenario to FILE")
    exp.add_argument("--with-refs", action="store_true",
                     help="a bundle with the scenario, the scenarios it goes to and the directory entries they name")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    exp.set_defaults(func=cmd_export)

    sc = sub.add_parser("scenario", help="import, export, validate, list, show, graph, history, rollback scenarios")
    sc_sub = sc.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    _import_arguments(sc_sub.add_parser("import", help="same as `fsivr import`"))
    p = sc_sub.add_parser("export", help="write a stored scenario as YAML")
    p.add_argument("name")
    p.add_argument("--with-refs", action="store_true",
                   help="a bundle with the scenario, the scenarios it goes to and the directory entries they name")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export, all_file=None)
    p = sc_sub.add_parser("history", help="the stored versions of a scenario: when, who, from which file")
    p.add_argument("name")
    p.set_defaults(func=cmd_history)
    p = sc_sub.add_parser("rollback", help="make a stored version of a scenario live again (as a new version)")
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.set_defaults(func=cmd_rollback)
    p = sc_sub.add_parser("validate", help="check a scenario or bundle file against itself and the database")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_validate)
    sc_sub.add_parser("list", help="stored scenarios").set_defaults(func=cmd_list)
    p = sc_sub.add_parser("show", help="a stored scenario's nodes and where each outcome leads")
    p.add_argument("name")
    p.set_defaults(func=cmd_show)
    p = sc_sub.add_parser("graph", help="a stored scenario as a Graphviz graph")
    p.add_argument("name")
    p.add_argument("-o", "--output", type=Path, help="FILE.svg (rendered with Graphviz `dot`) or FILE.dot; "
                                                     "default: DOT text on standard output")
    p.set_defaults(func=cmd_graph)

    p = sc_sub.add_parser("reference", help="the node type reference (Markdown), from the node declarations")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_reference)


def cmd_import(args: argparse.Namespace) -> int:
    from fsivr.scenario.bundle import BundleError, load_file
    from fsivr.scenario.persist import ImportRefused, import_bundle
    from fsivr.scenario.validate import BundleInvalid

    try:
        bundle = load_file(args.file)
    except BundleError as exc:
        for problem in exc.problems:
            err(problem)
        return 1
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        try:
            cfg = load_config(args.config, args.database)
            result = import_bundle(store, bundle, force=args.force, dry_run=args.dry_run, by=getpass.getuser(),
                                   label=str(args.file), prompts_dir=cfg.prompts_dir,
                                   secrets=cfg.secret_policy())
        except BundleInvalid as exc:
            for line in exc.report.errors:
                err(line)
            err(f"{args.file}: nothing imported ({len(exc.report.errors)} error(s))")
            return 1
        except ImportRefused as exc:
            _print_warnings(exc.warnings)
            _print_plan(exc.plan)
            err(f"{args.file}: nothing imported: {exc.plan.refusal()}")
            return 1
    _print_warnings(result.warnings)
    _print_plan(result.plan, scenarios=args.dry_run)
    if args.dry_run:
        if result.plan.conflicts:
            print(f"dry run: nothing written; the import would be {result.plan.refusal()}")
        else:
            print("dry run: nothing written")
        return 0
    d = bundle.directory
    counts = [f"{len(v)} {k}" for k, v in (("accounts", d.accounts), ("groups", d.groups), ("queues", d.queues),
                                          ("agents", d.agents), ("mailboxes", d.mailboxes), ("prompts", d.prompts),
                                          ("contacts", d.contacts), ("gateways", d.gateways)) if v]
    if counts:
        print("directory: " + ", ".join(counts))
    details = {c.name: c.fields for c in result.plan.changes if c.kind == "scenario"}
    for name, version in result.versions.items():
        state = "updated" if name in result.changed and version > 1 else \
            "created" if name in result.changed else "unchanged"
        what = "; ".join((state, *details.get(name, ())))
        print(f"scenario {name}: version {version} ({what})")
    return 0


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _print_plan(plan: ImportPlan, scenarios: bool = True) -> None:
    """Each created or changed entry on its own line (scenarios always, unless ``scenarios`` is
    false: an import that wrote prints them with their versions), unchanged ones counted."""
    unchanged: dict[str, int] = {}
    for change in plan.changes:
        if change.kind == "scenario" and not scenarios:
            continue
        if change.state == "unchanged" and change.kind != "scenario":
            unchanged[change.kind] = unchanged.get(change.kind, 0) + 1
        else:
            print(change.line())
    if unchanged:
        print("unchanged: " + ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in unchanged.items()))


def cmd_validate(args: argparse.Namespace) -> int:
    from fsivr.scenario.bundle import BundleError, load_file
    from fsivr.scenario.secrets import protect
    from fsivr.scenario.validate import validate_bundle

    try:
        bundle = load_file(args.file)
    except BundleError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    known, note = _known(args)
    cfg = load_config(args.config, args.database)
    report = validate_bundle(bundle, known, prompts_dir=cfg.prompts_dir, default_exit=cfg.default_exit_destination)
    if report.ok:
        # What the import would refuse for this configuration (a password with no realm to hash it for).
        report.errors += protect(bundle.directory, {}, cfg.secret_policy())[1]
    for e in report.errors:
        print(f"error: {e}")
    for w in report.warnings:
        print(f"warning: {w}")
    if note:
        print(f"note: {note}")
    if report.errors:
        print(f"{args.file}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
        return 1
    print(f"{args.file}: valid ({len(bundle.scenarios)} scenario(s), {len(report.warnings)} warning(s))")
    return 0


def _known(args: argparse.Namespace) -> tuple[Known, str | None]:
    """What the database has, for references; a file is still checked alone when there is none."""
    from sqlalchemy.exc import SQLAlchemyError

    from fsivr.scenario.validate import Known, known_in_store
    from fsivr.store import migrate

    url = database_url(args)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return Known(), "no database yet: references were checked against the file alone"
    try:
        with open_store(args) as store:
            if not migrate.is_up_to_date(store.engine):
                return Known(), "database schema not up to date: references were checked against the file alone"
            with store.session() as session:
                return known_in_store(session), None
    except SQLAlchemyError as exc:
        return Known(), f"database unreachable ({exc.__class__.__name__}): references checked against the file alone"


def cmd_export(args: argparse.Namespace) -> int:
    if (args.all_file is None) == (args.name is None):
        err("export: name one scenario, or --all FILE for the whole PBX")
        return 2
    from fsivr.scenario.export import export_all, export_one

    realm = load_config(args.config, args.database).secret_policy().realm
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        try:
            with store.session() as session:
                exported = export_all(session, realm) if args.all_file else \
                    export_one(session, args.name, with_refs=args.with_refs, realm=realm)
        except LookupError as exc:
            err(str(exc.args[0]))
            return 1
    output = args.all_file or args.output
    for note in (exported.comments_lost, *exported.notes):
        if note:
            print(f"note: {note}", file=sys.stderr)
    if output:
        output.write_text(exported.text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(exported.text)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from fsivr.scenario.history import scenario_history

    with open_store(args) as store:
        if not require_schema(store):
            return 1
        try:
            with store.session() as session:
                versions = scenario_history(session, args.name)
        except LookupError as exc:
            err(str(exc.args[0]))
            return 1
    if not versions:
        print(f"scenario {args.name}: no stored versions (imported before fsivr kept history)")
        return 0
    table = [("VERSION", "", "CREATED", "BY", "FROM", "SHA256")]
    for v in versions:
        table.append((str(v.version), "live" if v.current else "", v.created_at.strftime("%Y-%m-%d %H:%M:%S %Z"),
                      v.imported_by or "-", v.filename or "(before recorded imports)", (v.sha256 or "-")[:12]))
    _print_table(table)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from fsivr.scenario.history import rollback_scenario
    from fsivr.scenario.validate import BundleInvalid

    with open_store(args) as store:
        if not require_schema(store):
            return 1
        try:
            result = rollback_scenario(store, args.name, args.version, by=getpass.getuser())
        except LookupError as exc:
            err(str(exc.args[0]))
            return 1
        except BundleInvalid as exc:
            for line in exc.report.errors:
                err(line)
            err(f"version {args.version} of {args.name} no longer fits the database: nothing changed")
            return 1
    _print_warnings(result.warnings)
    version = result.versions[args.name]
    if args.name in result.changed:
        print(f"scenario {args.name}: version {version} (the content of version {args.version})")
    else:
        print(f"scenario {args.name}: version {version} (unchanged: it already is version {args.version}'s content)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from fsivr.scenario.repository import scenario_summaries

    with open_store(args) as store:
        if not require_schema(store):
            return 1
        with store.session() as session:
            scenarios = scenario_summaries(session)
    if not scenarios:
        print("no scenarios (import one with `fsivr import FILE`)")
        return 0
    table = [("NAME", "VERSION", "NODES", "NUMBERS", "UPDATED", "DESCRIPTION")]
    for s in scenarios:
        table.append((s.name, str(s.version), str(s.nodes), " ".join(s.numbers) or "-",
                      s.updated_at.strftime("%Y-%m-%d %H:%M"), s.description.splitlines()[0] if s.description else ""))
    _print_table(table)
    return 0


def _stored_scenario(args: argparse.Namespace) -> tuple[ScenarioSpec, int] | None:
    """The named scenario from the store, or None after saying why not."""
    from fsivr.scenario.persist import load_scenario

    with open_store(args) as store:
        if not require_schema(store):
            return None
        with store.session() as session:
            found = load_scenario(session, args.name)
    if found is None:
        err(f"no scenario {args.name!r}")
    return found


def cmd_show(args: argparse.Namespace) -> int:
    from fsivr.scenario.persist import split_node

    found = _stored_scenario(args)
    if found is None:
        return 1
    spec, version = found
    print(f"scenario {spec.name} (version {version})")
    if spec.description:
        print(f"  {spec.description}")
    print(f"numbers: {', '.join(spec.numbers) or '-'}")
    print(f"start: {spec.start}" + (f"    after_call: {spec.after_call}" if spec.after_call else "")
          + (f"    fallback: {spec.fallback}" if spec.fallback else ""))
    for node_id, raw in spec.nodes.items():
        type_name, params, outcomes, options = split_node(raw).written()
        print(f"\n{node_id}  [{type_name}]")
        for name, value in params.items():
            print(f"    {name} = {value!r}")
        for key, target in options.items():
            print(f"    key {key} -> {target}")
        for outcome, target in outcomes.items():
            print(f"    {outcome} -> {target}")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from fsivr.scenario.graph import scenario_dot, write_graph
    from fsivr.scenario.persist import load_scenario, split_node
    from fsivr.store.directory import load_prompts

    with open_store(args) as store:
        if not require_schema(store):
            return 1
        with store.session() as session:
            found = load_scenario(session, args.name)
            if found is None:
                err(f"no scenario {args.name!r}")
                return 1
            spec = found[0]
            # Where each goto leads: the other scenario's start node (None: it has no start yet).
            starts: dict[str, str | None] = {}
            for raw in spec.nodes.values():
                type_name, params, _, _ = split_node(raw).written()
                target = params.get("scenario")
                if type_name == "goto" and isinstance(target, str) and target not in starts:
                    other = load_scenario(session, target)
                    if other is not None:
                        starts[target] = other[0].start
            prompts = {name: p.text for name, p in load_prompts(session).items()}
    dot_text = scenario_dot(spec, starts=starts, prompts=prompts)
    if args.output is None:
        sys.stdout.write(dot_text)
        return 0
    written, why = write_graph(dot_text, args.output)
    if why:
        print(why, file=sys.stderr)
    else:
        print(f"wrote {written}", file=sys.stderr)
    return 0


def cmd_reference(args: argparse.Namespace) -> int:
    from fsivr.scenario.docs import node_reference_markdown

    text = node_reference_markdown()
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text, end="")
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
