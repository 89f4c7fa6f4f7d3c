"""The menu node through real calls: keys, timeouts and wrong keys replay, extensions dialled from a menu."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fsivr.testing import Target
from fsivr.testing.harness import Harness

from .conftest import apps, dial_strings

WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=WARSAW)


def test_menu_timeout_replays_with_the_invalid_prompt(office: Harness) -> None:
    placed = office.call(number="100", at=MONDAY_10, digits=["", ""])
    assert placed.outcomes["menu"] == "timeout"
    assert placed.path[-1] == ("bye", "hangup")
    assert len(apps(placed, "play_and_get_digits")) == 2
    assert "say:That key is not in the menu" in [a.arg for a in apps(placed, "playback")]


def test_menu_wrong_keys_take_invalid(office: Harness) -> None:
    placed = office.call(number="100", at=MONDAY_10, digits=["9", "7"])
    assert placed.outcomes["menu"] == "invalid"
    assert placed.path[-1] == ("sorry", "hangup")
    assert placed.result.hangup_cause == "CALL_REJECTED"


def test_wrong_key_then_a_good_one(office: Harness) -> None:
    placed = office.call(number="100", at=MONDAY_10, digits=["9", "1"])
    assert placed.outcomes["menu"] == "1"


def test_menu_extension_rings_the_employee_then_takes_extension(pbx: Harness) -> None:
    placed = pbx.call(number="1021", digits=["103"], targets={"sip:103": Target("busy")})
    assert placed.path == [("m", "extension"), ("s", "busy"), ("bye", "hangup")]
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=20}user/103"]


def test_menu_unknown_extension_is_a_wrong_key(pbx: Harness) -> None:
    placed = pbx.call(number="1021", digits=["555", "1"])
    assert placed.path[0] == ("m", "1")
    assert placed.path[1][0] == "sales"
    assert len(placed.result.bridges) == 1  # only the sales group rang
