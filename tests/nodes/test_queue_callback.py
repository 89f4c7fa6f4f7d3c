"""The queue node's place-keeping callback end to end over real sockets: the real server runs the
caller's call against the simulator, the real worker (QueueCallbackSender) runs on a real live
inbound link (fsivr.esl.link.EventLink → the simulator's InboundSwitch, as in production), SQLite
and PostgreSQL.

The caller presses the callback key, hears the confirmation and the call ends with ``callback``; the
worker enters a placeholder member with cc_base_score so that it is offered to the agent after the
members who were ahead of the caller and before those who joined after (trace 14; mod_callcenter.c
ORDER BY score DESC); the agent hears the announcement (cc_outbound_announce) and the caller is
called back through the gateway and bridged to the agent. No answer twice: failed. Outside the
queue's hours the key is not offered.

The simulator runs in real time (time_scale 1.0): mod_callcenter's scores are whole seconds, so
members join about a second apart; the worker's clock is the switch's (they share a wall clock in
production).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import gevent
import pytest
from sqlalchemy import select

from fsivr.esl.link import EventLink
from fsivr.scenario import repository
from fsivr.scenario.bundle import parse_text
from fsivr.scenario.validate import validate_bundle
from fsivr.store.models import CallAttempt, CallRow, OutboxRow
from fsivr.testing import CallScript, Simulator, Target
from fsivr.testing.harness import Harness, running
from fsivr.testing.inbound import InboundSwitch
from fsivr.testing.simulator import CallHandle
from fsivr.worker.loop import Worker, WorkerSettings
from fsivr.worker.queuecallback import QueueCallbackSender

CALLER = "+48501000001"
BOUND = 20.0


def bundle(hours: str) -> str:
    return f"""
accounts:
  - {{user: "101", password: "pw-101", name: "Anna", extension: "101"}}
queues:
  - {{name: sales, strategy: longest-idle-agent, agents: ["101"]}}
scenarios:
  - scenario: queue
    numbers: ["2005"]
    start: q
    nodes:
      q: {{type: queue, queue: sales, announce_every: 30, exit_key: "9", callback_key: "5",
          callback_hours: "{hours}", timezone: UTC, callback_caller_id: "+48221234567",
          answered: bye, exit: bye, no_agents: bye}}
      bye: {{type: hangup}}
"""


@dataclass
class Rig:
    h: Harness
    sim: Simulator
    switch: InboundSwitch
    worker: Worker
    sender: QueueCallbackSender

    def member(self, uuid: str, number: str) -> None:
        """A queue member no socket controls (trace 14's plain members)."""
        reply = self.switch.run_api(
            f"originate {{origination_uuid={uuid}}}loopback/park/esltest11 "
            f"set:caller_id_number={number},set:caller_id_name=M{number},callcenter:sales inline")
        assert reply.startswith("+OK"), reply

    def order(self) -> list[str]:
        now = self.sim.now_us() // 1_000_000
        return [m.session_uuid for m in self.sim.callcenter.queue_members("sales", now) if m.state == "Waiting"]

    def offered(self) -> list[str]:
        return [dict(h)["CC-Member-Session-UUID"] for a, h in self.sim.callcenter.events if a == "agent-offering"]

    def job(self) -> OutboxRow:
        with self.h.store.session() as s:
            row = s.execute(select(OutboxRow).where(OutboxRow.kind == "queue_callback")).scalar_one()
            s.expunge(row)
        return row

    def attempts(self) -> list[CallAttempt]:
        with self.h.store.session() as s:
            found = list(s.execute(select(CallAttempt).order_by(CallAttempt.id)).scalars())
            s.expunge_all()
        return found


def joined_base(line: str) -> int:
    return int(line.split("cc_base_score=", 1)[1].split(",", 1)[0].split("}", 1)[0])


def wait_for(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():
        assert time.monotonic() < deadline, f"not within {BOUND:g} s: {what}"
        gevent.sleep(0.05)


def second_passes(sim: Simulator) -> None:
    """mod_callcenter's epochs are whole seconds: the next member joins in a later one."""
    start = sim.now_us() // 1_000_000
    wait_for(lambda: sim.now_us() // 1_000_000 > start, "a second of switch time")


def record_of(h: Harness, handle: CallHandle) -> dict:
    handle.wait()
    assert h.app.runner.idle.wait(10.0)
    assert h.app.records.flush(10.0)
    record = h.store.run(lambda s: repository.call_path(s, handle.uuid))
    assert record is not None
    return record


@pytest.fixture
def make_rig(db_url: str) -> Iterator[Callable[[str], Rig]]:
    stack: list = []

    def make(hours: str) -> Rig:
        cm = running(bundle(hours), database_url=db_url, time_scale=1.0)
        h = cm.__enter__()
        stack.append(cm)
        sim = h.simulator
        sim.add_queue("sales", time_base_score="queue")
        for cmd in ("agent add 101 callback", "agent set contact 101 user/101", "agent set status 101 'On Break'",
                    "tier add sales 101"):
            assert sim.callcenter_config(cmd) == "+OK\n", cmd
        switch = InboundSwitch(sim=sim)
        switch.__enter__()
        stack.append(switch)
        host, port = switch.address
        link = EventLink(host, port, "ClueCon", timeout=5.0, min_backoff=0.05, max_backoff=0.2)

        def clock() -> datetime:
            return datetime.fromtimestamp(sim.now_us() / 1_000_000, UTC)

        sender = QueueCallbackSender(h.store, link, endpoint="sofia/gateway/trunk/{number}",
                                     hold_endpoint="loopback/park/esltest11", originate_timeout=30,
                                     link_wait=5.0, clock=clock)
        link.start()
        stack.append(link)
        assert link.wait_connected(5.0)
        worker = Worker(h.store, {"queue_callback": sender}, WorkerSettings(lease_seconds=120, poll_interval=0.05),
                        clock=clock, name="test-worker")
        return Rig(h, sim, switch, worker, sender)

    yield make
    for item in reversed(stack):
        if isinstance(item, EventLink):
            item.stop()
        else:
            item.__exit__(None, None, None)


def _press_callback(rig: Rig) -> tuple[CallHandle, dict]:
    caller = rig.sim.start_call(CallScript(number="2005", caller=CALLER, timeout=60))
    wait_for(lambda: rig.sim.queue_position(caller.uuid) is not None, "the caller is in line")
    return caller, {}


def test_callback_keeps_the_place_agent_first_then_the_caller(make_rig: Callable[[str], Rig]) -> None:
    rig = make_rig("00:00-24:00")
    a, b, d, e = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002", \
        "dddddddd-0000-4000-8000-000000000004", "eeeeeeee-0000-4000-8000-000000000005"
    rig.member(a, "15550001")
    second_passes(rig.sim)
    rig.member(b, "15550002")
    second_passes(rig.sim)
    caller = rig.sim.start_call(CallScript(number="2005", caller=CALLER, timeout=60))
    wait_for(lambda: rig.sim.queue_position(caller.uuid) == 3, "the caller is third in line")
    second_passes(rig.sim)
    rig.member(d, "15550004")
    wait_for(lambda: rig.order() == [a, b, caller.uuid, d], "d joins behind the caller")

    assert rig.sim.press(caller.uuid, "5")
    record = record_of(rig.h, caller)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("q", "callback")]
    step = record["path"][0]["detail"]
    assert step["callback_offered"] is True
    result = caller.wait()
    # callcenter ends the wait on the caller's 5 itself, unless an announcement was playing: a
    # broadcast's playback takes the key, and the node, seeing the DTMF event, ends it with D.
    assert result.variables["cc_exit_keys"] == "95D" and result.variables["cc_exit_key"] in ("5", "D")
    played = " ".join(x.arg or "" for x in result.apps if x.name == "playback")
    assert "We will call you back. You keep your place in line." in played
    job = rig.job()
    joined = int(result.variables["cc_queue_joined_epoch"])
    assert job.payload["joined_epoch"] == joined == step["joined_epoch"]
    assert job.payload["number"] == CALLER and job.payload["queue"] == "sales"
    assert rig.order() == [a, b, d]  # the caller's own member is out of line (Abandoned)

    # The worker places the placeholder over the live link: it goes where the caller was.
    assert rig.worker.run_once()
    [placeholder] = rig.attempts()
    assert placeholder.attempt == 0 and placeholder.state == "answered"
    p = placeholder.call_uuid
    wait_for(lambda: rig.order() == [a, b, p, d], "the placeholder is where the caller was")
    assert rig.job().state == "pending"  # waiting in line
    placed = next(line for _, line in rig.switch.received if f"origination_uuid={p}" in line)
    # the placeholder counts as joined when the caller did, rounded in the caller's favour:
    # joined_epoch - base_score = a second before the caller's, or the caller's own when the
    # switch's second turned between the worker's reading and the join (queuecallback.ROUNDING)
    row = next(m for m in rig.sim.callcenter.members if m.session_uuid == p)
    assert row.base_score == joined_base(placed) > 0
    assert row.joined_epoch - row.base_score in (joined - 1, joined)

    second_passes(rig.sim)
    rig.member(e, "15550005")
    wait_for(lambda: rig.order() == [a, b, p, d, e], "e joins behind everyone")

    # The agent becomes available and takes the members one by one, in score order.
    rig.sim.set_agent_behaviour("101", Target("answered", answer_after=0.0, talk=1.0))
    assert rig.sim.callcenter_config("agent set status 101 Available") == "+OK\n"
    wait_for(lambda: len(rig.offered()) >= 5, "the agent was offered all five")
    assert rig.offered()[:5] == [a, b, p, d, e]

    # The agent heard the announcement alone, before the caller was called back and bridged to them.
    agent = rig.sim.callcenter.agents["101"]
    assert agent.heard == [job.payload["agent_announce"]]
    assert "Connecting you to a customer who asked to be called back." in agent.heard[0]
    assert placed.endswith("loopback/park/esltest11 callcenter:sales inline")
    assert "origination_caller_id_number=+48501000001" in placed
    if agent.heard[0].startswith("say:"):  # FreeSWITCH speaks it on the agent's leg: the TTS vars go along
        assert "cc_export_vars=tts_engine\\,tts_voice" in placed, placed
    wait_for(lambda: rig.job().next_attempt_at <= datetime.now(UTC) + timedelta(days=1)
             and any(t.attempt == 1 for t in rig.attempts()), "the caller was called back")
    call = next(t for t in rig.attempts() if t.attempt == 1)
    wait_for(lambda: next(t for t in rig.attempts() if t.attempt == 1).state != "placing", "the callback's result")
    call = next(t for t in rig.attempts() if t.attempt == 1)
    assert call.state == "answered" and call.number == CALLER and call.reply == f"+OK {call.call_uuid}"
    sent = [line for _, line in rig.switch.received if line.startswith("bgapi originate")]
    assert any("sofia/gateway/trunk/+48501000001 &park()" in line and "origination_caller_id_number=+48221234567"
               in line for line in sent), sent
    assert any(line == f"api uuid_bridge {agent.uuid} {call.call_uuid}" for _, line in rig.switch.received)
    # the callback call has its own call record, with its result
    back = rig.h.store.run(lambda s: repository.call_path(s, call.call_uuid))
    assert back is not None and back["status"] == "answered" and back["number"] == CALLER
    assert back["caller"] == "+48221234567" and back["scenario"] == "queue"
    [(node, kind, outcome, detail)] = [(x["node"], x["type"], x["outcome"], x["detail"]) for x in back["path"]]
    assert (node, kind, outcome) == ("q", "queue_callback", "answered")
    assert detail == {"queue": "sales", "agent": "101", "placeholder": p, "attempt": 1, "requested_by": caller.uuid}
    assert rig.worker.run_once()
    assert rig.job().state == "sent"


@pytest.mark.parametrize("report_delay", [None, 0.5], ids=["leg-end-first", "job-first"])
def test_no_answer_is_retried_once_then_failed(make_rig: Callable[[str], Rig], report_delay: float | None) -> None:
    """Each unanswered leg also reports its end (CHANNEL_HANGUP_COMPLETE, fsivr.testing.legs) before
    or after its ``-ERR NO_ANSWER``: each try is still one attempt and one call record, its end the
    first one that came."""
    rig = make_rig("00:00-24:00")
    rig.sim.originate_outcomes[CALLER] = "NO_ANSWER"
    rig.sim.leg_report_delay = report_delay
    caller = rig.sim.start_call(CallScript(number="2005", caller=CALLER, timeout=60))
    wait_for(lambda: rig.sim.queue_position(caller.uuid) == 1, "the caller is in line")
    assert rig.sim.press(caller.uuid, "5")
    record = record_of(rig.h, caller)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("q", "callback")]
    assert rig.worker.run_once()
    p = rig.attempts()[0].call_uuid
    wait_for(lambda: rig.order() == [p], "the placeholder is in line")
    rig.sim.set_agent_behaviour("101", Target("answered", answer_after=0.0, talk=10.0))
    assert rig.sim.callcenter_config("agent set status 101 Available") == "+OK\n"
    wait_for(lambda: len([t for t in rig.attempts() if t.attempt >= 1 and t.state == "failed"]) == 2,
             "two tries, both unanswered")
    calls = [t for t in rig.attempts() if t.attempt >= 1]
    assert [(t.attempt, t.reply, t.hangup_cause) for t in calls] == [
        (1, "-ERR NO_ANSWER", "NO_ANSWER"), (2, "-ERR NO_ANSWER", "NO_ANSWER")]
    # the agent is released: the placeholder was hung up, ending the agent's bridge
    wait_for(lambda: p not in rig.sim.queue_callers, "the placeholder hung up")
    wait_for(lambda: rig.worker.run_once() or rig.job().state == "dead", "the job is settled")
    job = rig.job()
    assert job.state == "dead" and "callback failed" in (job.last_error or "")
    assert "NO_ANSWER" in (job.last_error or "")
    for t in calls:  # each try is a call record: unanswered, no_answer
        back = rig.h.store.run(lambda s, u=t.call_uuid: repository.call_path(s, u))
        assert back["status"] == "unanswered" and back["hangup_cause"] == "NO_ANSWER"
        assert [(x["outcome"], x["detail"]["attempt"]) for x in back["path"]] == [("no_answer", t.attempt)]
    # both legs reported their end (after the job where it came late): it moved neither the
    # attempt's end nor the record's
    wait_for(lambda: sum(1 for u, n in rig.sim.leg_events if n == "CHANNEL_DESTROY" and u in {
        t.call_uuid for t in calls}) == 2, "the legs' ends")
    gevent.sleep(0.2)
    with rig.h.store.session() as s:
        rows = {r.uuid: r for r in s.execute(select(CallRow)).scalars()}
        after = {a.call_uuid: a for a in s.execute(select(CallAttempt)).scalars()}
    for t in calls:
        assert after[t.call_uuid].ended_at == t.ended_at and after[t.call_uuid].hangup_cause == "NO_ANSWER"
        assert t.ended_at is not None and rows[t.call_uuid].ended_at is not None
        assert abs((rows[t.call_uuid].ended_at - t.ended_at).total_seconds()) < 0.3


def test_outside_the_queues_hours_no_callback_is_offered(make_rig: Callable[[str], Rig]) -> None:
    now = datetime.now(UTC)
    start = now + timedelta(hours=2)
    if start.date() != (start + timedelta(hours=1)).date() or start.date() != now.date():
        start = now - timedelta(hours=3)  # a window today that is over
    rig = make_rig(f"{start:%H:%M}-{start + timedelta(hours=1):%H:%M}")
    caller = rig.sim.start_call(CallScript(number="2005", caller=CALLER, timeout=60))
    wait_for(lambda: rig.sim.queue_position(caller.uuid) == 1, "the caller is in line")
    assert rig.sim.press(caller.uuid, "5")  # not an exit key now: the wait goes on
    gevent.sleep(1.0)
    assert rig.sim.queue_position(caller.uuid) == 1
    assert rig.sim.press(caller.uuid, "9")
    record = record_of(rig.h, caller)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("q", "exit"), ("bye", "hangup")]
    assert record["path"][0]["detail"]["callback_offered"] is False
    result = caller.wait()
    assert result.variables["cc_exit_keys"] == "9D"
    played = " ".join(x.arg or "" for x in result.apps if x.name == "playback")
    assert "called back" not in played
    with rig.h.store.session() as s:
        assert s.execute(select(OutboxRow)).first() is None


def _queued_callback(rig: Rig) -> str:
    """A caller alone in line presses the callback key; the worker places the placeholder."""
    caller = rig.sim.start_call(CallScript(number="2005", caller=CALLER, timeout=60))
    wait_for(lambda: rig.sim.queue_position(caller.uuid) == 1, "the caller is in line")
    assert rig.sim.press(caller.uuid, "5")
    record = record_of(rig.h, caller)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("q", "callback")]
    assert rig.worker.run_once()
    p = rig.attempts()[0].call_uuid
    wait_for(lambda: rig.order() == [p], "the placeholder is in line")
    return p


def test_agent_leaving_while_the_caller_rings_cancels_the_call_and_fails_the_job(
        make_rig: Callable[[str], Rig]) -> None:
    rig = make_rig("00:00-24:00")
    rig.sim.originate_answers[CALLER] = {"answer_after": 4.0}  # the caller's phone rings 4 s
    p = _queued_callback(rig)
    # the agent hangs up after 1 s, while the caller's phone still rings
    rig.sim.set_agent_behaviour("101", Target("answered", answer_after=0.0, talk=1.0))
    assert rig.sim.callcenter_config("agent set status 101 Available") == "+OK\n"
    wait_for(lambda: any(t.attempt == 1 and t.state == "failed" for t in rig.attempts()), "the attempt failed")
    [placeholder, call] = rig.attempts()
    assert placeholder.call_uuid == p and "agent left before the caller answered" in (placeholder.reply or "")
    # the ringing leg was cancelled by the worker, and not tried again: nobody is left to take it
    assert call.reply == "-ERR ORIGINATOR_CANCEL (agent left before the caller answered)"
    assert call.hangup_cause == "ORIGINATOR_CANCEL"
    assert any(line == f"api uuid_kill {call.call_uuid} ORIGINATOR_CANCEL" for _, line in rig.switch.received)
    assert call.call_uuid not in rig.sim.parked_legs
    back = rig.h.store.run(lambda s: repository.call_path(s, call.call_uuid))
    assert back["status"] == "unanswered" and [x["outcome"] for x in back["path"]] == ["agent_gone"]
    wait_for(lambda: rig.worker.run_once() or rig.job().state == "dead", "the job is settled")
    assert "agent left before the caller answered" in (rig.job().last_error or "")


def test_a_restarted_worker_takes_over_the_waiting_placeholder(make_rig: Callable[[str], Rig]) -> None:
    rig = make_rig("00:00-24:00")
    p = _queued_callback(rig)
    # The worker dies: its link goes away. A new worker with its own link comes up.
    rig.sender.link.stop()
    host, port = rig.switch.address
    link = EventLink(host, port, "ClueCon", timeout=5.0, min_backoff=0.05, max_backoff=0.2)
    sender = QueueCallbackSender(rig.h.store, link, endpoint="sofia/gateway/trunk/{number}",
                                 hold_endpoint="loopback/park/esltest11", link_wait=5.0, recheck=60.0,
                                 clock=rig.sender.clock)
    link.start()
    try:
        assert link.wait_connected(5.0)
        worker = Worker(rig.h.store, {"queue_callback": sender}, WorkerSettings(lease_seconds=120),
                        clock=rig.sender.clock, name="second-worker")
        # the row is due again (its recheck): the new worker asks FreeSWITCH and listens for it
        with rig.h.store.session() as s:
            s.execute(OutboxRow.__table__.update().values(next_attempt_at=rig.sender.clock()))
        assert worker.run_once()
        assert rig.job().state == "pending" and len(rig.attempts()) == 1  # not placed a second time
        assert any(line == f"api uuid_exists {p}" for _, line in rig.switch.received)
        rig.sim.set_agent_behaviour("101", Target("answered", answer_after=0.0, talk=2.0))
        assert rig.sim.callcenter_config("agent set status 101 Available") == "+OK\n"
        wait_for(lambda: any(t.attempt == 1 and t.state == "answered" for t in rig.attempts()),
                 "the new worker called the caller back")
        assert worker.run_once()
        assert rig.job().state == "sent"
    finally:
        link.stop()


def test_a_caller_served_meanwhile_is_not_called_back(make_rig: Callable[[str], Rig]) -> None:
    rig = make_rig("00:00-24:00")
    p = _queued_callback(rig)
    # The same caller calls again and this call is answered (the queue answers it); they leave with 9.
    again = rig.sim.start_call(CallScript(number="2005", caller=CALLER, timeout=60))
    wait_for(lambda: rig.sim.queue_position(again.uuid) is not None, "the caller is in line again")
    assert rig.sim.press(again.uuid, "9")
    record_of(rig.h, again)
    assert rig.job().state == "dead" and "called again and was served" in (rig.job().last_error or "")
    # The placeholder's turn: the agent is released at once, nobody is dialled.
    rig.sim.set_agent_behaviour("101", Target("answered", answer_after=0.0, talk=30.0))
    assert rig.sim.callcenter_config("agent set status 101 Available") == "+OK\n"
    wait_for(lambda: p not in rig.sim.queue_callers, "the placeholder hung up")
    [placeholder] = rig.attempts()
    assert "cancelled: the caller was served meanwhile" in (placeholder.reply or "")
    assert not any("sofia/gateway" in line for _, line in rig.switch.received)
    wait_for(lambda: rig.sim.callcenter.agents["101"].state == "Waiting", "the agent is free again")


@pytest.mark.parametrize("params, message", [
    ('callback_key: "5"', "s.nodes.q.callback_hours: the queue's hours for callbacks are required"),
    ('callback_key: "9", exit_key: "9", callback_hours: "08:00-20:00"', "s.nodes.q.callback_key: must differ"),
    ('callback_key: "55", callback_hours: "08:00-20:00"', "s.nodes.q.callback_key"),
    ('callback_key: "5", callback_hours: "25:00-26:00"', "s.nodes.q.callback_hours"),
    ('callback_key: "5", callback_hours: "08:00-20:00", timezone: Mars/Olympus', "s.nodes.q.timezone"),
    ('callback_key: "5", callback_hours: "08:00-20:00", callback_caller_id: "not a number"',
     "s.nodes.q.callback_caller_id"),
])
def test_callback_parameters_are_checked_at_validation(params: str, message: str) -> None:
    bundle = parse_text(f"""
queues:
  - {{name: sales}}
scenarios:
  - scenario: s
    numbers: ["1"]
    start: q
    nodes:
      q: {{type: queue, queue: sales, {params}, answered: b, no_agents: b, callback: b, exit: b}}
      b: {{type: hangup}}
""")
    errors = validate_bundle(bundle).errors
    assert any(message in e for e in errors), errors
