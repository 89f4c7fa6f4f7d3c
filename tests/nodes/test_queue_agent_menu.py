"""The agent's in-call menu on a queue call (spec §5), through the real server and the simulator's
mod_callcenter over real sockets: the agent's keys cross mod_callcenter's uuid_bridge into the
caller's channel, where the queue node bound them (bind_meta_app ``b s``); the caller hears the hold
music while the agent is in the menu; hold lasts until the agent presses 5; *1 blind-transfers the
caller to the number the agent keyed and frees the agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fsivr.nodes import _agentmenu
from fsivr.testing import Target
from fsivr.testing.harness import Harness
from fsivr.testing.script import Press

from .conftest import agents, menu_of, music_runs, queue_pbx

BUNDLE = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna", extension: "101"}
  - {user: "102", password: "pw-102", name: "Piotr", extension: "102"}
queues:
  - {name: sales, strategy: longest-idle-agent, agents: ["101"]}
scenarios:
  - scenario: queue
    numbers: ["2001"]
    start: q
    nodes:
      q: {type: queue, queue: sales, announce_position: false, announce_wait: false, agent_menu: true,
          answered: bye, no_agents: bye}
      bye: {type: hangup}
  - scenario: queue-plain
    numbers: ["2002"]
    start: q
    nodes:
      q: {type: queue, queue: sales, announce_position: false, announce_wait: false,
          answered: bye, no_agents: bye}
      bye: {type: hangup}
"""


@pytest.fixture
def pbx() -> Iterator[Harness]:
    with queue_pbx(BUNDLE, agents_by_queue={"sales": "101"}) as h:
        yield h


def test_the_menu_keys_are_bound_on_the_callers_channel_before_callcenter(pbx: Harness) -> None:
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=1.0))
    placed = pbx.call(number="2001")
    names = [a.name for a in placed.result.apps]
    assert names.index("bind_meta_app") < names.index("callcenter")
    bound = [a.arg for a in placed.result.apps if a.name == "bind_meta_app"]
    assert bound == _agentmenu.bindings()
    assert all(b.split(" ")[1:3] == ["b", "s"] for b in bound)  # the agent's keys, run on the agent
    # nobody pressed anything: the node followed the talk to its end, nothing else happened
    assert placed.path[0] == ("q", "answered")
    assert menu_of(placed) == []
    assert music_runs(placed) == []


def test_without_agent_menu_the_agents_star_keys_do_nothing(pbx: Harness) -> None:
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=2.0,
                                                    dtmf=[(0.2, "*4")]))
    placed = pbx.call(number="2002")
    assert "bind_meta_app" not in [a.name for a in placed.result.apps]
    assert music_runs(placed) == []
    assert placed.path[0] == ("q", "answered")


def test_hold_the_caller_hears_music_until_the_agent_presses_5(pbx: Harness) -> None:
    # *4 at ~0.5 s, 5 at ~2.5 s: about two seconds on hold
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=5.0,
                                                    dtmf=[(0.2, "*4"), (2.2, "5")]))
    placed = pbx.call(number="2001")
    assert placed.result.ok, placed.result.error
    held = music_runs(placed)
    assert len(held) == 1 and 1.5 <= held[0].duration <= 2.6, held
    menu = menu_of(placed)
    assert [m["action"] for m in menu] == ["music", "hold_ended"]
    assert 1.0 <= menu[0]["seconds"] <= 3.5
    # the caller stayed with the agent to the end of the talk: no transfer, no other bridge
    assert placed.result.bridges == []
    assert placed.path[0] == ("q", "answered")
    step = next(s for s in placed.record["path"] if s["node"] == "q")
    assert step["detail"]["agent"] == "101"


def test_star_5_during_hold_returns_too(pbx: Harness) -> None:
    # during the hold the agent presses * then 5 (the menu's "return"): the * is not a 5, the hold
    # app asks again and the 5 ends it
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=5.0,
                                                    dtmf=[(0.2, "*4"), (2.2, "*5")]))
    placed = pbx.call(number="2001")
    assert placed.result.ok, placed.result.error
    held = music_runs(placed)
    assert len(held) == 1 and 1.5 <= held[0].duration <= 3.0, held
    assert [m["action"] for m in menu_of(placed)] == ["music", "hold_ended"]


def test_blind_transfer_to_a_short_number_releases_the_agent(pbx: Harness) -> None:
    # *1 then 102# : the caller goes to extension 102, the agent is freed at once
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=30.0,
                                                    dtmf=[(0.2, "*1"), (1.0, "102#")]))
    placed = pbx.call(number="2001", targets={"sip:102": Target("answered", answer_after=0.5, talk=1.0)})
    assert placed.result.ok, placed.result.error
    # the caller heard the music while the agent keyed the number
    assert len(music_runs(placed)) == 1
    # the caller was bridged to 102, which answered
    assert len(placed.result.bridges) == 1
    legs = placed.result.bridges[0].legs
    assert [(leg.target, leg.outcome) for leg in legs] == [("sip:102", "answered")]
    menu = menu_of(placed)
    transfer = next(m for m in menu if m["action"] == "transfer")
    assert transfer["number"] == "102" and transfer["mode"] == "blind"
    assert transfer["agent_released"] is True and transfer["result"] == "answered"
    # the agent's leg went down long before its 30 s talk: the call lasted about the transfer
    assert placed.result.duration < 15
    # mod_callcenter saw the agent's leg end: the agent is no longer in a queue call, still
    # Available, and the call counts as one answered by them
    rows = agents(pbx)
    assert rows["101"]["state"] == "Waiting" and rows["101"]["status"] == "Available"
    assert rows["101"]["calls_answered"] == "1"


BUNDLE_ON_ANSWER = BUNDLE.replace("agent_menu: true,", "agent_menu: true, transfer_mode: on_answer,")


@pytest.fixture
def pbx_on_answer() -> Iterator[Harness]:
    with queue_pbx(BUNDLE_ON_ANSWER, agents_by_queue={"sales": "101"}) as h:
        yield h


def test_transfer_on_answer_releases_the_agent_when_the_far_end_answers(pbx_on_answer: Harness) -> None:
    h = pbx_on_answer
    h.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=30.0,
                                                  dtmf=[(0.2, "*1"), (1.0, "102#")]))
    placed = h.call(number="2001", targets={"sip:102": Target("answered", answer_after=2.0, talk=1.0)})
    assert placed.result.ok, placed.result.error
    assert [(leg.target, leg.outcome) for leg in placed.result.bridges[0].legs] == [("sip:102", "answered")]
    transfer = next(m for m in menu_of(placed) if m["action"] == "transfer")
    assert transfer["mode"] == "on_answer" and transfer["agent_released"] is True
    assert transfer["result"] == "answered"
    assert placed.result.duration < 15


def test_transfer_on_answer_that_fails_gives_the_caller_back_to_the_agent(pbx_on_answer: Harness) -> None:
    h = pbx_on_answer
    # 102 is busy: the agent keeps the caller and talks on to the end of its 6 s
    h.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=6.0,
                                                  dtmf=[(0.2, "*1"), (1.0, "102#")]))
    placed = h.call(number="2001", targets={"sip:102": Target("busy")})
    assert placed.result.ok, placed.result.error
    assert [(leg.target, leg.outcome) for leg in placed.result.bridges[0].legs] == [("sip:102", "busy")]
    transfer = next(m for m in menu_of(placed) if m["action"] == "transfer")
    assert transfer["agent_released"] is False and transfer["result"] == "busy"
    # the agent's bridge went on after the failed transfer: the call lasted the agent's talk
    assert placed.result.duration >= 6.0
    assert placed.path[0] == ("q", "answered")


def test_dictated_number_is_read_to_the_caller_who_presses_1_to_be_connected(pbx: Harness) -> None:
    # the agent keys *3 102# ; the number is read to the caller, who presses 1 (~6 s into the bridge)
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=30.0,
                                                    dtmf=[(0.2, "*3"), (1.0, "102#")]))
    placed = pbx.call(number="2001", targets={"sip:102": Target("answered", answer_after=0.5, talk=1.0)},
                      presses=[Press("1", after=6.0, bridge=0)])
    assert placed.result.ok, placed.result.error
    # the caller heard music while the agent keyed, then the number (a broadcast of spoken digits)
    assert len(music_runs(placed)) == 1
    names = [a.name for a in placed.result.apps]
    assert names.count("playback") == 2  # the music, then the digits
    menu = menu_of(placed)
    assert [m["action"] for m in menu] == ["music", "offer", "transfer"]
    offer = menu[1]
    assert offer["number"] == "102" and offer["caller_pressed"] == "1"
    transfer = next(m for m in menu if m["action"] == "transfer")
    assert transfer["number"] == "102" and transfer["agent_released"] is True and transfer["result"] == "answered"
    assert [(leg.target, leg.outcome) for leg in placed.result.bridges[0].legs] == [("sip:102", "answered")]


def test_dictated_number_the_caller_presses_2_and_stays_with_the_agent(pbx: Harness) -> None:
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=9.0,
                                                    dtmf=[(0.2, "*3"), (1.0, "102#")]))
    placed = pbx.call(number="2001", presses=[Press("2", after=6.0, bridge=0)])
    assert placed.result.ok, placed.result.error
    offer = next(m for m in menu_of(placed) if m["action"] == "offer")
    assert offer["caller_pressed"] == "2" and offer["result"] == "back_to_agent"
    assert not any(m["action"] == "transfer" for m in menu_of(placed))
    assert placed.result.bridges == []  # nobody else was rung
    assert placed.result.duration >= 9.0  # the agent talked to the end
