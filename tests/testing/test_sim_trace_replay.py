"""Replay the recorded server side of each trace against the simulator; compare with FreeSWITCH.

A trace without an outbound connection (00-inbound-auth) is replayed against the inbound side
instead (``InboundSwitch`` sharing a Simulator): every connection's recorded commands are sent
the same way and FreeSWITCH's messages compared the same way (api bodies exact with UUIDs masked,
``status`` by its shape: numbers masked, the lines and their protocol text kept).

For every ``outbound#N`` connection of a trace, a raw gevent server sends the recorded ``send``
records in order (each after as many messages as FreeSWITCH had sent by then, or a short
timeout), while the recorder's inbound helper actions become the caller's script:
``uuid_send_dtmf <A-leg>`` = keys for the running prompt (or idle keys), ``uuid_kill <A-leg>`` =
the caller hangs up during that application (or once idle). Actions on the switch's modules
(callcenter_config, queue members originated with an inline ``callcenter``, their hangups) run
against the simulator before the call or at their place in the conversation (as does the
caller's hangup during a queue wait), with the switch's clock at the recorded time; the
recording's callcenter.conf.xml comes from the traces' README. The simulator's messages are then
compared with FreeSWITCH's: message kinds, Event-Name, protocol values (Application,
Application-Response, Answer-State, Channel-State, Hangup-Cause, read_result, ...), reply texts
and api bodies with UUIDs masked, and for every event the header names in order.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import gevent
import pytest
from gevent import socket as gsocket
from simharness import Collector, Message, load_trace, msg_from_record, traces_path

from fsivr.testing import CallScript, FaxPeer, Hangup, Press, Retrieve, Simulator, Speech, Target
from fsivr.testing.inbound import InboundSwitch

TIME_SCALE = 0.01
#: A command the recorder sent within this many seconds of the reply to its previous one is
#: replayed without waiting for that reply (see replay()).
PIPELINED_GAP = 0.005
# Traces whose server sends commands while media runs need the media to last long enough in real
# time (07: the api calls during the agent's 2.5 s bridge). 12, 12b, 14: the scores in their member
# lists count whole seconds of a queue wait, which the call's clock keeps only to a few per cent
# of the real time it sleeps (a wait that oversleeps counts as its nominal length).
# 13/13b: the recorder pressed keys right after the server's api replies (Press.after_commands keeps
# that order under load; other steps, the far end's keys among them, still need the real-time margin).
TIME_SCALES = {"07-callcenter": 0.1, "12-callcenter-member-broadcast": 0.25,
               "12b-callcenter-member-broadcast-nolock": 0.25, "14-callcenter-base-score": 0.25,
               "13-bind-meta-hold-transfer": 0.3, "13b-bind-meta-nolock": 0.3}

# Traces that need applications the simulator does not emulate (yet).
NOT_REPLAYABLE: dict[str, str] = {}

# Replays that run but are known to differ in details, with the reason.
KNOWN_DIFFERENCES: dict[str, str] = {}

PROTOCOL_KEYS = (
    "Application", "Application-Response", "Answer-State", "Channel-State", "Channel-Call-State",
    "Hangup-Cause", "DTMF-Digit", "variable_read_result", "variable_originate_disposition",
    "variable_DIALSTATUS", "Job-Command",
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# The recording's dialplan context esltest11 (README, "Scenarios 11-16"; the tones as the traces show
# them): where trace 13's bind_meta_app and uuid_transfer send the call.
ESLTEST11 = {
    "park@esltest11": [("answer", ""), ("park", "")],
    "metamenu@esltest11": [("set", "meta_menu_ran=yes"), ("playback", "tone_stream://%(400,0,800)")],
    "xfer@esltest11": [("set", "xfer_ran=yes"), ("playback", "tone_stream://%(3000,0,500)"), ("hangup", "")],
}


def _mask(text: str) -> str:
    return _UUID.sub("<uuid>", text)


_UNITS = re.compile(r"\b(year|day|hour|minute|second|millisecond|microsecond)s?\b")


def status_shape(body: str) -> str:
    """``status`` output with its numbers masked (uptime, counters, CPU) and units singular, so the
    lines and their protocol text are compared but not the switch's uptime."""
    return _UNITS.sub(r"\1", re.sub(r"\d+(\.\d+)?", "#", body))


def _api_body(body: str) -> str:
    body = _mask(body)
    return status_shape(body) if body.startswith("UP ") else body


@dataclass
class Sig:
    kind: str
    key: tuple
    names: tuple[str, ...] = ()

    def short(self) -> str:
        return f"{self.kind} {self.key}"


def _is_park(m: Message) -> bool:
    ev = m.event()
    # CHANNEL_PARK right after connect/myevents races the subscription (README): ignored.
    return ev is not None and dict(ev).get("Event-Name") == "CHANNEL_PARK"


def signature(m: Message) -> Sig:
    ev = m.event()
    if ev is not None:
        d = dict(ev)
        key = (d.get("Event-Name"), tuple((k, d[k]) for k in PROTOCOL_KEYS if k in d))
        if d.get("Event-Name") == "BACKGROUND_JOB" and m.content_type == "text/event-plain":
            # the job's output is the event's own body (after its header block)
            key += (_api_body(m.body.decode("latin-1").split("\n\n", 1)[1]),)
        return Sig("event", key, tuple(k for k, _ in ev))
    ct = m.content_type
    head = m.head
    names = tuple(k for k, _ in m.headers)  # the envelope's headers, in order
    if ct == "command/reply":
        return Sig("reply", (_mask(head.get("Reply-Text", "")), _mask(head.get("Job-UUID", ""))), names)
    if ct == "api/response":
        return Sig("api", (_api_body(m.body.decode("latin-1")),), names)
    if ct == "text/disconnect-notice":
        return Sig("notice", (head.get("Content-Disposition"), head.get("Linger-Time"), m.body.decode()), names)
    return Sig("other", (ct,), names)


def _conns(records: list[dict], kind: str = "outbound") -> list[str]:
    seen: list[str] = []
    for r in records:
        c = r.get("conn", "")
        if c.startswith(kind) and c not in seen:
            seen.append(c)
    return seen


# The User-Agent of the recorder's SIP phone (its REGISTER is not in the trace, only its effect).
RECORDER_UA = "esl-trace-ua"


def phone_actions(records: list[dict], sim: Simulator) -> list[tuple[float, Callable[[], object]]]:
    """The recorder's SIP phone (16): it registers where a NOTE says ``REGISTER result: 200``, at
    the contact FreeSWITCH's NOTIFY was sent to, and un-registers before the command the recorder
    labelled ``after unregister`` (the un-REGISTER itself left no note)."""
    actions: list[tuple[float, Callable[[], object]]] = []
    contact: tuple[str, str, int] | None = None
    for r in records:
        note = r.get("note", "") if r.get("dir") == "note" else ""
        m = re.search(r"^(?:NOTIFY|MESSAGE) sip:([^@\s]+)@([\d.]+):(\d+) ", note, re.M)
        if m:
            contact = (m.group(1), m.group(2), int(m.group(3)))
        if note.startswith("REGISTER result: 200") and contact is not None:
            user, ip, port = contact
            actions.append((r["t"], lambda u=user, i=ip, p=port: sim.register_phone(u, i, ip=i, port=p,
                                                                                    agent=RECORDER_UA)))
        if r.get("dir") == "send" and "after unregister" in r.get("data", "") and contact is not None:
            actions.append((r["t"] - 1e-6, lambda u=contact[0], i=contact[1]: sim.unregister_phone(u, i)))
    return actions


def replay_inbound(
    records: list[dict], conn: str, address: tuple[str, int], sim: Simulator | None = None
) -> tuple[list[Message], list[Message], str]:
    """The recorder's side of one inbound connection against an InboundSwitch: each recorded
    command once as many messages have arrived as FreeSWITCH had sent by then (or after 2 s).
    The switch's clock (``sim``) is moved to the command's recorded time first, as the recording's
    pauses passed between them (epochs in callcenter_config lists, 11).
    Also returns a problem if FreeSWITCH closed the connection (``eof``) and the switch did not."""
    mine = [r for r in records if r.get("conn") == conn]
    expected = [msg_from_record(r) for r in mine if r.get("dir") == "recv"]
    col = Collector(gsocket.create_connection(address, timeout=5.0))
    col.start()
    received = 0
    clock_t = 0.0
    actions = phone_actions(records, sim) if sim is not None else []
    try:
        for r in mine:
            if r.get("dir") == "recv":
                received += 1
            elif r.get("dir") == "send":
                col.wait_count(received, timeout=2.0)
                while sim is not None and actions and actions[0][0] <= r["t"]:
                    at, act = actions.pop(0)
                    sim.advance(at - clock_t)
                    clock_t = at
                    act()
                if sim is not None:
                    sim.advance(r["t"] - clock_t)
                    clock_t = r["t"]
                    gevent.sleep(0.002)  # let what the previous command started run first (bgapi)
                col.send(r["data"].encode("latin-1"))
            elif r.get("dir") == "close":
                col.wait_count(received, timeout=2.0)
                break
        closes = mine[-1].get("dir") == "eof"
        if closes:
            col.wait_closed(timeout=5.0)
        else:
            col.wait_count(received, timeout=2.0)
        gevent.sleep(0.05)
        problem = "" if col.closed or not closes else "FreeSWITCH closed the connection, the switch did not"
    finally:
        col.close()
    return expected, list(col.messages), problem


def build_script(records: list[dict], conn: str) -> CallScript:
    """The caller's behaviour and the channel's identity, read off the trace."""
    a_legs = set()
    retrievers: dict[str, float] = {}  # valet retriever leg → when it was originated
    for r in records:
        if r.get("conn") == "inbound" and r.get("dir") == "send":
            if "valet_retrieve" in r["data"]:
                retrievers.update((u, r["t"]) for u in re.findall(r"origination_uuid=([0-9a-f-]{36})", r["data"]))
                continue
            if "callcenter:" in r["data"]:
                continue  # a queue member of its own (setup_modules), not this call's caller
            a_legs.update(re.findall(r"origination_uuid=([0-9a-f-]{36})", r["data"]))
    waits = queue_waits(records, conn)  # the caller's hangup during one is replayed live (live_actions)
    caller = caller_leg(records, conn)
    first = next(r for r in records if r.get("conn") == conn and r.get("dir") == "recv")
    data = dict(msg_from_record(first).event() or [])
    socket_arg = data.get("variable_current_application_data", "127.0.0.1:8084 async full")
    created = int(data.get("Caller-Channel-Created-Time", "0") or 0)
    profile = "sofia" if data.get("Channel-Name", "").startswith("sofia/") else "loopback"
    digits: list[str] = []
    idle_dtmf: list[tuple[int, str]] = []
    hangup: Hangup | None = None
    running: dict[str, tuple[str, str, float, list[str]]] = {}  # app uuid → (name, arg, t, keys)
    completed = 0
    occurrences: dict[str, int] = {}
    gone = False
    # per `record` run: what the caller sent into it (uuid_broadcast audio, uuid_send_dtmf keys)
    rec_runs: list[dict] = []
    valet: list[Retrieve] = []
    # the far end of a bridge: its uuid from the recorder's `hash select` (README: the far end's
    # extension `bleg` stores it), the keys pressed there = DTMF coming through the bridge
    far_ends: set[str] = set()
    far_dtmf: list[tuple[float, str]] = []
    presses: list[Press] = []
    bridged_at: float | None = None
    hash_select = False
    # FreeSWITCH's answers to the server's commands so far (the connect reply first): a key the
    # recorder pressed after one is pressed after it in the replay too, however late it comes
    replied = 0
    for r in records:
        if r.get("conn") == conn and r.get("dir") in ("eof", "close"):
            gone = True  # helper actions after this concern a channel that is already gone
        if gone:
            continue
        if r.get("conn") == conn and r.get("dir") == "recv":
            msg = msg_from_record(r)
            if replied == 0 or msg.content_type in ("command/reply", "api/response"):
                replied += 1
            ev = msg.event()
            if not ev:
                continue
            d = dict(ev)
            name = d.get("Event-Name")
            if name == "CHANNEL_EXECUTE" and d.get("Application") != "socket":
                app = d.get("Application", "")
                occurrences[app] = occurrences.get(app, 0) + 1
                keys: list[str] = []
                running[d.get("Application-UUID", "")] = (app, d.get("Application-Data", ""), r["t"], keys)
                if app == "record":
                    rec_runs.append({"t0": r["t"], "key": None, "key_t": None, "audio": None, "ms": None})
            elif name == "RECORD_STOP" and rec_runs and rec_runs[-1]["ms"] is None and "variable_record_ms" in d:
                rec_runs[-1]["ms"] = int(d["variable_record_ms"])
            elif name == "CHANNEL_EXECUTE_COMPLETE" and d.get("Application") != "socket":
                entry = running.pop(d.get("Application-UUID", ""), None)
                completed += 1
                if entry and entry[0] in ("play_and_get_digits", "read"):
                    # one entry per attempt: keys answer the first, unanswered attempts time out
                    argv = entry[1].split(" ")
                    tries = int(argv[2]) if entry[0] == "play_and_get_digits" and len(argv) > 2 else 1
                    digits.extend(entry[3] if entry[3] else [""] * max(1, tries))
            elif name == "CHANNEL_BRIDGE":
                bridged_at = r["t"]
        elif r.get("conn") == "inbound" and r.get("dir") == "recv" and hash_select:
            hash_select = False
            far_ends.update(_UUID.findall(r["data"].split("\n\n", 1)[-1]))
        elif r.get("conn") == "inbound" and r.get("dir") == "send":
            text = r["data"]
            hash_select = text.startswith("api hash select/")
            m = re.match(r"api uuid_send_dtmf ([0-9a-f-]{36}) (\S+)", text)
            if m and m.group(1) in far_ends and bridged_at is not None:
                far_dtmf.append((r["t"] - bridged_at, m.group(2)))
            m = re.match(r"api uuid_broadcast ([0-9a-f-]{36}) (\S+)", text)
            current = list(running.values())
            if m and m.group(1) in a_legs and current and current[-1][0] == "record":
                rec_runs[-1]["audio"] = m.group(2)
            m = re.match(r"api uuid_send_dtmf ([0-9a-f-]{36}) (\S+)", text)
            if m and m.group(1) in a_legs:
                current = list(running.values())
                if current and current[-1][0] == "record":
                    rec_runs[-1]["key"], rec_runs[-1]["key_t"] = m.group(2), r["t"]
                elif current and current[-1][0] == "bridge" and bridged_at is not None:
                    presses.append(Press(m.group(2), after=r["t"] - bridged_at, bridge=occurrences["bridge"],
                                         after_commands=replied))
                elif current and current[-1][0] in ("play_and_get_digits", "read"):
                    current[-1][3].append(m.group(2))
                else:
                    idle_dtmf.append((completed, m.group(2)))
            m = re.search(r"originate \{origination_uuid=([0-9a-f-]{36})\}loopback/valet_retrieve", text)
            current = list(running.values())
            if m and current and current[-1][0] == "valet_park":
                # a second call runs valet_park on the slot: retrieval, t into valet_park
                valet.append(Retrieve(after=r["t"] - current[-1][2], talk=None))
            m = re.match(r"api uuid_kill ([0-9a-f-]{36})", text)
            if m and m.group(1) in retrievers and valet and valet[-1].talk is None:
                valet[-1].talk = r["t"] - retrievers[m.group(1)]  # the retriever hangs up
            in_queue = m and m.group(1) == caller and any(a <= r["t"] <= b for a, b in waits)
            if m and m.group(1) in a_legs and hangup is None and not in_queue:
                current = list(running.values())
                if current:
                    app, _, t0, _ = current[-1]
                    hangup = Hangup(on_app=app, occurrence=occurrences[app], offset=r["t"] - t0)
                    if app == "record":
                        rec_runs[-1]["hangup"] = True
                else:
                    hangup = Hangup(after_apps=completed)
    fax = FaxPeer()
    for r in records:
        if r.get("conn") == "inbound" and r.get("dir") == "send" and "rxfax" in r["data"]:
            # '&rxfax(...)': the A-leg hangs up when its fax is done; 'rxfax:...,sleep:8000 inline' stays
            fax = FaxPeer(pages=2, hangup_after="&rxfax(" in r["data"])
    speech: list[Speech] = []
    for rec in rec_runs:
        tone = re.match(r"tone_stream://%\((\d+),", rec["audio"] or "")
        if rec["key"]:
            speech.append(Speech(talk=rec["key_t"] - rec["t0"], then="key", key=rec["key"][0]))
        elif tone and rec.get("hangup") and rec["ms"] is not None:
            # a tone cut short by the caller hanging up (15): what reached the recording before the
            # hangup (the frames still in flight in mod_loopback are lost with the channel)
            speech.append(Speech(talk=rec["ms"] / 1000, then="silence"))
        elif tone:
            speech.append(Speech(talk=int(tone.group(1)) / 1000, then="talk"))
        elif rec["audio"]:
            # the caller's file: as long as what FreeSWITCH recorded of it
            speech.append(Speech(talk=(rec["ms"] or 0) / 1000, then="silence"))
        else:
            speech.append(Speech(talk=0.0))
    # which thread won the race at the caller's hangup (CallScript.listener_sees_hangup_first)
    killed = any(r["data"].startswith(f"api uuid_kill {caller}") for r in records
                 if caller and r.get("conn") == "inbound" and r.get("dir") == "send")
    mine = [msg_from_record(r) for r in records if r.get("conn") == conn and r.get("dir") == "recv"]
    hung = next((i for i, m in enumerate(mine) if dict(m.event() or []).get("Event-Name") == "CHANNEL_HANGUP"), None)
    notice_first = killed and hung is not None and hung + 1 < len(mine) and \
        mine[hung + 1].content_type == "text/disconnect-notice"
    targets = {
        "busy": Target("busy"),
        "noanswer": Target("no_answer"),
        "answer": Target("answered", answer_after=0.02, talk=2.0),
        "nobody": Target("failed", cause="NORMAL_CLEARING"),
        "sip:nosuchuser": Target("failed", cause="SUBSCRIBER_ABSENT"),
        # README: the far end answers at once (no ringing: no progress time) and plays 40 x 1 s tones
        "bleg": Target("answered", answer_after=0.0, talk=40.0, dtmf=far_dtmf),
    }
    return CallScript(
        number=data.get("Caller-Destination-Number", "sock"),
        caller=data.get("Caller-Caller-ID-Number", "15551230001"),
        caller_name=data.get("Caller-Caller-ID-Name", ""),
        at=datetime.fromtimestamp(created / 1e6, UTC) if created else datetime.now(UTC),
        digits=digits,
        idle_dtmf=idle_dtmf,
        speech=speech,
        valet_retrieve=valet,
        hangup=hangup,
        targets=targets,
        registered={"1000": False},
        files={"/tmp/esltest/prompt.wav": 1.5, "/tmp/esltest/fax.tif": 0.0, "/tmp/esltest/missing.tif": None},
        fax=fax,
        presses=presses,
        extensions=dict(ESLTEST11),
        profile=profile,
        socket_args=socket_arg.split(" ", 1)[1] if " " in socket_arg else "async full",
        timeout=20.0,
        listener_sees_hangup_first=notice_first,
    )


# Scenarios 11-16 were recorded on 2026-12-01 with extra queues in callcenter.conf.xml and a
# different $${hold_music} than the earlier traces (README "Scenarios 11-16"; the loaded values as
# the recording's `queue list` shows them).
CONF_11_16_SINCE = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
HOLD_MUSIC_11_16 = "tone_stream://%(2000,4000,440);loops=-1"
ESL_QUEUE = dict(strategy="longest-idle-agent", moh_sound=HOLD_MUSIC_11_16, time_base_score="queue",
                 tier_rules_apply=False, tier_rule_wait_second=0, tier_rule_wait_multiply_level=False,
                 tier_rule_no_agent_no_wait=True, max_wait_time=0, discard_abandoned_after=60)
ESL_QUEUES = ("esl-q0@default", "esl-q1@default", "esl-q3@default", "esl-unloaded@default", "esl-score@default")


def define_queues(sim: Simulator, t0_epoch: float) -> None:
    """The recording's callcenter.conf.xml: support@default is loaded at start (load_config), the
    others only defined (loaded by ``queue load`` or when a member enters: get_queue)."""
    if t0_epoch < CONF_11_16_SINCE:
        sim.add_queue("support@default")
        return
    sim.add_queue("support@default", moh_sound=HOLD_MUSIC_11_16)
    for name in ESL_QUEUES:
        sim.callcenter.define_queue(name, **ESL_QUEUE)
    sim.callcenter.define_queue("esl-wait@default", **ESL_QUEUE, announce_sound="tone_stream://%(300,0,1200)",
                                announce_frequency=4)


def queues_found_loaded(sim: Simulator, records: list[dict]) -> None:
    """Queues an earlier run left loaded in the recording's switch, with their counters: read off
    the recording's first ``queue list`` if nothing had loaded or unloaded a queue before it (11).
    Only the names and counters are taken; the rows, their order and format are the simulator's."""
    asked = False
    for r in records:
        if r.get("conn") != "inbound":
            continue
        if r.get("dir") == "send":
            text = r["data"].strip()
            if re.match(r"api callcenter_config queue (load|unload|reload)|.*callcenter:", text):
                return
            asked = text == "api callcenter_config queue list"
        elif r.get("dir") == "recv" and asked:
            body = r["data"].split("\n\n", 1)[1]
            for row in body.splitlines()[1:-1]:
                cols = row.split("|")
                queue = sim.callcenter.get_queue(cols[0])
                if queue is not None:
                    queue.calls_answered, queue.calls_abandoned = int(cols[14]), int(cols[15])
            return


def module_action(text: str, queue_callers: set[str]) -> bool:
    """The recorder's inbound commands that change the switch's modules rather than act as the
    caller: callcenter_config, a queue member originated with an inline ``callcenter``, and the
    hangup of such a member."""
    if text.startswith("api callcenter_config "):
        return True
    if re.match(r"(bg)?api originate .*callcenter:\S+ inline", text):
        queue_callers.update(re.findall(r"origination_uuid=([0-9a-f-]{36})", text))
        return True
    m = re.match(r"api uuid_kill ([0-9a-f-]{36})", text)
    return bool(m and m.group(1) in queue_callers)


def run_inbound(switch: InboundSwitch, text: str) -> None:
    """One recorded inbound command against the switch (its output is not compared here)."""
    switch.run_api(text.split(" ", 1)[1])


def queue_waits(records: list[dict], conn: str) -> list[tuple[float, float]]:
    """When the connection's channel waited in ``callcenter`` (CHANNEL_EXECUTE to its COMPLETE)."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for r in records:
        if r.get("conn") != conn or r.get("dir") != "recv":
            continue
        d = dict(msg_from_record(r).event() or [])
        if d.get("Application") == "callcenter" and d.get("Event-Name") == "CHANNEL_EXECUTE":
            start = r["t"]
        elif d.get("Application") == "callcenter" and d.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" and start:
            out.append((start, r["t"]))
            start = None
    if start is not None:
        out.append((start, float("inf")))
    return out


def caller_leg(records: list[dict], conn: str) -> str:
    """The recording's loopback A-leg of the connection's channel (the caller: README)."""
    first = next(r for r in records if r.get("conn") == conn and r.get("dir") == "recv")
    data = dict(msg_from_record(first).event() or [])
    return data.get("variable_other_loopback_leg_uuid", "") or data.get("variable_origination_uuid", "")


def live_actions(records: list[dict], conn: str) -> list[dict]:
    """Inbound commands replayed at their place in the connection's conversation: module actions
    while it is open, and the caller's hangup (uuid_kill of the A-leg) while it waits in a queue -
    a queue wait has no media length that could time it, the conversation does (14: the kill
    right after the controller's last list)."""
    mine = [r for r in records if r.get("conn") == conn]
    opened, closed = mine[0]["t"], mine[-1]["t"]
    waits = queue_waits(records, conn)
    a_leg = caller_leg(records, conn)
    callers: set[str] = set()
    out = []
    for r in records:
        if r.get("conn") != "inbound" or r.get("dir") != "send":
            continue
        text = r["data"].strip()
        action = module_action(text, callers)
        if not opened <= r["t"] <= closed:
            continue
        m = re.match(r"api uuid_kill ([0-9a-f-]{36})", text)
        kill_in_queue = bool(m and m.group(1) == a_leg and any(a <= r["t"] <= b for a, b in waits))
        if action or kill_in_queue:
            out.append(r)
    return out


def setup_modules(sim: Simulator, records: list[dict], conn: str, script: CallScript, t0: float = 0.0,
                  switch: InboundSwitch | None = None) -> None:
    """mod_callcenter state the recorder set up over the inbound socket before the call: the
    recording's queues, then its module actions (live_actions) in order, each at its recorded time."""
    opened = next(r["t"] for r in records if r.get("conn") == conn)
    if not any("callcenter" in r.get("data", "") for r in records if r.get("dir") == "send"):
        return
    define_queues(sim, t0)
    switch = switch or InboundSwitch(sim=sim)
    clock_t = 0.0
    callers: set[str] = set()
    for r in records:
        if r.get("conn") != "inbound" or r.get("dir") != "send" or r["t"] >= opened:
            continue
        if module_action(r["data"].strip(), callers):
            sim.advance(r["t"] - clock_t)
            clock_t = r["t"]
            run_inbound(switch, r["data"].strip())
            gevent.sleep(0.002)  # what it started (a queue member joining) runs now
    mine = [msg_from_record(r) for r in records if r.get("conn") == conn and r.get("dir") == "recv"]
    times = [r["t"] for r in records if r.get("conn") == conn and r.get("dir") == "recv"]
    bridged = [t for m, t in zip(mine, times, strict=True)
               if dict(m.event() or []).get("Event-Name") == "CHANNEL_BRIDGE"]
    unbridged = [t for m, t in zip(mine, times, strict=True)
                 if dict(m.event() or []).get("Event-Name") == "CHANNEL_UNBRIDGE"]
    # the race between the agent thread and the member's bridge, as the recording's UNBRIDGE shows it
    late = False
    for m in mine:
        names = [k for k, _ in m.event() or []]
        if "variable_cc_agent" in names and "variable_last_sent_callee_id_name" in names:
            late = names.index("variable_cc_agent") > names.index("variable_last_sent_callee_id_name")
            break
    for name in sim.callcenter.agents:
        # the agent's SIP leg answers at once and hangs up after its tone (07)
        talk = unbridged[0] - bridged[0] if bridged and unbridged else 30.0
        sim.set_agent_behaviour(name, Target("answered", answer_after=0.0, talk=talk), vars_after_callee_update=late)


def replay(records: list[dict], conn: str, esl_server, stem: str = "", t0: float = 0.0,
           ) -> tuple[list[Message], list[Message], object]:
    mine = [r for r in records if r.get("conn") == conn]
    expected = [msg_from_record(r) for r in mine if r.get("dir") == "recv"]
    plan: list[tuple[str, bytes, int, float, float]] = []  # (action, data, after n messages, pause, recorded t)
    scale = TIME_SCALES.get(stem, TIME_SCALE)
    received = 0
    last_t = 0.0
    live = live_actions(records, conn)
    for r in sorted([*mine, *live], key=lambda r: r["t"]):
        if r.get("conn") == "inbound":
            # the recorder's own inbound command at its place in this conversation
            plan.append(("inbound", r["data"].strip().encode("latin-1"), received, max(0.0, r["t"] - last_t) * scale,
                         r["t"]))
            last_t = r["t"]  # the next step's pause counts from here
            continue
        if r.get("dir") == "recv":
            last_t = r["t"]
            if not _is_park(msg_from_record(r)):
                received += 1
        elif r.get("dir") == "send":
            # the recorder's own pause after the message it waited for, scaled like media time, so
            # the simulated clock has moved about as far when this arrives (epochs in api replies)
            action = "send"
            if (plan and plan[-1][0] in ("send", "pipelined") and received == plan[-1][2] + 1
                    and r["t"] - last_t < PIPELINED_GAP):
                # Sent right on the reply to the previous command, long before the switch picks a
                # queued execute up (~20 ms, trace 02): sent without waiting for that reply, so a
                # loaded test box cannot let the first execute start before this one arrives.
                action = "pipelined"
            plan.append((action, r["data"].encode("latin-1"), received, max(0.0, r["t"] - last_t) * scale, r["t"]))
        elif r.get("dir") == "close":
            plan.append(("close", b"", received, 0.0, r["t"]))
    got: list[Message] = []
    trace_uuid = dict(expected[0].event() or []).get("Unique-ID", "")
    trace_a_leg = caller_leg(records, conn)
    trace_others = _other_legs(expected)

    def handler(col: Collector) -> None:
        sim_uuid = ""
        for action, data, before, pause, t in plan:
            if action != "pipelined":
                col.wait_for(lambda ms, n=before: sum(1 for m in ms if not _is_park(m)) >= n, timeout=2.0)
            if pause:
                gevent.sleep(pause)
            # the switch's own clock is where the recording's was (module epochs: Simulator.now_us)
            sim.advance_to(datetime.fromtimestamp(t0 + t, UTC))
            if not sim_uuid and col.messages:
                sim_uuid = dict(col.messages[0].event() or []).get("Unique-ID", "")
            if action == "close":
                col.close()
                break
            if action == "inbound":
                session = sim.find_session(sim_uuid)
                text = data.decode("latin-1")
                if session is not None and trace_a_leg:
                    # the recording's A-leg (the caller) is the simulated call's A-leg
                    text = text.replace(trace_a_leg, session.channel.spec.other_uuid)
                run_inbound(switch, text)
                continue
            if trace_uuid and sim_uuid:
                # The server addresses the channel by its uuid; ours differs from the recording's.
                data = data.replace(trace_uuid.encode(), sim_uuid.encode())
            for theirs, ours in zip(trace_others, _other_legs(col.messages), strict=False):
                # ... and a bridge's far end by the uuid it saw in Other-Leg-Unique-ID (trace 13)
                data = data.replace(theirs.encode(), ours.encode())
            col.send(data)
        col.wait_closed(timeout=5.0)
        got.extend(col.messages)

    address = esl_server(handler)
    script = build_script(records, conn)
    sim = Simulator(address, time_scale=scale, linger_floor=0.3, pickup_delay=0.02,
                    epoch=datetime.fromtimestamp(t0, UTC))
    switch = InboundSwitch(sim=sim)
    setup_modules(sim, records, conn, script, t0, switch)
    result = sim.run_call(script)
    gevent.sleep(0.05)
    return expected, got, result


def trace_t0(path: Path) -> float:
    """The recording's start (unix time) from the trace's header line."""
    with path.open() as fh:
        return float(json.loads(fh.readline()).get("t0_epoch", 0.0))


def _other_legs(msgs: list[Message]) -> list[str]:
    """The bridge peers' uuids (Other-Leg-Unique-ID) in the order they first appear."""
    out: list[str] = []
    for m in msgs:
        other = dict(m.event() or []).get("Other-Leg-Unique-ID")
        if other and other not in out:
            out.append(other)
    return out


def _trace_names() -> list[str]:
    return [p.stem for p in sorted(traces_path().glob("*.jsonl"))]


def _params() -> list:
    out = []
    for stem in _trace_names():
        marks = []
        if stem in NOT_REPLAYABLE:
            marks.append(pytest.mark.xfail(reason=NOT_REPLAYABLE[stem], run=False))
        elif stem in KNOWN_DIFFERENCES:
            marks.append(pytest.mark.xfail(reason=KNOWN_DIFFERENCES[stem], strict=False))
        out.append(pytest.param(stem, marks=marks, id=stem))
    return out


def compare(expected: list[Message], got: list[Message]) -> list[str]:
    exp = [signature(m) for m in expected if not _is_park(m)]
    act = [signature(m) for m in got if not _is_park(m)]
    problems: list[str] = []
    seq_diff = list(
        difflib.unified_diff([s.short() for s in exp], [s.short() for s in act], "freeswitch", "simulator", n=2,
                             lineterm="")
    )
    if seq_diff:
        problems.append("message sequence differs:\n" + "\n".join(seq_diff[:60]))
        return problems
    for i, (e, a) in enumerate(zip(exp, act, strict=True)):
        if e.names != a.names:
            diff = difflib.unified_diff(list(e.names), list(a.names), "freeswitch", "simulator", n=1, lineterm="")
            problems.append(f"message {i} {e.short()}: header names differ:\n" + "\n".join(list(diff)[:40]))
    return problems


@pytest.mark.parametrize("stem", _params())
def test_replay_matches_freeswitch(stem: str, esl_server) -> None:
    path: Path = traces_path() / f"{stem}.jsonl"
    records = load_trace(path)
    t0 = trace_t0(path)
    conns = _conns(records)
    problems: list[str] = []
    if not conns:
        # inbound-only trace: every inbound connection against the inbound side
        inbound = _conns(records, "inbound")
        assert inbound, "no connection in this trace"
        sim = Simulator(("127.0.0.1", 9), time_scale=TIME_SCALE, epoch=datetime.fromtimestamp(t0, UTC))
        if any("callcenter" in r.get("data", "") for r in records if r.get("dir") == "send"):
            define_queues(sim, t0)
            queues_found_loaded(sim, records)
        with InboundSwitch(sim=sim) as switch:
            for conn in inbound:
                expected, got, problem = replay_inbound(records, conn, switch.address, sim)
                problems.extend(f"[{conn}] {p}" for p in [*compare(expected, got), problem] if p)
        assert not problems, "\n\n".join(problems)
        return
    for conn in conns:
        expected, got, result = replay(records, conn, esl_server, stem, t0)
        for p in compare(expected, got):
            problems.append(f"[{conn}] {p}")
        problems.extend(f"[{conn}] simulator error: {e}" for e in getattr(result, "error", []))
    assert not problems, "\n\n".join(problems)
