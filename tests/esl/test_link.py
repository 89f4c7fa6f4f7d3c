"""The live event link against the simulator's inbound side, over real TCP: it authenticates,
answers api/bgapi, delivers callcenter::info events, never hangs a caller, keeps the password out
of the log, and reconnects with backoff after the switch drops it."""

from __future__ import annotations

import itertools
import logging
import socket
import time

import gevent
import pytest
from gevent.server import StreamServer

from fsivr.esl.link import EventLink, LinkDown, LinkTimeout
from fsivr.testing.inbound import InboundSwitch
from fsivr.testing.simulator import Simulator

SECRET = "s3cr3t-Pa55"
BOUND = 10.0  # generous upper bound for anything that "happens soon"


def wait_for(predicate: object, bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached within the bound")
        gevent.sleep(0.02)


@pytest.fixture
def switch() -> InboundSwitch:
    sw = InboundSwitch(password=SECRET, sim=Simulator(("127.0.0.1", 1)))
    sw.start()
    yield sw
    sw.stop()


def link_to(sw: InboundSwitch, password: str = SECRET, **kw: float) -> EventLink:
    host, port = sw.address
    link = EventLink(host, port, password, timeout=2.0, min_backoff=0.05, max_backoff=0.4, **kw)
    link.subscribe("CUSTOM callcenter::info", "BACKGROUND_JOB")
    link.start()
    return link


def test_api_bgapi_and_callcenter_events(switch: InboundSwitch) -> None:
    link = link_to(switch)
    try:
        assert link.wait_connected(BOUND)
        events = []
        link.add_listener(events.append)
        assert link.api("reloadxml") == "+OK [Success]\n"
        # mod_callcenter's agent events reach only inbound listeners (trace 07): here they come
        # from an API change the link itself makes (trace 11: agent-add, agent-status-change).
        assert link.api("callcenter_config agent add 101 callback") == "+OK\n"
        assert link.api("callcenter_config agent set status 101 'On Break'") == "+OK\n"
        wait_for(lambda: len(events) >= 2)
        actions = [(e.get("Event-Subclass"), e.get("CC-Action"), e.get("CC-Agent")) for e in events]
        assert actions[:2] == [("callcenter::info", "agent-add", "101"),
                               ("callcenter::info", "agent-status-change", "101")]
        assert events[1].get("CC-Agent-Status") == "On Break"
        assert link.bgapi("callcenter_config agent get status 101") == "On Break"
    finally:
        link.stop()


def test_a_command_times_out_instead_of_hanging_and_the_next_reply_is_not_mixed_up() -> None:
    def slow(_arg: str) -> str:
        gevent.sleep(1.0)
        return "+OK slow\n"

    sw = InboundSwitch(password=SECRET, api={"slow": slow, "fast": "+OK fast\n"})
    sw.start()
    link = link_to(sw)
    try:
        assert link.wait_connected(BOUND)
        started = time.monotonic()
        with pytest.raises(LinkTimeout, match="did not answer 'api slow'"):
            link.api("slow", timeout=0.2)
        assert time.monotonic() - started < 0.9
        # The late "+OK slow" belongs to the timed-out command, not to this one.
        assert link.api("fast") == "+OK fast\n"
    finally:
        link.stop()
        sw.stop()


def test_down_link_answers_at_once_with_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    link = EventLink("127.0.0.1", port, SECRET, timeout=1.0, min_backoff=0.05, max_backoff=0.1)
    link.start()
    try:
        started = time.monotonic()
        with pytest.raises(LinkDown, match=f"127.0.0.1:{port} is down"):
            link.api("status")
        assert time.monotonic() - started < 0.5
    finally:
        link.stop()


def test_refused_password_is_retried_and_never_logged(switch: InboundSwitch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    wrong = "Wr0ng-" + SECRET
    caplog.set_level(logging.DEBUG)
    link = link_to(switch, password=wrong)
    try:
        wait_for(lambda: switch.connections >= 3)  # refused, then tried again (backoff)
        assert not link.connected
        with pytest.raises(LinkDown) as exc_info:
            link.api("status")
        assert "refused the ESL password" in caplog.text
        for text in (caplog.text, repr(link), str(exc_info.value)):
            assert wrong not in text and SECRET not in text
    finally:
        link.stop()
    # What went over the wire was the password (to FreeSWITCH only).
    assert ("auth " + wrong) in [line for _, line in switch.received]


def test_reconnects_with_backoff_after_the_switch_drops_it() -> None:
    sw = InboundSwitch(password=SECRET, sim=Simulator(("127.0.0.1", 1)))
    host, port = sw.start()
    link = link_to(sw)
    ups: list[float] = []
    link.on_connected.append(lambda: ups.append(time.monotonic()))
    try:
        wait_for(lambda: len(ups) == 1)
        # FreeSWITCH goes away: the link notices, commands fail fast, and it keeps trying.
        sw.stop()
        wait_for(lambda: not link.connected)
        with pytest.raises(LinkDown):
            link.api("status")
        gevent.sleep(0.5)
        # A fresh FreeSWITCH on the same address: the link comes back by itself and says so.
        sw2 = InboundSwitch(password=SECRET, sim=Simulator(("127.0.0.1", 1)))
        sw2.start(host, port)
        try:
            wait_for(lambda: len(ups) == 2)
            assert link.connected and link.connects == 2
            assert link.api("reloadxml") == "+OK [Success]\n"
        finally:
            link.stop()
            sw2.stop()
    finally:
        link.stop()


def test_backoff_doubles_up_to_its_bound() -> None:
    """A switch that accepts and closes at once: attempts are spaced by at least the backoff,
    which doubles (0.05, 0.1, 0.2) and stays at max_backoff (0.2)."""
    attempts: list[float] = []

    def accept(sock: socket.socket, _peer: object) -> None:
        attempts.append(time.monotonic())
        sock.close()

    srv = StreamServer(("127.0.0.1", 0), accept)  # gevent's own listening socket: accept never blocks the hub
    srv.start()
    link = EventLink("127.0.0.1", srv.address[1], SECRET, timeout=1.0, min_backoff=0.05,
                     max_backoff=0.2)
    link.start()
    try:
        wait_for(lambda: len(attempts) >= 6)
    finally:
        link.stop()
        srv.stop()
    gaps = [b - a for a, b in itertools.pairwise(attempts)][:5]
    expected = [0.05, 0.1, 0.2, 0.2, 0.2]
    for gap, backoff in zip(gaps, expected, strict=True):
        assert gap >= backoff * 0.9
