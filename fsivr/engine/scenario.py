"""Scenarios as the engine runs them: a spec (from YAML or rows) compiled once into node objects.

Compiling is also validation: every problem is collected (not just the first), each naming the
scenario, the node and the field, so that a user fixing a YAML file sees them all at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fsivr.engine.limits import MAX_NODES, text_too_long
from fsivr.engine.node import COMMON_OUTCOMES, Node, Param, Ref, ScenarioError
from fsivr.engine.registry import node_type, node_types

#: Keys of a node mapping that are neither parameters nor outcomes.
STRUCTURAL_KEYS = ("type", "options")


@dataclass
class ScenarioSpec:
    """A scenario as written by a user: what YAML and DB rows both turn into."""

    name: str
    start: str
    nodes: dict[str, dict[str, Any]]
    description: str = ""
    numbers: list[str] = field(default_factory=list)
    #: First node of the chain run after the caller hung up (spec: post-call), if any.
    after_call: str | None = None
    #: Where a node's unhandled ``error`` goes (spec section 3); none = hang up politely.
    fallback: str | None = None


@dataclass
class CompiledScenario:
    name: str
    version: int
    start: str
    nodes: dict[str, Node]
    #: node id -> outcome -> next node id. An outcome absent here ends the call politely.
    edges: dict[str, dict[str, str]]
    numbers: list[str]
    after_call: str | None
    description: str = ""
    fallback: str | None = None
    warnings: list[str] = field(default_factory=list)

    def refs(self) -> Iterable[tuple[str, Ref]]:
        for node_id, node in self.nodes.items():
            for ref in node.refs:
                yield node_id, ref


class ValidationFailed(ValueError):
    """A scenario did not compile. ``errors`` holds every problem found; ``warnings`` the rest."""

    def __init__(self, scenario: str, errors: list[ScenarioError], warnings: list[str]) -> None:
        self.scenario, self.errors, self.warnings = scenario, errors, warnings
        lines = "\n".join(f"  - {e}" for e in errors)
        super().__init__(f"scenario {scenario!r} is invalid ({len(errors)} error(s)):\n{lines}")


def check_param(scenario: str, node_id: str, name: str, spec: Param, value: Any) -> Any:
    """Type-check and normalise one parameter value; raise ScenarioError naming the field."""

    def fail(msg: str) -> ScenarioError:
        return ScenarioError(msg, scenario=scenario, node=node_id, field=name)

    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if str in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML turns `box: 101` or `key: 1` into a number; the user meant the text.
        value = str(value)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        want = " or ".join(k.__name__ for k in kinds)
        raise fail(f"must be {want}, got {type(value).__name__} {_short(value)}")
    long_text = _long_text(value)
    if long_text:
        raise fail(long_text)
    if spec.choices and value not in spec.choices:
        raise fail(f"must be one of {', '.join(map(str, spec.choices))}, got {value!r}")
    try:
        spec.check_range(value)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if spec.check is not None:
        try:
            checked = spec.check(value)
        except (ValueError, TypeError) as exc:
            raise fail(str(exc)) from None
        if checked is not None:
            value = checked
    return value


def _long_text(value: Any) -> str | None:
    """Why a text inside ``value`` (a string, or one in a list or mapping) is too long, or None."""
    if isinstance(value, str):
        return text_too_long(value)
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, (list, tuple)) else ()
    return next((why for why in map(_long_text, items) if why), None)


def _short(value: Any) -> str:
    """``repr(value)`` cut short: an error message must not echo a megabyte back."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


@dataclass
class NodeParts:
    """A node mapping taken apart by its type's declaration (see :func:`split_node`)."""

    type: str
    cls: type[Node]
    #: Parameters as written (compiling checks them; persistence stores them so).
    params: dict[str, Any]
    #: Outcome -> next node as written; ``None`` (``outcome: null``) is the same as leaving it out.
    outcomes: dict[str, Any]
    #: The ``options`` value as written (menu key -> next node), None when absent.
    options: Any
    #: Keys that are neither a parameter nor an outcome of the type.
    unknown: list[str]

    def written(self) -> tuple[str, dict[str, Any], dict[str, str], dict[str, str]]:
        """(type, parameters as written, outcome -> node, menu key -> node) of a node that validated,
        as rows store it and graphs draw it; ValueError for a key the type does not know."""
        if self.unknown:
            raise ValueError(f"{self.unknown[0]!r} is neither a parameter nor an outcome of {self.type}")
        outcomes = {k: str(v) for k, v in self.outcomes.items() if v is not None}
        return self.type, self.params, outcomes, {str(k): str(v) for k, v in (self.options or {}).items()}


def split_node(raw: Mapping[str, Any]) -> NodeParts:
    """Which keys of a node mapping are parameters and which are outcomes: the one place that says,
    for compiling, storing and drawing alike. ValueError when ``raw`` is no node of a known type."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"must be a mapping, got {type(raw).__name__}")
    type_name = raw.get("type")
    if type_name is None:
        near = [str(k) for k in raw if difflib.get_close_matches(str(k), ["type"], cutoff=0.6)]
        hint = f" ({near[0]!r} is not a key; did you mean 'type'?)" if near else ""
        raise ValueError(f"'type' is missing{hint}")
    cls = node_type(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise ValueError(f"unknown node type {type_name!r}{_did_you_mean(str(type_name), node_types())}")
    parts = NodeParts(type=type_name, cls=cls, params={}, outcomes={}, options=raw.get("options"), unknown=[])
    known_outcomes = set(cls.outcomes) | set(COMMON_OUTCOMES)
    for key, value in raw.items():
        key = str(key)
        if key in STRUCTURAL_KEYS:
            continue
        if key in cls.params:
            parts.params[key] = value
        elif key in known_outcomes:
            parts.outcomes[key] = value
        else:
            parts.unknown.append(key)
    return parts


def _compile_parts(scenario: str, node_id: str, raw: Mapping[str, Any], errors: list[ScenarioError]
                   ) -> tuple[type[Node], dict[str, Any], dict[str, str]] | None:
    """A raw node mapping -> its type, checked parameters and outcome edges; problems go to ``errors``."""
    try:
        parts = split_node(raw)
    except ValueError as exc:
        field_name = "type" if isinstance(raw, Mapping) else None
        errors.append(ScenarioError(str(exc), scenario=scenario, node=node_id, field=field_name))
        return None
    cls = parts.cls
    params: dict[str, Any] = {}
    edges: dict[str, str] = {}
    refused: set[str] = set()
    # In the order written, so the problems read in the order of the file.
    for key in map(str, raw):
        if key in parts.params:
            try:
                params[key] = check_param(scenario, node_id, key, cls.params[key], parts.params[key])
            except ScenarioError as exc:
                errors.append(exc)
                refused.add(key)  # said once: not "is required" as well
        elif key in parts.outcomes:
            value = parts.outcomes[key]
            if cls.terminal and key != "error":
                errors.append(ScenarioError(f"a {cls.type} node ends the scenario; it has no outcome {key!r}",
                                            scenario=scenario, node=node_id, field=key))
            elif value is None:
                continue  # an explicit `outcome: null` ends the call, as documented
            elif not isinstance(value, str):
                errors.append(ScenarioError(f"must name the next node, got {value!r}",
                                            scenario=scenario, node=node_id, field=key))
            else:
                edges[key] = value
        elif key in parts.unknown:
            allowed = sorted(set(cls.params) | set(cls.outcomes) | set(COMMON_OUTCOMES))
            errors.append(ScenarioError(
                f"unknown parameter or outcome {key!r} for type {cls.type} (allowed: {', '.join(allowed)})",
                scenario=scenario, node=node_id, field=key))
    options = parts.options
    if options is not None:
        if not cls.option_outcomes:
            errors.append(ScenarioError(f"type {cls.type} takes no options", scenario=scenario,
                                        node=node_id, field="options"))
        elif not isinstance(options, Mapping):
            errors.append(ScenarioError("must be a mapping of key to node", scenario=scenario,
                                        node=node_id, field="options"))
        else:
            params["options"] = {}
            for key, target in options.items():
                key = str(key)
                if key in params["options"]:
                    # YAML keeps 1 and "1" apart; the caller's key press cannot: one would silently win.
                    errors.append(ScenarioError(f"key {key!r} is given twice (as a number and as text)",
                                                scenario=scenario, node=node_id, field=f"options.{key}"))
                    continue
                if not isinstance(target, str):
                    errors.append(ScenarioError(f"must name the next node, got {target!r}", scenario=scenario,
                                                node=node_id, field=f"options.{key}"))
                    continue
                params["options"][key] = target
                edges[key] = target
    for name, spec in cls.params.items():
        if name not in params and name not in refused:
            if spec.required:
                errors.append(ScenarioError("is required", scenario=scenario, node=node_id, field=name))
            else:
                params[name] = spec.default
    return cls, params, edges


def compile_scenario(spec: ScenarioSpec, version: int = 0) -> CompiledScenario:
    """Compile and validate; raise ValidationFailed listing every error."""
    errors: list[ScenarioError] = []
    warnings: list[str] = []
    name = spec.name
    if not isinstance(spec.nodes, Mapping) or not spec.nodes:
        raise ValidationFailed(name, [ScenarioError("has no nodes", scenario=name, field="nodes")], [])
    if len(spec.nodes) > MAX_NODES:
        raise ValidationFailed(name, [ScenarioError(
            f"has {len(spec.nodes)} nodes; the limit is {MAX_NODES} nodes per scenario (split it into "
            "scenarios joined by goto nodes)", scenario=name, field="nodes")], [])
    nodes: dict[str, Node] = {}
    edges: dict[str, dict[str, str]] = {}
    for node_id, raw in spec.nodes.items():
        node_id = str(node_id)
        before = len(errors)
        split = _compile_parts(name, node_id, raw, errors)
        if split is None or len(errors) > before:
            # A parameter failed its check (so it is missing from params): compiling the node
            # would only fail again, less clearly (a KeyError in its compile()).
            continue
        cls, params, node_edges = split
        try:
            node = cls(node_id, params)
        except ScenarioError as exc:
            exc.scenario = exc.scenario or name
            errors.append(ScenarioError(str(exc).split(": ", 1)[-1], scenario=name, node=node_id,
                                        field=exc.field))
            continue
        nodes[node_id] = node
        edges[node_id] = node_edges

    for root_field, root in (("start", spec.start), ("after_call", spec.after_call),
                             ("fallback", spec.fallback)):
        if root is not None and root not in spec.nodes:
            errors.append(ScenarioError(f"names a missing node {root!r}{_did_you_mean(root, spec.nodes)}",
                                        scenario=name, field=root_field))
    for node_id, node_edges in edges.items():
        for outcome, target in node_edges.items():
            if target not in spec.nodes:
                field_name = f"options.{outcome}" if outcome not in nodes[node_id].all_outcomes() else outcome
                errors.append(ScenarioError(f"points to a missing node {target!r}{_did_you_mean(target, spec.nodes)}",
                                            scenario=name, node=node_id, field=field_name))
    if errors:
        raise ValidationFailed(name, errors, warnings)

    roots = [r for r in (spec.start, spec.after_call, spec.fallback) if r]
    reachable = _reachable(roots, edges)
    for node_id in nodes:
        if node_id not in reachable:
            warnings.append(f"{name}.nodes.{node_id}: unreachable from start")
    for node_id, node in nodes.items():
        if node.terminal or node_id not in reachable:
            continue
        for outcome in node.possible_outcomes():
            if outcome not in edges[node_id] and outcome not in node.ending_outcomes:
                warnings.append(f"{name}.nodes.{node_id}: outcome {outcome!r} has no next node; the call "
                                "will be ended politely there")
    if spec.after_call:
        for node_id in sorted(_reachable([spec.after_call], edges)):
            node = nodes[node_id]
            if not node.runs_after_call:
                errors.append(ScenarioError(
                    f"a {node.type} node needs the caller on the line; it cannot run in the after_call "
                    "chain (only nodes that need no live channel can: docs/nodes.md names them)",
                    scenario=name, node=node_id))
    for cycle in _busy_cycles(nodes, edges):
        errors.append(ScenarioError(
            "is part of a loop that can spin without caller input or a wait: " + " -> ".join(cycle),
            scenario=name, node=cycle[0]))
    if errors:
        raise ValidationFailed(name, errors, warnings)
    return CompiledScenario(name=name, version=version, start=spec.start, nodes=nodes, edges=edges,
                            numbers=list(spec.numbers), after_call=spec.after_call, fallback=spec.fallback,
                            description=spec.description, warnings=warnings)


def _did_you_mean(word: str, choices: Iterable[Any]) -> str:
    """" (did you mean 'x'?)" for the closest of ``choices`` (difflib), or ""."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _reachable(roots: list[str], edges: Mapping[str, Mapping[str, str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(edges.get(node_id, {}).values())
    return seen


def _busy_cycles(nodes: Mapping[str, Node], edges: Mapping[str, Mapping[str, str]]) -> list[list[str]]:
    """Cycles that can be walked without waiting for the caller or for time.

    An edge is "busy" when its node does not wait, or when it is an outcome the node can take at
    once (``instant_outcomes``, and ``error``). Cycles of busy edges are found as strongly
    connected components (Tarjan), so each offending loop is reported once however many ways it
    can be walked.
    """
    busy_edges: dict[str, list[str]] = {}
    for n, node in nodes.items():
        instant = set(node.instant_outcomes) | {"error"}
        busy_edges[n] = [t for outcome, t in edges.get(n, {}).items()
                         if t in nodes and (not node.waits or outcome in instant)]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    for root in sorted(busy_edges):
        if root in index:
            continue
        # Iterative Tarjan: scenarios are small, but user input should not be able to hit the
        # recursion limit.
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            n, i = work.pop()
            if i == 0:
                index[n] = low[n] = counter
                counter += 1
                stack.append(n)
                on_stack.add(n)
            succ = busy_edges[n]
            if i < len(succ):
                work.append((n, i + 1))
                m = succ[i]
                if m not in index:
                    work.append((m, 0))
                elif m in on_stack:
                    low[n] = min(low[n], index[m])
                continue
            if low[n] == index[n]:
                component: list[str] = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == n:
                        break
                if len(component) > 1 or n in succ:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[n])
    return cycles
