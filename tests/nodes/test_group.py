"""The group node through real calls: each outcome, the sequential strategy."""

from __future__ import annotations

import pytest

from fsivr.testing import Target
from fsivr.testing.harness import Harness

from .conftest import OUTCOME_TARGETS, dial_strings, legs


@pytest.mark.parametrize("outcome", list(OUTCOME_TARGETS))
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
