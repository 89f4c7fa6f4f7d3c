"""The consultation transfer mode (spec §5: "consultation (agent talks first)"), ``transfer_mode:
consult``, through the real server and the simulator over real sockets, on SQLite and PostgreSQL.
The agent keys *1 and a number; FreeSWITCH's own att_xfer runs on the agent's leg (uuid_broadcast
``att_xfer::<dial>`` ``aleg,holdb``: the caller hears hold music meanwhile, mod_dptools.c
att_thread_run): the agent talks to the far end, then * completes (the agent's leg hangs up, the far
end is uuid_bridged to the caller) or # cancels (the far end is hung up, the agent is bridged back
to the caller). A far end that does not answer leaves the agent with the caller."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from fsivr.testing import Target
from fsivr.testing.harness import Harness

from .conftest import agents, music_runs, queue_pbx

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
          transfer_mode: consult, transfer_ring_timeout: 3, answered: bye, no_agents: bye}
      bye: {type: hangup}
"""


@pytest.fixture
def pbx(db_url: str) -> Iterator[Harness]:
    with queue_pbx(BUNDLE, agents_by_queue={"sales": "101"}, database_url=db_url) as h:
        yield h


def transfer_of(placed) -> dict:  # type: ignore[no-untyped-def]
    step = next(s for s in placed.record["path"] if s["node"] == "q")
    return next(m for m in step["detail"]["agent_menu"] if m["action"] == "transfer")


def bridge_events(placed) -> list[str]:  # type: ignore[no-untyped-def]
    """The caller's bridges as its socket saw them: the Other-Leg of each CHANNEL_BRIDGE."""
    stream = b"".join(raw for direction, raw in placed.result.wire if direction == "recv").decode(errors="replace")
    out = []
    for event in stream.split("Content-Type: text/event-plain")[1:]:
        lines = event.splitlines()
        if "Event-Name: CHANNEL_BRIDGE" in lines:
            other = next((line.split(": ", 1)[1] for line in lines if line.startswith("Other-Leg-Channel-Name: ")), "")
            out.append(unquote(other))
    return out


def test_consult_then_complete(pbx: Harness) -> None:
    # *1 102# : 102 answers after 1 s and talks with the agent; the agent presses * (~5 s in)
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=30.0,
                                                    dtmf=[(0.2, "*1"), (1.0, "102#"), (5.0, "*")]))
    placed = pbx.call(number="2001", record=True, targets={"sip:102": Target("answered", answer_after=1.0, talk=3.0)})
    assert placed.result.ok, placed.result.error
    # the consultation's originate: from the agent's leg, through the simulator's att_xfer
    assert [(leg.target, leg.outcome) for leg in placed.result.bridges[0].legs] == [("sip:102", "answered")]
    transfer = transfer_of(placed)
    assert (transfer["mode"], transfer["number"], transfer["result"], transfer["agent_released"]) == \
        ("consult", "102", "completed", True)
    # the caller heard music while the agent keyed the number, and again while they consulted
    held = music_runs(placed)
    assert len(held) == 2 and held[1].duration >= 2.0, held
    # the caller was bridged to the agent, then to 102 (the agent's leg hung up)
    assert bridge_events(placed) == ["sofia/internal/101", "sofia/internal/102"]
    assert placed.result.duration < 15  # not the agent's 30 s
    row = agents(pbx)["101"]
    assert row["state"] == "Waiting" and row["calls_answered"] == "1"


def test_consult_then_cancel(pbx: Harness) -> None:
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=9.0,
                                                    dtmf=[(0.2, "*1"), (1.0, "102#"), (5.0, "#")]))
    placed = pbx.call(number="2001", record=True, targets={"sip:102": Target("answered", answer_after=1.0, talk=20.0)})
    assert placed.result.ok, placed.result.error
    transfer = transfer_of(placed)
    assert (transfer["result"], transfer["agent_released"]) == ("cancelled", False)
    # uuid_bridge(agent, caller): a new bridge to the same agent
    assert bridge_events(placed) == ["sofia/internal/101", "sofia/internal/101"]
    assert len(music_runs(placed)) == 2
    assert placed.result.duration >= 9.0  # the agent talked on to the end
    assert placed.path[0] == ("q", "answered")


def test_consult_far_end_not_answering(pbx: Harness) -> None:
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=0.5, talk=10.0,
                                                    dtmf=[(0.2, "*1"), (1.0, "102#")]))
    placed = pbx.call(number="2001", record=True, targets={"sip:102": Target("no_answer")})
    assert placed.result.ok, placed.result.error
    assert [(leg.target, leg.outcome) for leg in placed.result.bridges[0].legs] == [("sip:102", "no_answer")]
    transfer = transfer_of(placed)
    assert (transfer["result"], transfer["cause"], transfer["agent_released"]) == \
        ("not_answered", "NO_ANSWER", False)
    # the caller was on music for the ring (transfer_ring_timeout: 3 s), then back with the agent
    held = music_runs(placed)
    assert len(held) == 2 and 2.5 <= held[1].duration <= 4.5, held
    assert bridge_events(placed) == ["sofia/internal/101"]
    assert placed.result.duration >= 10.0
