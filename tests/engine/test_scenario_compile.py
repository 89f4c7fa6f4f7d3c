"""Compilation is validation: every error named by scenario, node and field."""

from __future__ import annotations

import pytest

from fsivr.engine.scenario import ScenarioSpec, ValidationFailed, compile_scenario


def spec(nodes: dict, start: str = "a", **kw) -> ScenarioSpec:
    return ScenarioSpec(name="s", start=start, nodes=nodes, **kw)


def errors_of(nodes: dict, start: str = "a") -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        compile_scenario(spec(nodes, start))
    return [str(e) for e in info.value.errors]


def test_a_good_scenario_compiles_with_warnings_for_open_ends() -> None:
    compiled = compile_scenario(spec({
        "a": {"type": "menu", "text": "Press 1", "options": {"1": "b"}, "timeout": "b"},
        "b": {"type": "hangup"},
    }), version=3)
    assert compiled.version == 3 and compiled.edges["a"] == {"1": "b", "timeout": "b"}
    assert any("'invalid' has no next node" in w for w in compiled.warnings)


def test_every_error_is_reported_with_its_place() -> None:
    errors = errors_of({
        "a": {"type": "play", "prompt": "x", "next": "nowhere", "colour": "red"},
        "b": {"type": "teleport"},
        "c": {"type": "menu", "text": "hi", "options": {"12": "a"}, "input_timeout": "soon"},
        "d": {"type": "time_condition", "timezone": "Mars/Olympus", "rules": [{"days": "mon-fri"}]},
    })
    joined = "\n".join(errors)
    assert "s.nodes.a.colour: unknown parameter or outcome 'colour'" in joined
    assert "s.nodes.b.type: unknown node type 'teleport'" in joined
    assert "s.nodes.c.input_timeout: must be float" in joined
    assert "s.nodes.d.timezone: unknown IANA timezone 'Mars/Olympus'" in joined


def test_edges_to_missing_nodes_and_bad_start() -> None:
    errors = errors_of({"a": {"type": "play", "text": "x", "next": "ghost"}}, start="nope")
    assert any("s.start: names a missing node 'nope'" in e for e in errors)
    assert any("s.nodes.a.next: points to a missing node 'ghost'" in e for e in errors)


def test_unreachable_nodes_warn() -> None:
    compiled = compile_scenario(spec({"a": {"type": "hangup"}, "lost": {"type": "hangup"}}))
    assert any("lost: unreachable" in w for w in compiled.warnings)


def test_loops_without_a_wait_are_rejected_but_waiting_loops_are_fine() -> None:
    errors = errors_of({
        "a": {"type": "set", "variables": {"x": "1"}, "next": "b"},
        "b": {"type": "time_condition", "rules": [{"days": "mon"}], "match": "a", "nomatch": "a"},
    })
    assert any("loop that can spin without caller input" in e and "a -> b" in e for e in errors)
    compile_scenario(spec({
        "a": {"type": "set", "variables": {"x": "1"}, "next": "m"},
        "m": {"type": "menu", "text": "again?", "options": {"1": "a"}},
    }))


def test_terminal_nodes_take_no_outcomes() -> None:
    errors = errors_of({"a": {"type": "hangup", "next": "a"}})
    assert any("unknown parameter or outcome 'next' for type hangup" in e for e in errors)
    # ...but `error` is allowed: an exit whose transfer FreeSWITCH refuses can still go somewhere.
    compile_scenario(spec({"a": {"type": "exit", "error": "b"}, "b": {"type": "hangup"}}))


def test_parameters_are_checked_by_their_declaration() -> None:
    errors = errors_of({
        "a": {"type": "play", "text": "x", "prompt": "y"},
        "b": {"type": "menu", "text": "x", "options": {"1": "a"}, "max_attempts": 0},
        "c": {"type": "hangup", "cause": "BORED"},
        "d": {"type": "set", "variables": {"1bad": "x"}},
        "e": {"type": "set", "variables": {"ok": "{{ unclosed"}},
    })
    joined = "\n".join(errors)
    assert "s.nodes.a.prompt: give exactly one of prompt or text" in joined
    assert "s.nodes.b.max_attempts: must be between 1 and 20" in joined
    assert "s.nodes.c.cause: must be one of" in joined
    assert "s.nodes.d.variables: variable name '1bad'" in joined
    assert "s.nodes.e.variables: ok: template does not compile" in joined


def test_loops_through_outcomes_taken_at_once_are_rejected() -> None:
    # any_manager with nobody met returns no_answer at once: `no_answer: a` would spin.
    errors = errors_of({"a": {"type": "any_manager", "no_answer": "a", "answered": "b"},
                        "b": {"type": "hangup"}})
    assert any("loop that can spin" in e for e in errors)
    # ...and an error edge back into a loop is busy too.
    errors = errors_of({"a": {"type": "play", "text": "x", "next": "b", "error": "a"},
                        "b": {"type": "hangup"}})
    assert any("loop that can spin" in e for e in errors)
    # Retrying a dial on no_answer waits (it rang): allowed.
    compile_scenario(spec({"a": {"type": "dial", "targets": ["sip:101"], "no_answer": "a", "failed": "b"},
                           "b": {"type": "hangup"}}))


@pytest.mark.parametrize("node, field, good, bad, message", [
    # both ends allowed
    ({"type": "dial", "targets": ["sip:101"]}, "ring_timeout", (1, 600), (0, 601),
     "must be between 1 and 600 seconds"),
    ({"type": "responsible_manager"}, "mobile_after", (0, 600), (-1, 601), "must be between 0 and 600 seconds"),
    ({"type": "menu", "text": "x", "options": {"1": "z"}}, "max_attempts", (1, 20), (0, 21),
     "must be between 1 and 20"),
    # a duration of 0 s means nothing: the low end is refused
    ({"type": "play", "text": "x"}, "duration", (0.001, 3600), (0, 3600.5),
     "must be more than 0 and at most 3600 seconds"),
    ({"type": "extension"}, "input_timeout", (0.5, 60), (0, 61), "must be more than 0 and at most 60 seconds"),
])
def test_declared_ranges_take_their_ends_and_refuse_past_them(node: dict, field: str, good: tuple, bad: tuple,
                                                              message: str) -> None:
    for value in good:
        compile_scenario(spec({"a": {**node, field: value}, "z": {"type": "hangup"}}))
    for value in bad:
        errors = errors_of({"a": {**node, field: value}, "z": {"type": "hangup"}})
        assert f"s.nodes.a.{field}: {message}" in errors, (value, errors)


def test_a_dial_targets_own_ring_timeout_has_the_node_parameters_range() -> None:
    errors = errors_of({"a": {"type": "dial", "targets": [{"target": "sip:101", "ring_timeout": 601}]}})
    assert errors == ["s.nodes.a.targets.0: ring_timeout must be between 1 and 600 seconds"]


def test_one_split_node_for_compiling_storing_and_drawing() -> None:
    from fsivr.engine.scenario import split_node
    from fsivr.scenario import graph, persist

    assert persist.split_node is split_node and graph.split_node is split_node
    parts = split_node({"type": "menu", "text": "x", "options": {1: "b"}, "timeout": "b", "invalid": None})
    assert parts.written() == ("menu", {"text": "x"}, {"timeout": "b"}, {"1": "b"})
    with pytest.raises(ValueError, match="'colour' is neither a parameter nor an outcome of menu"):
        split_node({"type": "menu", "colour": "red"}).written()
