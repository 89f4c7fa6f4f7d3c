"""The inbound ESL side (fsivr.testing.inbound.InboundSwitch) beyond trace 00: refused passwords
close, BACKGROUND_JOB only for subscribers, callcenter_config reaching the simulator's queues, agent
events for inbound listeners (header order as trace 07), and the simulator's calls seen and driven
from inbound (uuid_kill, uuid_getvar, show channels, status, originate)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import gevent
import pytest
from gevent import socket as gsocket
from simharness import Collector, Message, load_trace, msg_from_record, traces_path
from test_sim_behaviour import _events, drive, sendmsg

from fsivr.testing import CallScript, Simulator, Target
from fsivr.testing.api import CHANNELS_DB_LAG, status_text
from fsivr.testing.inbound import InboundSwitch


class Client:
    """The client side of one inbound connection."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.col = Collector(gsocket.create_connection(address, timeout=5.0))
        self.col.start()
        assert self.col.wait_count(1, timeout=2.0)

    @property
    def messages(self) -> list[Message]:
        return self.col.messages

    def send(self, text: str, expect: int = 1) -> list[Message]:
        """Send a command; return the next ``expect`` messages."""
        before = len(self.col.messages)
        self.col.send(text.encode() + b"\n\n")
        self.col.wait_count(before + expect, timeout=3.0)
        return self.col.messages[before:before + expect]

    def _answer(self, text: str, content_type: str) -> Message:
        """The first message of ``content_type`` after sending (events may arrive in between)."""
        before = len(self.col.messages)
        self.col.send(text.encode() + b"\n\n")

        def found(ms: list[Message]) -> bool:
            return any(m.content_type == content_type for m in ms[before:])

        assert self.col.wait_for(found, timeout=3.0), f"no {content_type} for {text!r}"
        return next(m for m in self.col.messages[before:] if m.content_type == content_type)

    def reply(self, text: str) -> str:
        return self._answer(text, "command/reply").head.get("Reply-Text", "")

    def api(self, text: str) -> str:
        return self._answer("api " + text, "api/response").body.decode()

    def auth(self, password: str = "ClueCon") -> Client:
        assert self.reply("auth " + password) == "+OK accepted"
        return self

    def events(self, name: str | None = None) -> list[dict[str, str]]:
        out = []
        for m in self.col.messages:
            ev = m.event()
            if ev and (name is None or dict(ev).get("Event-Name") == name):
                out.append(dict(ev))
        return out

    def close(self) -> None:
        self.col.close()


@pytest.fixture
def sim() -> Simulator:
    return Simulator(("127.0.0.1", 9), time_scale=0.0)


@pytest.fixture
def switch(sim: Simulator) -> Iterator[InboundSwitch]:
    with InboundSwitch(sim=sim) as sw:
        yield sw


@pytest.fixture
def client(switch: InboundSwitch) -> Iterator[Client]:
    c = Client(switch.address)
    yield c
    c.close()


# ----------------------------------------------------------------------------- auth, framing


def test_bad_password_gets_invalid_notice_and_close(client: Client) -> None:
    assert client.messages[0].raw == b"Content-Type: auth/request\n\n"
    msgs = client.send("auth wrong", expect=2)
    assert msgs[0].raw == b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"
    assert msgs[1].raw == (b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
                           b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
    assert client.col.wait_closed(timeout=2.0)


def test_commands_before_auth_are_not_found_and_auth_still_works(client: Client, switch: InboundSwitch) -> None:
    assert client.reply("api status") == "-ERR command not found"
    assert client.reply("event plain ALL") == "-ERR command not found"
    client.auth()
    assert client.api("reloadxml") == "+OK [Success]\n"
    assert switch.calls("api reloadxml") == 1


def test_no_auth_within_timeout_closes() -> None:
    with InboundSwitch(auth_timeout=0.2) as sw:
        c = Client(sw.address)
        assert c.col.wait_closed(timeout=3.0)
        assert c.messages[-1].content_type == "text/disconnect-notice"


def test_exit_says_bye_then_notice_without_disposition(client: Client) -> None:
    client.auth()
    msgs = client.send("exit", expect=2)
    assert msgs[0].head["Reply-Text"] == "+OK bye"
    assert [k for k, _ in msgs[1].headers] == ["Content-Type", "Content-Length"]
    assert client.col.wait_closed(timeout=2.0)


def test_replies_to_subscription_commands(client: Client) -> None:
    client.auth()
    assert client.reply("event plain CHANNEL_ANSWER CUSTOM callcenter::info") == "+OK event listener enabled plain"
    assert client.reply("event json DTMF") == "+OK event listener enabled json"
    assert client.reply("event plain NO_SUCH") == "-ERR no keywords supplied"
    assert client.reply("nixevent DTMF") == "+OK events nixed"
    assert client.reply("filter Unique-ID abc") == "+OK filter added. [Unique-ID]=[abc]"
    assert client.reply("filter delete Unique-ID abc") == "+OK filter deleted. [Unique-ID][abc]"
    assert client.reply("filter x") == "-ERR invalid syntax"
    assert client.reply("noevents") == "+OK no longer listening for events"
    assert client.reply("noevents") == "-ERR not listening for events"
    assert client.reply("linger") == "-ERR not controlling a session"  # no session on an inbound listener
    assert client.reply("nolinger") == "-ERR not controlling a session"
    assert client.reply("divert_events on") == "-ERR not controlling a session."
    assert client.reply("sendmsg 00000000-0000-0000-0000-000000000000") == (
        "-ERR invalid session id [00000000-0000-0000-0000-000000000000]")
    assert client.reply("bogus") == "-ERR command not found"


def test_api_outputs(client: Client) -> None:
    client.auth()
    assert client.api("no_such_api_command") == "-ERR no_such_api_command Command not found!\n"
    assert client.api("version") == "FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n"
    assert client.api("show channels") == "\n0 total.\n"
    assert client.api("uuid_kill 00000000-0000-0000-0000-000000000000") == "-ERR No such channel!\n"
    status = client.api("status").split("\n")
    assert status[0].startswith("UP 0 years, 0 days, 0 hours, ")
    assert status[1:] == status_text(0, 0, 0, 0).split("\n")[1:]


def test_api_overrides_without_simulator() -> None:
    with InboundSwitch(api={"reloadxml": "+OK [Cannot Open log directory or XML Root!]\n"}) as sw:
        c = Client(sw.address).auth()
        assert c.api("reloadxml") == "+OK [Cannot Open log directory or XML Root!]\n"
        assert c.api("uuid_kill x") == "-ERR uuid_kill Command not found!\n"  # no calls without a Simulator
        c.close()


# ----------------------------------------------------------------------------- bgapi / BACKGROUND_JOB


def test_background_job_only_when_subscribed(client: Client) -> None:
    client.auth()
    msgs = client.send("bgapi version")
    job = msgs[0].head["Job-UUID"]
    assert msgs[0].head["Reply-Text"] == f"+OK Job-UUID: {job}"
    gevent.sleep(0.2)
    assert client.events("BACKGROUND_JOB") == []  # not subscribed: nothing

    assert client.reply("event plain CHANNEL_ANSWER") == "+OK event listener enabled plain"
    client.send("bgapi version")
    gevent.sleep(0.2)
    assert client.events("BACKGROUND_JOB") == []  # subscribed, but not to this one

    client.reply("event plain BACKGROUND_JOB")
    msgs = client.send("bgapi uuid_getvar nosuch x\nJob-UUID: 11111111-2222-3333-4444-555555555555", expect=2)
    assert msgs[0].head["Job-UUID"] == "11111111-2222-3333-4444-555555555555"
    ev = msgs[1]
    assert [k for k, _ in ev.headers] == ["Content-Length", "Content-Type"]
    d = dict(ev.event() or [])
    assert d["Job-UUID"] == "11111111-2222-3333-4444-555555555555"
    assert d["Job-Command"] == "uuid_getvar" and d["Job-Command-Arg"] == "nosuch x"
    assert "Job-Owner-UUID" not in d  # no session on an inbound listener
    assert ev.body.endswith(b"Content-Length: 22\n\n-ERR No such channel!\n")

    client.reply("nixevent BACKGROUND_JOB")
    client.send("bgapi version")
    gevent.sleep(0.2)
    assert len(client.events("BACKGROUND_JOB")) == 1


def test_background_job_json_and_all(client: Client) -> None:
    client.auth()
    client.reply("event json ALL")
    msgs = client.send("bgapi version", expect=2)
    assert msgs[1].content_type == "text/event-json"
    obj = json.loads(msgs[1].body)
    assert obj["Event-Name"] == "BACKGROUND_JOB"
    assert obj["_body"] == "FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n"
    assert obj["Content-Length"] == "49"


def test_background_job_goes_to_every_subscriber(switch: InboundSwitch) -> None:
    a, b = Client(switch.address).auth(), Client(switch.address).auth()
    b.reply("event plain BACKGROUND_JOB")
    a.send("bgapi version")
    assert b.col.wait_for(lambda ms: any(m.content_type == "text/event-plain" for m in ms), timeout=2.0)
    assert a.events() == []
    a.close()
    b.close()


# ----------------------------------------------------------------------------- mod_callcenter


def _trace_events(stem: str, conn: str = "inbound") -> list[list[tuple[str, str]]]:
    path = traces_path() / f"{stem}.jsonl"
    if not path.is_file():
        pytest.skip(f"ESL trace {path} not found (set FSIVR_TRACES to their directory)")
    out = []
    for r in load_trace(path):
        if r.get("conn") == conn and r.get("dir") == "recv":
            ev = msg_from_record(r).event()
            if ev and dict(ev).get("Event-Name") == "CUSTOM":
                out.append(ev)
    return out


def test_callcenter_config_through_inbound_reaches_the_queues(client: Client, sim: Simulator) -> None:
    sim.add_queue("support@default")
    client.auth()
    for cmd in ("agent add esl-agent@default callback", "agent set status esl-agent@default Available",
                "tier add support@default esl-agent@default 1 1"):
        assert client.api("callcenter_config " + cmd) == "+OK\n"
    assert sim.callcenter.agents["esl-agent@default"].status == "Available"
    assert [(t.queue, t.agent) for t in sim.callcenter.tiers] == [("support@default", "esl-agent@default")]
    assert client.api("callcenter_config tier list") == (
        "queue|agent|state|level|position\nsupport@default|esl-agent@default|Ready|1|1\n+OK\n")
    assert client.api("callcenter_config agent set status esl-agent@default Logged Out") == (
        "-ERR Invalid Agent Status!\n")
    # and the other way: what the simulator's side set up is what inbound lists
    sim.callcenter_config("agent set status esl-agent@default 'On Break'")
    assert client.api("callcenter_config agent get status esl-agent@default") == "On Break"


def test_agent_events_reach_inbound_listener_as_in_trace_07(client: Client, sim: Simulator) -> None:
    sim.add_queue("support@default")
    client.auth()
    assert client.reply("event plain CUSTOM callcenter::info") == "+OK event listener enabled plain"
    msgs = client.send("api callcenter_config agent add esl-agent@default callback", expect=2)
    assert msgs[0].content_type == "api/response" and msgs[1].content_type == "text/event-plain"  # reply first
    client.send("api callcenter_config agent set contact esl-agent@default "
                "[leg_timeout=10]sofia/internal/agent@127.0.0.1:5080", expect=2)
    client.send("api callcenter_config agent set status esl-agent@default Available", expect=2)
    client.send("api callcenter_config agent set state esl-agent@default Waiting", expect=2)
    got = [[(k, v) for k, v in ev.items()] for ev in client.events("CUSTOM")]
    want = _trace_events("07-callcenter")[:4]
    assert [[k for k, _ in ev] for ev in got] == [[k for k, _ in ev] for ev in want]
    skip = {"Core-UUID", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence"}
    assert [[(k, v) for k, v in ev if k not in skip] for ev in got] == [
        [(k, v) for k, v in ev if k not in skip] for ev in want]


def test_agent_events_of_a_queued_call(client: Client, sim: Simulator, esl_server) -> None:
    sim.add_queue("q@d")
    client.auth()
    client.reply("event plain CUSTOM callcenter::info")
    for cmd in ("agent add ag@d callback", "agent set status ag@d Available", "tier add q@d ag@d"):
        assert client.api("callcenter_config " + cmd) == "+OK\n"
    sim.set_agent_behaviour("ag@d", Target("answered", answer_after=1.0, talk=2.0))
    sim.address = esl_server(drive([sendmsg("answer"), sendmsg("callcenter", "q@d")]))
    result = sim.run_call(CallScript(profile="loopback", timeout=10))
    assert result.variables["cc_cause"] == "answered", result.error
    client.col.wait_for(lambda ms: sum(1 for m in ms if b"member-queue-end" in m.body) >= 1, timeout=3.0)
    gevent.sleep(0.1)
    actions = [(e["CC-Action"], e.get("CC-Agent-State", "")) for e in client.events("CUSTOM")][2:]
    assert actions == [
        ("member-queue-start", ""), ("members-count", ""), ("agent-state-change", "Receiving"),
        ("agent-offering", ""), ("bridge-agent-start", ""), ("members-count", ""),
        ("agent-state-change", "In a queue call"), ("bridge-agent-end", ""), ("member-queue-end", ""),
        ("agent-state-change", "Waiting"),
    ]
    start = next(e for e in client.events("CUSTOM") if e["CC-Action"] == "member-queue-start")
    assert start["Unique-ID"] == result.uuid and start["Event-Calling-Function"] == "callcenter_function"
    offering = next(e for e in client.events("CUSTOM") if e["CC-Action"] == "agent-offering")
    assert offering["CC-Member-Session-UUID"] == result.uuid


# ----------------------------------------------------------------------------- the simulator's calls


def _running_call(sim: Simulator, esl_server, commands: list[bytes]):
    sim.address = esl_server(drive(commands))
    handle = sim.start_call(CallScript(profile="loopback", timeout=10, variables={"greeting": "hello"}))
    for _ in range(200):
        if handle.session.current is not None and handle.session.current.name == "playback":
            break
        gevent.sleep(0.01)
    return handle


def test_call_visible_and_killed_from_inbound(client: Client, sim: Simulator, esl_server) -> None:
    sim.time_scale = 1.0  # the 30 s prompt really runs while we look at the call
    client.auth()
    client.reply("event plain CHANNEL_HANGUP CHANNEL_EXECUTE")
    handle = _running_call(sim, esl_server, [sendmsg("answer"), sendmsg("playback", "silence_stream://30000")])
    uuid = handle.uuid
    assert client.api(f"uuid_getvar {uuid} greeting") == "hello"
    assert client.api(f"uuid_getvar {uuid} nosuch") == "_undef_"
    assert client.api(f"uuid_exists {uuid}") == "true"
    gevent.sleep(CHANNELS_DB_LAG)  # the channels table gets the row only after the core DB's batch (05)
    channels = client.api("show channels").split("\n")
    assert channels[0].startswith("uuid,direction,created,created_epoch,name,state,")
    assert channels[1].startswith(f"{uuid},inbound,") and ",playback,silence_stream://30000," in channels[1]
    assert channels[-2:] == ["1 total.", ""]
    assert "1 session(s) since startup" in client.api("status")
    assert client.api(f"uuid_kill {uuid} USER_BUSY") == "+OK\n"
    result = handle.wait(5)
    assert result.hangup_cause == "USER_BUSY" and result.hangup_by == "server"
    assert client.api(f"uuid_getvar {uuid} greeting") == "-ERR No such channel!\n"
    assert client.api("show channels") == "\n0 total.\n"
    names = [e["Event-Name"] for e in client.events()]
    assert "CHANNEL_EXECUTE" in names and names[-1] == "CHANNEL_HANGUP"
    assert all(e["Unique-ID"] == uuid for e in client.events())


def test_killing_the_a_leg_is_the_caller_hanging_up(client: Client, sim: Simulator, esl_server) -> None:
    sim.time_scale = 1.0
    client.auth()
    handle = _running_call(sim, esl_server, [sendmsg("playback", "silence_stream://30000")])
    a_leg = handle.session.channel.spec.other_uuid
    assert client.api(f"uuid_getvar {a_leg} greeting") == "-ERR No such channel!\n"  # not simulated as a channel
    assert client.api(f"uuid_exists {a_leg}") == "true"
    assert client.api(f"uuid_kill {a_leg}") == "+OK\n"
    result = handle.wait(5)
    assert result.hangup_by == "caller" and result.hangup_cause == "NORMAL_CLEARING"


def test_originate_places_a_call_into_the_socket_server(client: Client, sim: Simulator, esl_server) -> None:
    box: list[Collector] = []

    def handler(col: Collector) -> None:
        box.append(col)
        drive([sendmsg("answer")])(col)

    address = esl_server(handler)
    client.auth()
    client.reply("event plain BACKGROUND_JOB CHANNEL_ANSWER")
    msgs = client.send(
        "bgapi originate {origination_caller_id_number=15551230001,origination_caller_id_name=ESL_Trace}"
        f"loopback/sock/esltest &socket({address[0]}:{address[1]} async full)", expect=2)
    job = dict(msgs[1].event() or [])
    assert job["Job-Command"] == "originate"
    a_leg = msgs[1].body.decode().rsplit("\n\n", 1)[1].removeprefix("+OK ").strip()
    handle = client.col.wait_for(lambda ms: any(b"CHANNEL_ANSWER" in m.body for m in ms), timeout=3.0)
    assert handle
    answer = client.events("CHANNEL_ANSWER")[0]
    assert answer["Caller-Caller-ID-Number"] == "15551230001" and answer["Caller-Destination-Number"] == "sock"
    assert answer["variable_other_loopback_leg_uuid"] == a_leg
    assert box and _events(box[0].messages, "CHANNEL_EXECUTE_COMPLETE")
    assert client.api("originate error/user_busy &park") == "-ERR USER_BUSY\n"


def test_originate_replies_only_after_the_far_end_answers_or_fails(client: Client, sim: Simulator, esl_server) -> None:
    """mod_commands.c originate_function: switch_ivr_originate returns once the B-leg answered or
    failed, and only then is ``+OK <uuid>`` / ``-ERR <cause>`` written; with bgapi the same text is
    the BACKGROUND_JOB's body. The answered leg reaches the socket server already answered."""
    box: list[Collector] = []

    def handler(col: Collector) -> None:
        box.append(col)
        drive([])(col)

    address = esl_server(handler)
    sim.ring_scale = 1.0  # simulated ringing in real time
    sim.originate_ring["+48501000001"] = 0.3
    sim.originate_outcomes["+48501000002"] = ["USER_BUSY", "ANSWER"]
    sim.originate_ring["+48501000002"] = 0.3
    client.auth()
    client.reply("event plain BACKGROUND_JOB CHANNEL_ANSWER")
    target = f"&socket({address[0]}:{address[1]} async full)"
    uuid = "6a4e1a1e-7f3c-4d8e-9a57-000000000001"
    # bgapi: the reply at once, the job's event only after the ringing.
    before = len(client.messages)
    client.col.send(f"bgapi originate {{origination_uuid={uuid}}}sofia/gateway/trunk/+48501000001 {target}\n\n"
                    .encode())
    assert client.col.wait_count(before + 1, timeout=2.0)
    assert client.messages[before].head["Reply-Text"].startswith("+OK Job-UUID")
    # While it rings the leg exists (switch_ivr_originate created it) and no job event has come.
    assert client.api(f"uuid_exists {uuid}") == "true"
    assert not client.events("BACKGROUND_JOB")
    assert client.col.wait_for(lambda ms: any(b"BACKGROUND_JOB" in m.body for m in ms), timeout=3.0)
    [job] = [m for m in client.messages if b"BACKGROUND_JOB" in m.body]
    assert job.body.decode().rsplit("\n\n", 1)[1] == f"+OK {uuid}\n"
    [placed] = sim.originate_log
    assert placed.outcome == "ANSWER" and placed.uuid == uuid
    # The leg was answered when the socket application connected (Answer-State in the connect reply).
    handle = sim.originated[uuid]
    result = handle.wait(5)
    # Created when the originate came in, answered after its 0.3 s of ringing.
    assert result.answered and int(result.variables["start_uepoch"]) == placed.at_us
    assert int(result.variables["answer_uepoch"]) - int(result.variables["start_uepoch"]) == 300_000
    # api originate: the reply itself waits for the ringing; a scripted list goes one per originate.
    assert client.api(f"originate sofia/gateway/trunk/+48501000002 {target}") == "-ERR USER_BUSY\n"
    assert client.api(f"originate sofia/gateway/trunk/+48501000002 {target}").startswith("+OK ")
    first, second = sim.originate_log[1:]
    assert second.at_us - first.at_us >= 300_000  # the first reply came after its ringing
    assert sim.originate_peak >= 1 and first.ended_us is not None
