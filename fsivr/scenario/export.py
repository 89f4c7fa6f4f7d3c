"""Writing the database back out as YAML bundles: the whole PBX (``fsivr export --all``), one
scenario with everything it names (``fsivr scenario export NAME --with-refs``), or one scenario as
it was imported (comments and all) when it has not changed since.

A written bundle imports into an empty database as the same PBX: the directory sections are the
``fsivr.store.directory`` dataclasses field by field (their fields are the YAML keys the bundle
parser reads), the scenarios are ``scenario_document``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fsivr.engine.pins import PIN_TEXT, hash_pin
from fsivr.ringing import parse_target
from fsivr.scenario.changes import KINDS
from fsivr.scenario.persist import export_scenario, scenario_document, stored_scenarios
from fsivr.scenario.validate import scenario_refs
from fsivr.scenario.yamlio import dump_yaml
from fsivr.store.directory import Directory, load_directory
from fsivr.store.models import DataTableRow, ScenarioRow
from fsivr.store.secrets import is_hashed_pin, make_a1
from fsivr.store.types import utcnow

#: Section order in a written bundle: what is referred to before what refers to it.
_ORDER = ("mailboxes", "accounts", "groups", "agents", "queues", "prompts", "contacts", "gateways")

_COMMENTS_LOST = "written from the database: comments and layout of the file it was imported from are not kept"


@dataclass(frozen=True)
class Exported:
    text: str
    #: Why comments of the imported file are not in ``text`` (None: it is that file, unchanged).
    comments_lost: str | None = None
    #: What else the reader should know (what a bundle cannot carry).
    notes: tuple[str, ...] = ()


def directory_document(directory: Directory) -> dict[str, list[dict[str, Any]]]:
    """The directory as bundle sections; unset values (None, empty lists) left out. Agents' statuses
    are left out too: they are the day's state, not configuration (Agent.status), and a bundle
    imported back must not put every agent back where they were at the export."""
    directory = replace(directory, agents=[replace(a, status=None) for a in directory.agents])
    out: dict[str, list[dict[str, Any]]] = {}
    sections = [*_ORDER, *(f.name for f in fields(directory) if f.name not in _ORDER)]
    for section in sections:
        entries = [_compact(asdict(e)) for e in getattr(directory, section)]
        if entries:
            out[section] = entries
    return out


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def without_plain_secrets(directory: Directory, realm: str = "") -> tuple[Directory, tuple[str, ...]]:
    """The directory as an export writes it: no SIP password or mailbox PIN in the clear.

    An account's ``a1_hash`` stands for its password (one still stored plain is hashed for
    ``realm``, the configured one); a plain mailbox PIN is written as its scrypt hash. What cannot be
    written that way is left out, and a note says so. Trunk (gateway) passwords are written as they
    are: FreeSWITCH must send them to the provider, so no hash can stand for them.
    """
    notes = []
    accounts = []
    lost = []
    for a in directory.accounts:
        a1 = a.a1_hash
        if a.password and realm and (a1 is None or not a1.startswith(f"{realm}:")):
            a1 = make_a1(a.user, realm, a.password)
        if a.password and a1 is None:
            lost.append(a.user)
        accounts.append(replace(a, password=None, a1_hash=a1))
    if lost:
        notes.append(f"SIP passwords are never exported in the clear, and {len(lost)} account(s) have no a1-hash "
                     f"to stand for theirs ({', '.join(lost[:5])}): set sip_realm, or add `password:` to them "
                     "in the file before importing it")
    mailboxes = []
    for mb in directory.mailboxes:
        pin = mb.pin
        if pin and not is_hashed_pin(pin):
            pin = hash_pin(pin) if PIN_TEXT.match(pin) else None
            if pin is None:
                notes.append(f"mailbox {mb.box}: its PIN is not digits and * and was not exported")
        mailboxes.append(replace(mb, pin=pin))
    return replace(directory, accounts=accounts, mailboxes=mailboxes), tuple(notes)


def export_all(session: Session, realm: str = "") -> Exported:
    """The whole PBX as one bundle: every directory entry and every scenario. ``realm``: the
    configured SIP realm (without_plain_secrets)."""
    directory, secret_notes = without_plain_secrets(load_directory(session), realm)
    doc: dict[str, Any] = dict(directory_document(directory))
    doc["scenarios"] = [scenario_document(d.spec, d.exits) for d in stored_scenarios(session)]
    header = (f"# The whole PBX, written by `fsivr export --all` at {utcnow():%Y-%m-%d %H:%M} UTC.\n"
              "# `fsivr import` of this file into an empty database makes the same PBX.\n")
    # Data tables come from CSV/XLSX files (`fsivr table import`), not from bundles.
    tables = list(session.scalars(select(DataTableRow.name).order_by(DataTableRow.name)))
    notes = (f"data tables are not part of a bundle and were not exported ({', '.join(tables)}): "
             "import their files again with `fsivr table import`",) if tables else ()
    return Exported(header + dump_yaml(doc), _COMMENTS_LOST if doc["scenarios"] else None, notes + secret_notes)


def export_one(session: Session, name: str, with_refs: bool = False, realm: str = "") -> Exported:
    """Scenario ``name`` as YAML; ``with_refs``: a bundle that also holds every scenario it reaches
    by goto and every directory entry they name (members' accounts, accounts' mailboxes included),
    so it imports into another database. Raises LookupError if there is no such scenario."""
    if not with_refs:
        text = export_scenario(session, name)
        source = session.scalars(select(ScenarioRow.source).where(ScenarioRow.name == name)).first()
        return Exported(text, None if text == source else _COMMENTS_LOST)
    scenarios = {d.spec.name: d for d in stored_scenarios(session)}
    if name not in scenarios:
        raise LookupError(f"no scenario {name!r}")
    directory = load_directory(session)
    wanted: dict[str, set[str]] = {kind: set() for kind, _, _ in KINDS}
    chosen: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop(0)
        if current in chosen or current not in scenarios:
            continue
        chosen.append(current)
        for _node, ref in scenario_refs(scenarios[current].spec):
            if ref.kind == "scenario":
                todo.append(ref.name)
            elif ref.kind == "target":
                _target(ref.name, directory, wanted)
            elif ref.kind == "extension":
                wanted["account"] |= {a.user for a in directory.accounts if a.extension == ref.name}
            elif ref.kind in wanted:
                wanted[ref.kind].add(ref.name)
    for g in directory.groups:
        if g.name in wanted["group"]:
            wanted["account"] |= {m.account for m in g.members}
    for q in directory.queues:
        if q.name in wanted["queue"]:
            wanted["account"] |= {a.account for a in q.agents}
    wanted["mailbox"] |= {a.mailbox for a in directory.accounts if a.user in wanted["account"] and a.mailbox}
    subset = Directory(**{section: [e for e in getattr(directory, section) if getattr(e, key) in wanted[kind]]
                          for kind, key, section in KINDS})
    subset, secret_notes = without_plain_secrets(subset, realm)
    doc: dict[str, Any] = dict(directory_document(subset))
    doc["scenarios"] = [scenario_document(scenarios[n].spec, scenarios[n].exits) for n in chosen]
    return Exported(dump_yaml(doc), _COMMENTS_LOST, secret_notes)


def _target(text: str, directory: Directory, wanted: dict[str, set[str]]) -> None:
    """What a dial target names, the way the ringing nodes resolve it (fsivr.ringing.targets)."""
    try:
        t = parse_target(text)
    except ValueError:
        return
    if t.kind == "number":
        if t.gateway:
            wanted["gateway"].add(t.gateway)
        return
    users = {a.user for a in directory.accounts}
    by_extension = {a.extension: a.user for a in directory.accounts if a.extension}
    if t.kind in ("sip", "bare") and t.value in users:
        wanted["account"].add(t.value)
    elif t.kind in ("ext", "bare") and t.value in by_extension:
        wanted["account"].add(by_extension[t.value])
    elif t.kind in ("group", "bare"):
        wanted["group"].add(t.value)
