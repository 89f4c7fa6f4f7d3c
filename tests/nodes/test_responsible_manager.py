"""The responsible_manager node through real calls: presence decides the plan, mobile, backup owner."""

from __future__ import annotations

import pytest

from fsivr.testing import Target
from fsivr.testing.harness import Harness

from .conftest import dial_strings


def test_manager_owner_online_sip_first_mobile_after_delay(pbx: Harness) -> None:
    placed = pbx.call(number="1040", caller="+48501000001")
    assert placed.path == [("m", "answered"), ("bye", "hangup")]
    # owner 104 registered: the SIP account rings 10 + 15 s, the first mobile joins after 10 s
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=25}user/104,"
        "[leg_timeout=25,leg_delay_start=10,origination_caller_id_number=+48221234567]"
        "sofia/gateway/trunk/+48600100104"]
    assert b"api sofia_contact */104" in b"\n".join(placed.result.commands)


def test_manager_owner_offline_mobile_at_once(pbx: Harness) -> None:
    placed = pbx.call(number="1040", caller="+48501000001", registered={"104": False})
    assert placed.outcomes["m"] == "answered"
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=15}"
        "[origination_caller_id_number=+48221234567]sofia/gateway/trunk/+48600100104"]


def test_manager_caller_id_written_differently_still_matches(pbx: Harness) -> None:
    placed = pbx.call(number="1040", caller="0048501000001")
    assert placed.outcomes["m"] == "answered"


def test_manager_nobody_answers(pbx: Harness) -> None:
    placed = pbx.call(number="1040", caller="+48501000001",
                      targets={"sip:104": Target("no_answer"), "+48600100104": Target("busy")})
    assert placed.outcomes["m"] == "no_answer"


@pytest.mark.parametrize("caller", ["+48501999999", "+48501000002", "anonymous"])
def test_manager_not_found(pbx: Harness, caller: str) -> None:
    # unknown number; a contact without an owner; no usable caller ID
    placed = pbx.call(number="1041", caller=caller)
    assert placed.path == [("m", "not_found"), ("bye", "hangup")]
    assert placed.result.bridges == []


def test_manager_offline_without_mobile_then_backup_owner(pbx: Harness) -> None:
    # owner 103: offline, no mobile → nobody to ring; backup 101 rings (SIP + mobile later)
    placed = pbx.call(number="1042", caller="+48501000003", registered={"103": False})
    assert placed.outcomes["m"] == "answered"
    assert len(placed.result.bridges) == 1
    assert dial_strings(placed)[0].startswith("{ignore_early_media=true,instant_ringback=true,originate_timeout=40}"
                                              "user/101,[leg_timeout=40,leg_delay_start=20,")


def test_manager_backup_after_owner_no_answer(pbx: Harness) -> None:
    placed = pbx.call(number="1042", caller="+48501000001",
                      targets={"sip:104": Target("no_answer"), "+48600100104": Target("no_answer"),
                               "sip:102": Target("answered")})
    assert placed.outcomes["m"] == "answered"
    assert [b.result for b in placed.result.bridges] == ["NO_ANSWER", "SUCCESS"]
    assert "user/102" in dial_strings(placed)[1]
