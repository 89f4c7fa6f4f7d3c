"""What an import would change: every scenario and directory entry of a bundle compared with what
the database holds, field by field, and which of those changes touch entries another bundle brought
in (those need ``--force``, or a bundle that declares ``owns_directory: true``).

Pure comparison of plain data (``fsivr.store.directory`` dataclasses, scenario specs): the
database is read by ``fsivr.scenario.persist``, which builds the plan before it writes anything.
Secrets (passwords, PINs) are compared but never shown: a change says "password changed".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

from fsivr.engine.registry import node_type
from fsivr.engine.scenario import ScenarioSpec, split_node
from fsivr.store.directory import Directory

#: Directory kinds in the order an import reports them, with the field that names an entry (its
#: key in YAML) and the ``Directory`` list holding them.
KINDS: tuple[tuple[str, str, str], ...] = (
    ("account", "user", "accounts"), ("group", "name", "groups"), ("queue", "name", "queues"),
    ("mailbox", "box", "mailboxes"), ("prompt", "name", "prompts"), ("contact", "number", "contacts"),
    ("gateway", "name", "gateways"), ("agent", "account", "agents"),
)
#: Fields whose values never reach the output (kind -> field names).
SECRETS: dict[str, frozenset[str]] = {
    "account": frozenset({"password", "a1_hash"}), "gateway": frozenset({"password"}), "mailbox": frozenset({"pin"}),
}
#: Values longer than this are shortened in a change line.
_SHOWN = 60

CREATED, CHANGED, UNCHANGED = "created", "changed", "unchanged"


@dataclass(frozen=True)
class Change:
    """One scenario or directory entry of the bundle and what importing it does."""

    kind: str
    name: str
    state: str
    #: For a changed entry: one phrase per changed field ("password changed", "text 'a' -> 'b'").
    fields: tuple[str, ...] = ()
    #: The bundle that brought the stored entry in (None: nobody recorded, or created now).
    owner: str | None = None
    #: A changed directory entry that belongs to another bundle.
    conflict: bool = False

    def line(self) -> str:
        text = f"{self.kind} {self.name}: {self.state}"
        if self.fields:
            text += f" ({'; '.join(self.fields)})"
        if self.conflict:
            text += f" [brought in by {self.owner or 'an import before fsivr recorded owners'}]"
        return text


@dataclass
class ImportPlan:
    """Every change of an import, in report order (scenarios first)."""

    bundle: str
    changes: list[Change] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Change]:
        return [c for c in self.changes if c.conflict]

    def of(self, state: str) -> list[Change]:
        return [c for c in self.changes if c.state == state]

    def summary(self) -> dict[str, list[str]]:
        """What the import record keeps: created and changed entries, by "kind name"."""
        return {state: [f"{c.kind} {c.name}" for c in self.of(state)] for state in (CREATED, CHANGED)}

    def refusal(self) -> str:
        owners = sorted({c.owner or "an import before fsivr recorded owners" for c in self.conflicts})
        entries = ", ".join(f"{c.kind} {c.name}" for c in self.conflicts)
        return (f"refused: {len(self.conflicts)} directory entr{'y' if len(self.conflicts) == 1 else 'ies'} "
                f"brought in by {' and '.join(owners)} would change ({entries}); run again with --force to "
                f"take them over, or declare `owns_directory: true` in the bundle")


def join_node(type_name: str, params: Mapping[str, Any], outcomes: Mapping[str, str],
              options: Mapping[str, str]) -> dict[str, Any]:
    """The node mapping as YAML writes it (inverse of :func:`split_node`)."""
    raw: dict[str, Any] = {"type": type_name, **params, **outcomes}
    cls = node_type(type_name)
    # Menus always get their options mapping (possibly empty), so a stored menu reads back the same.
    if options or (cls is not None and cls.option_outcomes):
        raw["options"] = dict(options)
    return raw


def scenario_content(spec: ScenarioSpec, exits: Mapping[str, str]) -> dict[str, Any]:
    """What makes two versions of a scenario the same: everything but the name, nodes normalised
    as storing them would (so a file and the rows it became compare equal)."""
    return {
        "description": spec.description, "start": spec.start, "after_call": spec.after_call,
        "fallback": spec.fallback, "numbers": [[n, exits.get(n)] for n in spec.numbers],
        "nodes": {node_id: join_node(*split_node(raw).written()) for node_id, raw in spec.nodes.items()},
    }


def canonical(spec: ScenarioSpec, exits: Mapping[str, str]) -> str:
    return json.dumps(scenario_content(spec, exits), sort_keys=True, default=str)


def scenario_change(name: str, new: tuple[ScenarioSpec, Mapping[str, str]],
                    old: tuple[ScenarioSpec, Mapping[str, str]] | None) -> Change:
    if old is None:
        return Change("scenario", name, CREATED)
    a, b = scenario_content(*old), scenario_content(*new)
    if json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str):
        return Change("scenario", name, UNCHANGED)
    phrases = [f"{key} {_shown(a[key])} -> {_shown(b[key])}"
               for key in ("description", "start", "after_call", "fallback") if a[key] != b[key]]
    if a["numbers"] != b["numbers"]:
        phrases.append("numbers " + _shown([n if e is None else f"{n} -> {e}" for n, e in a["numbers"]]) + " -> "
                       + _shown([n if e is None else f"{n} -> {e}" for n, e in b["numbers"]]))
    old_nodes, new_nodes = a["nodes"], b["nodes"]
    changed = [f"{n} ({', '.join(_changed_keys(old_nodes[n], new_nodes[n]))})"
               for n in new_nodes if n in old_nodes and new_nodes[n] != old_nodes[n]]
    for label, ids in (("added", [n for n in new_nodes if n not in old_nodes]),
                       ("removed", [n for n in old_nodes if n not in new_nodes]), ("changed", changed)):
        if ids:
            phrases.append(f"nodes {label}: {', '.join(ids)}")
    return Change("scenario", name, CHANGED, tuple(phrases))


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The keys of a node mapping (parameters, outcomes, ``options``) whose values differ."""
    return [k for k in (*new, *(k for k in old if k not in new)) if old.get(k) != new.get(k)]


def directory_changes(new: Directory, stored: Directory, owners: Mapping[tuple[str, str], str],
                      bundle: str, may_take_over: bool) -> list[Change]:
    """One Change per entry of ``new``; a changed entry owned by another bundle is a conflict unless
    ``may_take_over``."""
    out: list[Change] = []
    for kind, key, section in directory_kinds(new):
        have = {getattr(e, key): e for e in getattr(stored, section)}
        for entry in getattr(new, section):
            name = str(getattr(entry, key))
            old = have.get(name)
            if old is None:
                out.append(Change(kind, name, CREATED))
                continue
            # dict.fromkeys: a password and its a1-hash changing together is one change.
            phrases = tuple(dict.fromkeys(_field_changes(kind, old, entry)))
            owner = owners.get((kind, name))
            if not phrases:
                out.append(Change(kind, name, UNCHANGED, owner=owner))
                continue
            conflict = owner != bundle and not may_take_over
            out.append(Change(kind, name, CHANGED, phrases, owner=owner, conflict=conflict))
    return out


def directory_kinds(directory: Directory) -> list[tuple[str, str, str]]:
    """KINDS, then any further section of ``Directory`` (named by its entries' first field)."""
    known = {section for _, _, section in KINDS}
    extra = []
    for f in fields(directory):
        entries = getattr(directory, f.name)
        if f.name not in known and entries and is_dataclass(entries[0]):
            extra.append((f.name.removesuffix("s"), fields(entries[0])[0].name, f.name))
    return [*KINDS, *extra]


def _field_changes(kind: str, old: Any, new: Any) -> Iterable[str]:
    secrets = SECRETS.get(kind, frozenset())
    for f in fields(new):
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before == after:
            continue
        if f.name in secrets:
            # An account's a1-hash is its password as stored (fsivr.store.secrets).
            name = "password" if f.name == "a1_hash" else f.name
            yield f"{name} {'set' if before is None else 'removed' if after is None else 'changed'}"
        else:
            yield f"{f.name} {_shown(_plain(before))} -> {_shown(_plain(after))}"


def _plain(value: Any) -> Any:
    """Members and agents as YAML would list them (without unset fields), for a readable line."""
    if isinstance(value, list):
        return [{k: v for k, v in asdict(x).items() if v is not None} if is_dataclass(x) else x for x in value]
    return value


def _shown(value: Any) -> str:
    text = "-" if value is None else repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."
