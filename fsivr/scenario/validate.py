"""Validation of a bundle against itself and the store: nodes compile, and every name they or the
directory refer to exists.

``compile_scenario`` checks each scenario on its own (types, parameters, edges, loops); this adds
what needs the world around it: prompts, accounts, groups... named by nodes
(``Node.refs``), members and owners named by directory entries, numbers claimed by two scenarios.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fsivr.engine.node import Param, Ref, ScenarioError
from fsivr.engine.registry import node_type
from fsivr.engine.scenario import CompiledScenario, ScenarioSpec, ValidationFailed, compile_scenario
from fsivr.ringing import parse_target
from fsivr.scenario.bundle import Bundle, DocPath, ScenarioDoc
from fsivr.speech.audio import BadAudio, check_playable
from fsivr.store.directory import departments, directory_names
from fsivr.store.models import AccountRow, ScenarioNodeRow, ScenarioRow
from fsivr.store.names import exit_extension
from fsivr.store.routing import number_routes


@dataclass
class Known:
    """What already exists in the store, for checking references from a bundle."""

    #: Reference kind (account, extension, group, queue, mailbox, prompt, gateway, scenario, switch) -> names.
    names: dict[str, set[str]] = field(default_factory=dict)
    #: Number -> the scenario it belongs to.
    routes: dict[str, str] = field(default_factory=dict)
    #: Extension -> account user holding it.
    extensions: dict[str, str] = field(default_factory=dict)
    #: Department id -> ("queue" | "group", name) holding it.
    departments: dict[str, tuple[str, str]] = field(default_factory=dict)


def known_in_store(session: Session) -> Known:
    names = directory_names(session)
    names["scenario"] = set(session.scalars(select(ScenarioRow.name)))
    # Day/night switches: the names time conditions answer to (time_override's `switch`).
    names["switch"] = {p["override"] for p in session.scalars(
        select(ScenarioNodeRow.params).where(ScenarioNodeRow.type == "time_condition"))
        if isinstance(p, dict) and isinstance(p.get("override"), str)}
    extensions = {ext: user for user, ext in session.execute(select(AccountRow.user, AccountRow.extension))
                  if ext is not None}
    return Known(names=names, routes={n: s for n, (s, _) in number_routes(session).items()}, extensions=extensions,
                 departments=departments(session))


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    compiled: dict[str, CompiledScenario] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class BundleInvalid(ValueError):
    """Validation failed; nothing was imported. ``report`` lists every error and warning."""

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(f"{len(report.errors)} error(s):\n" + "\n".join(f"  {e}" for e in report.errors))


_TARGET_KINDS = {"sip": ("account",), "ext": ("extension",), "group": ("group",),
                 "bare": ("account", "extension", "group")}


def check_target(target: str, names: dict[str, set[str]]) -> str | None:
    """Why a dial target is wrong or names nothing that exists, or None if it is fine.

    The syntax is the ringing nodes' own (``fsivr.ringing.parse_target``): ``sip:USER``,
    ``ext:NNN``, ``group:NAME``, ``+48...`` / ``tel:NUMBER``, ``gateway:NAME/NUMBER``, or a bare
    account user, extension or group name.
    """
    try:
        t = parse_target(target)
    except ValueError as exc:
        return str(exc)
    if t.kind == "number":
        if t.gateway is not None and t.gateway not in names.get("gateway", set()):
            return f"gateway {t.gateway!r} does not exist"
        return None
    kinds = _TARGET_KINDS.get(t.kind, ())
    if any(t.value in names.get(k, set()) for k in kinds):
        return None
    if t.kind == "bare":
        return f"target {target!r} is no account, extension, group or external number"
    return f"{kinds[0]} {t.value!r} does not exist"


def validate_bundle(bundle: Bundle, known: Known | None = None, *, prompts_dir: str | Path | None = None,
                    default_exit: str | None = None) -> Report:
    """Check everything in ``bundle``; ``known`` is what the store already has (None: nothing).
    With ``prompts_dir``, every file prompt must be a file there that FreeSWITCH can play.

    ``default_exit``: the configured ``default_exit_destination`` ("" = none; None = not checked):
    numbers with no exit destination of their own then get a warning."""
    known = known or Known()
    report = Report()
    names = _names(bundle, known)
    _check_directory(bundle, known, names, report)
    if prompts_dir is not None:
        _check_prompt_files(bundle, Path(prompts_dir), report)
    _check_numbers(bundle, known, report)
    if default_exit == "":
        _check_exits(bundle, report)
    seen = Counter(doc.spec.name for doc in bundle.scenarios)
    for doc in bundle.scenarios:
        if seen[doc.spec.name] > 1:
            report.errors.append(f"{bundle.where((*doc.path, 'scenario'))}: scenario {doc.spec.name!r} "
                                 "appears more than once")
        _check_scenario(bundle, doc, names, report)
    return report


def _check_prompt_files(bundle: Bundle, prompts_dir: Path, report: Report) -> None:
    # A missing or unreadable file passes FreeSWITCH's playback as FILE NOT FOUND (or, on a real
    # switch, 62 ms of nothing): say so at import, where it can still be fixed.
    root = prompts_dir.resolve()
    for i, p in enumerate(bundle.directory.prompts):
        if not p.file:
            continue
        path = (root / p.file).resolve()
        if root not in path.parents:
            report.errors.append(f"{bundle.where(('prompts', i, 'file'))}: prompt {p.name!r}: "
                                 f"{p.file!r} is outside the prompts directory")
            continue
        try:
            check_playable(path)
        except BadAudio as exc:
            report.errors.append(f"{bundle.where(('prompts', i, 'file'))}: prompt {p.name!r}: {exc}")


def _names(bundle: Bundle, known: Known) -> dict[str, set[str]]:
    d = bundle.directory
    names = {kind: set(v) for kind, v in known.names.items()}
    for kind, values in (
        ("account", (a.user for a in d.accounts)),
        ("extension", (a.extension for a in d.accounts if a.extension)),
        ("group", (g.name for g in d.groups)), ("queue", (q.name for q in d.queues)),
        ("mailbox", (m.box for m in d.mailboxes)), ("prompt", (p.name for p in d.prompts)),
        ("gateway", (g.name for g in d.gateways)), ("scenario", (s.spec.name for s in bundle.scenarios)),
    ):
        names.setdefault(kind, set()).update(values)
    names.setdefault("switch", set()).update(
        raw["override"] for doc in bundle.scenarios for raw in doc.spec.nodes.values()
        if isinstance(raw, dict) and raw.get("type") == "time_condition" and isinstance(raw.get("override"), str))
    # Extensions given up by accounts the bundle updates no longer exist.
    bundle_users = {a.user for a in d.accounts}
    names["extension"] -= {e for e, user in known.extensions.items() if user in bundle_users}
    names["extension"] |= {a.extension for a in d.accounts if a.extension}
    return names


def _check_directory(bundle: Bundle, known: Known, names: dict[str, set[str]], report: Report) -> None:
    d = bundle.directory
    err = report.errors.append

    def dupes(section: str, keys: Iterable[str | None], what: str) -> None:
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key is None:
                continue
            if key in seen:
                err(f"{bundle.where((section, i))}: {section}[{i}]: {what} {key!r} appears more than once")
            seen.add(key)

    dupes("accounts", (a.user for a in d.accounts), "user")
    dupes("accounts", (a.extension for a in d.accounts), "extension")
    dupes("groups", (g.name for g in d.groups), "group")
    dupes("queues", (q.name for q in d.queues), "queue")
    dupes("mailboxes", (m.box for m in d.mailboxes), "mailbox")
    dupes("prompts", (p.name for p in d.prompts), "prompt")
    dupes("gateways", (g.name for g in d.gateways), "gateway")
    # Contacts expand `numbers:` into several entries, so their indexes are not the file's.
    seen_numbers: set[str] = set()
    for c in d.contacts:
        if c.number in seen_numbers:
            where = bundle.where(bundle.origin(c, ("contacts",)))
            err(f"{where}: contacts: number {c.number!r} appears more than once")
        seen_numbers.add(c.number)

    _check_departments(bundle, known, report)
    bundle_users = {a.user for a in d.accounts}
    for i, a in enumerate(d.accounts):
        path: DocPath = ("accounts", i)
        holder = known.extensions.get(a.extension) if a.extension else None
        if holder is not None and holder != a.user and holder not in bundle_users:
            err(f"{bundle.where((*path, 'extension'))}: accounts[{i}].extension: {a.extension!r} already "
                f"belongs to account {holder!r}")
        if a.mailbox and a.mailbox not in names["mailbox"]:
            err(f"{bundle.where((*path, 'mailbox'))}: accounts[{i}].mailbox: mailbox {a.mailbox!r} does not exist")
    for i, g in enumerate(d.groups):
        for j, m in enumerate(g.members):
            path = ("groups", i, "members", j)
            if m.account not in names["account"]:
                err(f"{bundle.where(path)}: group {g.name}: member account {m.account!r} does not exist")
        for user, n in Counter(m.account for m in g.members).items():
            if n > 1:
                err(f"{bundle.where(('groups', i, 'members'))}: group {g.name}: account {user!r} is a member twice")
    for i, q in enumerate(d.queues):
        for j, a in enumerate(q.agents):
            if a.account not in names["account"]:
                err(f"{bundle.where(('queues', i, 'agents', j))}: queue {q.name}: agent account {a.account!r} "
                    "does not exist")
        for user, n in Counter(a.account for a in q.agents).items():
            if n > 1:
                err(f"{bundle.where(('queues', i, 'agents'))}: queue {q.name}: account {user!r} is an agent twice")
    dupes("agents", (a.account for a in d.agents), "agent account")
    mobiles = {a.user: a.mobile for a in d.accounts}
    for i, ag in enumerate(d.agents):
        path = ("agents", i)
        if ag.account not in names["account"]:
            err(f"{bundle.where((*path, 'account'))}: agents[{i}]: account {ag.account!r} does not exist")
        elif ag.contact == "mobile" and ag.account in mobiles and not mobiles[ag.account]:
            # A remote agent is rung on the account's mobile; without one mod_callcenter would dial nothing.
            err(f"{bundle.where((*path, 'contact'))}: agents[{i}]: account {ag.account!r} has no mobile "
                "number to ring a remote agent on")
        if ag.gateway and ag.gateway not in names["gateway"]:
            err(f"{bundle.where((*path, 'gateway'))}: agents[{i}]: gateway {ag.gateway!r} does not exist")
    for c in d.contacts:
        for role, user in (("owner", c.owner), ("backup_owner", c.backup_owner)):
            if user and user not in names["account"]:
                where = bundle.where((*bundle.origin(c, ("contacts",)), role))
                err(f"{where}: contact {c.number}: {role} account {user!r} does not exist")


def _check_departments(bundle: Bundle, known: Known, report: Report) -> None:
    """A department id names one queue or one group: unique across both sections, and against what
    the store has (an entry the bundle does not update keeps its id)."""
    d = bundle.directory
    entries: list[tuple[str, str, str | None, DocPath]] = [
        *(("group", g.name, g.department, ("groups", i, "department")) for i, g in enumerate(d.groups)),
        *(("queue", q.name, q.department, ("queues", i, "department")) for i, q in enumerate(d.queues))]
    in_bundle = {(kind, name) for kind, name, _, _ in entries}
    held: dict[str, tuple[str, str]] = {dep: owner for dep, owner in known.departments.items()
                                         if owner not in in_bundle}
    for kind, name, dep, path in entries:
        if dep is None:
            continue
        holder = held.get(dep)
        if holder is not None:
            where = bundle.where(path)
            report.errors.append(f"{where}: {kind} {name}: department {dep!r} already belongs to "
                                 f"{holder[0]} {holder[1]!r}")
            continue
        held[dep] = (kind, name)


def _check_numbers(bundle: Bundle, known: Known, report: Report) -> None:
    in_bundle = {doc.spec.name for doc in bundle.scenarios}
    owner: dict[str, str] = {}
    for doc in bundle.scenarios:
        for i, number in enumerate(doc.spec.numbers):
            where = bundle.where((*doc.path, "numbers", i))
            if number in owner and owner[number] != doc.spec.name:
                report.errors.append(f"{where}: {doc.spec.name}.numbers: {number!r} is also a number of scenario "
                                     f"{owner[number]!r}; a number runs one scenario")
                continue
            owner[number] = doc.spec.name
            current = known.routes.get(number)
            if current is not None and current != doc.spec.name and current not in in_bundle:
                report.errors.append(f"{where}: {doc.spec.name}.numbers: {number!r} already runs scenario "
                                     f"{current!r}; remove it there first")
    # Transferring to one of our own numbers would run `socket` again for the same channel: a
    # second session with the same uuid (docs/freeswitch-notes.md §1: never transfer into an
    # extension that runs socket again; a goto node does that inside the engine).
    ours = set(owner) | set(known.routes)
    for doc in bundle.scenarios:
        for i, number in enumerate(doc.spec.numbers):
            exit_to = doc.exits.get(number)
            if exit_to is not None and exit_extension(exit_to) in ours:
                where = bundle.where((*doc.path, "numbers", i))
                report.errors.append(f"{where}: {doc.spec.name}.numbers: exit_destination {exit_to!r} is a number "
                                     "routed to fsivr itself; use a goto node to run another scenario")


def _check_exits(bundle: Bundle, report: Report) -> None:
    """Numbers whose calls have nowhere to go when fsivr is down (the dialplan has nothing after
    `socket`) or when an `exit` node releases them."""
    for doc in bundle.scenarios:
        exits = [str(node_id) for node_id, raw in doc.spec.nodes.items()
                 if isinstance(raw, Mapping) and raw.get("type") == "exit"]
        for i, number in enumerate(doc.spec.numbers):
            if number in doc.exits:
                continue
            also = f"; exit node {', '.join(exits)} hangs them up" if exits else ""
            report.warnings.append(
                f"{bundle.where((*doc.path, 'numbers', i))}: {doc.spec.name}.numbers: {number!r} has no "
                f"exit_destination and no default_exit_destination is configured: its calls are dropped "
                f"when fsivr is down{also}")


def _check_scenario(bundle: Bundle, doc: ScenarioDoc, names: dict[str, set[str]], report: Report) -> None:
    spec = doc.spec
    compiled: CompiledScenario | None = None
    try:
        compiled = compile_scenario(spec)
    except ValidationFailed as exc:
        report.errors.extend(_located(bundle, doc, e) for e in exc.errors)
        report.warnings.extend(_prefixed(bundle, doc, w) for w in exc.warnings)
        # Still report missing prompts, groups... so the user sees every error in one run; without
        # compiled nodes, only what the parameters declare (``ref=``) can be checked.
        refs = _declared_refs(spec)
    else:
        report.warnings.extend(_prefixed(bundle, doc, w) for w in compiled.warnings)
        refs = _refs(compiled)
    errors_before = len(report.errors)
    for node_id, ref in refs:
        if ref.kind == "target":
            problem = check_target(ref.name, names)
        elif ref.name in names.get(ref.kind, set()):
            problem = None
        else:
            problem = f"{ref.kind} {ref.name!r} does not exist"
        if problem:
            report.errors.append(_located(bundle, doc, ScenarioError(problem, scenario=spec.name, node=node_id,
                                                                    field=ref.field)))
    if compiled is not None and len(report.errors) == errors_before:
        report.compiled[spec.name] = compiled


def scenario_refs(spec: ScenarioSpec) -> list[tuple[str, Ref]]:
    """(node id, Ref) for everything ``spec`` names: what its nodes collected when compiled, or what
    their parameters declare when it does not compile."""
    try:
        return _refs(compile_scenario(spec))
    except ValidationFailed:
        return _declared_refs(spec)


def _param_refs(params: Mapping[str, Param], values: Mapping[str, Any], known: list[Ref]) -> list[Ref]:
    """``known`` plus a Ref for every string value of a parameter declared with ``ref=``."""
    refs = list(known)
    seen = {(r.kind, r.name) for r in refs}
    for name, param in params.items():
        value = values.get(name)
        if not param.ref or value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and ("{{" in item or "{%" in item):
                continue  # a template (dial '{{ agent }}'): what it names is known only on the call
            if isinstance(item, str) and (param.ref, item) not in seen:
                seen.add((param.ref, item))
                refs.append(Ref(param.ref, item, name))
    return refs


def _refs(compiled: CompiledScenario) -> list[tuple[str, Ref]]:
    """What each node refers to: what its compile() collected, plus every parameter declared with
    ``ref=`` (so a node type cannot forget to report one)."""
    return [(node_id, ref) for node_id, node in compiled.nodes.items()
            for ref in _param_refs(type(node).params, node.p, node.refs)]


def _declared_refs(spec: ScenarioSpec) -> list[tuple[str, Ref]]:
    out: list[tuple[str, Ref]] = []
    for node_id, raw in spec.nodes.items():
        cls = node_type(raw.get("type")) if isinstance(raw, Mapping) and isinstance(raw.get("type"), str) else None
        if cls is not None:
            out += [(str(node_id), ref) for ref in _param_refs(cls.params, raw, [])]
    return out


def _located(bundle: Bundle, doc: ScenarioDoc, e: ScenarioError) -> str:
    fields = tuple(e.field.split(".")) if e.field else ()
    path = (*doc.path, "nodes", e.node, *fields) if e.node else (*doc.path, *fields)
    return f"{bundle.where(path)}: {e}"


def _prefixed(bundle: Bundle, doc: ScenarioDoc, warning: str) -> str:
    # Compile warnings are text ("name.nodes.id: ..."); recover the node for the line number.
    m = re.match(rf"^{re.escape(doc.spec.name)}\.nodes\.([^:]+):", warning)
    path = (*doc.path, "nodes", m.group(1)) if m else doc.path
    return f"{bundle.where(path)}: {warning}"
