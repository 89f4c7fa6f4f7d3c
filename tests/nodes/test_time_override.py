"""The day/night switch through real calls: staff authorize with a PIN and dial the feature code
(a time_override node) to force the office hours open or closed — until the next scheduled change
or a time they key in —, callers get the forced answer, it expires by itself, every change is
logged with the caller's number; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import gevent
import pytest

from fsivr.config import Config
from fsivr.engine.pins import hash_pin
from fsivr.scenario.validate import BundleInvalid
from fsivr.store import overrides
from fsivr.testing.harness import Harness, running

PIN = "4711"
WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY = datetime(2026, 11, 23, tzinfo=WARSAW)  # a Monday, no holiday

BUNDLE = f"""
scenarios:
  - scenario: office
    numbers: ["100"]
    start: hours
    nodes:
      hours: {{type: time_condition, timezone: Europe/Warsaw, override: office,
              rules: [{{days: mon-fri, hours: "08:00-16:00"}}], match: open, nomatch: closed}}
      open: {{type: play, text: "We are open", next: bye}}
      closed: {{type: play, text: "We are closed", next: bye}}
      bye: {{type: hangup}}
  - scenario: daynight
    numbers: ["*28"]
    start: auth
    nodes:
      auth: {{type: authorize, pins: ["{hash_pin(PIN)}"], text: "PIN please", max_attempts: 1, ok: flip,
             denied: bye}}
      flip: {{type: time_override, switch: office, open: said, closed: said, schedule: said}}
      said: {{type: play, text: "Done", next: bye}}
      bye: {{type: hangup}}
  - scenario: until
    numbers: ["*29"]
    start: auth
    nodes:
      auth: {{type: authorize, pins: ["{hash_pin(PIN)}"], text: "PIN please", max_attempts: 1, ok: close,
             denied: bye}}
      close: {{type: time_override, switch: office, action: closed, until: ask, text: "Until when",
              closed: bye, invalid: bye}}
      bye: {{type: hangup}}
"""


def hours(harness: Harness, at: datetime) -> str:
    return harness.call(number="100", at=at).outcomes["hours"]


def log(harness: Harness) -> list[tuple[str, str, str | None, str]]:
    rows = harness.store.run(lambda s: overrides.history(s, "office"))
    return [(c.action, c.who, c.until.astimezone(WARSAW).isoformat() if c.until else None, c.name)
            for c in reversed(rows)]


def test_toggle_forces_closed_until_the_next_change_and_back(db_url: str) -> None:
    with running(BUNDLE, database_url=db_url) as harness:
        at10 = MONDAY.replace(hour=10)
        assert hours(harness, at10) == "match"
        # staff toggle at 10:00: open → closed, until the schedule's own change (16:00)
        flip = harness.call(number="*28", caller="+48600100101", at=at10, digits=[PIN + "#"])
        assert flip.path == [("auth", "ok"), ("flip", "closed"), ("said", "next"), ("bye", "hangup")]
        assert hours(harness, MONDAY.replace(hour=11)) == "nomatch"
        step = harness.call(number="100", at=MONDAY.replace(hour=15, minute=59)).record["path"][0]
        assert step["outcome"] == "nomatch" and step["detail"]["override"] == "closed"
        # it expires by itself at 16:00 (closed then anyway) and Tuesday opens as scheduled
        assert hours(harness, MONDAY.replace(hour=16)) == "nomatch"
        assert hours(harness, MONDAY.replace(hour=8) + timedelta(days=1)) == "match"
        # toggling at 11:00 again: forced closed → open, which is the schedule: the override goes
        again = harness.call(number="*28", caller="+48600100102", at=MONDAY.replace(hour=11), digits=[PIN + "#"])
        assert again.outcomes["flip"] == "schedule"
        assert hours(harness, MONDAY.replace(hour=12)) == "match"
        assert log(harness) == [("closed", "+48600100101", "2026-11-23T16:00:00+01:00", "office"),
                                ("clear", "+48600100102", None, "office")]


def test_night_toggle_opens_until_the_morning(db_url: str) -> None:
    with running(BUNDLE, database_url=db_url) as harness:
        evening = MONDAY.replace(hour=20)
        assert harness.call(number="*28", caller="+48600100101", at=evening,
                            digits=[PIN + "#"]).outcomes["flip"] == "open"
        assert hours(harness, MONDAY.replace(hour=23)) == "match"
        assert hours(harness, MONDAY.replace(hour=7, minute=59) + timedelta(days=1)) == "match"
        assert log(harness)[0][:3] == ("open", "+48600100101", "2026-11-24T08:00:00+01:00")


def test_until_a_keyed_time_and_a_bad_time(db_url: str) -> None:
    with running(BUNDLE, database_url=db_url) as harness:
        at9 = MONDAY.replace(hour=9)
        close = harness.call(number="*29", caller="+48600100104", at=at9, digits=[PIN + "#", "1230"])
        assert close.outcomes["close"] == "closed"
        assert hours(harness, MONDAY.replace(hour=12, minute=29)) == "nomatch"
        assert hours(harness, MONDAY.replace(hour=12, minute=30)) == "match"  # expired by itself
        bad = harness.call(number="*29", caller="+48600100104", at=at9, digits=[PIN + "#", "2561"])
        assert bad.outcomes["close"] == "invalid"
        assert [row[:3] for row in log(harness)] == [("closed", "+48600100104", "2026-11-23T12:30:00+01:00")]


def test_a_wrong_pin_changes_nothing(db_url: str) -> None:
    with running(BUNDLE, database_url=db_url) as harness:
        at10 = MONDAY.replace(hour=10)
        denied = harness.call(number="*28", caller="+48600100109", at=at10, digits=["0000#"])
        assert denied.path == [("auth", "denied"), ("bye", "hangup")]
        assert hours(harness, at10) == "match"
        assert log(harness) == []


def test_another_server_sees_the_change_within_its_reload_interval(db_url: str) -> None:
    """Two servers on one database: the override set through one reaches the other's memory by
    its poll (engine/overrides.py), not by a query per call."""
    cfg = Config()
    cfg.reload_interval = 0.2
    with running(BUNDLE, database_url=db_url) as first, running(database_url=db_url, config=cfg) as second:
        at10 = MONDAY.replace(hour=10)
        assert hours(second, at10) == "match"
        first.call(number="*28", caller="+48600100101", at=at10, digits=[PIN + "#"])
        for _ in range(50):
            if second.app.services.overrides.get("office", at10) is not None:
                break
            gevent.sleep(0.05)
        assert hours(second, at10) == "nomatch"


FEATURE_ONLY = """
scenarios:
  - scenario: feature
    numbers: ["*30"]
    start: flip
    nodes:
      flip: {type: time_override, switch: %s, open: bye, closed: bye, schedule: bye}
      bye: {type: hangup}
"""


def test_a_feature_code_for_a_switch_no_time_condition_has_is_refused(db_url: str) -> None:
    """Checked against the bundle and the store: a feature code may come in a bundle of its own."""
    with running(BUNDLE, database_url=db_url) as harness:
        assert harness.import_yaml(FEATURE_ONLY % "office") == ["feature"]  # the store's office has it
        with pytest.raises(BundleInvalid, match=r"feature\.nodes\.flip\.switch: switch 'ofice' does not exist"):
            harness.import_yaml(FEATURE_ONLY % "ofice")
