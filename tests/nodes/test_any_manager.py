"""The any_manager node through real calls: rounds over the employees met on the path."""

from __future__ import annotations

from fsivr.testing import Target
from fsivr.testing.harness import Harness

from .conftest import dial_strings


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
