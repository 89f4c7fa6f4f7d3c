"""The agent's ``*2`` (spec §5: "transfer to a department (three-digit id → queue or group)"),
through the real server and the simulator's mod_callcenter over real sockets, on SQLite and
PostgreSQL: a queue's id moves the caller into that queue (uuid_transfer to the inline dialplan
``callcenter:<queue>``; the agent's leg is hung up by the transfer and mod_callcenter frees them), a
group's id rings the group as ``*1`` rings a number, an unknown id gives the agent an error tone and
the caller stays with them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fsivr.nodes import _agentmenu
from fsivr.testing import Target
from fsivr.testing.harness import Harness

from .conftest import agents, menu_of, queue_pbx

BUNDLE = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna", extension: "101"}
  - {user: "102", password: "pw-102", name: "Piotr", extension: "102"}
  - {user: "103", password: "pw-103", name: "Ewa", extension: "103"}
groups:
  - {name: billing, members: ["103"], department: "300"}
queues:
  - {name: sales, strategy: longest-idle-agent, agents: ["101"]}
  - {name: support, strategy: longest-idle-agent, agents: ["102"], department: "200"}
scenarios:
  - scenario: queue
    numbers: ["2001"]
    start: q
    nodes:
      q: {type: queue, queue: sales, announce_position: false, announce_wait: false, agent_menu: true,
          exit_key: "0", answered: bye, no_agents: bye, exit: bye}
      bye: {type: hangup}
"""


@pytest.fixture
def pbx(db_url: str) -> Iterator[Harness]:
    # the departments come from the store (the directory cache), on SQLite and PostgreSQL
    with queue_pbx(BUNDLE, agents_by_queue={"sales": "101", "support": "102"}, database_url=db_url) as h:
        yield h


def test_the_department_key_is_bound(pbx: Harness) -> None:
    assert any(b.startswith("2 b s play_and_get_digits::3 3 ") and _agentmenu.DEPARTMENT_VAR in b
               for b in _agentmenu.bindings())


def test_a_queues_department_moves_the_caller_into_that_queue(pbx: Harness) -> None:
    # Anna (sales) presses *2 200: the caller waits in support, where Piotr answers
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=30.0,
                                                    dtmf=[(0.2, "*2"), (1.0, "200")]))
    # Piotr puts the caller on hold for about 1.5 s: the menu serves the agent of the next queue too
    pbx.simulator.set_agent_behaviour("102", Target("answered", answer_after=0.5, talk=4.0,
                                                    dtmf=[(0.2, "*4"), (1.7, "5")]))
    placed = pbx.call(number="2001")
    assert placed.result.ok, placed.result.error
    # the caller's channel ran callcenter twice: the scenario's queue, then the inline dialplan's
    ran = [(a.name, a.arg) for a in placed.result.apps if a.name == "callcenter"]
    assert ran == [("callcenter", "sales"), ("callcenter", "support")]
    assert placed.result.transferred_to == "callcenter:support inline"
    menu = menu_of(placed)
    entry = next(m for m in menu if m["action"] == "department")
    assert entry == {"action": "department", "department": "200", "queue": "support", "result": "queued",
                     "agent_released": True}
    # (when the controller notices the next agent depends on its poll: not the order of the music)
    assert [m["action"] for m in menu if m["action"] != "music"] == ["department", "next_agent", "hold_ended"]
    assert [m["action"] for m in menu].count("music") == 2
    # Anna's 30 s talk was cut short by the transfer; Piotr took the call in support
    assert placed.result.duration < 15
    rows = agents(pbx)
    assert rows["101"]["calls_answered"] == "1" and rows["101"]["state"] == "Waiting"
    assert rows["102"]["calls_answered"] == "1"
    # the first queue's exit key does not follow the caller into the next queue (where pressing it
    # would end callcenter and with it the inline dialplan: the call)
    assert placed.result.variables.get("cc_queue") == "support"
    assert "cc_exit_keys" not in placed.result.variables
    assert placed.path[0] == ("q", "answered")


def test_a_groups_department_rings_the_group(pbx: Harness) -> None:
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=30.0,
                                                    dtmf=[(0.2, "*2"), (1.0, "300")]))
    placed = pbx.call(number="2001", targets={"sip:103": Target("answered", answer_after=0.5, talk=1.0)})
    assert placed.result.ok, placed.result.error
    assert [(leg.target, leg.outcome) for leg in placed.result.bridges[0].legs] == [("sip:103", "answered")]
    entry = next(m for m in menu_of(placed) if m["action"] == "department")
    assert (entry["department"], entry["group"], entry["number"], entry["mode"]) == \
        ("300", "billing", "group:billing", "blind")
    assert entry["result"] == "answered" and entry["agent_released"] is True
    assert placed.result.duration < 15


def test_an_unknown_department_the_agent_hears_an_error_and_keeps_the_caller(pbx: Harness) -> None:
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=6.0,
                                                    dtmf=[(0.2, "*2"), (1.0, "999")]))
    placed = pbx.call(number="2001")
    assert placed.result.ok, placed.result.error
    menu = menu_of(placed)
    assert {"action": "department", "department": "999", "result": "unknown"} in menu
    # the tone went to the agent's leg alone; the caller was on music only while the agent keyed
    assert pbx.simulator.callcenter.agents["101"].heard == [_agentmenu.ERROR_TONE]
    assert placed.result.bridges == []
    assert placed.result.duration >= 6.0  # the agent talked to the end
    assert placed.path[0] == ("q", "answered")
