"""The authorize node through real calls: caller-ID allow list, PIN entry (one --digits entry per
try), the lock-out across calls and across servers sharing the database, and a PIN that shows up
in no log line and no database row."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import MetaData, select

from fsivr.cli import main
from fsivr.config import Config
from fsivr.engine.pins import hash_pin
from fsivr.scenario.bundle import parse_text
from fsivr.scenario.validate import validate_bundle
from fsivr.testing.harness import Harness, running

from .conftest import apps

#: Ten keys: nothing else a call leaves (uuids, timestamps) holds this run of digits by chance.
PIN = "8642097531"
OTHER_PIN = "1357924680"
WARSAW = ZoneInfo("Europe/Warsaw")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=WARSAW)

BUNDLE = f"""
scenarios:
  - scenario: staff
    numbers: ["2001"]
    start: auth
    nodes:
      auth: {{type: authorize, pins: ["{hash_pin(PIN)}", "{hash_pin(OTHER_PIN)}"], text: "Enter your PIN",
             invalid_text: "Wrong PIN", pin_digits: 12, max_attempts: 3, lockout_after: 4, lockout_window: 600,
             ok: welcome, denied: sorry}}
      welcome: {{type: play, text: "Welcome", next: bye}}
      sorry: {{type: play, text: "Access denied", next: bye}}
      bye: {{type: hangup}}
  - scenario: boss
    numbers: ["2002"]
    start: auth
    nodes:
      auth: {{type: authorize, caller_ids: ["+48 22 123 45 67", "0048600100101"], ok: welcome, denied: bye}}
      welcome: {{type: play, text: "Welcome", next: bye}}
      bye: {{type: hangup}}
  - scenario: boss-or-pin
    numbers: ["2003"]
    start: auth
    nodes:
      auth: {{type: authorize, caller_ids: ["221234567"], pins: ["{hash_pin(PIN)}"], pin_digits: 12,
             text: "Enter your PIN", ok: welcome, denied: bye}}
      welcome: {{type: play, text: "Welcome", next: bye}}
      bye: {{type: hangup}}
  - scenario: team
    numbers: ["2004"]
    start: auth
    nodes:
      auth: {{type: authorize, pin_list: team_pins, pin_digits: 12, text: "Enter your PIN", ok: welcome,
             denied: bye}}
      welcome: {{type: play, text: "Welcome", next: bye}}
      bye: {{type: hangup}}
"""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def staff(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('authorize') / 'fsivr.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_module_database")
    with running(BUNDLE, database_url=url, config=Config()) as harness:
        yield harness


def played(placed) -> list[str]:
    return [a.arg for a in apps(placed, "playback")]


def test_the_right_pin_lets_the_caller_on(staff: Harness) -> None:
    placed = staff.call(number="2001", caller="+48501000101", at=T0, digits=[PIN + "#"])
    assert placed.path == [("auth", "ok"), ("welcome", "next"), ("bye", "hangup")]
    pin_prompts = apps(placed, "play_and_get_digits")
    assert len(pin_prompts) == 1 and "say:Enter your PIN" in pin_prompts[0].arg
    # The keys do not stay on the channel (FreeSWITCH would keep them in its CDR).
    assert "fsivr_digits" not in placed.result.variables


def test_each_try_is_the_next_entry_and_a_later_right_pin_still_counts(staff: Harness) -> None:
    placed = staff.call(number="2001", caller="+48501000102", at=T0, digits=["1111#", "", OTHER_PIN + "#"])
    assert placed.outcomes["auth"] == "ok"
    assert len(apps(placed, "play_and_get_digits")) == 3
    assert played(placed).count("say:Wrong PIN") == 2
    assert placed.record["path"][0]["detail"] == {"by": "pin", "wrong": 1}


def test_max_attempts_wrong_pins_are_denied(staff: Harness) -> None:
    placed = staff.call(number="2001", caller="+48501000103", at=T0, digits=["1111#", "2222#", "3333#", PIN + "#"])
    assert placed.path == [("auth", "denied"), ("sorry", "next"), ("bye", "hangup")]
    assert len(apps(placed, "play_and_get_digits")) == 3  # max_attempts, not the fourth entry


def test_lockout_holds_across_calls_until_the_window_has_passed(staff: Harness) -> None:
    caller = "+48501000104"
    first = staff.call(number="2001", caller=caller, at=T0, digits=["1111#", "2222#", "3333#"])
    assert first.outcomes["auth"] == "denied"
    # Redialled, written another way: the fourth wrong PIN locks the number out at once.
    second = staff.call(number="2001", caller="0048501000104", at=T0 + timedelta(minutes=1),
                        digits=["4444#", PIN + "#"])
    assert second.outcomes["auth"] == "denied"
    assert len(apps(second, "play_and_get_digits")) == 1
    assert second.record["path"][0]["detail"]["reason"] == "locked out"
    # Now even the right PIN is not asked for.
    third = staff.call(number="2001", caller="501000104", at=T0 + timedelta(minutes=2), digits=[PIN + "#"])
    assert third.outcomes["auth"] == "denied"
    assert apps(third, "play_and_get_digits") == []
    # Another number is not affected.
    assert staff.call(number="2001", caller="+48501000105", at=T0 + timedelta(minutes=2),
                      digits=[PIN + "#"]).outcomes["auth"] == "ok"
    # Past the window (600 s after the failures), the number may try again.
    later = staff.call(number="2001", caller=caller, at=T0 + timedelta(minutes=15), digits=[PIN + "#"])
    assert later.outcomes["auth"] == "ok"


def test_lockout_is_shared_by_servers_on_one_database(staff: Harness) -> None:
    caller = "+48501000106"
    at = T0 + timedelta(hours=1)
    assert staff.call(number="2001", caller=caller, at=at,
                      digits=["1111#", "2222#", "3333#"]).outcomes["auth"] == "denied"
    url = staff.store.url.render_as_string(hide_password=False)
    with running(None, database_url=url, config=Config()) as other:
        placed = other.call(number="2001", caller=caller, at=at + timedelta(minutes=1), digits=["4444#", PIN + "#"])
    assert placed.outcomes["auth"] == "denied"
    assert len(apps(placed, "play_and_get_digits")) == 1


def test_caller_id_allow_list_in_any_spelling(staff: Harness) -> None:
    for caller in ("+48221234567", "0048221234567", "221234567", "+48600100101"):
        placed = staff.call(number="2002", caller=caller, at=T0)
        assert placed.path == [("auth", "ok"), ("welcome", "next"), ("bye", "hangup")], caller
        assert apps(placed, "play_and_get_digits") == []
    placed = staff.call(number="2002", caller="+48600100102", at=T0)
    assert placed.path == [("auth", "denied"), ("bye", "hangup")]
    assert placed.record["path"][0]["detail"] == {"reason": "caller ID not listed"}


def test_a_listed_caller_skips_the_pin_others_are_asked(staff: Harness) -> None:
    assert apps(staff.call(number="2003", caller="+48 22 123 45 67", at=T0), "play_and_get_digits") == []
    placed = staff.call(number="2003", caller="+48600100107", at=T0, digits=[PIN + "#"])
    assert placed.outcomes["auth"] == "ok"
    assert len(apps(placed, "play_and_get_digits")) == 1


def test_the_pin_is_in_no_log_and_no_database_row(staff: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    staff.call(number="2001", caller="+48501000108", at=T0, digits=["5555#", PIN + "#"])
    staff.call(number="2003", caller="+48501000108", at=T0, digits=[PIN + "#"])
    # A lock-out is logged (with the number): the log must still not hold what was typed.
    at = T0 + timedelta(hours=2)
    staff.call(number="2001", caller="+48501000109", at=at, digits=[PIN[:-1] + "#", "2#", "3#"])
    staff.call(number="2001", caller="+48501000109", at=at, digits=[PIN[1:] + "#", PIN + "#"])
    assert "+48501000109 locked out" in caplog.text, "the check below would prove nothing"
    assert PIN not in caplog.text and OTHER_PIN not in caplog.text
    meta = MetaData()
    meta.reflect(staff.store.engine)
    rows = 0
    with staff.store.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                rows += 1
                text = " ".join(str(v) for v in row)
                assert PIN not in text and OTHER_PIN not in text, table.name
    assert rows > 10


def validation_errors(authorize: str) -> list[str]:
    """What validation says of a one-scenario bundle whose node ``a`` is ``{type: authorize, <authorize>}``."""
    return validate_bundle(parse_text(f"""
scenarios:
  - scenario: s
    numbers: ["1"]
    start: a
    nodes:
      a: {{type: authorize, {authorize}, ok: b, denied: b}}
      b: {{type: hangup}}
""")).errors


def test_a_plain_pin_is_refused_at_validation() -> None:
    errors = validation_errors('pins: ["4711"], text: "PIN?"')
    assert any("PINs are stored hashed" in e and "4711" not in e for e in errors), errors


def test_a_pin_list_is_a_data_table_of_hashes_read_at_the_call(staff: Harness, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    url = staff.store.url.render_as_string(hide_password=False)
    at = T0 + timedelta(hours=3)
    # no such table yet: nobody's PIN can match (and the log says why)
    placed = staff.call(number="2004", caller="+48501000120", at=at, digits=[PIN + "#"])
    assert placed.outcomes["auth"] == "denied"
    assert "pin_list team_pins: no such data table" in caplog.text

    plain = "24680"
    team = tmp_path / "team.csv"
    team.write_text(f"person,pin\nanna,{hash_pin(PIN)}\npiotr,{hash_pin(OTHER_PIN)}\ntypo,{plain}\n")
    assert main(["--database", url, "table", "import", "team_pins", str(team), "--key", "person"]) == 0
    placed = staff.call(number="2004", caller="+48501000121", at=at, digits=[OTHER_PIN + "#"])
    assert placed.path == [("auth", "ok"), ("welcome", "next"), ("bye", "hangup")]
    assert placed.record["path"][0]["detail"] == {"by": "pin", "wrong": 0, "as": "piotr"}
    # a cell that is no hash (a PIN typed in plain) never matches, and is not logged
    caplog.clear()
    placed = staff.call(number="2004", caller="+48501000122", at=at, digits=[plain + "#"])
    assert placed.outcomes["auth"] == "denied"
    assert "row typo holds no PIN hash" in caplog.text and plain not in caplog.text

    # the list changes without a new scenario version: anna's new PIN counts at the next call
    team.write_text(f"person,pin\nanna,{hash_pin(OTHER_PIN)}\n")
    assert main(["--database", url, "table", "import", "team_pins", str(team), "--key", "person"]) == 0
    assert staff.call(number="2004", caller="+48501000123", at=at,
                      digits=[PIN + "#", "", ""]).outcomes["auth"] == "denied"
    placed = staff.call(number="2004", caller="+48501000124", at=at, digits=[OTHER_PIN + "#"])
    assert placed.record["path"][0]["detail"]["as"] == "anna"


def test_pin_list_alone_is_enough_and_needs_a_prompt() -> None:
    assert validation_errors('pin_list: team, text: "PIN?"') == []
    assert any("prompt or text" in e for e in validation_errors("pin_list: team"))
