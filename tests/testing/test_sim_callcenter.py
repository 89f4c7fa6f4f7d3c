"""The simulator's mod_callcenter model as the queue feature will rely on it (traces 11, 12, 12b, 14):
members ordered by score (time waited + cc_base_score), Abandoned rows kept and counted, the
callcenter_config reply formats, queue load/unload and the queue list's hash order, and what
uuid_broadcast / uuid_displace / uuid_break do to a member waiting in ``callcenter``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import gevent
from simharness import Collector, Message
from test_sim_behaviour import _events, sendmsg

from fsivr.testing import CallScript, Hangup, Simulator
from fsivr.testing.inbound import InboundSwitch

T0 = datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC)
EPOCH = int(T0.timestamp())


def _switch(**queue: object) -> tuple[Simulator, InboundSwitch]:
    sim = Simulator(("127.0.0.1", 9), time_scale=0.01, epoch=T0)
    sim.callcenter.define_queue("q@default", time_base_score="queue", **queue)  # type: ignore[arg-type]
    return sim, InboundSwitch(sim=sim)


def _member(switch: InboundSwitch, uuid: str, cid: str, queue: str = "q@default", extra: str = "") -> str:
    """A loopback leg waiting in the queue without a socket, as the traces originate them."""
    inline = f"set:caller_id_number={cid},set:caller_id_name=N{cid},callcenter:{queue} inline"
    return switch.run_api(f"originate {{origination_uuid={uuid}{extra}}}loopback/park/ctx {inline}")


def _rows(body: str) -> list[list[str]]:
    return [line.split("|") for line in body.splitlines()[1:-1]]


U = ["00000000-0000-4000-8000-00000000000" + str(i) for i in range(1, 6)]


# ----------------------------------------------------------------------------- members and scores


def test_members_ordered_by_score_with_base_score() -> None:
    """score = (now - joined_epoch) + base_score + skill_score, highest first; cc_base_score is
    read from the channel when it joins (14: a VIP with 1000 goes first, a 'keep my place'
    member with now - (first join + 1) lists right behind the first)."""
    sim, switch = _switch()
    assert _member(switch, U[0], "1001") == f"+OK {U[0]}\n"
    sim.advance(2)
    _member(switch, U[1], "1002")
    sim.advance(2)
    _member(switch, U[2], "1003")
    sim.advance(2)
    # joined at EPOCH+6; keeps the place of someone who joined at EPOCH+1
    _member(switch, U[3], "1999", extra=",cc_base_score=5")
    _member(switch, U[4], "1777", extra=",cc_base_score=1000")
    sim.advance(1)
    rows = _rows(sim.callcenter_config("queue list members q@default"))
    assert [(r[4], r[7], r[11], r[15], r[16]) for r in rows] == [
        ("1777", str(EPOCH + 6), "1000", "Waiting", "1001"),
        ("1001", str(EPOCH), "0", "Waiting", "7"),
        ("1999", str(EPOCH + 6), "5", "Waiting", "6"),
        ("1002", str(EPOCH + 2), "0", "Waiting", "5"),
        ("1003", str(EPOCH + 4), "0", "Waiting", "3"),
    ]
    assert [r[3] for r in rows] == [U[4], U[0], U[3], U[1], U[2]]  # session_uuid = the leg
    assert switch.run_api(f"uuid_getvar {U[0]} cc_queue_joined_epoch") == str(EPOCH)


def test_free_agent_is_offered_the_best_score_first() -> None:
    sim, switch = _switch()
    _member(switch, U[0], "1001")
    sim.advance(3)
    _member(switch, U[1], "1777", extra=",cc_base_score=1000")
    for cmd in ("agent add a@default callback", "tier add q@default a@default 1 1",
                "agent set status a@default Available"):
        assert sim.callcenter_config(cmd) == "+OK\n"
    for _ in range(1000):  # the dispatch loop runs in its own greenlet: a generous bound, not a speed
        if any(m.state == "Answered" for m in sim.callcenter.members):
            break
        gevent.sleep(0.01)
    states = {m.cid_number: (m.state, m.serving_agent) for m in sim.callcenter.members}
    assert states == {"1777": ("Answered", "a@default"), "1001": ("Waiting", "")}
    assert [a for a, _ in sim.callcenter.events if a.startswith(("agent-offering", "bridge-agent-start"))] == [
        "agent-offering", "bridge-agent-start"]


def test_max_no_answer_changes_the_status_with_its_events_and_available_resets_it() -> None:
    """mod_callcenter.c outbound_agent_thread_run: an offer not answered counts; at max-no-answer
    agent-max-no-answer, then cc_agent_update("status", agent-no-answer-status) with its
    agent-status-change (what the agent IVR writes back); cc_agent_update to Available resets
    no_answer_count (only when the status changes)."""
    from fsivr.testing import Target

    sim, switch = _switch()
    for cmd in ("agent add a@default callback", "agent set max_no_answer a@default 2",
                "tier add q@default a@default 1 1", "agent set status a@default Available"):
        assert sim.callcenter_config(cmd) == "+OK\n"
    sim.set_agent_behaviour("a@default", Target("no_answer"))
    _member(switch, U[0], "1001")
    for _ in range(1000):  # the dispatch loop runs in its own greenlet: a generous bound, not a speed
        if sim.callcenter.agents["a@default"].status != "Available":
            break
        gevent.sleep(0.01)
    agent = _rows(sim.callcenter_config("agent list a@default"))[0]
    assert (agent[5], agent[16]) == ("On Break", "2")  # status, no_answer_count
    actions = [a for a, _ in sim.callcenter.events if a in ("agent-offering", "agent-max-no-answer",
                                                           "agent-status-change")]
    assert actions[-4:] == ["agent-offering", "agent-offering", "agent-max-no-answer", "agent-status-change"]
    changed = dict(next(h for a, h in reversed(sim.callcenter.events) if a == "agent-status-change"))
    assert changed == {"CC-Agent": "a@default", "CC-Action": "agent-status-change", "CC-Agent-Status": "On Break"}
    switch.run_api(f"uuid_kill {U[0]}")
    assert sim.callcenter_config("agent set status a@default Available") == "+OK\n"
    assert _rows(sim.callcenter_config("agent list a@default"))[0][16] == "0"


def test_hung_up_members_stay_abandoned_and_count() -> None:
    """11: after uuid_kill the rows stay, state Abandoned, session_uuid emptied, abandoned_epoch set,
    still in ``queue count members``; calls_abandoned counts them. Only the dispatch thread drops
    them, once discard-abandoned-after has passed."""
    sim, switch = _switch(discard_abandoned_after=60)
    for u, cid in zip(U[:3], ("1001", "1002", "1003"), strict=True):
        _member(switch, u, cid)
        sim.advance(1)
    for u in U[:3]:
        assert switch.run_api(f"uuid_kill {u}") == "+OK\n"
    assert switch.run_api(f"uuid_exists {U[0]}") == "false"
    sim.advance(1)
    rows = _rows(sim.callcenter_config("queue list members q@default"))
    assert [(r[3], r[4], r[10], r[15], r[16]) for r in rows] == [
        ("", "1001", str(EPOCH + 3), "Abandoned", "4"),
        ("", "1002", str(EPOCH + 3), "Abandoned", "3"),
        ("", "1003", str(EPOCH + 3), "Abandoned", "2"),
    ]
    assert sim.callcenter_config("queue count members q@default") == "3\n"
    assert sim.callcenter.get_queue("q@default").calls_abandoned == 3
    # a later member's dispatch loop drops rows abandoned more than 60 s ago
    sim.advance(61)
    _member(switch, U[3], "1004")
    for _ in range(1000):
        if len(sim.callcenter.members) == 1:
            break
        gevent.sleep(0.01)
    assert sim.callcenter_config("queue count members q@default") == "1\n"
    switch.run_api(f"uuid_kill {U[3]}")


# ----------------------------------------------------------------------------- reply formats


def test_list_and_count_formats() -> None:
    sim, _ = _switch()
    cfg = sim.callcenter_config
    assert cfg("").startswith("-USAGE: \ncallcenter_config <target> <args>,\n\tcallcenter_config agent add")
    assert cfg("agent") == "-ERR Invalid!\n"
    assert cfg("bogus_section list") == ""  # empty: the inbound api answers "-ERR no reply"
    assert InboundSwitch(sim=sim).run_api("callcenter_config agent list") == "+OK\n"
    # no rows: no header either (list_result_callback writes it with the first row)
    assert cfg("agent list") == "+OK\n"
    assert cfg("queue list members q@default") == "+OK\n"
    assert cfg("queue list tiers nosuch@default") == "+OK\n"
    assert cfg("queue count members nosuch@default") == "0\n"
    assert cfg("agent add a@default callback") == "+OK\n"
    assert cfg("agent set status a@default 'On Break'") == "+OK\n"
    assert cfg("agent set status a@default On Break") == "-ERR Invalid Agent Status!\n"
    assert cfg("agent get status a@default") == "On Break"  # no LF
    assert cfg("agent get uuid a@default") == ""  # not on a call
    assert cfg("agent list").splitlines()[0].startswith("name|instance_id|uuid|type|contact|status|state")
    assert cfg("tier add q@default a@default 2 3") == "+OK\n"  # loads the queue from the XML
    assert cfg("tier add q@default a@default") == "-ERR Tier already exist!\n"
    assert cfg("tier set state q@default nosuch@default Ready") == "-ERR Unknown Error!\n"
    assert cfg("tier set bogus q@default a@default 1") == "-ERR Invalid Tier Update KEY!\n"
    assert cfg("queue list tiers q@default") == "queue|agent|state|level|position\nq@default|a@default|Ready|2|3\n+OK\n"
    assert cfg("queue count agents q@default 'On Break'") == "1\n"
    assert cfg("queue list bogus q@default") == "-ERR Invalid!\n"
    assert cfg("agent del nosuch@default") == "+OK\n"
    assert cfg("tier del nosuch@default a@default") == "+OK\n"


def test_queue_load_unload_and_hash_order() -> None:
    """11: queues come from the XML; ``queue list`` walks the hash (bucket order, not insertion);
    load of a loaded queue replaces it (counters back to 0); unload of an unknown one is +OK."""
    sim = Simulator(("127.0.0.1", 9), epoch=T0)
    for name in ("support@default", "esl-q0@default", "esl-q1@default", "esl-q3@default", "esl-unloaded@default"):
        sim.callcenter.define_queue(name)
    cfg = sim.callcenter_config
    for name in ("esl-q3@default", "esl-q1@default", "support@default", "esl-q0@default"):
        assert cfg(f"queue load {name}") == "+OK\n"
    assert cfg("queue load nosuch@default") == "-ERR Invalid Queue not found!\n"
    names = [line.split("|")[0] for line in cfg("queue list").splitlines()[1:-1]]
    assert names == ["support@default", "esl-q0@default", "esl-q1@default", "esl-q3@default"]
    assert cfg("queue count") == "4\n"
    sim.callcenter.get_queue("esl-q1@default").calls_abandoned = 2
    assert cfg("queue load esl-q1@default") == "+OK\n"
    assert sim.callcenter.get_queue("esl-q1@default").calls_abandoned == 0
    assert cfg("queue unload esl-q0@default") == "+OK\n"
    assert cfg("queue unload nosuch@default") == "+OK\n"
    assert cfg("queue reload nosuch@default") == "-ERR Invalid Queue not found!\n"
    assert cfg("queue load esl-unloaded@default") == "+OK\n"
    names = [line.split("|")[0] for line in cfg("queue list").splitlines()[1:-1]]
    assert names == ["support@default", "esl-unloaded@default", "esl-q1@default", "esl-q3@default"]


# ----------------------------------------------------------------------------- a waiting member


def _queue_call(esl_server, lock: bool, steps: Callable[[Collector, str], None],
                ) -> tuple[list[Message], Simulator]:
    """A socket-controlled member (myevents, linger, callcenter::info): answer, callcenter q@default
    (with/without event-lock), then ``steps(col, own_uuid)``, then the controller's uuid_kill as in
    12b and exit once the channel is gone."""
    box: list[Collector] = []

    def handler(col: Collector) -> None:
        box.append(col)
        col.send(b"connect\n\n")
        col.wait_count(1)
        uuid = dict(col.messages[0].event() or []).get("Unique-ID", "")
        for n, cmd in enumerate((b"myevents\n\n", b"linger\n\n", b"event plain CUSTOM callcenter::info\n\n")):
            col.send(cmd)
            col.wait_count(2 + n)
        col.send(sendmsg("answer"))
        col.wait_for(lambda ms: len(_events(ms, "CHANNEL_EXECUTE_COMPLETE")) >= 1)
        col.send(sendmsg("callcenter", "q@default", lock=lock))
        col.wait_for(lambda ms: any(e.get("Application") == "callcenter" for e in _events(ms, "CHANNEL_EXECUTE")))
        steps(col, uuid)
        _api(col, f"uuid_kill {uuid}")
        col.wait_for(lambda ms: bool(_events(ms, "CHANNEL_HANGUP_COMPLETE")))
        col.send(b"exit\n\n")
        col.wait_closed(timeout=5)

    sim = Simulator(esl_server(handler), time_scale=0.01)
    sim.callcenter.define_queue("q@default")
    # (the caller would hang up after 3000 s of queue time (30 s real): a guard, the controller ends it first)
    sim.run_call(CallScript(profile="loopback", timeout=30, hangup=Hangup(after=3000.0)))
    return box[0].messages, sim


def _api(col: Collector, text: str) -> str:
    n = len(col.messages)
    col.send(f"api {text}\n\n".encode())
    col.wait_for(lambda ms: any(m.content_type == "api/response" for m in ms[n:]))
    return next(m for m in col.messages[n:] if m.content_type == "api/response").body.decode()


def _wait_queue_seconds(col: Collector, seconds: int) -> None:
    """Until the member has waited ``seconds`` of switch time (its score's (now - joined_epoch)
    part: no base or skill score here), however slowly the box runs."""
    for _ in range(1000):
        row = _api(col, "callcenter_config queue list members q@default").splitlines()[1].split("|")
        if int(row[16]) >= seconds:
            return
        gevent.sleep(0.005)
    raise AssertionError(f"the member never waited {seconds} s of switch time")


def _state(col: Collector) -> str:
    return _api(col, "callcenter_config queue list members q@default").splitlines()[1].split("|")[15]


def _apps(msgs: list[Message], name: str) -> list[tuple[str, str]]:
    return [(e.get("Application", ""), e.get("Application-Response", "")) for e in _events(msgs, name)]


def test_broadcast_with_event_lock_is_accepted_but_never_runs(esl_server) -> None:
    seen: list[str] = []

    def steps(col: Collector, uuid: str) -> None:
        seen.append(_api(col, f"uuid_broadcast {uuid} tone_stream://%(500,0,440) aleg"))
        _wait_queue_seconds(col, 5)  # long enough for a broadcast to have run, were it to run
        seen.append(_state(col))
        seen.append(_api(col, f"uuid_broadcast {uuid} tone_stream://%(500,0,440) both"))

    msgs, _ = _queue_call(esl_server, lock=True, steps=steps)
    assert seen == ["+OK Message sent\n", "Waiting", "+OK Message sent\n"]
    # queued behind CF_EVENT_LOCK and flushed when the wait ended: never executed, not even after
    assert [a for a, _ in _apps(msgs, "CHANNEL_EXECUTE")] == ["answer", "callcenter"]
    assert [a for a, _ in _apps(msgs, "CHANNEL_EXECUTE_COMPLETE")] == ["answer", "callcenter", "socket"]


def test_broadcast_without_event_lock_plays_inside_the_wait(esl_server) -> None:
    seen: list[str] = []

    def steps(col: Collector, uuid: str) -> None:
        member = _api(col, "callcenter_config queue list members q@default").splitlines()[1].split("|")[2]
        seen.append(_api(col, f"uuid_broadcast {uuid} tone_stream://%(500,0,440) aleg"))
        col.wait_for(lambda ms: ("playback", "FILE PLAYED") in _apps(ms, "CHANNEL_EXECUTE_COMPLETE"))
        row = _api(col, "callcenter_config queue list members q@default").splitlines()[1].split("|")
        seen.extend([row[15], "same member" if row[2] == member else "new member"])

    msgs, _ = _queue_call(esl_server, lock=False, steps=steps)
    assert seen == ["+OK Message sent\n", "Waiting", "same member"]
    assert _apps(msgs, "CHANNEL_EXECUTE") == [("answer", ""), ("callcenter", ""), ("playback", "")]
    completes = _apps(msgs, "CHANNEL_EXECUTE_COMPLETE")
    assert completes[:2] == [("answer", "_none_"), ("playback", "FILE PLAYED")]
    # uuid_kill ends the wait; callcenter's and socket's responses are the broadcast's, stale (12b)
    assert completes[2:] == [("callcenter", "FILE PLAYED"), ("socket", "FILE PLAYED")]
    ends = [e for e in _events(msgs, "CUSTOM") if e.get("CC-Action") == "member-queue-end"]
    assert [(e.get("CC-Cause"), e.get("CC-Cancel-Reason")) for e in ends] == [("Cancel", "BREAK_OUT")]


def test_displace_and_break_leave_the_member_waiting(esl_server) -> None:
    seen: list[str] = []

    def steps(col: Collector, uuid: str) -> None:
        n = len(col.messages)
        seen.append(_api(col, f"uuid_displace {uuid} start tone_stream://%(2000,0,660) 0 mux"))
        seen.append(_api(col, f"uuid_displace {uuid} stop tone_stream://%(2000,0,660)"))  # still playing
        seen.append(_api(col, f"uuid_displace {uuid} start tone_stream://%(2000,0,660) 0 mux"))
        _wait_queue_seconds(col, 4)  # the 2 s file has played out
        seen.append(_api(col, f"uuid_displace {uuid} stop tone_stream://%(2000,0,660)"))
        seen.append(_api(col, f"uuid_break {uuid}"))
        seen.append(_api(col, f"uuid_break {uuid} all"))
        gevent.sleep(0.02)
        seen.append(_state(col))
        # displace and break: no EXECUTE events (the media bug and the music are not applications)
        seen.append(str(len(_events(col.messages[n:], "CHANNEL_EXECUTE"))))

    msgs, _ = _queue_call(esl_server, lock=True, steps=steps)
    assert seen == ["+OK Success\n", "+OK Success\n", "+OK Success\n", "-ERR Cannot stop displace session!\n",
                    "+OK\n", "+OK\n", "Waiting", "0"]
    # the app went on until the controller's uuid_kill: BREAK_OUT, not ended by uuid_break
    ends = [e for e in _events(msgs, "CUSTOM") if e.get("CC-Action") == "member-queue-end"]
    assert [(e.get("CC-Cause"), e.get("CC-Cancel-Reason")) for e in ends] == [("Cancel", "BREAK_OUT")]
    assert _events(msgs, "CHANNEL_HANGUP")
