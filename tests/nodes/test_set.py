"""The set node: templates rendered into call and channel variables."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fsivr.testing.harness import Harness

WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=WARSAW)


def test_set_renders_templates_into_channel_variables(office: Harness) -> None:
    placed = office.call(number="100", caller="+48501000002", at=MONDAY_10, digits=["1"])
    assert placed.result.variables.get("fsivr_greeting") == "Hello +48501000002"
    assert placed.result.variables.get("fsivr_plain") == "x100"
