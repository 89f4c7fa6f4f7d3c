"""Bounded inputs: a file, a document, a scenario and a text value each have a limit, and going
over it is refused early through the CLI (`fsivr scenario validate`, `fsivr import`) with a message
naming the limit. The oversize inputs are generated just over each limit, so the tests stay fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fsivr.cli import build_parser
from fsivr.engine.limits import MAX_NODES, MAX_TEXT
from fsivr.scenario import yamlio
from fsivr.scenario.yamlio import MAX_FILE_BYTES


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    assert fsivr(url, "db", "upgrade") == 0
    return url


def scenario(nodes: dict[str, str], prompts: str = "") -> str:
    body = "".join(f"      {node_id}: {node}\n" for node_id, node in nodes.items())
    return f"{prompts}scenarios:\n  - scenario: main\n    start: {next(iter(nodes))}\n    nodes:\n{body}"


def run_both(db: str, path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Validate and import ``path``; both must refuse it. Returns what each printed."""
    capsys.readouterr()
    assert fsivr(db, "scenario", "validate", str(path)) == 1
    validated = capsys.readouterr().out
    assert fsivr(db, "import", str(path)) == 1
    imported = capsys.readouterr().err
    assert fsivr(db, "scenario", "list") == 0
    assert "no scenarios" in capsys.readouterr().out  # nothing was imported
    return [validated, imported]


def test_a_file_over_the_size_limit_is_refused_unparsed(db: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.yaml"
    # Valid YAML all the way (one long comment after a valid scenario): only the size is wrong.
    text = scenario({"bye": "{type: hangup}"})
    path.write_text(text + "#" + "x" * (MAX_FILE_BYTES - len(text)) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES + 2
    started = time.monotonic()
    for out in run_both(db, path, capsys):
        assert f"{path}: the file is larger than {MAX_FILE_BYTES} bytes, the limit for a scenario or bundle file" \
            in out
    # Refused before parsing: parsing 2 MB takes seconds.
    assert time.monotonic() - started < 3


def test_a_file_at_the_size_limit_is_read(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "full.yaml"
    text = scenario({"bye": "{type: hangup}"})
    path.write_text(text + "#" + "x" * (MAX_FILE_BYTES - len(text) - 2) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert fsivr(db, "scenario", "validate", str(path)) == 0


def test_too_many_values_are_refused_while_parsing_without_blaming_aliases(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit lowered so that the document stays small: what is tested is that parsing stops
    # at the limit and says which limit it is (the 200,000-node bundle was told "through aliases").
    monkeypatch.setattr(yamlio, "MAX_VALUES", 500)
    path = tmp_path / "many.yaml"
    path.write_text(scenario({f"n{i}": "{type: hangup}" for i in range(200)}))
    for out in run_both(db, path, capsys):
        assert f"{path}: the document has more than 500 values, the limit for a scenario or bundle (MAX_VALUES)" \
            in out
        assert "alias" not in out


def test_a_scenario_over_the_node_limit_is_refused_with_the_limit(db: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nodes.yaml"
    nodes = {f"n{i}": f"{{type: goto, scenario: main, next: n{i + 1}}}" for i in range(MAX_NODES)}
    nodes[f"n{MAX_NODES}"] = "{type: hangup}"
    path.write_text(scenario(nodes))
    for out in run_both(db, path, capsys):
        assert f":4: scenarios[0].nodes: has {MAX_NODES + 1} nodes; the limit is {MAX_NODES} nodes per scenario" \
            in out
        # One error for the scenario, not one per node.
        assert out.count("\n") <= 2


def test_text_over_the_limit_is_refused_in_prompts_and_node_parameters(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_text = "a" * (MAX_TEXT + 1)
    path = tmp_path / "text.yaml"
    path.write_text(scenario({"hello": f"{{type: play, text: {long_text}}}"},
                             prompts=f"prompts:\n  - {{name: hi, text: {long_text}}}\n"))
    for out in run_both(db, path, capsys):
        assert f"text.yaml:2: prompts[0].text: is too long ({MAX_TEXT + 1} characters, at most {MAX_TEXT})" in out
        assert (f"text.yaml:7: scenarios[0].nodes.hello.text: is too long ({MAX_TEXT + 1} characters; "
                f"the limit for a text value is {MAX_TEXT})") in out
        assert long_text not in out  # the message does not echo the text back

    # Exactly at the limit is fine.
    ok_text = "a" * MAX_TEXT
    path.write_text(scenario({"hello": f"{{type: play, text: {ok_text}}}"},
                             prompts=f"prompts:\n  - {{name: hi, text: {ok_text}}}\n"))
    assert fsivr(db, "import", str(path)) == 0


def test_one_bad_parameter_gives_one_error(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(scenario({"s": "{type: set, variables: {'bad name': x}, next: bye}", "bye": "{type: hangup}"}))
    capsys.readouterr()
    assert fsivr(db, "scenario", "validate", str(path)) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    assert "scenarios[0].nodes.s.variables" in errors[0] or "nodes.s.variables" in errors[0]
    assert "is required" not in errors[0]


def test_a_text_value_is_bounded_in_the_engine_too() -> None:
    # Scenarios reach the compiler from the store as well as from files.
    from fsivr.engine.scenario import ScenarioSpec, ValidationFailed, compile_scenario

    spec = ScenarioSpec(name="main", start="hello",
                        nodes={"hello": {"type": "set", "variables": {"x": "a" * (MAX_TEXT + 1)}}})
    with pytest.raises(ValidationFailed) as failed:
        compile_scenario(spec)
    assert [str(e) for e in failed.value.errors] == [
        f"main.nodes.hello.variables: is too long ({MAX_TEXT + 1} characters; the limit for a text value is "
        f"{MAX_TEXT})"]
