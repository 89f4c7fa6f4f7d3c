"""Controlling a bridged call in the simulator, as FreeSWITCH does it (traces 13/13b): hold/unhold,
bind_meta_app keys from either side with and without event-lock, uuid_transfer while bridged."""

from __future__ import annotations

from collections.abc import Callable

import gevent.event
from simharness import Collector, Message

from fsivr.testing import CallScript, Press, Simulator, Target

MENU = [("set", "meta_ran=yes"), ("playback", "tone_stream://%(400,0,800)")]
XFER = [("set", "xfer_ran=yes"), ("playback", "tone_stream://%(1000,0,500)"), ("hangup", "")]
EXTENSIONS = {"menu@ctx": MENU, "xfer@ctx": XFER}


def _ev(m: Message) -> dict[str, str]:
    return dict(m.event() or [])


def _names(msgs: list[Message]) -> list[str]:
    """Event names, executes as ``EXECUTE app`` / ``COMPLETE app``."""
    out = []
    for m in msgs:
        d = _ev(m)
        name = d.get("Event-Name", "")
        if name == "CHANNEL_EXECUTE":
            out.append(f"EXECUTE {d['Application']}")
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            out.append(f"COMPLETE {d['Application']} {d.get('Application-Response')}")
        elif name:
            out.append(name)
    return out


def sendmsg(app: str, arg: str = "", lock: bool = True) -> bytes:
    text = f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n"
    if arg:
        text += f"execute-app-arg: {arg}\n"
    if lock:
        text += "event-lock: true\n"
    return (text + "\n").encode()


def _api(col: Collector, command: str) -> str:
    before = len(col.messages)
    col.send(f"api {command}\n\n".encode())
    col.wait_for(lambda ms: any(m.content_type == "api/response" for m in ms[before:]), timeout=5)
    return next(m.body.decode() for m in col.messages[before:] if m.content_type == "api/response")


def _has(name: str) -> Callable[[list[Message]], bool]:
    return lambda ms: name in _names(ms)


def bridged_call(lock: bool, then: Callable[[Collector, str], None], binds: tuple[str, ...] = (),
                 until: str = "CHANNEL_UNBRIDGE") -> Callable:
    """connect, myevents, linger, answer, the bindings, bridge (with or without event-lock), ``then``
    once bridged; once ``until`` was seen (or the channel is gone), exit."""

    def handler(col: Collector) -> None:
        col.send(b"connect\n\n")
        col.wait_count(1)
        uuid = _ev(col.messages[0])["Unique-ID"]
        col.send(b"myevents\n\n")
        col.send(b"linger\n\n")
        col.send(b"event plain CHANNEL_HOLD CHANNEL_UNHOLD DTMF\n\n")
        for cmd in [sendmsg("answer"), *(sendmsg("bind_meta_app", b) for b in binds)]:
            col.send(cmd)
        col.send(sendmsg("bridge", "sofia/internal/far@127.0.0.1", lock=lock))
        col.wait_for(_has("CHANNEL_BRIDGE"), timeout=5)
        then(col, uuid)
        col.wait_for(lambda ms: until in _names(ms) or "CHANNEL_HANGUP_COMPLETE" in _names(ms), timeout=10)
        col.send(b"exit\n\n")
        col.wait_closed(timeout=5)

    return handler


def _run(esl_server, handler: Callable, far: Target, **script: object) -> tuple[list[Message], object]:
    got: list[Message] = []
    done = gevent.event.Event()

    def wrapped(col: Collector) -> None:
        try:
            handler(col)
        finally:
            got.extend(col.messages)
            done.set()

    addr = esl_server(wrapped)
    result = Simulator(addr, time_scale=0.01).run_call(
        CallScript(targets={"far": far}, extensions=EXTENSIONS, timeout=15.0, **script))
    done.wait(timeout=5)
    return got, result


def test_hold_and_unhold_keep_the_bridge(esl_server) -> None:
    replies: list[str] = []

    def then(col: Collector, uuid: str) -> None:
        replies.append(_api(col, f"uuid_hold {uuid}"))
        replies.append(_api(col, f"uuid_hold {uuid}"))  # already held
        replies.append(_api(col, f"uuid_hold off {uuid}"))
        replies.append(_api(col, f"uuid_hold off {uuid}"))  # not held
        replies.append(_api(col, "uuid_hold 00000000-0000-0000-0000-000000000000"))

    got, result = _run(esl_server, bridged_call(True, then), Target(answer_after=0.1, talk=30.0))
    assert replies == ["+OK Success\n", "-ERR Operation failed\n", "+OK Success\n", "-ERR Operation failed\n",
                       "-ERR Operation failed\n"]
    names = _names(got)
    hold, unhold = names.index("CHANNEL_HOLD"), names.index("CHANNEL_UNHOLD")
    assert names.index("CHANNEL_BRIDGE") < hold < unhold < names.index("CHANNEL_UNBRIDGE")
    states = {_ev(m)["Event-Name"]: _ev(m)["Channel-Call-State"] for m in got
              if _ev(m).get("Event-Name") in ("CHANNEL_HOLD", "CHANNEL_UNHOLD")}
    assert states == {"CHANNEL_HOLD": "HELD", "CHANNEL_UNHOLD": "ACTIVE"}
    # still bridged while held: the hold event names the peer
    held = next(_ev(m) for m in got if _ev(m).get("Event-Name") == "CHANNEL_HOLD")
    assert held.get("Other-Leg-Unique-ID")
    assert result.error == []


def test_meta_key_from_the_far_end_runs_on_our_leg_mid_bridge_without_event_lock(esl_server) -> None:
    binds = ("2 b o execute_extension::menu XML ctx",)
    got, result = _run(esl_server, bridged_call(False, lambda col, uuid: None, binds),
                       Target(answer_after=0.1, talk=3.0, dtmf=[(0.5, "*2")]))
    names = _names(got)
    assert names[names.index("CHANNEL_BRIDGE"):names.index("CHANNEL_UNBRIDGE")] == [
        "CHANNEL_BRIDGE", "EXECUTE execute_extension", "EXECUTE set", "COMPLETE set _none_", "EXECUTE playback",
        "COMPLETE playback FILE PLAYED", "COMPLETE execute_extension FILE PLAYED"]
    assert "DTMF" not in names  # the meta key and the digit are swallowed
    assert result.variables["meta_ran"] == "yes"


def test_meta_key_waits_for_an_event_locked_bridge(esl_server) -> None:
    binds = ("2 b o execute_extension::menu XML ctx",)
    got, result = _run(esl_server, bridged_call(True, lambda col, uuid: None, binds,
                                                until="COMPLETE execute_extension FILE PLAYED"),
                       Target(answer_after=0.1, talk=2.0, dtmf=[(0.5, "*2")]))
    names = _names(got)
    # queued behind CF_EVENT_LOCK: it runs once the bridge app has completed
    assert names.index("EXECUTE execute_extension") > names.index("COMPLETE bridge _none_")
    assert names.index("CHANNEL_UNBRIDGE") == names.index("CHANNEL_BRIDGE") + 1
    assert result.variables["meta_ran"] == "yes"


def test_same_side_binding_runs_on_the_peer_while_we_hear_hold_music(esl_server) -> None:
    seen: dict[str, str] = {}

    def then(col: Collector, uuid: str) -> None:
        col.wait_for(lambda ms: "COMPLETE playback FILE PLAYED" in _names(ms), timeout=5)
        peer = next(_ev(m)["Other-Leg-Unique-ID"] for m in col.messages
                    if _ev(m).get("Event-Name") == "CHANNEL_BRIDGE")
        seen["ours"] = _api(col, f"uuid_getvar {uuid} meta_ran")
        seen["peer"] = _api(col, f"uuid_getvar {peer} meta_ran")

    got, _ = _run(esl_server, bridged_call(False, then, ("1 b s execute_extension::menu XML ctx",)),
                  Target(answer_after=0.1, talk=30.0, dtmf=[(0.2, "*1")]))
    assert seen == {"ours": "_undef_", "peer": "yes"}
    hold = [_ev(m) for m in got
            if _ev(m).get("Event-Name") == "CHANNEL_EXECUTE" and _ev(m)["Application"] == "playback"]
    assert [h["Application-Data"] for h in hold] == ["tone_stream://%(2000,4000,440);loops=-1"]


def test_callers_own_keys_pass_as_dtmf_when_only_b_is_bound(esl_server) -> None:
    got, _ = _run(esl_server, bridged_call(True, lambda col, uuid: None, ("1 b s execute_extension::menu XML ctx",)),
                  Target(answer_after=0.1, talk=2.0), presses=[Press("*1", after=0.3)])
    digits = [_ev(m)["DTMF-Digit"] for m in got if _ev(m).get("Event-Name") == "DTMF"]
    assert digits == ["*", "1"]
    names = _names(got)
    assert names.index("CHANNEL_BRIDGE") < names.index("DTMF") < names.index("CHANNEL_UNBRIDGE")


def test_keys_sent_into_the_a_leg_while_bridged_go_through_the_meta_hook(esl_server) -> None:
    replies: list[str] = []

    def then(col: Collector, uuid: str) -> None:
        a_leg = _ev(col.messages[0])["variable_other_loopback_leg_uuid"]
        replies.append(_api(col, f"uuid_send_dtmf {a_leg} 5*1"))

    # listen a (the caller's keys), respond s (the same side: our leg) - meta_on_dtmf
    binds = ("1 a s execute_extension::menu XML ctx",)
    got, result = _run(esl_server, bridged_call(False, then, binds, until="COMPLETE execute_extension FILE PLAYED"),
                       Target(answer_after=0.1, talk=30.0), profile="loopback")
    assert replies[0].startswith("+OK ")
    assert [_ev(m)["DTMF-Digit"] for m in got if _ev(m).get("Event-Name") == "DTMF"] == ["5"]  # *1 swallowed
    names = _names(got)
    ran = names.index("EXECUTE execute_extension")
    assert names.index("CHANNEL_BRIDGE") < ran and "CHANNEL_UNBRIDGE" not in names[:ran]  # mid-bridge
    assert result.variables["meta_ran"] == "yes"


def test_transfer_while_bridged_leaves_the_socket_app_and_the_connection_follows(esl_server) -> None:
    replies: list[str] = []

    def then(col: Collector, uuid: str) -> None:
        replies.append(_api(col, f"uuid_transfer {uuid} xfer XML ctx"))

    got, result = _run(esl_server, bridged_call(True, then, until="CHANNEL_HANGUP_COMPLETE"),
                       Target(answer_after=0.1, talk=30.0))
    assert replies == ["+OK\n"]
    names = _names(got)
    tail = names[names.index("CHANNEL_UNBRIDGE"):]
    assert tail[:12] == [
        "CHANNEL_UNBRIDGE", "COMPLETE bridge _none_", "CHANNEL_UNPARK", "COMPLETE socket _none_",
        "CHANNEL_STATE", "CHANNEL_STATE", "EXECUTE set", "COMPLETE set _none_", "EXECUTE playback",
        "COMPLETE playback FILE PLAYED", "EXECUTE hangup", "CHANNEL_HANGUP"]
    assert "CHANNEL_HANGUP_COMPLETE" in tail
    routing = [_ev(m) for m in got if _ev(m).get("Event-Name") == "CHANNEL_STATE"][-4:-2]
    assert [(e["Channel-State"], e["Channel-Call-State"]) for e in routing] == [
        ("CS_ROUTING", "RINGING"), ("CS_EXECUTE", "ACTIVE")]
    first_after = _ev(got[[i for i, m in enumerate(got) if _ev(m).get("Event-Name") == "CHANNEL_STATE"][-4]])
    assert first_after["Caller-Destination-Number"] == "xfer"
    assert first_after["Caller-Context"] == "ctx"
    assert "Other-Leg-Unique-ID" not in first_after
    assert result.variables["xfer_ran"] == "yes"
    assert result.transferred_to == "xfer XML ctx"
    assert any(m.content_type == "text/disconnect-notice" and m.head.get("Content-Disposition") == "linger"
               for m in got)
