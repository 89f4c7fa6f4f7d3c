"""OutboundConnection semantics at the wire: correlation by Application-UUID, hangup wake-up, timeouts.

The peer here is a few lines of raw socket code playing FreeSWITCH's frames; whole calls against
the simulator are in tests/engine.
"""

from __future__ import annotations

import re

import gevent
import pytest
from gevent import socket

from fsivr.esl.connection import OutboundConnection
from fsivr.esl.errors import ChannelHangup, CommandTimeout


def event(name: str, **headers: str) -> bytes:
    body = f"Event-Name: {name}\n" + "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items()) + "\n"
    return f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n{body}".encode()


REPLY_OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


def read_command(peer: socket.socket) -> bytes:
    data = b""
    while b"\n\n" not in data:
        data += peer.recv(1)
    return data


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    conn = OutboundConnection(ours, ("127.0.0.1", 1), command_timeout=2.0)
    conn.uuid = "chan-1"
    conn.start()
    yield conn, theirs
    conn.close()
    theirs.close()


def test_completions_are_matched_by_application_uuid(pair) -> None:
    conn, peer = pair
    first = conn.execute_async("playback", "a.wav")
    second = conn.execute_async("playback", "b.wav")
    uuids = [re.search(rb"event-uuid: (\S+)", read_command(peer)).group(1).decode() for _ in range(2)]
    peer.sendall(REPLY_OK + REPLY_OK)
    # Same application name, completed in the opposite order: only the UUID tells them apart.
    peer.sendall(event("CHANNEL_EXECUTE_COMPLETE", Application="playback", Application_UUID=uuids[1],
                       Application_Data="b.wav"))
    peer.sendall(event("CHANNEL_EXECUTE_COMPLETE", Application="playback", Application_UUID=uuids[0],
                       Application_Data="a.wav"))
    assert conn.wait_app(second, 2.0).get("Application-Data") == "b.wav"
    assert conn.wait_app(first, 2.0).get("Application-Data") == "a.wav"


def test_hangup_wakes_the_waiter_before_the_app_completes(pair) -> None:
    conn, peer = pair
    waiter = gevent.spawn(conn.execute, "playback", "long.wav", timeout=60.0)
    read_command(peer)
    peer.sendall(REPLY_OK)
    peer.sendall(event("CHANNEL_HANGUP", Hangup_Cause="NORMAL_CLEARING"))
    # No CHANNEL_EXECUTE_COMPLETE is sent: the waiter must not need it.
    waiter.join(2.0)
    assert waiter.ready()
    assert isinstance(waiter.exception, ChannelHangup)
    assert waiter.exception.cause == "NORMAL_CLEARING"
    with pytest.raises(ChannelHangup):
        conn.execute("playback", "after.wav", timeout=1.0)


def test_an_app_that_never_completes_times_out(pair) -> None:
    conn, _peer = pair
    with pytest.raises(CommandTimeout, match="playback"):
        conn.execute("playback", "x.wav", timeout=0.2)


def test_command_replies_are_fifo_and_api_bodies_read(pair) -> None:
    conn, peer = pair
    job = gevent.spawn(conn.api, "uuid_getvar chan-1 foo")
    assert read_command(peer) == b"api uuid_getvar chan-1 foo\n\n"
    peer.sendall(b"Content-Type: api/response\nContent-Length: 3\n\nbar")
    assert job.get(timeout=2.0) == "bar"


def test_malformed_frame_closes_with_a_clear_error(pair) -> None:
    conn, peer = pair
    waiter = gevent.spawn(conn.command, "myevents")
    read_command(peer)
    peer.sendall(b"Content-Type: command/reply\nContent-Length: banana\n\n")
    waiter.join(2.0)
    assert isinstance(waiter.exception, ChannelHangup)
    assert conn.error is not None and "Content-Length" in conn.error
    assert conn.closed.is_set()


def test_peer_closing_mid_command_wakes_the_caller(pair) -> None:
    conn, peer = pair
    waiter = gevent.spawn(conn.command, "linger 5")
    read_command(peer)
    peer.close()
    waiter.join(2.0)
    assert isinstance(waiter.exception, ChannelHangup)
    assert conn.hangup_by == "socket"


def test_command_errors_and_timeouts_reach_the_metrics(pair) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from fsivr.esl.errors import CommandFailed
    from fsivr.metrics import Metrics

    conn, peer = pair
    metrics = Metrics()
    conn.on_command_error = metrics.command_error
    job = gevent.spawn(conn.command, "linger 30")
    read_command(peer)
    peer.sendall(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
    job.join(2.0)
    assert isinstance(job.exception, CommandFailed)
    with pytest.raises(CommandTimeout):
        conn.execute("playback", "x.wav", timeout=0.2)
    counted = {(s.labels["kind"], s.labels["command"]): s.value
               for f in text_string_to_metric_families(metrics.render().decode())
               for s in f.samples if s.name == "fsivr_freeswitch_command_errors_total"}
    assert counted == {("error", "linger"): 1.0, ("timeout", "playback"): 1.0}
