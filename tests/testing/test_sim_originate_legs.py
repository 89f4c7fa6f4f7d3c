"""The channel events of legs ``originate`` makes that no simulated call runs (fsivr.testing.legs),
as an inbound listener sees them: a failed attempt's CHANNEL_CREATE ... CHANNEL_DESTROY before its
``-ERR`` BACKGROUND_JOB, none where the endpoint makes no channel, and a parked leg's end on
``uuid_kill``. Read from FreeSWITCH 1.11.1's source (switch_ivr_originate.c switch_ivr_originate,
switch_core_state_machine.c, switch_core_session.c); the header set is the recorded one (trace 05)."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest
from simharness import load_trace, msg_from_record, traces_path
from test_sim_inbound import Client

from fsivr.testing import Simulator
from fsivr.testing.inbound import InboundSwitch

LEG_EVENTS = "CHANNEL_CREATE CHANNEL_ORIGINATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY"
BUSY, SILENT, NOWHERE = "+48501300001", "+48501300002", "+48501300003"
TARGET = "&socket(127.0.0.1:9 async full)"


@pytest.fixture
def sim() -> Simulator:
    s = Simulator(("127.0.0.1", 9), time_scale=0.0)
    s.originate_outcomes.update({BUSY: "USER_BUSY", SILENT: "NO_ANSWER", NOWHERE: "INVALID_GATEWAY"})
    return s


@pytest.fixture
def client(sim: Simulator) -> Iterator[Client]:
    with InboundSwitch(sim=sim) as sw:
        c = Client(sw.address).auth()
        assert c.reply(f"event plain {LEG_EVENTS} BACKGROUND_JOB").startswith("+OK")
        yield c
        c.close()


def _bgapi(client: Client, text: str) -> str:
    """``bgapi <text>``; the BACKGROUND_JOB's body once it came."""
    before = len(client.events("BACKGROUND_JOB"))
    client.col.send(f"bgapi {text}\n\n".encode())
    assert client.col.wait_for(lambda _ms: len(client.events("BACKGROUND_JOB")) > before, timeout=3.0)
    job = [m for m in client.messages if b"BACKGROUND_JOB" in m.body][-1]
    return job.body.decode().rsplit("\n\n", 1)[1]


def _names(client: Client) -> list[str]:
    return [e["Event-Name"] for e in client.events() if e["Event-Name"] != "API"]


def test_a_failed_attempt_creates_and_destroys_its_leg_before_the_job_says_err(client: Client) -> None:
    uuid = "0f0f0f0f-0000-4000-8000-000000000001"
    out = _bgapi(client, f"originate {{origination_uuid={uuid},fsivr_job_kind=campaign,fsivr_job=c:1:2,"
                         f"originate_timeout=30}}sofia/gateway/trunk/{BUSY} {TARGET}")
    assert out == "-ERR USER_BUSY\n"
    assert _names(client) == ["CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
                              "CHANNEL_DESTROY", "BACKGROUND_JOB"]
    legs = [e for e in client.events() if e["Event-Name"] != "BACKGROUND_JOB"]
    for e in legs:
        # the {} variables were installed before the leg's thread ran (switch_ivr_originate)
        assert e["Unique-ID"] == uuid and e["Call-Direction"] == "outbound", e["Event-Name"]
        assert e["variable_fsivr_job_kind"] == "campaign" and e["variable_fsivr_job"] == "c:1:2"
        assert e["variable_origination_uuid"] == uuid and e["Caller-Destination-Number"] == BUSY
    create, _, hangup, complete, destroy = legs
    assert (create["Channel-State"], create["Channel-Call-State"], create["Answer-State"]) == ("CS_INIT", "DOWN",
                                                                                              "ringing")
    assert "Hangup-Cause" not in create
    assert hangup["Hangup-Cause"] == complete["Hangup-Cause"] == destroy["Hangup-Cause"] == "USER_BUSY"
    assert complete["variable_hangup_cause"] == "USER_BUSY" and complete["variable_billsec"] == "0"
    assert (complete["Channel-State"], destroy["Channel-State"]) == ("CS_REPORTING", "CS_DESTROY")


def test_no_answer_rings_out_its_timeout(client: Client, sim: Simulator) -> None:
    out = _bgapi(client, f"originate {{origination_uuid=u-2,originate_timeout=25}}sofia/gateway/trunk/{SILENT} "
                         f"{TARGET}")
    assert out == "-ERR NO_ANSWER\n"
    complete = client.events("CHANNEL_HANGUP_COMPLETE")[0]
    assert complete["Hangup-Cause"] == "NO_ANSWER" and complete["variable_duration"] == "25"
    assert sim.leg_events == [("u-2", n) for n in ("CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_HANGUP",
                                                   "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY")]


def test_an_endpoint_that_makes_no_channel_fires_no_leg_event(client: Client) -> None:
    """error/..., and sofia_outgoing_channel's unknown gateway: refused before the channel exists."""
    assert _bgapi(client, "originate {origination_uuid=u-3}error/user_busy &park()") == "-ERR USER_BUSY\n"
    assert _bgapi(client, f"originate {{origination_uuid=u-4}}sofia/gateway/nope/{NOWHERE} {TARGET}") \
        == "-ERR INVALID_GATEWAY\n"
    assert _names(client) == ["BACKGROUND_JOB", "BACKGROUND_JOB"]


def test_the_leg_end_may_come_after_the_job(client: Client, sim: Simulator) -> None:
    """HANGUP_COMPLETE and DESTROY come from the leg's own thread and race the BACKGROUND_JOB;
    CHANNEL_HANGUP never does (fired before originate returns)."""
    sim.leg_report_delay = 0.1
    assert _bgapi(client, f"originate {{origination_uuid=u-5}}sofia/gateway/trunk/{BUSY} {TARGET}") \
        == "-ERR USER_BUSY\n"
    assert client.col.wait_for(lambda _ms: len(client.events("CHANNEL_DESTROY")) == 1, timeout=3.0)
    assert _names(client) == ["CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_HANGUP", "BACKGROUND_JOB",
                              "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]


def test_a_parked_leg_is_created_answered_and_reports_its_end_when_killed(client: Client, sim: Simulator) -> None:
    uuid = "0f0f0f0f-0000-4000-8000-000000000006"
    out = _bgapi(client, f"originate {{origination_uuid={uuid},fsivr_job_kind=queue_callback}}"
                         f"sofia/gateway/trunk/+48501300009 &park()")
    assert out == f"+OK {uuid}\n"
    assert _names(client) == ["CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_ANSWER", "BACKGROUND_JOB"]
    assert client.api(f"uuid_kill {uuid} NORMAL_CLEARING") == "+OK\n"
    assert client.col.wait_for(lambda _ms: len(client.events("CHANNEL_DESTROY")) == 1, timeout=3.0)
    assert _names(client)[4:] == ["CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]
    complete = client.events("CHANNEL_HANGUP_COMPLETE")[0]
    assert complete["Unique-ID"] == uuid and complete["Hangup-Cause"] == "NORMAL_CLEARING"
    assert complete["variable_fsivr_job_kind"] == "queue_callback" and complete["variable_last_app"] == "park"
    assert complete["Caller-Channel-Answered-Time"] != "0"
    # gone: a second kill finds no channel, and fires nothing more
    assert client.api(f"uuid_kill {uuid}") == "-ERR No such channel!\n"
    gevent.sleep(0.05)
    assert len(client.events("CHANNEL_HANGUP_COMPLETE")) == 1


def test_a_ringing_parked_leg_killed_fails_its_originate_after_its_hangup(sim: Simulator) -> None:
    sim.time_scale = 1.0
    sim.originate_answers["+48501300010"] = {"answer_after": 2.0}
    with InboundSwitch(sim=sim) as sw:
        c = Client(sw.address).auth()
        assert c.reply(f"event plain {LEG_EVENTS} BACKGROUND_JOB").startswith("+OK")
        c.col.send(b"bgapi originate {origination_uuid=u-7}sofia/gateway/trunk/+48501300010 &park()\n\n")
        assert c.col.wait_for(lambda _ms: len(c.events("CHANNEL_ORIGINATE")) == 1, timeout=3.0)
        assert sw.run_api("uuid_kill u-7 ORIGINATOR_CANCEL") == "+OK\n"
        assert c.col.wait_for(lambda _ms: len(c.events("BACKGROUND_JOB")) == 1, timeout=3.0)
        assert _names(c) == ["CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE",
                             "CHANNEL_DESTROY", "BACKGROUND_JOB"]
        assert c.events("CHANNEL_HANGUP")[0]["Hangup-Cause"] == "ORIGINATOR_CANCEL"
        assert c.messages[-1].body.decode().rsplit("\n\n", 1)[1] == "-ERR ORIGINATOR_CANCEL\n"
        c.close()


def test_the_header_set_is_the_recorded_hangup_completes(client: Client) -> None:
    """Trace 05's CHANNEL_HANGUP_COMPLETE (a loopback leg) and a failed leg's share every header up to
    the variables but the codecs (a leg never answered has no media)."""
    path = traces_path() / "05-api-bgapi.jsonl"
    if not path.is_file():
        pytest.skip(f"ESL trace {path} not found (set FSIVR_TRACES to their directory)")
    recorded = next(ev for ev in (msg_from_record(r).event() for r in load_trace(path)
                                  if r.get("dir") == "recv" and r["conn"].startswith("outbound"))
                    if ev and dict(ev).get("Event-Name") == "CHANNEL_HANGUP_COMPLETE")
    assert _bgapi(client, f"originate {{origination_uuid=u-8}}sofia/gateway/trunk/{BUSY} {TARGET}") \
        == "-ERR USER_BUSY\n"
    mine = next(m.event() for m in client.messages
                if m.event() and dict(m.event() or []).get("Event-Name") == "CHANNEL_HANGUP_COMPLETE")
    assert mine is not None

    def shape(ev: list[tuple[str, str]]) -> list[str]:
        return [k for k, _ in ev if not k.startswith(("variable_", "Channel-Read-Codec", "Channel-Write-Codec"))]

    assert shape(mine) == shape(recorded)
