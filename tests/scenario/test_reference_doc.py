"""docs/nodes.md is generated from the node declarations; it must not drift from them."""

from __future__ import annotations

from pathlib import Path

from fsivr.engine.registry import node_types
from fsivr.scenario.docs import node_reference_markdown


def test_published_reference_is_current(repo_root: Path) -> None:
    published = (repo_root / "docs" / "nodes.md").read_text()
    assert published == node_reference_markdown(), "run: fsivr scenario reference -o docs/nodes.md"


def test_every_node_type_documents_every_parameter_and_outcome() -> None:
    text = node_reference_markdown()
    for name, cls in node_types().items():
        if not cls.__module__.startswith("fsivr.nodes."):
            continue  # test-only types registered by other tests
        assert f"## `{name}`" in text
        for param in cls.params:
            assert f"`{param}`" in text, (name, param)
        for outcome in cls.outcomes:
            assert f"`{outcome}`" in text, (name, outcome)


def test_every_declared_range_is_printed_in_its_parameter_row() -> None:
    lines = node_reference_markdown().splitlines()
    ranged = 0
    for name, cls in node_types().items():
        if not cls.__module__.startswith("fsivr.nodes."):
            continue
        section = lines[lines.index(f"## `{name}`"):]
        for pname, param in cls.params.items():
            if param.between is None:
                continue
            ranged += 1
            row = next(line for line in section if line.startswith(f"| `{pname}` |"))
            assert param.range_text() in row, (name, pname, row)
    assert ranged >= 16  # ring times, timeouts, attempts, digits, the play duration...
