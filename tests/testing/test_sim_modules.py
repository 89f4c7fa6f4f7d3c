"""Emulated modules beyond what the traces show: queue positions by score, agents that do not answer,
valet slot allocation and a retrieval by another simulated call, fax failures, record_session at hangup."""

from __future__ import annotations

import gevent
from simharness import Collector
from test_sim_behaviour import _events, drive, sendmsg

from fsivr.testing import CallScript, FaxPeer, Hangup, Simulator, Speech, Target


def _subscribe(extra: bytes) -> bytes:
    return b"event plain " + extra + b"\n\n"


def _custom(msgs, action_key: str, action: str) -> list[dict[str, str]]:
    return [e for e in _events(msgs, "CUSTOM") if e.get(action_key) == action]


# ----------------------------------------------------------------------------- mod_callcenter


def test_callcenter_config_replies() -> None:
    sim = Simulator(("127.0.0.1", 1))
    sim.add_queue("sales@default")
    assert sim.callcenter_config("agent add a1@default callback") == "+OK\n"
    assert sim.callcenter_config("agent add a1@default callback") == "-ERR Agent already exist!\n"
    assert sim.callcenter_config("agent add a2@default phone") == "-ERR Agent type invalid!\n"
    assert sim.callcenter_config("agent set status a1@default Logged Out") == "-ERR Invalid Agent Status!\n"
    assert sim.callcenter_config("agent set status a1@default 'Logged Out'") == "+OK\n"
    assert sim.callcenter_config("agent get status a1@default") == "Logged Out"
    assert sim.callcenter_config("agent set state a1@default Napping") == "-ERR Invalid Agent State!\n"
    assert sim.callcenter_config("agent set colour a1@default red") == "-ERR Invalid Agent Update KEY!\n"
    assert sim.callcenter_config("tier add nosuch@default a1@default") == "-ERR Queue not found!\n"
    assert sim.callcenter_config("tier add sales@default a1@default 2 3") == "+OK\n"
    assert sim.callcenter_config("queue list tiers sales@default") == (
        "queue|agent|state|level|position\nsales@default|a1@default|Ready|2|3\n+OK\n")
    assert sim.callcenter_config("queue count agents sales@default") == "1\n"
    assert sim.callcenter_config("queue load nosuch@default") == "-ERR Invalid Queue not found!\n"
    assert sim.callcenter_config("bogus") == "-ERR Invalid!\n"


def test_two_callers_queue_positions_by_score(esl_server) -> None:
    """No agent: both wait; the caller with the higher score (cc_base_score) is first."""
    seen: list[str] = []
    sim: Simulator

    def handler(col: Collector) -> None:
        col.send(b"connect\n\n")
        col.wait_count(1)
        col.send(b"myevents\n\n")
        col.wait_count(2)
        col.send(sendmsg("answer"))
        col.wait_for(lambda ms: len(_events(ms, "CHANNEL_EXECUTE_COMPLETE")) >= 1)
        col.send(b"getvar caller_id_number\n\n")
        col.wait_count(len(col.messages) + 1)
        caller = col.messages[-1].head.get("Reply-Text", "")
        score = "50" if caller == "+48500000002" else "0"
        col.send(sendmsg("set", f"cc_base_score={score}"))
        col.wait_for(lambda ms: len(_events(ms, "CHANNEL_EXECUTE_COMPLETE")) >= 2)
        col.send(sendmsg("callcenter", "sales@default"))
        col.wait_for(lambda ms: bool(_events(ms, "CHANNEL_EXECUTE")) and
                     any(e.get("Application") == "callcenter" for e in _events(ms, "CHANNEL_EXECUTE")))
        # wait until both callers are members, then ask for the list over this socket
        for _ in range(200):
            if len(sim.callcenter.members) == 2:
                break
            gevent.sleep(0.01)
        n = len(col.messages)
        col.send(b"api callcenter_config queue list members sales@default\n\n")
        col.wait_count(n + 1)
        seen.append(col.messages[-1].body.decode())
        gevent.sleep(0.1)
        col.send(b"exit\n\n")
        col.wait_closed(timeout=5)

    sim = Simulator(esl_server(handler), time_scale=0.01)
    sim.add_queue("sales@default")
    # exit does not end the running callcenter app (FreeSWITCH too): the callers hang up after 40 s
    calls = [sim.start_call(CallScript(caller=c, timeout=10, hangup=Hangup(after=40.0)))
             for c in ("+48500000001", "+48500000002")]
    for _ in range(300):
        if len(sim.callcenter.members) == 2:
            break
        gevent.sleep(0.01)
    first, second = calls
    assert sim.queue_position(second.uuid) == 1  # higher base score
    assert sim.queue_position(first.uuid) == 2
    for c in calls:
        c.wait(10)
    rows = [ln.split("|") for ln in seen[0].splitlines()[1:-1]]
    assert [r[4] for r in rows] == ["+48500000002", "+48500000001"]
    # both abandoned the queue: their rows stay, Abandoned, without a session (trace 11)
    assert sorted((m.cid_number, m.state, m.session_uuid) for m in sim.callcenter.members) == [
        ("+48500000001", "Abandoned", ""), ("+48500000002", "Abandoned", "")]
    assert all(c.wait(1).variables.get("cc_cause") == "cancel" for c in calls)


def _finished(box: list[Collector]) -> list:
    """The messages of the (only) connection, once the handler saw it close."""
    for _ in range(200):
        if box and box[0].closed:
            break
        gevent.sleep(0.01)
    return box[0].messages if box else []


def _agent_call(sim: Simulator, esl_server, commands: list[bytes]) -> tuple[list, object]:
    box: list[Collector] = []

    def handler(col: Collector) -> None:
        box.append(col)
        drive(commands)(col)

    sim.address = esl_server(handler)
    result = sim.run_call(CallScript(profile="loopback", timeout=10))
    return _finished(box), result


def test_agent_answers_then_caller_leaves_socket_app(esl_server) -> None:
    sim = Simulator(("127.0.0.1", 1), time_scale=0.0)
    sim.add_queue("q@d")
    for cmd in ("agent add ag@d callback", "agent set contact ag@d user/1001", "agent set status ag@d Available",
                "tier add q@d ag@d"):
        assert sim.callcenter_config(cmd) == "+OK\n"
    sim.set_agent_behaviour("ag@d", Target("answered", answer_after=2.0, talk=4.0))
    msgs, result = _agent_call(sim, esl_server, [_subscribe(b"CUSTOM callcenter::info"), sendmsg("answer"),
                                                 sendmsg("callcenter", "q@d")])
    names = [dict(m.event() or []).get("Event-Name") for m in msgs if m.event()]
    done = [e.get("Application") for e in _events(msgs, "CHANNEL_EXECUTE_COMPLETE")]
    assert done[-2:] == ["callcenter", "socket"]
    assert names.index("CHANNEL_BRIDGE") < names.index("CHANNEL_UNBRIDGE") < names.index("CHANNEL_HANGUP")
    assert result.variables["cc_cause"] == "answered"
    assert result.variables["cc_agent"] == "ag@d"
    agent = sim.callcenter.agents["ag@d"]
    assert agent.calls_answered == 1 and agent.state == "Waiting"
    assert result.duration >= 6.0


def test_agent_no_answer_goes_on_break_and_caller_abandons(esl_server) -> None:
    sim = Simulator(("127.0.0.1", 1), time_scale=0.0)
    sim.add_queue("q@d")
    for cmd in ("agent add ag@d callback", "agent set status ag@d Available", "agent set max_no_answer ag@d 1",
                "tier add q@d ag@d"):
        assert sim.callcenter_config(cmd) == "+OK\n"
    sim.set_agent_behaviour("ag@d", Target("no_answer"))
    def handler(col: Collector) -> None:
        drive([sendmsg("answer"), sendmsg("callcenter", "q@d")])(col)

    sim.address = esl_server(handler)
    result = sim.run_call(CallScript(profile="loopback", timeout=10, hangup=Hangup(after=90.0)))
    assert sim.callcenter.agents["ag@d"].status == "On Break"  # the queue's agent-no-answer-status
    assert result.variables["cc_cause"] == "cancel"
    assert result.variables["cc_cancel_reason"] == "BREAK_OUT"
    assert result.hangup_by == "caller"


# ----------------------------------------------------------------------------- mod_valet_parking


def test_valet_auto_in_takes_lowest_free_slot_and_info_lists_it(esl_server) -> None:
    sim = Simulator(("127.0.0.1", 1), time_scale=0.01)
    slots: list[str] = []

    def handler(col: Collector) -> None:
        drive([sendmsg("answer"), sendmsg("valet_park", "lot auto in 101 103")])(col)

    sim.address = esl_server(handler)
    calls = []
    for _ in range(3):
        calls.append(sim.start_call(CallScript(profile="loopback", timeout=10, hangup=Hangup(after=3.0))))
        for _ in range(200):
            if len(sim.valet.lot("lot")) == len(calls):
                break
            gevent.sleep(0.005)
        slots = sorted(sim.valet.lot("lot"))
    assert slots == ["101", "102", "103"]
    info = sim.valet_info("lot")
    assert info.count("<extension uuid=") == 3 and '<lot name="lot">' in info
    for c in calls:
        c.wait(10)
    assert sim.valet.lot("lot") == {}
    assert sim.valet_info() == '<lots>\n  <lot name="lot">\n  </lot>\n</lots>\n'


def test_valet_retrieved_by_test_and_by_another_call(esl_server) -> None:
    sim = Simulator(("127.0.0.1", 1), time_scale=0.01)
    logs: dict[str, list] = {}

    def handler(col: Collector) -> None:
        logs[str(len(logs))] = col.messages
        drive([_subscribe(b"CUSTOM valet_parking::info"), sendmsg("answer"), sendmsg("valet_park", "lot 7")])(col)

    sim.address = esl_server(handler)
    parked = sim.start_call(CallScript(profile="loopback", caller="+48111", timeout=10))
    for _ in range(200):
        if sim.valet.parked("lot", "7"):
            break
        gevent.sleep(0.005)
    # the retriever runs valet_park on the occupied slot, talks, hangs up 5 s into the call
    retriever = sim.start_call(CallScript(profile="loopback", caller="+48222", timeout=10, hangup=Hangup(after=5.0)))
    a, b = parked.wait(10), retriever.wait(10)
    assert a.variables.get("bridge_uuid") == b.uuid and b.variables.get("bridge_uuid") == a.uuid
    assert not sim.valet.parked("lot", "7")
    actions = [e.get("Action") for log in logs.values() for e in _custom(log, "Event-Subclass", "valet_parking::info")]
    assert actions.count("hold") == 1 and "bridge" in actions and "exit" in actions
    # a retrieval from outside (the test) on an empty slot fails
    assert sim.valet_retrieve("lot", "7") is False


def test_valet_timeout_without_orbit_returns_to_the_socket_app(esl_server) -> None:
    """valet_parking_timeout and no valet_parking_orbit_exten: after the timeout valet_park fires
    Action exit and completes with the channel still in the socket app, which runs the next
    command (mod_valet_parking.c valet_parking_function: rf.to == -1 with no orbit exten breaks
    the play loop without a transfer)."""
    sim = Simulator(("127.0.0.1", 1), time_scale=0.01)
    logs: list = []

    def handler(col: Collector) -> None:
        logs.append(col.messages)
        drive([_subscribe(b"CUSTOM valet_parking::info"), sendmsg("answer"),
               sendmsg("set", "valet_parking_timeout=30"), sendmsg("valet_park", "lot 7"),
               sendmsg("playback", "silence_stream://100")])(col)

    sim.address = esl_server(handler)
    result = sim.start_call(CallScript(profile="loopback", timeout=20, hangup=Hangup(after=40.0))).wait(20)
    msgs = logs[0]
    actions = [e.get("Action") for e in _custom(msgs, "Event-Subclass", "valet_parking::info")]
    assert actions == ["hold", "exit"]
    done = [e.get("Application") for e in _events(msgs, "CHANNEL_EXECUTE_COMPLETE")]
    assert done[:4] == ["answer", "set", "valet_park", "playback"]  # still ours after the park
    assert "uuid_bridge" not in result.variables
    park_done = next(e for e in _events(msgs, "CHANNEL_EXECUTE_COMPLETE") if e.get("Application") == "valet_park")
    assert 29.0 <= int(park_done["variable_playback_ms"]) / 1000 <= 31.0
    assert not sim.valet.parked("lot", "7")


def test_valet_timeout_with_orbit_exten_transfers_out_of_the_socket(esl_server) -> None:
    """valet_parking_orbit_exten alone: 60 s, then switch_ivr_session_transfer to it."""
    sim = Simulator(("127.0.0.1", 1), time_scale=0.002)
    logs: list = []

    def handler(col: Collector) -> None:
        logs.append(col.messages)
        drive([sendmsg("answer"), sendmsg("set", "valet_parking_orbit_exten=500"), sendmsg("valet_park", "lot 8")])(col)

    sim.address = esl_server(handler)
    result = sim.start_call(CallScript(profile="loopback", timeout=20, hangup=Hangup(after=90.0))).wait(20)
    assert result.transferred_to == "500"
    for _ in range(200):  # the handler reads what the switch sent before it closed the socket
        if any(e.get("Application") == "socket" for e in _events(logs[0], "CHANNEL_EXECUTE_COMPLETE")):
            break
        gevent.sleep(0.01)
    done = [e for e in _events(logs[0], "CHANNEL_EXECUTE_COMPLETE") if e.get("Application") == "valet_park"]
    assert 59.0 <= int(done[0]["variable_playback_ms"]) / 1000 <= 61.0
    # the app ended, then the socket app: the transfer took the channel away from the socket
    order = [e.get("Application") for e in _events(logs[0], "CHANNEL_EXECUTE_COMPLETE")]
    assert order[-2:] == ["valet_park", "socket"]


# ----------------------------------------------------------------------------- mod_spandsp


def _fax_call(esl_server, fax: FaxPeer, files: dict | None = None) -> tuple[list, object]:
    box: list[Collector] = []

    def handler(col: Collector) -> None:
        box.append(col)
        drive([_subscribe(b"CUSTOM spandsp::txfaxnegociateresult spandsp::txfaxpageresult spandsp::txfaxresult"),
               sendmsg("answer"), sendmsg("txfax", "/tmp/fax-test.tif")])(col)

    sim = Simulator(esl_server(handler), time_scale=0.0)
    result = sim.run_call(CallScript(profile="loopback", fax=fax, files=files or {"/tmp/fax-test.tif": 0.0}))
    return _finished(box), result


def test_fax_pages_and_success(esl_server) -> None:
    msgs, result = _fax_call(esl_server, FaxPeer(pages=3))
    pages = _custom(msgs, "Event-Subclass", "spandsp::txfaxpageresult")
    assert [p["fax-document-transferred-pages"] for p in pages] == ["1", "2", "3"]
    assert result.variables["fax_success"] == "1" and result.variables["fax_result_code"] == "0"


def test_fax_dropped_mid_page_and_no_fax_machine(esl_server) -> None:
    msgs, result = _fax_call(esl_server, FaxPeer(pages=3, drop_at_page=2))
    final = _custom(msgs, "Event-Subclass", "spandsp::txfaxresult")[0]
    assert final["fax-success"] == "0" and final["fax-result-code"] == "49"
    assert final["fax-document-transferred-pages"] == "1"
    assert result.hangup_by == "caller"
    msgs, result = _fax_call(esl_server, FaxPeer(answers=False))
    assert not _custom(msgs, "Event-Subclass", "spandsp::txfaxnegociateresult")
    assert result.variables["fax_result_code"] == "2" and result.variables["fax_success"] == "0"


def test_fax_missing_file(esl_server) -> None:
    _msgs, result = _fax_call(esl_server, FaxPeer(), files={"/tmp/fax-test.tif": None})
    assert result.apps[-1].response == "Cannot send non-existant fax file"
    assert "fax_success" not in result.variables


# ----------------------------------------------------------------------------- mod_record


def test_record_session_stops_at_hangup_and_record_hangup(esl_server) -> None:
    box: list[Collector] = []

    def handler(col: Collector) -> None:
        box.append(col)
        drive([_subscribe(b"RECORD_START RECORD_STOP"), sendmsg("answer"),
               sendmsg("record_session", "/tmp/rs.wav"), sendmsg("record", "/tmp/vm.wav 30 200 3")])(col)

    sim = Simulator(esl_server(handler), time_scale=0.0)
    result = sim.run_call(CallScript(profile="loopback", speech=[Speech(talk=4.0, then="hangup")]))
    stops = _events(_finished(box), "RECORD_STOP")
    assert [s["Record-File-Path"] for s in stops] == ["/tmp/vm.wav", "/tmp/rs.wav"]
    assert stops[1]["Record-Completion-Cause"] == "no-input-timeout"
    assert result.hangup_by == "caller"
    assert result.variables["record_seconds"] == "4"


def test_record_ended_by_caller_hangup_keeps_the_file(esl_server) -> None:
    """A voicemail left by hanging up (trace 15): CHANNEL_HANGUP comes before RECORD_STOP and the
    record app's COMPLETE; the file's record_* variables are set and no completion cause is, so
    "the caller hung up" is told by the hangup preceding the COMPLETE, not by a variable."""
    box: list[Collector] = []

    def handler(col: Collector) -> None:
        box.append(col)
        drive([b"linger\n\n", _subscribe(b"RECORD_START RECORD_STOP"), sendmsg("answer"),
               sendmsg("record", "/tmp/vm-hangup.wav 30 200 5")])(col)

    sim = Simulator(esl_server(handler), time_scale=0.0)
    result = sim.run_call(CallScript(profile="loopback", speech=[Speech(talk=10.0, then="talk")],
                                     hangup=Hangup(on_app="record", offset=2.5)))
    order = []
    for m in _finished(box):
        ev = dict(m.event() or [])
        name = ev.get("Event-Name")
        if name in ("CHANNEL_HANGUP", "RECORD_STOP", "CHANNEL_HANGUP_COMPLETE") or (
                name == "CHANNEL_EXECUTE_COMPLETE" and ev.get("Application") in ("record", "socket")):
            order.append(ev.get("Application") or name)
    assert order == ["CHANNEL_HANGUP", "RECORD_STOP", "record", "socket", "CHANNEL_HANGUP_COMPLETE"]
    assert result.hangup_by == "caller"
    assert result.variables["record_ms"] == "2500"
    assert result.variables["record_samples"] == "20000"
    assert result.variables["record_file_size"] == str(44 + 2 * 20000)
    assert "record_completion_cause" not in result.variables
