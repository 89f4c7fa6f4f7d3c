"""The status_condition node: nothing rang yet is failed (after a ring it is checked in each ringing node's tests)."""

from __future__ import annotations

from fsivr.testing.harness import Harness


def test_status_condition_before_anything_rang_is_failed(pbx: Harness) -> None:
    placed = pbx.call(number="1030")
    assert placed.path == [("s", "failed"), ("bye", "hangup")]
