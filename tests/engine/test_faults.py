"""FreeSWITCH misbehaving mid-call: the call still leaves a record, the server keeps serving.

The peer here is a raw socket replaying the connect reply recorded from a real FreeSWITCH
(trace 01-connect), so the fault is injected exactly where we want it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import gevent
import pytest
from gevent import socket
from sqlalchemy import text

from fsivr.scenario import repository
from fsivr.testing.harness import Harness, running

BUNDLE = """
scenarios:
  - scenario: faults
    numbers: ["sock"]
    start: hello
    nodes:
      hello: {type: play, text: "Hello", next: bye}
      bye: {type: hangup}
"""
OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


@pytest.fixture(scope="module")
def server() -> Iterator[Harness]:
    with running(BUNDLE) as harness:
        yield harness


@pytest.fixture(scope="module")
def connect_reply(traces_dir: Path) -> bytes:
    for line in (traces_dir / "01-connect.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("dir") == "recv" and rec["conn"] == "outbound#1":
            return rec["data"].encode("latin-1")  # the first message: the CHANNEL_DATA reply
    raise AssertionError("no connect reply in trace 01")


def read_command(peer: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n\n"):
        chunk = peer.recv(1)
        if not chunk:
            raise EOFError(data)
        data += chunk
    return data


def start_call(server: Harness, connect_reply: bytes) -> socket.socket:
    peer = socket.create_connection(server.app.server.address, timeout=5.0)
    assert read_command(peer) == b"connect\n\n"
    peer.sendall(connect_reply)
    assert read_command(peer) == b"myevents\n\n"
    peer.sendall(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    assert read_command(peer).startswith(b"linger")
    peer.sendall(b"Content-Type: command/reply\nReply-Text: +OK will linger\n\n")
    assert b"execute-app-name: answer" in read_command(peer)
    peer.sendall(OK)
    return peer


def record_of(server: Harness, uuid: str) -> dict:
    assert server.app.runner.idle.wait(10.0)
    assert server.app.records.flush(10.0)
    record = server.store.run(lambda s: repository.call_path(s, uuid))
    assert record is not None
    return record


UUID = "3487dcbc-9e9f-45f2-b36c-5610586c8920"  # the Unique-ID in trace 01's connect reply


def test_freeswitch_drops_the_socket_mid_command(server: Harness, connect_reply: bytes) -> None:
    peer = start_call(server, connect_reply)
    peer.close()  # while our `answer` waits for its completion
    record = record_of(server, UUID)
    assert record["hangup_by"] == "socket"
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("hello", "hangup")]
    # The server is unharmed: the next call runs normally.
    placed = server.call(number="sock", at=datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert placed.path == [("hello", "next"), ("bye", "hangup")]


@pytest.mark.parametrize("garbage", [
    b"Content-Length: banana\nContent-Type: text/event-plain\n\n",
    b"Content-Length: 99999999999\nContent-Type: text/event-plain\n\n",
    b"this is not ESL at all\n\n",
])
def test_malformed_frame_mid_call(server: Harness, connect_reply: bytes, garbage: bytes,
                                  caplog: pytest.LogCaptureFixture) -> None:
    # Every replayed call has the trace's Unique-ID; start each case without the previous record.
    server.store.run(lambda s: s.execute(text("DELETE FROM calls")))
    peer = start_call(server, connect_reply)
    peer.sendall(garbage)
    # We stop trusting the stream: the connection is closed (FreeSWITCH then hangs the channel up).
    gevent.sleep(0.2)
    assert peer.recv(1000) in (b"", b"exit\n\n")
    record = record_of(server, UUID)
    assert record["hangup_by"] == "socket"
    assert any("malformed ESL" in r.getMessage() for r in caplog.records)
    peer.close()
    placed = server.call(number="sock", at=datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert placed.path == [("hello", "next"), ("bye", "hangup")]


def event(name: str, **headers: str) -> bytes:
    body = f"Event-Name: {name}\nUnique-ID: {UUID}\n" + "".join(
        f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items()) + "\n"
    return f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n{body}".encode()


def complete(peer: socket.socket, command: bytes) -> None:
    app = command.split(b"execute-app-name: ", 1)[1].split(b"\n", 1)[0].decode()
    app_uuid = command.split(b"event-uuid: ", 1)[1].split(b"\n", 1)[0].decode()
    peer.sendall(OK + event("CHANNEL_EXECUTE_COMPLETE", Application=app, Application_UUID=app_uuid,
                            Application_Response="_none_"))


def test_channel_leaving_the_socket_app_is_followed_not_killed(server: Harness, connect_reply: bytes) -> None:
    server.store.run(lambda s: s.execute(text("DELETE FROM calls")))
    peer = socket.create_connection(server.app.server.address, timeout=5.0)
    assert read_command(peer) == b"connect\n\n"
    peer.sendall(connect_reply)
    read_command(peer)
    peer.sendall(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    read_command(peer)
    peer.sendall(b"Content-Type: command/reply\nReply-Text: +OK will linger\n\n")
    while True:  # answer, the TTS voice: complete them; then the prompt starts
        command = read_command(peer)
        if b"execute-app-name: playback" in command:
            break
        complete(peer, command)
    peer.sendall(OK)
    # Mid-prompt the far end transfers the caller away: the socket application completes while
    # the channel lives on (the pattern of traces 07 and 10).
    peer.sendall(event("CHANNEL_EXECUTE_COMPLETE", Application="socket", Application_UUID="x",
                       Application_Response="_none_"))
    peer.settimeout(0.5)
    with pytest.raises(TimeoutError):
        peer.recv(1000)  # nothing comes: no hangup, no exit, no more commands
    peer.settimeout(5.0)
    peer.sendall(event("CHANNEL_HANGUP", Hangup_Cause="NORMAL_CLEARING"))
    assert read_command(peer) == b"exit\n\n"
    peer.sendall(b"Content-Type: command/reply\nReply-Text: +OK bye\n\n")
    peer.close()
    record = record_of(server, UUID)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("hello", "left")]
    assert record["hangup_by"] == "caller"
