"""The dial node through real calls: each outcome, the record, target kinds."""

from __future__ import annotations

import pytest

from fsivr.testing import Target
from fsivr.testing.harness import Harness

from .conftest import OUTCOME_TARGETS, dial_strings, legs


@pytest.mark.parametrize("outcome", list(OUTCOME_TARGETS))
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
