"""Every ringing node type and each of its outcomes, driven through a real socket call: the real
server (fsivr.app) runs the scenario, the simulator plays FreeSWITCH, the path is read back from
the call record the server wrote."""

from __future__ import annotations

import pytest

from fsivr.testing import Hangup, Target
from fsivr.testing.harness import Harness

from .conftest import dial_strings, legs

OUTCOME_TARGETS = {
    "answered": Target("answered", answer_after=2, talk=3),
    "no_answer": Target("no_answer"),
    "busy": Target("busy"),
    "failed": Target("failed", cause="NORMAL_TEMPORARY_FAILURE"),
}


@pytest.mark.parametrize("outcome", ["answered", "no_answer", "busy", "failed"])
def test_dial_outcomes(pbx: Harness, outcome: str) -> None:
    behaviour = OUTCOME_TARGETS[outcome]
    placed = pbx.call(number="1001", targets={"sip:101": behaviour, "sip:102": behaviour})
    # status_condition right after sees the same result
    assert placed.path == [("d", outcome), ("s", outcome), ("bye", "hangup")]
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=20}user/101,user/102"]
    assert placed.result.ok, placed.result.error


def test_ring_details_are_kept_in_the_call_record(pbx: Harness) -> None:
    placed = pbx.call(number="1001", targets={"sip:101": Target("busy"), "sip:102": Target("busy")})
    step = placed.record["path"][0]
    assert (step["node"], step["outcome"]) == ("d", "busy")
    [ring] = step["detail"]["rings"]
    assert (ring["outcome"], ring["cause"]) == ("busy", "USER_BUSY")
    assert ring["dial"].endswith("user/101,user/102")


def test_dial_unregistered_account_fails(pbx: Harness) -> None:
    placed = pbx.call(number="1001", registered={"101": False, "102": False})
    assert placed.outcomes["d"] == "failed"
    assert legs(placed) == [("sip:101", "unregistered"), ("sip:102", "unregistered")]


def test_dial_one_answers_while_the_other_is_busy(pbx: Harness) -> None:
    placed = pbx.call(number="1001", targets={"sip:101": Target("busy"), "sip:102": Target("answered")})
    assert placed.outcomes["d"] == "answered"
    assert placed.result.bridges[0].winner == "sip:102"


def test_dial_resolves_every_target_kind(pbx: Harness) -> None:
    # "103" bare short number = employee by extension; ext:101; a group (its members, with the
    # dial's per-target ring_timeout, 101 only once); an external number through the default
    # gateway (with the gateway's caller ID); gateway:NAME/NUMBER through that gateway.
    targets = {t: Target("busy") for t in ("sip:103", "sip:101", "sip:102", "+48600100200")}
    placed = pbx.call(number="1002", targets=targets)
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=20,originate_continue_on_timeout=true}"
        "[leg_timeout=20]user/103|[leg_timeout=20]user/101|[leg_timeout=7]user/102"
        "|[leg_timeout=20,origination_caller_id_number=+48221234567]sofia/gateway/trunk/+48600100200"
        "|[leg_timeout=20]sofia/gateway/backup/+48600100300"]
    assert placed.outcomes["d"] == "answered"  # the last one answers
    assert legs(placed)[-1] == ("+48600100300", "answered")


@pytest.mark.parametrize("outcome", ["answered", "no_answer", "busy", "failed"])
def test_forward_outcomes(pbx: Harness, outcome: str) -> None:
    placed = pbx.call(number="1003", targets={"+48600100200": OUTCOME_TARGETS[outcome]})
    assert placed.path == [("f", outcome), ("s", outcome), ("bye", "hangup")]
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=25}"
        "[origination_caller_id_number=+48221234567]sofia/gateway/trunk/+48600100200"]


def test_forward_through_a_named_gateway_with_its_own_caller_id(pbx: Harness) -> None:
    placed = pbx.call(number="1004")
    assert placed.outcomes["f"] == "answered"
    assert dial_strings(placed)[0].endswith(
        "[origination_caller_id_number=+48227654321]sofia/gateway/backup/+48600100200")


@pytest.mark.parametrize("outcome", ["answered", "no_answer", "busy", "failed"])
def test_group_outcomes(pbx: Harness, outcome: str) -> None:
    behaviour = OUTCOME_TARGETS[outcome]
    placed = pbx.call(number="1010", targets={"sip:101": behaviour, "sip:102": behaviour})
    assert placed.path == [("g", outcome), ("s", outcome), ("bye", "hangup")]
    # sales: simultaneous, the group's ring_timeout 15
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=15}user/101,user/102"]


def test_group_sequential_rings_members_in_order_each_for_its_own_time(pbx: Harness) -> None:
    placed = pbx.call(number="1011", targets={"sip:101": Target("no_answer"), "sip:102": Target("busy"),
                                              "sip:103": Target("answered", answer_after=1)})
    assert placed.outcomes["g"] == "answered"
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=20,originate_continue_on_timeout=true}"
        "[leg_timeout=10]user/101|[leg_timeout=20]user/102|[leg_timeout=5]user/103"]
    run = placed.result.bridges[0]
    assert [(leg.target, leg.outcome, leg.group, leg.timeout) for leg in run.legs] == [
        ("sip:101", "no_answer", 0, 10.0), ("sip:102", "busy", 1, 20.0), ("sip:103", "answered", 2, 5.0)]
    # one after another: 101 rang its 10 s before 102 was tried
    assert run.legs[1].started == pytest.approx(run.legs[0].started + 10.0)


def test_group_sequential_stops_at_the_first_answer(pbx: Harness) -> None:
    placed = pbx.call(number="1011")
    assert placed.outcomes["g"] == "answered"
    assert legs(placed) == [("sip:101", "answered")]


def test_group_sequential_nobody(pbx: Harness) -> None:
    placed = pbx.call(number="1011", targets={u: Target("no_answer") for u in ("sip:101", "sip:102", "sip:103")})
    assert placed.outcomes["g"] == "no_answer"


def test_extension_rings_the_employee(pbx: Harness) -> None:
    placed = pbx.call(number="1020", digits=["102#"])
    assert placed.path == [("e", "answered"), ("s", "answered"), ("bye", "hangup")]
    assert dial_strings(placed) == [
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=15}user/102"]


@pytest.mark.parametrize("outcome", ["no_answer", "busy", "failed"])
def test_extension_outcomes(pbx: Harness, outcome: str) -> None:
    placed = pbx.call(number="1020", digits=["101"], targets={"sip:101": OUTCOME_TARGETS[outcome]})
    assert placed.path[:2] == [("e", outcome), ("s", outcome)]


@pytest.mark.parametrize("digits", [["999#"], [""], ["1#"]])
def test_extension_unknown_or_nothing_is_invalid(pbx: Harness, digits: list[str]) -> None:
    placed = pbx.call(number="1020", digits=digits)
    assert placed.path == [("e", "invalid"), ("sorry", "next"), ("bye", "hangup")]
    assert placed.result.bridges == []


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


def test_status_condition_before_anything_rang_is_failed(pbx: Harness) -> None:
    placed = pbx.call(number="1030")
    assert placed.path == [("s", "failed"), ("bye", "hangup")]


# ---- responsible_manager ---------------------------------------------------------------------


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


# ---- any_manager -----------------------------------------------------------------------------


def test_any_manager_rings_the_employees_met_on_the_path(pbx: Harness) -> None:
    # dial: 101, group sales (101, 102), 103 all busy → any_manager rings 101, 102, 103 together;
    # 102 is free by then.
    placed = pbx.call(number="1050", targets={"sip:101": [Target("busy"), Target("busy")],
                                              "sip:102": [Target("busy"), Target("answered")],
                                              "sip:103": Target("busy")})
    assert placed.path == [("d", "busy"), ("a", "answered"), ("s", "answered"), ("bye", "hangup")]
    assert dial_strings(placed)[1] == (
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=10}user/101,user/102,user/103")


def test_any_manager_waits_for_someone_to_become_free(pbx: Harness) -> None:
    busy_twice = [Target("busy"), Target("busy"), Target("busy"), Target("answered")]
    placed = pbx.call(number="1050", targets={"sip:101": busy_twice, "sip:102": Target("busy"),
                                              "sip:103": Target("busy")})
    assert placed.path[1] == ("a", "answered")
    # the dial, two rounds where all were busy, the round 101 answered; ringback in between
    assert len(placed.result.bridges) == 4
    holds = [a.arg for a in placed.result.apps if a.name == "playback" and a.arg.startswith("tone_stream://")]
    assert holds == ["tone_stream://%(1000,4000,425);loops=1"] * 2


def test_any_manager_gives_up_after_max_wait(pbx: Harness) -> None:
    placed = pbx.call(number="1050", targets={u: Target("no_answer") for u in ("sip:101", "sip:102", "sip:103")})
    assert placed.path == [("d", "no_answer"), ("a", "no_answer"), ("s", "no_answer"), ("bye", "hangup")]
    # max_wait 40: rounds of 10 s ringing + 5 s ringback → 10+5+10+5+10 = 40
    assert len(placed.result.bridges) == 1 + 3


def test_any_manager_without_anyone_met(pbx: Harness) -> None:
    placed = pbx.call(number="1051")
    assert placed.path == [("a", "no_answer"), ("bye", "hangup")]
    assert placed.result.bridges == []


# ---- caller hang-ups -------------------------------------------------------------------------


def test_caller_hangs_up_while_it_rings(pbx: Harness) -> None:
    placed = pbx.call(number="1001", targets={"sip:101": Target("no_answer"), "sip:102": Target("no_answer")},
                      hangup=Hangup(on_app="bridge", offset=3.0))
    assert placed.result.hangup_by == "caller"
    assert placed.path == [("d", "hangup")]
    record = placed.record
    assert record["hangup_by"] == "caller" and record["hangup_cause"] == "NORMAL_CLEARING"
    assert record["status"] not in (None, "", "in_progress")
    assert [leg.outcome for leg in placed.result.bridges[0].legs] == ["cancelled", "cancelled"]
    commands = [c.split(b"\n", 1)[0] for c in placed.result.commands]
    assert commands[-1] == b"exit"


def test_caller_hangs_up_during_the_conversation_was_answered(pbx: Harness) -> None:
    placed = pbx.call(number="1001", targets={"sip:101": Target("answered", answer_after=1, talk=60)},
                      hangup=Hangup(after=20.0))
    assert placed.result.hangup_by == "caller"
    assert placed.path == [("d", "answered")]
