"""``fsivr scenario graph`` shows where a goto leads, what nodes say and a time condition's rules,
with user text that cannot break out of DOT's quoted strings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fsivr.cli import build_parser
from fsivr.engine.scenario import ScenarioSpec
from fsivr.scenario.graph import scenario_dot, shorten

BUNDLE = """\
prompts:
  - {name: welcome, text: "Welcome to ACME, the company that makes everything for everyone"}
scenarios:
  - scenario: main
    numbers: ["+48221234567"]
    start: hours
    nodes:
      hours:
        type: time_condition
        timezone: Europe/Warsaw
        rules: [{days: mon-fri, hours: "08:00-16:00"}, {days: sat, hours: "09:00-12:00"}]
        holidays: [{country: PL}, "12-24"]
        match: hello
        nomatch: night
      hello: {type: play, prompt: welcome, next: sales}
      night: {type: play, text: "We are closed.\\nCall again tomorrow", next: bye}
      sales: {type: goto, scenario: sales}
      bye: {type: hangup}
  - scenario: sales
    start: ring
    nodes:
      ring: {type: play, text: "Sales", next: end}
      end: {type: hangup}
"""


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


def labels(dot: str) -> dict[str, str]:
    line = re.compile(r'^  "([^"]+)" \[(?:shape=\w+(?:, style=\w+)?, )?label="((?:[^"\\]|\\.)*)"\];$', re.M)
    return {m.group(1): m.group(2) for m in line.finditer(dot)}


def test_graph_of_a_stored_scenario(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fsivr(db_url, "db", "upgrade") == 0
    (tmp_path / "b.yaml").write_text(BUNDLE)
    assert fsivr(db_url, "import", str(tmp_path / "b.yaml")) == 0
    capsys.readouterr()
    assert fsivr(db_url, "scenario", "graph", "main") == 0
    dot = capsys.readouterr().out
    got = labels(dot)
    # where the goto leads: the other scenario, its start node named
    assert got["__goto_sales"] == "scenario sales\\nstart: ring"
    assert '"sales" -> "__goto_sales" [style=dashed, label="goto"];' in dot
    # what nodes say: the stored prompt by name and its text, shortened; a text, one line
    assert got["hello"] == "hello\\nplay\\n[welcome] “Welcome to ACME, the company that makes…”"
    assert got["night"] == "night\\nplay\\n“We are closed. Call again tomorrow”"
    # time rules, the zone and the closed days
    assert got["hours"] == ("hours\\ntime_condition\\nmon-fri 08:00-16:00\\nsat 09:00-12:00\\n(Europe/Warsaw)"
                            "\\nclosed: country PL; 12-24")
    if shutil.which("dot"):
        done = subprocess.run(["dot", "-Tsvg"], input=dot, text=True, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_goto_to_a_missing_scenario_and_hostile_text_stay_inside_their_strings() -> None:
    hostile = 'Hi"];\n  evil [label="x\\'
    spec = ScenarioSpec(name='m"x', description="", numbers=[], start="a",
                        nodes={"a": {"type": "play", "text": hostile, "next": "g"},
                               "g": {"type": "goto", "scenario": "gone"}},
                        after_call=None, fallback=None)
    dot = scenario_dot(spec)
    assert got_label(dot, "a") == 'a\\nplay\\n“Hi\\"]; evil [label=\\"x\\\\”'
    assert got_label(dot, "__goto_gone") == "scenario gone\\n(not found)"
    assert dot.startswith('digraph "m\\"x" {')
    if shutil.which("dot"):
        # Graphviz itself reads exactly these nodes: the text made none of its own
        done = subprocess.run(["dot", "-Tplain"], input=dot, text=True, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        names = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("node ")}
        assert names == {"__start", "a", "g", "__goto_gone"}


def got_label(dot: str, node: str) -> str:
    return labels(dot)[node]


@pytest.mark.parametrize("text, short", [
    ("short", "short"),
    ("  many   spaces\tand\nlines ", "many spaces and lines"),
    ("x" * 41, "x" * 39 + "…"),
    ("x" * 40, "x" * 40),
])
def test_shorten(text: str, short: str) -> None:
    assert shorten(text) == short
