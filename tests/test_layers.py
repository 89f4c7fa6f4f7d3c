"""The packages depend in one direction (docs/ARCHITECTURE.md): every ``fsivr`` import of a package's
modules, read from the source, must name a package it may depend on. Imports under
``if TYPE_CHECKING:`` are annotations only and are not counted."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "fsivr"

#: What each package may import (besides itself). ``worker`` sits beside the engine, above ``store``:
#: it uses the engine's leaf modules (templates, allowed hours, the job's variable names), never the
#: nodes or ringing; nodes and the engine never name the worker (the Notify port, engine/services.py).
ALLOWED: dict[str, set[str]] = {
    "esl": set(),
    "store": set(),
    "speech": set(),
    "callcenter": {"esl", "store"},
    "engine": {"callcenter", "esl", "store", "speech", "config", "logs"},
    "ringing": {"engine", "callcenter", "esl", "store", "speech"},
    "nodes": {"ringing", "engine", "callcenter", "esl", "store", "speech"},
    "worker": {"engine", "esl", "store", "config", "metrics"},
}
#: Documented exceptions: the registry imports the node modules on first look-up (it registers
#: them; the engine names no node type).
EXCEPTIONS = {("engine/registry.py", "nodes")}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level fsivr package or module) of every fsivr import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_lines(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = ([f"{node.module}.{a.name}" for a in node.names] if node.module == "fsivr"
                     else [node.module])
        found += [(node.lineno, n.split(".")[1]) for n in names if n.startswith("fsivr.")]
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_it_sits_on(package: str) -> None:
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, target in _imported_packages(path):
            if target != package and target not in ALLOWED[package] and (rel, target) not in EXCEPTIONS:
                wrong.append(f"fsivr/{rel}:{line} imports fsivr.{target}")
    assert not wrong, f"fsivr.{package} may import only {sorted(ALLOWED[package])}:\n" + "\n".join(wrong)


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nfrom fsivr import ringing\n"
                      "from fsivr.worker.loop import Worker\n"
                      "if TYPE_CHECKING:\n    from fsivr.cli import main\n"
                      "def f():\n    import fsivr.testing.harness\n")
    assert _imported_packages(source) == [(2, "ringing"), (3, "worker"), (7, "testing")]
