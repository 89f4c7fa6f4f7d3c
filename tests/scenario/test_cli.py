"""The scenario commands, run through argparse as `fsivr` runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fsivr.cli import build_parser
from fsivr.engine.registry import node_types
from fsivr.scenario.docs import node_reference_markdown

GOOD = """\
# hand-written, with a comment
prompts:
  - {name: hi, text: Hello}
scenarios:
  - scenario: main
    description: The main line
    numbers: ["+48221234567"]
    start: hello
    nodes:
      hello: {type: test_play, prompt: hi, next: menu}
      menu: {type: test_menu, prompt: hi, options: {1: hello, 2: bye}, timeout: bye}
      bye: {type: test_hangup}
"""


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


@pytest.fixture
def db(db_url: str) -> str:
    assert fsivr(db_url, "db", "upgrade") == 0
    return db_url


def test_import_list_show_export(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pbx.yaml"
    path.write_text(GOOD)
    capsys.readouterr()
    assert fsivr(db, "import", str(path)) == 0
    out = capsys.readouterr()
    assert "directory: 1 prompts" in out.out and "scenario main: version 1 (created)" in out.out
    assert "outcome 'invalid' has no next node" in out.err  # warnings are shown

    assert fsivr(db, "scenario", "import", str(path)) == 0
    assert "scenario main: version 1 (unchanged)" in capsys.readouterr().out

    assert fsivr(db, "scenario", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["NAME", "VERSION", "NODES", "NUMBERS", "UPDATED", "DESCRIPTION"]
    assert listing[1].split()[:4] == ["main", "1", "3", "+48221234567"]

    assert fsivr(db, "scenario", "show", "main") == 0
    show = capsys.readouterr().out
    assert "menu  [test_menu]" in show and "    key 2 -> bye" in show and "    timeout -> bye" in show

    out_file = tmp_path / "main.yaml"
    assert fsivr(db, "scenario", "export", "main", "-o", str(out_file)) == 0
    assert fsivr(db, "scenario", "validate", str(out_file)) == 0
    assert fsivr(db, "import", str(out_file)) == 0
    assert "version 1 (unchanged)" in capsys.readouterr().out

    assert fsivr(db, "scenario", "show", "nope") == 1
    assert "no scenario 'nope'" in capsys.readouterr().err


def test_validate_lists_every_error_and_fails(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("scenario: s\nstart: a\nnodes:\n  a: {type: test_play, prompt: nope, next: b}\n"
                    "  b: {type: test_play}\n")
    capsys.readouterr()
    assert fsivr(db, "scenario", "validate", str(path)) == 1
    out = capsys.readouterr().out
    # Every error at once, including references of a scenario that does not compile.
    assert f"error: {path}:5: s.nodes.b.prompt: is required" in out
    assert f"error: {path}:4: s.nodes.a.prompt: prompt 'nope' does not exist" in out
    assert "2 error(s)" in out

    assert fsivr(db, "import", str(path)) == 1
    assert "nothing imported" in capsys.readouterr().err

    path.write_text("scenario: s\nstart: a\nnodes: {a: {type: test_play, prompt: nope}}\n")
    assert fsivr(db, "scenario", "validate", str(path)) == 1
    assert f"error: {path}:3: s.nodes.a.prompt: prompt 'nope' does not exist" in capsys.readouterr().out

    path.write_text("scenario: s\nstart: a\nnodes:\n  a: {type: test_hangup}\n  b: {type: test_hangup}\n")
    assert fsivr(db, "scenario", "validate", str(path)) == 0  # warnings only
    out = capsys.readouterr().out
    assert f"warning: {path}:5: s.nodes.b: unreachable from start" in out and "valid" in out

    path.write_text("scenario: [\n")
    assert fsivr(db, "scenario", "validate", str(path)) == 1


def test_validate_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("scenario: s\nstart: a\nnodes: {a: {type: test_hangup}}\n")
    missing = f"sqlite:///{tmp_path / 'none' / 'x.sqlite3'}"
    assert fsivr(missing, "scenario", "validate", str(path)) == 0
    assert "no database yet" in capsys.readouterr().out
    assert not (tmp_path / "none").exists()


def test_commands_need_an_upgraded_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    (tmp_path / "fresh.sqlite3").touch()  # a database (SQLite's empty file is one), never migrated
    assert fsivr(url, "scenario", "list") == 1
    assert "fsivr db upgrade" in capsys.readouterr().err


def test_graph(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pbx.yaml"
    path.write_text(GOOD)
    assert fsivr(db, "import", str(path)) == 0
    capsys.readouterr()
    assert fsivr(db, "scenario", "graph", "main") == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "main" {')
    assert '"menu" -> "bye" [label="key 2"];' in dot and '"hello" -> "menu" [label="next"];' in dot

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert fsivr(db, "scenario", "graph", "main", "-o", str(tmp_path / "g.svg")) == 0
    assert "not installed" in capsys.readouterr().err
    assert (tmp_path / "g.dot").read_text() == dot


def test_node_reference_comes_from_the_declarations() -> None:
    # The default reference is built-in types only; ask for the test-only ones explicitly.
    md = node_reference_markdown({n: c for n, c in node_types().items() if n.startswith("test_")})
    section = md.split("## `test_menu`", 1)[1].split("\n## ", 1)[0]
    assert "menu (test)" in section
    assert "| `prompt` | str | yes |  | names a prompt |" in section
    assert "| `input_timeout` | float |  | `5.0` |  |" in section
    assert "Outcomes: one per key under `options`, `timeout`, `invalid`, `error`." in section
    assert "Outcomes: none" in md.split("## `test_hangup`", 1)[1].split("\n## ", 1)[0]
