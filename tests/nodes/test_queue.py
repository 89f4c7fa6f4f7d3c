"""The queue node through the real server and the simulator's mod_callcenter over real sockets:
callers with no agent, one agent and several; answered, timeout, exit key, no_agents at entry and
while waiting; the announced places go down as members ahead leave; the estimated wait comes from
the waits recorded in the store; one member list per queue and interval, whoever waits."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import gevent
import pytest

from fsivr.store import queuewaits
from fsivr.store.callrecords import CallRecord, write_records
from fsivr.testing import CallScript, Target
from fsivr.testing.harness import Harness, running
from fsivr.testing.script import Hangup
from fsivr.testing.simulator import CallHandle

BUNDLE = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna", extension: "101"}
  - {user: "102", password: "pw-102", name: "Piotr", extension: "102"}
queues:
  - {name: sales, strategy: longest-idle-agent, agents: ["101", "102"]}
scenarios:
  - scenario: queue
    numbers: ["2001"]
    start: q
    nodes:
      q: {type: queue, queue: sales, announce_every: 2, exit_key: "9", max_wait: 6,
          answered: s, timeout: bye, exit: bye, no_agents: bye}
      s: {type: status_condition, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
  - scenario: queue-long
    numbers: ["2002"]
    start: q
    nodes:
      q: {type: queue, queue: sales, announce_every: 2, announce_wait: false, max_wait: 60, exit_key: "#",
          answered: bye, timeout: bye, no_agents: bye, exit: bye}
      bye: {type: hangup}
  - scenario: queue-music-only
    numbers: ["2003"]
    start: q
    nodes:
      q: {type: queue, queue: sales, announce_position: false, announce_wait: false, exit_key: "#",
          answered: bye, no_agents: bye, exit: bye}
      bye: {type: hangup}
"""
BOUND = 15.0


@pytest.fixture
def pbx() -> Iterator[Harness]:
    # real time: the node's clocks (announce_every, max_wait) and the agents' talk are real seconds
    with running(BUNDLE, time_scale=1.0) as h:
        h.simulator.add_queue("sales")
        yield h


def agents(h: Harness, **status: str) -> None:
    """The queue's agents in the simulator's mod_callcenter (what the live sync would have put
    there), each with its status: agent name = account user, as fsivr.callcenter names them."""
    for name, st in status.items():
        for cmd in (f"agent add {name} callback", f"agent set contact {name} user/{name}",
                    f"agent set status {name} '{st}'", f"tier add sales {name}"):
            assert h.simulator.callcenter_config(cmd) == "+OK\n", cmd


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():
        assert time.monotonic() < deadline, f"not within {BOUND:g} s: {what}"
        gevent.sleep(0.05)


def record_of(h: Harness, handle: CallHandle) -> dict:
    handle.wait()
    assert h.app.runner.idle.wait(10.0)
    assert h.app.records.flush(10.0)
    from fsivr.scenario import repository

    record = h.store.run(lambda s: repository.call_path(s, handle.uuid))
    assert record is not None
    return record


def step(record: dict, node: str = "q") -> dict:
    return next(s for s in record["path"] if s["node"] == node)


def apps(placed_apps: list) -> list[str]:
    return [a.name for a in placed_apps]


def test_nobody_logged_in_at_entry_is_no_agents_without_waiting(pbx: Harness) -> None:
    agents(pbx, **{"101": "Logged Out"})
    placed = pbx.call(number="2001")
    assert placed.path == [("q", "no_agents"), ("bye", "hangup")]
    assert "callcenter" not in apps(placed.result.apps)


def test_no_agent_in_the_queue_at_all_is_no_agents(pbx: Harness) -> None:
    placed = pbx.call(number="2001")
    assert placed.path == [("q", "no_agents"), ("bye", "hangup")]


def test_answered_by_the_one_agent(pbx: Harness) -> None:
    agents(pbx, **{"101": "Available"})
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=1.0, talk=2.0))
    placed = pbx.call(number="2001")
    # the call left the IVR, bridged to the agent; status_condition sees it like a dial
    assert placed.path == [("q", "answered"), ("s", "answered")]
    detail = step(placed.record)["detail"]
    assert detail["agent"] == "101" and detail["queue"] == "sales"
    assert detail["waited"] >= 1 and detail["position"] == 1
    assert placed.result.variables["cc_cause"] == "answered"
    # started without event-lock: announcements reach the waiting member (trace 12b)
    sent = b"".join(placed.result.commands)
    assert b"execute-app-name: callcenter" in sent
    # the exit keys mod_callcenter watches: the scenario's key and the node's own
    assert placed.result.variables.get("cc_exit_keys") == "9D"


def test_several_agents_the_free_one_answers(pbx: Harness) -> None:
    agents(pbx, **{"101": "Available", "102": "Available"})
    # 101 is offered first (tier order) and is busy; 102 answers
    pbx.simulator.set_agent_behaviour("101", Target("busy"))
    pbx.simulator.set_agent_behaviour("102", Target("answered", answer_after=1.0, talk=2.0))
    # 2003 has no max_wait: the offers run in real seconds (101's busy reply, then 102's ringing),
    # and a loaded machine must not turn them into a timeout
    placed = pbx.call(number="2003")
    assert placed.path[0] == ("q", "answered")
    assert step(placed.record)["detail"]["agent"] == "102"


def test_max_wait_is_timeout_and_the_caller_is_out_of_line(pbx: Harness) -> None:
    agents(pbx, **{"101": "On Break"})  # logged in, never offered a call
    placed = pbx.call(number="2001")
    assert placed.path == [("q", "timeout"), ("bye", "hangup")]
    detail = step(placed.record)["detail"]
    assert 6 <= detail["waited"] <= 9
    assert placed.result.variables["cc_cancel_reason"] == "EXIT_WITH_KEY"
    assert placed.result.variables["cc_exit_key"] == "D"
    # announced every 2 s: "next in line"
    assert detail["announced"][:2] == [1, 1]
    played = [a for a in placed.result.apps if a.name == "playback"]
    assert len(played) >= 2  # the broadcasts played inside the wait


def test_exit_key_is_exit(pbx: Harness) -> None:
    agents(pbx, **{"101": "On Break"})
    # pressed during the music: a key pressed while a broadcast plays is taken by that playback's
    # on_dtmf (mod_dptools.c playback_function), not by callcenter's moh_on_dtmf
    handle = pbx.simulator.start_call(CallScript(number="2003", timeout=30))
    wait_for(lambda: pbx.simulator.queue_position(handle.uuid) == 1, "the caller is in line")
    assert pbx.simulator.press(handle.uuid, "5")  # not the exit key: the wait goes on
    gevent.sleep(1.0)
    assert pbx.simulator.queue_position(handle.uuid) == 1
    assert pbx.simulator.press(handle.uuid, "#")
    record = record_of(pbx, handle)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("q", "exit"), ("bye", "hangup")]
    assert handle.wait().variables["cc_exit_key"] == "#"


def test_exit_key_pressed_during_an_announcement_is_exit(pbx: Harness) -> None:
    agents(pbx, **{"101": "On Break"})
    handle = pbx.simulator.start_call(CallScript(number="2002", timeout=40))

    def announcing() -> bool:
        # the place in line, played by uuid_broadcast inside the callcenter app's wait
        current = handle.session.current
        return current is not None and current.name == "playback" and "next in line" in (current.arg or "")

    wait_for(announcing, "the position announcement to play")
    assert pbx.simulator.press(handle.uuid, "#")
    record = record_of(pbx, handle)
    # the broadcast's playback took the key (callcenter never saw it): the node heard the DTMF
    # event and ended the wait itself, long before max_wait (60 s)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("q", "exit"), ("bye", "hangup")]
    result = handle.wait()
    assert result.variables["cc_cancel_reason"] == "EXIT_WITH_KEY"
    assert result.variables["cc_exit_key"] == "D"
    assert step(record)["detail"]["waited"] < 30


def test_everybody_logs_out_while_waiting_is_no_agents(pbx: Harness) -> None:
    agents(pbx, **{"101": "On Break"})
    handle = pbx.simulator.start_call(CallScript(number="2002", timeout=30))
    wait_for(lambda: pbx.simulator.queue_position(handle.uuid) == 1, "the caller is in line")
    assert pbx.simulator.callcenter_config("agent set status 101 'Logged Out'") == "+OK\n"
    record = record_of(pbx, handle)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("q", "no_agents"), ("bye", "hangup")]


def test_places_go_down_as_members_ahead_leave_and_one_list_serves_all(pbx: Harness) -> None:
    agents(pbx, **{"101": "On Break"})
    board = pbx.app.services.queues
    # two callers ahead give up after 3 and 5 s; the third hears its place go 3 → 2 → 1
    first = pbx.simulator.start_call(CallScript(number="2002", caller="+48501000011", hangup=Hangup(after=4.0)))
    wait_for(lambda: pbx.simulator.queue_position(first.uuid) == 1, "first in line")
    second = pbx.simulator.start_call(CallScript(number="2002", caller="+48501000012", hangup=Hangup(after=6.0)))
    wait_for(lambda: pbx.simulator.queue_position(second.uuid) == 2, "second in line")
    reads_before = board.agent_reads, board.member_reads
    started = time.monotonic()
    third = pbx.simulator.start_call(CallScript(number="2002", caller="+48501000013", hangup=Hangup(after=9.0)))
    record = record_of(pbx, third)
    elapsed = time.monotonic() - started
    first.wait(), second.wait()
    announced = step(record)["detail"]["announced"]
    assert announced[0] == 3 and announced[-1] == 1 and 2 in announced
    assert announced == sorted(announced, reverse=True)
    # three callers polling every second: still about one agent list per second for the queue,
    # and the member list at most as often (only when a caller joins or has an announcement due)
    agent_reads, member_reads = board.agent_reads - reads_before[0], board.member_reads - reads_before[1]
    assert 0 < agent_reads <= elapsed / board.interval + 3
    assert 0 < member_reads <= agent_reads


def test_estimated_wait_comes_from_recorded_history(pbx: Harness) -> None:
    now = datetime.now(UTC)
    # recent answered callers waited 120 s from place 1 and 240 s from place 2: 2 minutes a place
    for i, (position, waited) in enumerate([(1, 120), (2, 240), (1, 120), (1, 600)]):
        pbx.store.run(lambda s, p=position, w=waited, i=i: queuewaits.record(s, queuewaits.Wait(
            "sales", p, w, "answered", now - timedelta(minutes=30 - i), f"old-{i}")))
    pbx.store.run(lambda s: queuewaits.record(s, queuewaits.Wait(
        "sales", 1, 5, "timeout", now, "gave-up")))  # not answered: not part of the estimate
    assert queuewaits.estimate(pbx.store.run(lambda s: queuewaits.recent(s, "sales")), 2) == 240
    agents(pbx, **{"101": "On Break"})
    placed = pbx.call(number="2001")
    said = [a.arg or "" for a in placed.result.apps if a.name == "playback"]
    assert any("about two minutes" in d for d in said), said
    # this call's own wait is history now
    history = pbx.store.run(lambda s: queuewaits.recent(s, "sales", limit=50))
    assert len(history) == 4  # it timed out: not an answered wait


def test_estimated_wait_weighs_the_agents_handling_times(pbx: Harness) -> None:
    now = datetime.now(UTC)
    # answered callers waited 2 minutes a place, and then each had an agent for 10 minutes
    calls = []
    for i in range(4):
        left = now - timedelta(minutes=60 - 15 * i)
        pbx.store.run(lambda s, i=i, left=left: queuewaits.record(s, queuewaits.Wait(
            "sales", 1, 120, "answered", left, f"handled-{i}")))
        calls.append(CallRecord(uuid=f"handled-{i}", caller="+48501000009", number="2001", scenario="queue",
                                started_at=left - timedelta(minutes=2), answered_at=left,
                                ended_at=left + timedelta(minutes=10), hangup_cause="NORMAL_CLEARING",
                                hangup_by="caller"))
    pbx.store.run(lambda s: write_records(s, calls))
    # two agents logged in (on break: nobody answers this test's call): a place frees every 5
    # minutes by the handling times, every 2 by the waits: about 3.5 minutes, said as four
    agents(pbx, **{"101": "On Break", "102": "On Break"})
    placed = pbx.call(number="2001")
    said = [a.arg or "" for a in placed.result.apps if a.name == "playback"]
    assert any("about four minutes" in d for d in said), said


def test_the_agents_handling_time_is_recorded(pbx: Harness) -> None:
    agents(pbx, **{"101": "Available"})
    pbx.simulator.set_agent_behaviour("101", Target("answered", answer_after=1.0, talk=3.0))
    placed = pbx.call(number="2001")
    assert placed.path[0] == ("q", "answered")
    [mine] = [w for w in pbx.store.run(lambda s: queuewaits.recent(s, "sales")) if w.call_uuid == placed.result.uuid]
    # the agent talked 3 s (the simulator's clock, which the channel's times follow); the upper
    # bound only guards against the wrong end being read (a whole other call, the wait itself)
    assert mine.handled is not None and 2 <= mine.handled <= 3 + BOUND, mine


def test_thin_history_says_no_number(pbx: Harness) -> None:
    agents(pbx, **{"101": "On Break"})
    placed = pbx.call(number="2001")
    said = " ".join(a.arg or "" for a in placed.result.apps if a.name == "playback")
    assert "You are next in line" in said and "as soon as possible" in said and "minute" not in said
