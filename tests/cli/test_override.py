"""``fsivr override list|set|clear`` as an operator runs them (the command's main()), on SQLite and
PostgreSQL: the change reaches a running server's callers, ends by itself, and is logged as the
shell user."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fsivr.cli import main
from fsivr.store import overrides
from fsivr.store.db import Store
from fsivr.testing.harness import running

BUNDLE = """
scenarios:
  - scenario: office
    numbers: ["100"]
    start: hours
    nodes:
      hours: {type: time_condition, timezone: Europe/Warsaw, override: office,
              rules: [{days: mon-fri, hours: "08:00-16:00"}], match: bye, nomatch: bye}
      bye: {type: hangup}
  - scenario: always
    numbers: ["200"]
    start: hours
    nodes:
      hours: {type: time_condition, override: nonstop, rules: [{days: mon-sun}], match: bye, nomatch: bye}
      bye: {type: hangup}
"""


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def fsivr(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """The command's main() in this process (a process each would cost seconds of imports), its
    output captured as the shell would see it."""
    def run(url: str, *args: str) -> Ran:
        capsys.readouterr()
        code = main(["--database", url, *args])
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


def test_set_list_clear_and_a_server_follows(db_url: str, tmp_path: Path, fsivr: Callable[..., Ran]) -> None:
    (tmp_path / "b.yaml").write_text(BUNDLE)
    assert fsivr(db_url, "db", "upgrade").returncode == 0
    assert fsivr(db_url, "import", str(tmp_path / "b.yaml")).returncode == 0
    who = f"shell:{getpass.getuser()}"

    listed = fsivr(db_url, "override", "list").stdout.splitlines()
    assert re.fullmatch(r"nonstop: open \(schedule\)", listed[0])
    assert re.fullmatch(r"office: (open|closed) \(schedule; changes at 20\d\d-\d\d-\d\dT\d\d:\d\d\+0[12]:00\)",
                        listed[1])

    done = fsivr(db_url, "override", "set", "office", "closed", "--until", "2099-01-01T00:00:00+00:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "office: closed until 2099-01-01T01:00+01:00\n"
    listed = fsivr(db_url, "override", "list").stdout.splitlines()
    assert listed[1].startswith(f"office: closed (override until 2099-01-01T01:00+01:00, set by {who} at ")

    with running(database_url=db_url) as server:  # calls arriving now get the forced answer
        assert server.call(number="100").outcomes["hours"] == "nomatch"
        done = fsivr(db_url, "override", "clear", "office")
        assert done.stdout == "office: back to its schedule\n"
        assert fsivr(db_url, "override", "clear", "office").stdout == "office: had no override in force\n"

    # without --until: until the schedule's next change
    done = fsivr(db_url, "override", "set", "office", "open")
    assert re.fullmatch(r"office: open until 20\d\d-\d\d-\d\dT(08|16):00\+0[12]:00\n", done.stdout), done.stderr

    history = fsivr(db_url, "override", "list", "--history").stdout
    actions = re.findall(rf"  \S+  office: (\S+)(?: until \S+)? by {re.escape(who)}\n", history)
    assert actions == ["open", "clear", "closed"]  # newest first

    store = Store(db_url)
    try:
        rows = store.run(lambda s: overrides.history(s, "office"))
    finally:
        store.close()
    assert [(r.action, r.who) for r in rows] == [("open", who), ("clear", who), ("closed", who)]
    assert all(r.at <= datetime.now(UTC) for r in rows)


def test_refusals(db_url: str, tmp_path: Path, fsivr: Callable[..., Ran]) -> None:
    (tmp_path / "b.yaml").write_text(BUNDLE)
    assert fsivr(db_url, "db", "upgrade").returncode == 0
    assert fsivr(db_url, "import", str(tmp_path / "b.yaml")).returncode == 0
    done = fsivr(db_url, "override", "set", "nosuch", "open")
    assert done.returncode == 1 and "no time_condition has override: nosuch" in done.stderr
    done = fsivr(db_url, "override", "set", "nonstop", "closed")
    assert done.returncode == 1 and "does not change within a year" in done.stderr
    done = fsivr(db_url, "override", "set", "office", "open", "--until", "tomorrow")
    assert done.returncode == 2 and "give HH:MM or an ISO 8601 time" in done.stderr
    done = fsivr(db_url, "override", "set", "office", "open", "--until", "2020-01-01T00:00:00+00:00")
    assert done.returncode == 2 and "not in the future" in done.stderr
    store = Store(db_url)
    try:
        assert store.run(lambda s: overrides.history(s)) == []
    finally:
        store.close()
