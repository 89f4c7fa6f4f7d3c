"""``fsivr simulate`` as a user runs it: a real process, the real server, the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

BUNDLE = """
scenarios:
  - scenario: hours
    numbers: ["+48221234567"]
    start: check
    nodes:
      check:
        type: time_condition
        timezone: Europe/Warsaw
        rules: [{days: mon-fri, hours: "08:00-16:00"}]
        match: menu
        nomatch: closed
      menu:
        type: menu
        text: "Press 1 or 2"
        options: {"1": one, "2": two}
        max_attempts: 2
        timeout: closed
        invalid: closed
      one: {type: play, text: "One", next: bye}
      two: {type: play, text: "Two", next: bye}
      closed: {type: play, text: "Closed", next: bye}
      bye: {type: hangup}
"""


def fsivr(cwd: Path, *args: str, timeout: float = 60,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``fsivr ARGS`` as a user in ``cwd`` runs it."""
    return subprocess.run([sys.executable, "-m", "fsivr", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env)


def path_of(done: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
    """The (node, outcome) steps of a ``simulate --json`` run."""
    return [(s["node"], s["outcome"]) for s in json.loads(done.stdout)["path"]]


def simulate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "b.yaml"
    path.write_text(BUNDLE)
    return fsivr(tmp_path, "simulate", str(path), *args)


@pytest.mark.parametrize("at, digits, path", [
    ("2026-11-23T09:00:00+01:00", "2", [("check", "match"), ("menu", "2"), ("two", "next"), ("bye", "hangup")]),
    ("2026-11-23T09:00:00+01:00", ",", [("check", "match"), ("menu", "timeout"), ("closed", "next"),
                                        ("bye", "hangup")]),
    ("2026-11-23T09:00:00+01:00", "7,", [("check", "match"), ("menu", "timeout"), ("closed", "next"),
                                         ("bye", "hangup")]),
    ("2026-11-23T09:00:00+01:00", ",5", [("check", "match"), ("menu", "invalid"), ("closed", "next"),
                                         ("bye", "hangup")]),
    # 17:30 in Warsaw is after hours; the same instant written in UTC must give the same answer.
    ("2026-11-23T16:30:00+00:00", "1", [("check", "nomatch"), ("closed", "next"), ("bye", "hangup")]),
])
def test_json_path(tmp_path: Path, at: str, digits: str, path: list[tuple[str, str]]) -> None:
    done = simulate(tmp_path, "--at", at, "--digits", digits, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"path", "hangup_cause"}
    assert [(s["node"], s["outcome"]) for s in out["path"]] == path
    assert all(set(s) == {"node", "outcome"} for s in out["path"])
    assert out["hangup_cause"] == "NORMAL_CLEARING"


def test_human_output_and_bad_arguments(tmp_path: Path) -> None:
    done = simulate(tmp_path, "--at", "2026-11-23T09:00:00+01:00", "--digits", "1")
    assert done.returncode == 0, done.stderr
    assert "menu" in done.stdout and "-> 1" in done.stdout and "hangup: NORMAL_CLEARING" in done.stdout
    bad = simulate(tmp_path, "--at", "2026-11-23T09:00:00")
    assert bad.returncode == 2 and "needs a UTC offset" in bad.stderr
    bad = simulate(tmp_path, "--answer", "sip:101=maybe")
    assert bad.returncode == 2 and "outcome must be one of" in bad.stderr


STORED = """
accounts:
  - {user: "101", password: "pw-101", extension: "101"}
scenarios:
  - scenario: front
    numbers: ["100"]
    start: hello
    nodes:
      hello: {type: play, text: "Hello", next: on}
      on: {type: goto, scenario: back}
  - scenario: back
    start: d
    nodes:
      d: {type: dial, targets: [sip:101], answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
"""


def _db_state(url: str) -> tuple[int, str | None]:
    from sqlalchemy import create_engine, inspect, text

    from fsivr.store.migrate import current_revision

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            calls = conn.execute(text("SELECT count(*) FROM calls")).scalar() \
                if inspect(conn).has_table("calls") else -1
        return calls, current_revision(engine)
    finally:
        engine.dispose()


def stored(tmp_path: Path, bundle: str, name: str) -> str:
    """The URL of the configured database (prod.sqlite3, migrated) with ``bundle`` imported from
    tmp_path/``name``."""
    from fsivr.scenario import repository
    from fsivr.store.db import Store

    url = f"sqlite:///{tmp_path / 'prod.sqlite3'}"
    store = Store(url)
    store.upgrade()
    (tmp_path / name).write_text(bundle)
    repository.import_file(store, tmp_path / name)
    store.close()
    return url


def test_a_stored_scenario_is_simulated_in_a_copy_not_in_the_configured_database(tmp_path: Path) -> None:
    url = stored(tmp_path, STORED, "stored.yaml")
    before = _db_state(url)
    done = fsivr(tmp_path, "--database", url, "simulate", "front", "--json", "--answer", "sip:101=busy")
    assert done.returncode == 0, done.stderr
    # The goto target and the directory came along.
    assert path_of(done) == [("hello", "next"), ("on", "goto"), ("back.d", "busy"), ("back.bye", "hangup")]
    assert _db_state(url) == before and before[0] == 0


def test_simulate_refuses_a_database_that_is_not_migrated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    sqlite3.connect(path).close()
    url = f"sqlite:///{path}"
    done = fsivr(tmp_path, "--database", url, "simulate", "front")
    assert done.returncode == 2
    assert f"database {url} is not migrated: run `fsivr db upgrade`" in done.stderr
    assert _db_state(url) == (-1, None)  # never migrated behind the operator's back


def _pin_hash(pin: str) -> str:
    from fsivr.engine.pins import hash_pin

    return hash_pin(pin)


GATED = f"""
scenarios:
  - scenario: gated
    numbers: ["200"]
    start: auth
    nodes:
      auth: {{type: authorize, pins: ["{_pin_hash('4711')}"], caller_ids: ["+48 22 123 45 67"], text: "PIN?",
             ok: find, denied: bye}}
      find: {{type: lookup, table: debts, found: owes, not_found: bye}}
      owes: {{type: set, variables: {{x: "{{{{ debt }}}}"}}, next: bye}}
      bye: {{type: hangup}}
"""


@pytest.mark.parametrize("caller, digits, path", [
    # A PIN is one --digits entry, each retry the next one (spec section 7).
    ("+48600100101", "4711#", [("auth", "ok"), ("find", "not_found"), ("bye", "hangup")]),
    ("+48600100101", "1234#,,4711#", [("auth", "ok"), ("find", "not_found"), ("bye", "hangup")]),
    ("+48600100101", "1#,2#,3#", [("auth", "denied"), ("bye", "hangup")]),
    ("0048221234567", "", [("auth", "ok"), ("find", "not_found"), ("bye", "hangup")]),
])
def test_authorize_and_lookup_in_a_file(tmp_path: Path, caller: str, digits: str, path: list[tuple[str, str]]) -> None:
    (tmp_path / "g.yaml").write_text(GATED)
    done = fsivr(tmp_path, "simulate", str(tmp_path / "g.yaml"), "--caller", caller, "--digits", digits, "--json")
    assert done.returncode == 0, done.stderr
    assert path_of(done) == path


def test_a_stored_scenario_looks_up_the_stored_tables(tmp_path: Path) -> None:
    url = stored(tmp_path, GATED, "g.yaml")
    (tmp_path / "debts.csv").write_text("phone,debt\n+48 600 100 101,99\n")
    imported = fsivr(tmp_path, "--database", url, "table", "import", "debts", str(tmp_path / "debts.csv"))
    assert imported.returncode == 0, imported.stderr
    before = _db_state(url)
    done = fsivr(tmp_path, "--database", url, "simulate", "gated", "--json", "--caller", "600100101",
                 "--digits", "4711#")
    assert done.returncode == 0, done.stderr
    assert path_of(done) == [("auth", "ok"), ("find", "found"), ("owes", "next"), ("bye", "hangup")]
    assert _db_state(url) == before


SAY_BUNDLE = """
scenarios:
  - scenario: debt
    numbers: ["+48221234567"]
    start: pin
    nodes:
      pin: {type: menu, text: "Podaj numer klienta", options: {"1": amount}, timeout: bye, invalid: bye}
      amount: {type: set, variables: {debt: "2022.50"}, next: pl}
      pl: {type: say, kind: amount, value: "{{ debt }}", currency: PLN, language: pl, next: ru}
      ru: {type: say, kind: amount, value: "{{ debt }}", currency: RUB, language: ru, next: bye}
      bye: {type: hangup}
"""


def test_simulate_drives_the_say_node(tmp_path: Path) -> None:
    path = tmp_path / "say.yaml"
    path.write_text(SAY_BUNDLE)
    done = fsivr(tmp_path, "simulate", str(path), "--digits", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert path_of(done) == [("pin", "1"), ("amount", "next"), ("pl", "next"), ("ru", "next"), ("bye", "hangup")]
    # Both amounts were rendered by espeak-ng into the prompts directory (the menu has no language: flite).
    assert len(list((tmp_path / "prompts" / "_tts").glob("*.wav"))) == 2


MESSAGES = """
mailboxes:
  - {box: office, email: "office@example.com"}
scenarios:
  - scenario: messages
    numbers: ["100"]
    start: rec
    after_call: thanks
    nodes:
      rec: {type: record_call, retention_days: 7, next: sms}
      sms: {type: sms, to: "{{ caller }}", text: "We got your call", next: fax}
      fax: {type: fax_receive, received: vm, failed: vm}
      vm: {type: voicemail, box: office, next: bye}
      bye: {type: hangup}
      thanks: {type: email, to: boss@example.com, subject: "Call from {{ caller }}", attach: [recording, voicemail]}
"""


def test_message_nodes_show_in_the_path_and_leave_no_files_behind(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MESSAGES)
    done = fsivr(tmp_path, "simulate", str(path), "--caller", "+48501000001", "--json")
    assert done.returncode == 0, done.stderr
    assert path_of(done) == [("rec", "next"), ("sms", "next"), ("fax", "received"), ("vm", "next"),
                             ("bye", "hangup"), ("thanks", "next")]
    # The simulated recording, fax and message went with the scratch database, not into ./var/media.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


PARK = """
scenarios:
  - scenario: parking
    numbers: ["3001"]
    start: park
    nodes:
      park: {type: park, lot: main, text: "You are parked on slot", next: again, full: again}
      again: {type: play, text: "Nobody picked up", next: bye}
      bye: {type: hangup}
"""


@pytest.mark.parametrize("extra, path", [
    ([], [("park", "next"), ("again", "next"), ("bye", "hangup")]),
    (["--pickup", "5"], [("park", "left")]),
])
def test_park_timeout_and_pickup(tmp_path: Path, extra: list[str], path: list[tuple[str, str]]) -> None:
    (tmp_path / "p.yaml").write_text(PARK)
    env = {**os.environ, "FSIVR_PARKING_LOTS": "main 701-709 30"}
    done = fsivr(tmp_path, "simulate", str(tmp_path / "p.yaml"), "--json", *extra, env=env)
    assert done.returncode == 0, done.stderr
    assert path_of(done) == path


DAYNIGHT = f"""
scenarios:
  - scenario: daynight
    numbers: ["*28"]
    start: auth
    nodes:
      auth: {{type: authorize, pins: ["{_pin_hash('4711')}"], text: "PIN?", ok: flip, denied: bye}}
      flip: {{type: time_override, switch: office, action: closed, until: ask, text: "Until when",
             closed: bye, invalid: bye}}
      bye: {{type: hangup}}
  - scenario: office
    numbers: ["100"]
    start: hours
    nodes:
      hours: {{type: time_condition, timezone: Europe/Warsaw, override: office,
              rules: [{{days: mon-fri, hours: "08:00-16:00"}}], match: bye, nomatch: bye}}
      bye: {{type: hangup}}
"""


@pytest.mark.parametrize("digits, path", [
    ("4711#,1530", [("auth", "ok"), ("flip", "closed"), ("bye", "hangup")]),
    ("4711#,9999", [("auth", "ok"), ("flip", "invalid"), ("bye", "hangup")]),
])
def test_time_override_in_a_file(tmp_path: Path, digits: str, path: list[tuple[str, str]]) -> None:
    (tmp_path / "d.yaml").write_text(DAYNIGHT)
    done = fsivr(tmp_path, "simulate", str(tmp_path / "d.yaml"), "--number", "*28", "--at", "2026-11-23T10:00:00+01:00",
                 "--digits", digits, "--json")
    assert done.returncode == 0, done.stderr
    assert path_of(done) == path


def test_a_stored_override_is_what_the_simulated_caller_meets(tmp_path: Path) -> None:
    url = stored(tmp_path, DAYNIGHT, "d.yaml")

    def hours() -> str:
        done = fsivr(tmp_path, "--database", url, "simulate", "office", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["path"][0]["outcome"]

    scheduled = hours()
    forced = "closed" if scheduled == "match" else "open"
    done = fsivr(tmp_path, "--database", url, "override", "set", "office", forced,
                 "--until", "2099-01-01T00:00:00+00:00")
    assert done.returncode == 0, done.stderr
    assert hours() == ("nomatch" if forced == "closed" else "match")


@pytest.mark.parametrize("answers, path", [
    ([], [("welcome", "next"), ("line", "answered")]),
    # 101 (level 1) lets the offered call ring out; 102 takes it
    (["--answer", "sip:101=no_answer"], [("welcome", "next"), ("line", "answered")]),
    (["--answer", "sip:101=no_answer", "--answer", "sip:102=no_answer"],
     [("welcome", "next"), ("line", "timeout"), ("sorry", "next"), ("bye", "hangup")]),
])
def test_the_queue_example_seats_its_agents(answers: list[str], path: list[tuple[str, str]]) -> None:
    """examples/queue.yaml: the agents it lists are logged in and available; ``--answer`` says how
    each takes an offered call; the queue node's outcome is in the --json path."""
    done = fsivr(REPO, "simulate", str(REPO / "examples" / "queue.yaml"), *answers, "--json", timeout=90)
    assert done.returncode == 0, done.stderr
    assert path_of(done) == path
