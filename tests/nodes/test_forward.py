"""The forward node through real calls: each outcome, a named gateway and its caller ID."""

from __future__ import annotations

import pytest

from fsivr.testing.harness import Harness

from .conftest import OUTCOME_TARGETS, dial_strings


@pytest.mark.parametrize("outcome", list(OUTCOME_TARGETS))
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
