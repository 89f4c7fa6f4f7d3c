"""Simulator behaviour the traces do not cover: dial strings, bridge strategies, time, bad input."""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
import pytest
from simharness import Collector, Message

from fsivr.testing import CallScript, Hangup, Simulator, Target
from fsivr.testing.dialstring import parse, target_key


def _events(msgs: list[Message], name: str) -> list[dict[str, str]]:
    out = []
    for m in msgs:
        ev = m.event()
        if ev and dict(ev).get("Event-Name") == name:
            out.append(dict(ev))
    return out


def sendmsg(app: str, arg: str = "", lock: bool = True) -> bytes:
    text = f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n"
    if arg:
        text += f"execute-app-arg: {arg}\n"
    if lock:
        text += "event-lock: true\n"
    return (text + "\n").encode()


def drive(commands: list[bytes], wait_apps: bool = True) -> Callable[[Collector], None]:
    """connect, myevents, then each command after the previous app completed, then exit."""

    def handler(col: Collector) -> None:
        col.send(b"connect\n\n")
        col.wait_count(1)
        col.send(b"myevents\n\n")
        col.wait_count(2)
        for cmd in commands:
            done = len(_events(col.messages, "CHANNEL_EXECUTE_COMPLETE"))
            col.send(cmd)
            if wait_apps and cmd.startswith(b"sendmsg\ncall-command: execute"):
                col.wait_for(lambda ms, n=done: len(_events(ms, "CHANNEL_EXECUTE_COMPLETE")) > n
                             or bool(_events(ms, "CHANNEL_HANGUP")), timeout=5)
            else:
                before = len(col.messages)
                col.wait_for(lambda ms, n=before: len(ms) > n, timeout=5)
        col.send(b"exit\n\n")
        col.wait_closed(timeout=5)

    return handler


# ----------------------------------------------------------------------------- dial strings


def test_dial_string_structure() -> None:
    ds = parse("{ignore_early_media=true,call_timeout=20}[leg_timeout=5]user/101@pbx,user/102@pbx|"
               "sofia/gateway/gw1/+48600100200 :_: loopback/x/default")
    assert ds.global_vars == {"ignore_early_media": "true", "call_timeout": "20"}
    assert len(ds.branches) == 2
    first = ds.branches[0]
    assert [[leg.endpoint for leg in g] for g in first] == [["user/101@pbx", "user/102@pbx"],
                                                            ["sofia/gateway/gw1/+48600100200"]]
    assert first[0][0].variables == {"leg_timeout": "5"}
    assert first[0][1].variables == {}
    assert ds.branches[1][0][0].target == "x"


def test_dial_string_vars_may_contain_separators() -> None:
    ds = parse("{a='x,y|z'}[b=1,c=2]user/1@d")
    assert ds.global_vars == {"a": "x,y|z"}
    assert ds.all_legs()[0].variables == {"b": "1", "c": "2"}


@pytest.mark.parametrize(
    ("endpoint", "key"),
    [
        ("user/101@example.com", "sip:101"),
        ("sofia/gateway/trunk/+48600100200", "+48600100200"),
        ("sofia/internal/600100200@10.0.0.1:5060", "600100200"),
        ("loopback/answer/esltest", "answer"),
        ("error/user_busy", "error/USER_BUSY"),
    ],
)
def test_target_keys(endpoint: str, key: str) -> None:
    assert target_key(endpoint) == key


# ----------------------------------------------------------------------------- bridging


def test_simultaneous_first_answer_wins(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("set", "continue_on_fail=true"),
                             sendmsg("bridge", "user/101@d,user/102@d,user/103@d")]))
    r = Simulator(addr).run_call(CallScript(targets={
        "sip:101": Target("answered", answer_after=3.0), "sip:102": Target("answered", answer_after=1.0),
        "sip:103": Target("busy", after=0.5)}))
    assert not r.error, r.error
    (b,) = r.bridges
    assert b.result == "SUCCESS" and b.winner == "sip:102"
    outcomes = {leg.target: leg.outcome for leg in b.legs}
    assert outcomes == {"sip:101": "cancelled", "sip:102": "answered", "sip:103": "busy"}
    assert r.variables["DIALSTATUS"] == "SUCCESS"


def test_sequential_failover_in_order(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("set", "continue_on_fail=true"),
                             sendmsg("bridge", "[leg_timeout=10]user/101@d|user/102@d|sofia/gateway/gw/+48600")]))
    r = Simulator(addr).run_call(CallScript(targets={
        "sip:101": Target("no_answer"), "sip:102": Target("busy"), "+48600": Target("answered", talk=2.0)}))
    (b,) = r.bridges
    assert [(leg.target, leg.outcome, leg.group) for leg in b.legs] == [
        ("sip:101", "no_answer", 0), ("sip:102", "busy", 1), ("+48600", "answered", 2)]
    assert b.legs[0].timeout == 10.0
    assert b.legs[1].started == pytest.approx(b.legs[0].started + 10.0)


def test_failed_bridge_sets_stale_and_new_variables(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("set", "continue_on_fail=true"),
                             sendmsg("bridge", "user/101@d"), sendmsg("bridge", "user/102@d")]))
    r = Simulator(addr).run_call(CallScript(targets={"sip:102": Target("busy")}, registered={"101": True}))
    assert r.variables["originate_disposition"] == "USER_BUSY"
    assert r.variables["DIALSTATUS"] == "BUSY"
    # the first (successful) bridge's causes stay (README table, stale values)
    assert r.variables["bridge_hangup_cause"] == "NORMAL_CLEARING"
    assert r.hangup_by == "socket"


def test_failed_bridge_without_continue_on_fail_hangs_up(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("bridge", "user/101@d")]))
    r = Simulator(addr).run_call(CallScript(registered={"101": False}))
    assert r.hangup_cause == "USER_NOT_REGISTERED"
    assert r.bridges[0].legs[0].outcome == "unregistered"


def test_no_answer_does_not_hang_up(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("bridge", "{originate_timeout=7}user/101@d")]))
    r = Simulator(addr).run_call(CallScript(targets={"sip:101": Target("no_answer")}))
    assert r.variables["originate_disposition"] == "NO_ANSWER"
    assert r.bridges[0].legs[0].timeout == 7.0
    assert r.hangup_by == "socket"


def test_hangup_after_bridge(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("set", "hangup_after_bridge=true"),
                             sendmsg("bridge", "user/101@d")]))
    r = Simulator(addr).run_call(CallScript())
    assert r.hangup_by == "far_end" and r.hangup_cause == "NORMAL_CLEARING"


def test_sofia_contact(esl_server) -> None:
    addr = esl_server(drive([b"api sofia_contact 101@pbx\n\n", b"api sofia_contact */102@pbx\n\n"]))
    sim = Simulator(addr)
    handle = sim.start_call(CallScript(registered={"101": True, "102": False}, record=True))
    r = handle.wait()
    bodies = [d for kind, d in r.wire if kind == "recv" and d.startswith(b"Content-Type: api/response")]
    assert bodies[0].endswith(b"\n\nsofia/internal/sip:101@192.0.2.10:5060")
    assert bodies[1].endswith(b"\n\nerror/user_not_registered")


# ----------------------------------------------------------------------------- time


def test_media_time_is_virtual_and_scaled(esl_server) -> None:
    long_prompt = "silence_stream://30000"
    addr = esl_server(drive([sendmsg("answer"), sendmsg("playback", long_prompt)]))
    t0 = time.monotonic()
    r = Simulator(addr, time_scale=0.0).run_call(CallScript())
    assert time.monotonic() - t0 < 2.0
    assert r.apps[-1].duration == pytest.approx(30.0)
    addr = esl_server(drive([sendmsg("answer"), sendmsg("playback", "silence_stream://3000")]))
    t0 = time.monotonic()
    Simulator(addr, time_scale=0.1).run_call(CallScript())
    assert 0.25 < time.monotonic() - t0 < 2.0


def test_event_timestamps_follow_virtual_clock(esl_server) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    got: list[Message] = []

    def handler(col: Collector) -> None:
        drive([sendmsg("answer"), sendmsg("playback", "silence_stream://5000")])(col)
        got.extend(col.messages)

    addr = esl_server(handler)
    Simulator(addr).run_call(CallScript(at=at))
    gevent.sleep(0.1)  # let the server side finish collecting
    created = str(int(at.timestamp() * 1_000_000))
    assert dict(got[0].event() or [])["Caller-Channel-Created-Time"] == created
    done = next(e for e in _events(got, "CHANNEL_EXECUTE_COMPLETE") if e.get("Application") == "playback")
    assert int(done["Event-Date-Timestamp"]) == int(created) + 5_000_000


def test_caller_hangup_mid_playback(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("playback", "silence_stream://20000")]))
    r = Simulator(addr).run_call(CallScript(hangup=Hangup(on_app="playback", offset=4.0)))
    assert r.hangup_by == "caller"
    assert r.apps[-1].response == "PLAYBACK ERROR"
    assert r.apps[-1].duration == pytest.approx(4.0)


def test_digits_per_attempt(esl_server) -> None:
    pagd = "1 1 3 2000 # silence_stream://500 silence_stream://200 choice ^[12]$ 1000"
    addr = esl_server(drive([sendmsg("answer"), sendmsg("play_and_get_digits", pagd)]))
    r = Simulator(addr).run_call(CallScript(digits=["", "7", "2"]))
    assert r.variables["choice"] == "2"
    assert r.variables["choice_invalid"] == "7"
    assert r.apps[-1].digits == "72"


# ----------------------------------------------------------------------------- bad input


def test_malformed_and_unknown_commands_get_freeswitch_replies(esl_server) -> None:
    replies: list[str] = []

    def handler(col: Collector) -> None:
        col.send(b"connect\n\n")
        col.wait_count(1)
        for cmd in (b"\r\n\r\nbogus stuff\n\n", b"sendmsg\nexecute-app-name: answer\n\n", b"event\n\n",
                    b"filter x\n\n", b"sendmsg\ncall-command: execute\ncontent-length: 4\n\nabcd"):
            n = len(col.messages)
            col.send(cmd)
            col.wait_count(n + 1)
        replies.extend(m.head.get("Reply-Text", "") for m in col.messages[1:])
        col.send(b"exit\n\n")
        col.wait_closed()

    r = Simulator(esl_server(handler)).run_call(CallScript())
    assert replies == ["-ERR command not found", "+OK", "-ERR no keywords supplied", "-ERR invalid syntax", "+OK"]
    assert any("call-command" in e for e in r.error)
    assert any("execute-app-name" in e for e in r.error)


def test_server_closing_tcp_hangs_up(esl_server) -> None:
    def handler(col: Collector) -> None:
        col.send(b"connect\n\n")
        col.wait_count(1)
        col.close()

    r = Simulator(esl_server(handler)).run_call(CallScript())
    assert r.hangup_by == "socket" and r.hangup_cause == "NORMAL_CLEARING"
    assert not r.error


def test_unknown_application_hangs_up(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("no_such_app", "x")]))
    r = Simulator(addr).run_call(CallScript())
    assert r.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert [a.name for a in r.apps] == ["answer"]


def test_many_concurrent_calls(esl_server) -> None:
    addr = esl_server(drive([sendmsg("answer"), sendmsg("playback", "silence_stream://1000")]))
    sim = Simulator(addr)
    handles = [sim.start_call(CallScript(profile="sofia")) for _ in range(50)]
    results = [h.wait(10) for h in handles]
    assert all(not r.error for r in results)
    assert len({r.uuid for r in results}) == 50
