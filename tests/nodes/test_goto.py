"""The goto node: the call continues in another scenario (and leaves by its exit node)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fsivr.testing import Hangup
from fsivr.testing.harness import Harness

WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=WARSAW)


def test_goto_continues_in_another_scenario_and_exit_leaves_the_ivr(office: Harness) -> None:
    placed = office.call(number="100", at=MONDAY_10, digits=["2"])
    assert placed.path[-3:] == [("info", "goto"), ("info.about", "next"), ("info.leave", "exit")]
    # exit: we never hang up; the socket session ends and FreeSWITCH's dialplan takes the call.
    assert placed.result.hangup_by != "server"
    assert not any(c.startswith(b"api uuid_kill") for c in placed.result.commands)
    assert placed.record["hangup_by"] in ("ivr_exit", "socket", "caller")


def test_caller_hangs_up_during_goto_target_and_exit(office: Harness) -> None:
    placed = office.call(number="200", at=MONDAY_10, hangup=Hangup(on_app="playback", occurrence=1))
    assert placed.path == [("about", "hangup")]
