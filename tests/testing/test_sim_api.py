"""The simulator's one API table (fsivr.testing.api): every API command the product or the tests
use gets the same answer over a call's outbound socket and over the inbound socket, as FreeSWITCH
runs both through switch_api_execute; and the outbound socket's commands act on the call as the
inbound ones do (uuid_send_dtmf, uuid_transfer, bgapi's BACKGROUND_JOB)."""

from __future__ import annotations

import re
from collections.abc import Callable

import gevent
import gevent.queue
import pytest
from simharness import Collector
from test_sim_behaviour import _events, sendmsg
from test_sim_inbound import Client

from fsivr.testing import CallScript, Simulator
from fsivr.testing.api import CHANNELS_DB_LAG
from fsivr.testing.simulator import CallHandle

NOBODY = "00000000-0000-0000-0000-000000000000"
EslServer = Callable[[Callable[[Collector], None]], tuple[str, int]]


class Controller:
    """The server under test's side of one call's outbound socket, driven command by command."""

    def __init__(self, myevents: bool = True) -> None:
        self.myevents = myevents
        self.col: Collector | None = None
        self.ready = gevent.event.Event()
        self.done = gevent.event.Event()

    def handler(self, col: Collector) -> None:
        self.col = col
        col.send(b"connect\n\n")
        col.wait_count(1)
        if self.myevents:
            col.send(b"myevents\n\n")
            col.wait_count(2)
        self.ready.set()
        self.done.wait(timeout=30)
        col.send(b"exit\n\n")
        col.wait_closed(timeout=5)

    def send(self, data: bytes) -> None:
        assert self.col is not None
        self.col.send(data)

    def api(self, text: str) -> str:
        """``api <text>`` on the outbound socket: the body of the next api/response."""
        assert self.col is not None
        before = len(self.col.messages)
        self.col.send(f"api {text}\n\n".encode())

        def found(ms: list) -> bool:
            return any(m.content_type == "api/response" for m in ms[before:])

        assert self.col.wait_for(found, timeout=3.0), f"no api/response for {text!r}"
        return next(m for m in self.col.messages[before:] if m.content_type == "api/response").body.decode()

    def events(self, name: str) -> list[dict[str, str]]:
        assert self.col is not None
        return _events(self.col.messages, name)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(("127.0.0.1", 9), time_scale=1.0)  # a 30 s prompt really runs while we ask


def _call(sim: Simulator, esl_server: EslServer, **script: object) -> tuple[Controller, CallHandle]:
    ctl = Controller()
    sim.address = esl_server(ctl.handler)
    handle = sim.start_call(CallScript(profile="loopback", timeout=20, variables={"greeting": "hello"},
                                       **script))  # type: ignore[arg-type]
    assert ctl.ready.wait(timeout=5)
    return ctl, handle


def _playing(msgs: list) -> bool:
    return any(e.get("Application") == "playback" for e in _events(msgs, "CHANNEL_EXECUTE"))


def _uptime_masked(body: str) -> str:
    """``status`` asked a moment apart differs only in the uptime line's numbers."""
    first, _, rest = body.partition("\n")
    return re.sub(r"\d+", "#", first) + "\n" + rest


def test_every_command_answers_the_same_on_both_sockets(sim: Simulator, inbound: Client, esl_server) -> None:
    ctl, handle = _call(sim, esl_server)
    ctl.send(sendmsg("answer"))
    ctl.send(sendmsg("playback", "silence_stream://30000"))
    assert ctl.col is not None and ctl.col.wait_for(_playing, timeout=5)
    gevent.sleep(CHANNELS_DB_LAG)  # the call's row is in the channels table by now
    uuid, a_leg = handle.uuid, handle.session.channel.spec.other_uuid
    sim.register_phone("105", call_id="phone-105@127.0.0.1")
    # The set: grep of fsivr/ and tests/ for "api " / ".api(" (uuid_*, sofia_contact, sofia profile
    # rescan, sofia status, chat, reloadxml, status, version, show, callcenter_config, valet_info, originate) plus the
    # other commands the simulator answers.
    commands = [
        "version", "version short", "hostname", "reloadxml", "echo hi there", "eval hi", "global_getvar x",
        "no_such_api_command arg1",
        "show channels", "show channels count", "show calls count", "show bogus",
        f"uuid_exists {uuid}", f"uuid_exists {a_leg}", f"uuid_exists {NOBODY}",
        f"uuid_getvar {uuid} greeting", f"uuid_getvar {uuid} nosuch", f"uuid_getvar {a_leg} greeting",
        f"uuid_getvar {NOBODY} greeting",
        f"uuid_setvar {uuid} shared 'a b'", f"uuid_getvar {uuid} shared", f"uuid_setvar {NOBODY} x y",
        "uuid_setvar x",
        f"uuid_send_dtmf {uuid} 5", f"uuid_send_dtmf {NOBODY} 5", "uuid_send_dtmf x",
        f"uuid_answer {uuid}", f"uuid_answer {NOBODY}",
        f"uuid_break {NOBODY}", f"uuid_kill {NOBODY}", f"uuid_transfer {NOBODY} xfer XML default",
        "uuid_transfer x",
        f"uuid_broadcast {NOBODY} tone_stream://%(500,0,440) aleg", "uuid_broadcast x",
        f"uuid_displace {uuid} stop tone_stream://%(500,0,440)", f"uuid_displace {NOBODY} start x 0 mux",
        "uuid_displace x", f"uuid_bridge {NOBODY} {uuid}", "uuid_bridge x",
        "sofia_contact */101@pbx", "sofia_contact 102", "sofia profile external rescan",
        "sofia profile nosuch rescan", "sofia status profile internal reg", "sofia status profile nosuch reg",
        "chat", "chat sip|100@127.0.0.1|105@127.0.0.1|hello", "chat sip|100@127.0.0.1|104@127.0.0.1|hello",
        "chat nosuchproto|100@127.0.0.1|105@127.0.0.1|hello",
        "callcenter_config", "callcenter_config agent list", "callcenter_config queue count",
        "callcenter_config agent get status nosuch@default",
        "valet_info",
        "originate error/user_busy &park", "originate {origination_uuid=" + NOBODY[:-1] + "1}loopback/answer &park",
    ]
    for cmd in commands:
        out, inb = ctl.api(cmd), inbound.api(cmd)
        assert out == inb, cmd
    # The answers are FreeSWITCH's (05, 03, 11, mod_commands.c), not merely equal.
    assert ctl.api(f"uuid_broadcast {NOBODY} tone_stream://%(500,0,440) aleg") == "-ERR invalid uuid\n"
    assert ctl.api(f"uuid_displace {NOBODY} start x 0 mux") == "-ERR Cannot locate session!\n"
    assert ctl.api("uuid_displace x") == "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"
    assert ctl.api(f"uuid_bridge {NOBODY} {uuid}") == "-ERR Invalid uuid\n"
    assert ctl.api("uuid_bridge x") == "-USAGE: <uuid> <other_uuid>\n"
    assert ctl.api("version") == "FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n"
    assert ctl.api(f"uuid_getvar {uuid} greeting") == "hello"
    assert ctl.api(f"uuid_getvar {uuid} shared") == "a b"
    assert ctl.api(f"uuid_send_dtmf {uuid} 5") == f"+OK {uuid} sent DTMF 5.\n"
    assert ctl.api(f"uuid_send_dtmf {NOBODY} 5") == "-ERR Cannot locate session!\n"
    assert ctl.api(f"uuid_kill {NOBODY}") == "-ERR No such channel!\n"
    assert ctl.api("no_such_api_command arg1") == "-ERR no_such_api_command Command not found!\n"
    assert ctl.api("global_getvar x") == "-ERR no reply\n"  # empty output (api_exec)
    assert ctl.api("originate error/user_busy &park") == "-ERR USER_BUSY\n"
    assert ctl.api("chat sip|100@127.0.0.1|105@127.0.0.1|hello") == "Sent"  # 16: no LF
    assert ctl.api("chat sip|100@127.0.0.1|104@127.0.0.1|hello") == "Error! Message Not Sent"
    assert ctl.api("chat") == "Invalid"
    channels = ctl.api("show channels").split("\n")
    assert channels[1].startswith(f"{uuid},inbound,") and channels[-2:] == ["1 total.", ""]
    assert ctl.api("show channels count") == "\n1 total.\n"
    assert _uptime_masked(ctl.api("status")) == _uptime_masked(inbound.api("status"))
    assert "1 session(s) - peak 1" in ctl.api("status")
    assert ctl.api(f"uuid_kill {uuid} USER_BUSY") == "+OK\n"  # the call's own uuid, from its own socket
    assert inbound.api(f"uuid_kill {uuid}") == "-ERR No such channel!\n"
    ctl.done.set()
    result = handle.wait(10)
    assert result.hangup_cause == "USER_BUSY" and result.hangup_by == "server" and not result.error


def test_show_channels_lags_behind_a_new_call_on_both_sockets(sim: Simulator, inbound: Client,
                                                               esl_server) -> None:
    ctl, handle = _call(sim, esl_server)
    assert ctl.api("show channels") == inbound.api("show channels") == "\n0 total.\n"  # 05
    gevent.sleep(CHANNELS_DB_LAG)
    assert ctl.api("show channels count") == inbound.api("show channels count") == "\n1 total.\n"
    ctl.done.set()
    handle.wait(10)
    assert inbound.api("show channels") == "\n0 total.\n"


def test_uuid_send_dtmf_on_the_outbound_socket_reaches_the_call(sim: Simulator, esl_server) -> None:
    ctl, handle = _call(sim, esl_server)
    ctl.send(sendmsg("answer"))
    assert ctl.col is not None and ctl.col.wait_for(lambda ms: bool(_events(ms, "CHANNEL_EXECUTE_COMPLETE")))
    assert ctl.api(f"uuid_send_dtmf {handle.uuid} 12#") == f"+OK {handle.uuid} sent DTMF 12#.\n"
    assert ctl.col.wait_for(lambda ms: len(_events(ms, "DTMF")) == 3, timeout=3)
    assert [e["DTMF-Digit"] for e in ctl.events("DTMF")] == ["1", "2", "#"]
    ctl.done.set()
    handle.wait(10)


def test_uuid_transfer_takes_the_channel_out_of_the_socket_app(sim: Simulator, inbound: Client,
                                                               esl_server) -> None:
    ctl, handle = _call(sim, esl_server)
    ctl.send(sendmsg("answer"))
    ctl.send(sendmsg("playback", "silence_stream://30000"))
    assert ctl.col is not None and ctl.col.wait_for(_playing, timeout=5)
    assert ctl.api(f"uuid_transfer {handle.uuid} xfer XML default") == "+OK\n"
    assert ctl.col.wait_for(lambda ms: bool(_events(ms, "CHANNEL_HANGUP_COMPLETE")), timeout=5)
    completes = [(e["Application"], e["Application-Response"]) for e in ctl.events("CHANNEL_EXECUTE_COMPLETE")]
    # 13: the playback cut by the transfer, then the socket app completes; the connection stays
    assert completes[-2:] == [("playback", "PLAYBACK ERROR"), ("socket", "PLAYBACK ERROR")]
    assert inbound.api(f"uuid_exists {handle.uuid}") == "false"
    ctl.done.set()
    result = handle.wait(10)
    assert result.transferred_to == "xfer XML default" and not result.error


def test_bgapi_from_the_outbound_socket_reaches_inbound_subscribers(sim: Simulator, inbound: Client,
                                                                   esl_server) -> None:
    inbound.reply("event plain BACKGROUND_JOB")
    ctl, handle = _call(sim, esl_server)
    ctl.send(b"event plain BACKGROUND_JOB\n\nbgapi uuid_getvar " + handle.uuid.encode() + b" greeting\n\n")
    assert inbound.col.wait_for(lambda ms: bool(_events(ms, "BACKGROUND_JOB")), timeout=3)
    assert ctl.col is not None and ctl.col.wait_for(lambda ms: bool(_events(ms, "BACKGROUND_JOB")), timeout=3)
    mine, theirs = ctl.events("BACKGROUND_JOB")[0], inbound.events("BACKGROUND_JOB")[0]
    for job in (mine, theirs):
        assert job["Job-Owner-UUID"] == handle.uuid and job["Job-Command"] == "uuid_getvar"
    assert mine["Job-UUID"] == theirs["Job-UUID"]
    bodies = [m.body for m in (*ctl.col.messages, *inbound.col.messages) if b"BACKGROUND_JOB" in m.body]
    assert all(b.endswith(b"Content-Length: 5\n\nhello") for b in bodies)
    ctl.done.set()
    handle.wait(10)


def test_an_inbound_bgapi_job_reaches_outbound_subscribers_without_myevents(sim: Simulator, inbound: Client,
                                                                          esl_server) -> None:
    ctl, handle = _call(sim, esl_server)  # the controller sent myevents: foreign jobs are not its own
    ctl.send(b"event plain BACKGROUND_JOB\n\n")
    inbound.reply("event plain BACKGROUND_JOB")
    inbound.send("bgapi version", expect=2)
    gevent.sleep(0.1)
    assert ctl.events("BACKGROUND_JOB") == []  # event_handler: myevents keeps only Job-Owner-UUID = own

    quiet = Controller(myevents=False)  # a socket that subscribed without myevents takes every job
    sim.address = esl_server(quiet.handler)
    other = sim.start_call(CallScript(profile="loopback", timeout=20))
    assert quiet.ready.wait(timeout=5)
    quiet.send(b"event plain BACKGROUND_JOB\n\n")
    assert quiet.col is not None and quiet.col.wait_count(2, timeout=3)
    inbound.send("bgapi version", expect=2)
    assert quiet.col.wait_for(lambda ms: bool(_events(ms, "BACKGROUND_JOB")), timeout=3)
    job = quiet.events("BACKGROUND_JOB")[0]
    assert job["Job-Command"] == "version" and "Job-Owner-UUID" not in job
    for c in (ctl, quiet):
        c.done.set()
    handle.wait(10)
    other.wait(10)

