"""What a new user runs into first, through the command line as they meet it (issue 12, point 7):
each mistake is one clear line that says what to do, never a traceback or a silent surprise."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import procs
import pytest

from fsivr.cli import build_parser
from fsivr.store.callrecords import CallRecord, StepRecord, write_records
from fsivr.store.db import Store

from .test_serve import free_port, wait_listening

TYPOS = """\
scenarios:
  - scenario: main
    numbers: ["500"]
    start: hello
    nodes:
      hello: {type: paly, text: Hi, next: main_menu}
      main_menu:
        type: menu
        text: "Press 1"
        options: {1: bye}
        timeout: mainmenu
      bye: {typ: hangup}
"""

DIAL = """\
accounts:
  - {user: "101", password: "pw101"}
scenarios:
  - scenario: sales
    numbers: ["700", "701"]
    start: ask
    nodes:
      ask: {type: menu, text: "Press 1", options: {"1": ring}, max_attempts: 1, timeout: ring}
      ring: {type: dial, targets: ["sip:101"], ring_timeout: 10, answered: bye, no_answer: bye, busy: bye}
      bye: {type: hangup}
  - scenario: other
    numbers: ["800"]
    start: bye
    nodes:
      bye: {type: hangup}
"""


def run(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsivr", *argv], capture_output=True, text=True, timeout=90,
                          cwd=tmp_path, env={**os.environ, **(env or {})})


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


def test_validate_says_type_is_missing_and_suggests_names(tmp_path: Path) -> None:
    (tmp_path / "typos.yaml").write_text(TYPOS)
    done = run(tmp_path, "scenario", "validate", "typos.yaml")
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "main.nodes.bye.type: 'type' is missing ('typ' is not a key; did you mean 'type'?)" in out
    assert "None" not in out
    assert "main.nodes.hello.type: unknown node type 'paly' (did you mean 'play'?)" in out
    assert "main.nodes.main_menu.timeout: points to a missing node 'mainmenu' (did you mean 'main_menu'?)" in out


def test_menu_key_given_as_number_and_as_text_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text(TYPOS.replace("{1: bye}", '{1: bye, "1": hello}'))
    done = run(tmp_path, "scenario", "validate", "dup.yaml")
    assert done.returncode == 1
    assert "dup.yaml:10: duplicate key '1' (first on line 10)" in done.stdout + done.stderr


def test_unknown_fsivr_variable_is_an_error(tmp_path: Path) -> None:
    done = run(tmp_path, "calls", env={"FSIVR_LISTEN_PRT": "1"})
    assert done.returncode == 2
    assert "FSIVR_LISTEN_PRT: unknown setting; did you mean 'FSIVR_LISTEN_PORT'?" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_listen_takes_a_host_alone_or_says_what_is_wrong(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert run(tmp_path, "--database", db, "db", "upgrade").returncode == 0
    bad = run(tmp_path, "--database", db, "serve", "--listen", "127.0.0.1:80a")
    assert bad.returncode == 2
    assert "fsivr serve: --listen '127.0.0.1:80a': the port must be a number from 0 to 65535" in bad.stderr
    assert "invalid literal" not in bad.stderr
    # A host alone: the configured port (here from the environment).
    port = free_port()
    proc = procs.spawn([sys.executable, "-m", "fsivr", "--database", db, "serve", "--listen", "127.0.0.1"],
                       cwd=tmp_path, env={**os.environ, "FSIVR_LISTEN_PORT": str(port)},
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(port, proc)
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    finally:
        proc.terminate()
        proc.wait(20)


def test_simulate_warns_about_what_the_call_never_used(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(DIAL)
    done = run(tmp_path, "simulate", "b.yaml", "--digits", "1,2,3", "--answer", "sip:101=busy",
               "--answer", "sip:999=answered", "--json")
    assert done.returncode == 0, done.stderr
    assert [s["node"] for s in json.loads(done.stdout)["path"]] == ["ask", "ring", "bye"]
    assert "warning: --answer sip:999: this target was never rung (rung: sip:101)" in done.stderr
    assert "sip:101: this target" not in done.stderr
    assert "warning: --digits: 2 entries were never asked for: 2,3" in done.stderr


def test_simulate_refuses_a_number_of_another_scenario(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(DIAL)
    done = run(tmp_path, "simulate", "b.yaml", "--number", "800")
    assert done.returncode == 2
    assert "--number 800 belongs to scenario 'other', not 'sales' (its numbers: 700, 701)" in done.stderr
    # A number nobody owns runs as the default scenario, with a warning that production would not.
    done = run(tmp_path, "simulate", "b.yaml", "--number", "999", "--digits", ",")
    assert done.returncode == 0, done.stderr
    assert "warning: --number 999 is not a number of sales (its numbers: 700, 701)" in done.stderr


def test_calls_filters_and_json(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert fsivr(db_url, "db", "upgrade") == 0
    now = datetime.now(UTC).replace(microsecond=0)
    old = now - timedelta(hours=3)

    def record(uuid: str, number: str, at: datetime) -> CallRecord:
        return CallRecord(uuid=uuid, caller="+48501000001", number=number, scenario="main", started_at=at,
                          answered_at=at, ended_at=at + timedelta(seconds=12), hangup_cause="NORMAL_CLEARING",
                          hangup_by="caller", steps=[StepRecord(0, "hello", "play", "next", at, at)])

    store = Store(db_url)
    store.run(lambda s: write_records(s, [record("u-new-500", "500", now), record("u-old-500", "500", old),
                                          record("u-new-600", "600", now)]))
    store.close()
    capsys.readouterr()
    assert fsivr(db_url, "calls", "--number", "500") == 0
    out = capsys.readouterr().out
    assert "u-new-500" in out and "u-old-500" in out and "u-new-600" not in out
    # Times carry their zone: the stored UTC instant, shown in this machine's zone with its name.
    local = now.astimezone()
    assert f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}  +48501000001 -> 500" in out
    assert fsivr(db_url, "calls", "--since", "1h") == 0
    out = capsys.readouterr().out
    assert "u-new-500" in out and "u-new-600" in out and "u-old-500" not in out
    assert fsivr(db_url, "calls", "--number", "500", "--since", (now - timedelta(hours=4)).isoformat(),
                 "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["uuid"] for r in rows] == ["u-new-500", "u-old-500"]
    assert datetime.fromisoformat(rows[0]["started_at"]) == now
    assert rows[0]["started_at"].endswith("+00:00") and rows[0]["duration"] == 12.0
    assert rows[0]["path"][0]["node"] == "hello" and rows[0]["status"] == "answered"
    with pytest.raises(ValueError, match="--since 'yesterday'"):
        fsivr(db_url, "calls", "--since", "yesterday")
