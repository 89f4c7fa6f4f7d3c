"""Templates that can never render are refused when a scenario is validated or imported — the
classic Jinja sandbox escapes and unbounded output, in every node that takes templates — with a
message naming file:line and field and no traceback; one that fails for a call's data gives the
node's ``error`` outcome with one log line."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from fsivr.cli import build_parser
from fsivr.testing.harness import running

#: The classic escapes (SSTI payloads) and ways to make output without bound.
HOSTILE = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ caller['__class__'] }}",
    "{{ ''|attr('__class__') }}",
    "{{ ''|attr('_' ~ '_class__') }}",
    "{{ 'a'.format.__globals__ }}",
    "{{ caller.__init__.__globals__ }}",
    "{{ 'x' * 10**9 }}",
    "{{ caller.ljust(10**9) }}",
    "{{ '%999999999s'|format(1) }}",
    "{{ range(10**9)|list }}",
    "{% for i in range(100000) %}{{ caller }}{% endfor %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
]


def scenario(field: str, template: str) -> str:
    quoted = template.replace("\\", "\\\\").replace('"', '\\"')
    nodes = {
        "set": f'type: set, variables: {{x: "{quoted}"}}, next: bye',
        "sms": f'type: sms, to: "+48600100101", text: "{quoted}", next: bye',
        "email": f'type: email, to: "a@example.com", subject: "s", body: "{quoted}", next: bye',
        "email.to": f'type: email, to: ["a@example.com", "{quoted}"], subject: "s", next: bye',
    }[field]
    return ("scenarios:\n  - scenario: evil\n    numbers: [\"1\"]\n    start: n\n    nodes:\n"
            f"      n: {{{nodes}}}\n      bye: {{type: hangup}}\n")


def validate(path: Path) -> int:
    args = build_parser().parse_args(["--database", f"sqlite:///{path.parent / 'none.sqlite3'}",
                                      "scenario", "validate", str(path)])
    return int(args.func(args))


@pytest.mark.parametrize("field", ["set", "sms", "email", "email.to"])
@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_templates_are_refused_by_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   field: str, template: str) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(scenario(field, template))
    assert validate(path) == 1
    out = capsys.readouterr()
    err = out.out + out.err
    param = {"set": "variables", "sms": "text", "email": "body", "email.to": "to"}[field]
    assert f"{path}:6: evil.nodes.n.{param}: " in err
    assert ("outside the call's variables" in err or "refused by the sandbox" in err
            or "longer than" in err or "not allowed in templates" in err), err
    assert "Traceback" not in err
    assert "is required" not in err  # said once, not twice


def test_import_refuses_them_and_no_traceback_reaches_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(scenario("set", "{{ ''.__class__.__mro__ }}"))
    db = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    run = [sys.executable, "-m", "fsivr", "--database", db]
    assert subprocess.run([*run, "db", "upgrade"], capture_output=True, timeout=60).returncode == 0
    for command in (["scenario", "validate", str(path)], ["scenario", "import", str(path)]):
        done = subprocess.run([*run, *command], capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        said = done.stdout + done.stderr
        assert (f"{path}:6: evil.nodes.n.variables: x: template refused by the sandbox: it reaches for "
                "'__class__', '__mro__', outside the call's variables") in said
        assert "Traceback" not in said


def test_harmless_templates_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fine.yaml"
    path.write_text(scenario("sms", "Hello {{ caller }}, {{ digits|default('none') }} {{ (duration / 60)|round }} min"))
    assert validate(path) == 0, capsys.readouterr().err


FAILS_AT_CALL_TIME = """
scenarios:
  - scenario: div
    numbers: ["1"]
    start: n
    nodes:
      n: {type: set, variables: {x: "{{ 100 // (digits|default(0)|int) }}"}, next: bye, error: sorry}
      sorry: {type: play, text: "Sorry", next: bye}
      bye: {type: hangup}
"""


def test_a_template_failing_for_this_call_is_the_error_outcome_and_one_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    with running(FAILS_AT_CALL_TIME) as harness, caplog.at_level(logging.INFO, logger="fsivr"):
        placed = harness.call(number="1")
    assert placed.path == [("n", "error"), ("sorry", "next"), ("bye", "hangup")]
    assert placed.record is not None and "division" in placed.record["path"][0]["detail"]["error"]
    lines = [r for r in caplog.records if "div.n" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None and lines[0].levelno == logging.WARNING
