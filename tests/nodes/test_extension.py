"""The extension node through real calls: the employee rings; unknown or no digits are invalid."""

from __future__ import annotations

import pytest

from fsivr.testing import Target
from fsivr.testing.harness import Harness

from .conftest import dial_strings

OUTCOME_TARGETS = {
    "answered": Target("answered", answer_after=2, talk=3),
    "no_answer": Target("no_answer"),
    "busy": Target("busy"),
    "failed": Target("failed", cause="NORMAL_TEMPORARY_FAILURE"),
}


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
