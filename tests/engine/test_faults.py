"""FreeSWITCH misbehaving mid-call: the call still leaves a record, the server keeps serving.

The peer here is a raw socket replaying the connect reply recorded from a real FreeSWITCH
(trace 01-connect), so the fault is injected exactly where we want it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import gevent
import pytest
from eslpeer import answer_pending, read_command, reply
from gevent import socket
from sqlalchemy import text

from fsivr.config import Config
from fsivr.scenario import repository
from fsivr.store import callrecords
from fsivr.testing import CallScript, Hangup
from fsivr.testing.harness import Harness, running

BUNDLE = """
scenarios:
  - scenario: faults
    numbers: ["sock"]
    start: hello
    nodes:
      hello: {type: play, text: "Hello", next: bye}
      bye: {type: hangup}
  - scenario: leave
    numbers: ["leave"]
    start: hi
    nodes:
      hi: {type: play, text: "Hi", next: out}
      out: {type: exit}
"""
OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


@pytest.fixture(scope="module")
def server() -> Iterator[Harness]:
    with running(BUNDLE) as harness:
        yield harness


def start_call(server: Harness, connect_reply: bytes) -> socket.socket:
    peer = socket.create_connection(server.app.server.address, timeout=5.0)
    answer_pending(peer, connect_reply)
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


# ---- a switch played by hand: what the tests below need of FreeSWITCH, and one fault each -------


def api_response(peer: socket.socket, body: str) -> None:
    data = body.encode()
    peer.sendall(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data)


def play_switch(peer: socket.socket, *, api: str = "+OK\n") -> list[bytes]:
    """FreeSWITCH for the rest of a session, until the server's ``exit``: every application
    completes at once; api commands get ``api`` (a ``uuid_kill`` answered +OK hangs the channel up
    with the cause asked, as mod_commands.c kill_function does); other commands get +OK."""
    commands: list[bytes] = []
    while True:
        try:
            command = read_command(peer)
        except (EOFError, OSError):
            return commands
        commands.append(command)
        if command.startswith(b"sendmsg"):
            complete(peer, command)
        elif command.startswith(b"api "):
            api_response(peer, api)
            if command.startswith(b"api uuid_kill") and api.startswith("+OK"):
                peer.sendall(event("CHANNEL_HANGUP", Hangup_Cause=command.split()[3].decode()))
        elif command.startswith(b"exit"):
            reply(peer, "+OK bye")
            peer.close()
            return commands
        else:
            reply(peer, "+OK")


def for_number(connect_reply: bytes, number: str) -> bytes:
    # The reply is headers only (no Content-Length to keep right).
    return connect_reply.replace(b"Destination-Number: sock\n", f"Destination-Number: {number}\n".encode())


def test_a_channel_that_comes_back_gets_a_second_record_linked_to_the_first(
        server: Harness, connect_reply: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11 point 2: after ``exit`` the dialplan goes on and sends the same channel into fsivr
    again (mod_event_socket opens a new outbound session with the same Unique-ID)."""
    server.store.run(lambda s: s.execute(text("DELETE FROM calls")))
    first = socket.create_connection(server.app.server.address, timeout=5.0)
    assert read_command(first) == b"connect\n\n"
    first.sendall(for_number(connect_reply, "leave"))
    commands = play_switch(first)
    assert commands[-1] == b"exit\n\n"  # released to the dialplan, not hung up
    assert not any(c.startswith(b"api uuid_kill") for c in commands)
    assert server.app.runner.idle.wait(10.0)

    second = socket.create_connection(server.app.server.address, timeout=5.0)
    assert read_command(second) == b"connect\n\n"
    second.sendall(connect_reply)
    with caplog.at_level(logging.INFO, "fsivr"):
        play_switch(second)
        assert server.app.runner.idle.wait(10.0) and server.app.records.flush(10.0)
    sessions = server.store.run(lambda s: callrecords.call_sessions(s, UUID))
    assert [(r.scenario, [(st.node, st.outcome) for st in r.steps]) for r in sessions] == [
        ("leave", [("hi", "next"), ("out", "exit")]),
        ("faults", [("hello", "next"), ("bye", "hangup")]),
    ]
    one, two = sessions
    assert one.hangup_by in ("ivr_exit", "socket") and two.hangup_by == "server"
    assert two.session == one.session + 1 and two.started_at >= one.started_at
    assert one.status == two.status == "answered" and not one.fault and not two.fault
    assert not any("already stored" in m or "parameters" in m for m in caplog.messages)


def test_a_refused_application_fails_its_node_at_once(server: Harness, connect_reply: bytes) -> None:
    """Issue 11 point 4: a sendmsg answered -ERR (mod_event_socket.c: "-ERR invalid session id"
    for a uuid it cannot find; a hostile switch may say it of anything) starts nothing, so no
    CHANNEL_EXECUTE_COMPLETE will come: the node takes its error edge at once, not after the
    application's timeout (30 s of silence for the caller)."""
    server.store.run(lambda s: s.execute(text("DELETE FROM calls")))
    peer = socket.create_connection(server.app.server.address, timeout=5.0)
    answer_pending(peer, connect_reply)
    refused_at = time.monotonic()
    reply(peer, f"-ERR invalid session id [{UUID}]")
    commands = play_switch(peer)
    assert commands[0].startswith(b"api uuid_kill"), commands  # the next thing the server does
    assert time.monotonic() - refused_at < 2.0
    record = record_of(server, UUID)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("hello", "error")]
    assert "answer: FreeSWITCH refused it: -ERR invalid session id" in record["path"][0]["detail"]["error"]
    assert record["hangup_cause"] == "NORMAL_CLEARING"


def test_api_refused_leaves_a_record_with_the_cause_asked_and_the_fault(
        server: Harness, connect_reply: bytes) -> None:
    """Issue 11 point 3: every api command answered -ERR, so our uuid_kill is refused and no
    CHANNEL_HANGUP ever comes; the record still has a hangup cause (the one asked for) and says
    what went wrong."""
    server.store.run(lambda s: s.execute(text("DELETE FROM calls")))
    peer = socket.create_connection(server.app.server.address, timeout=15.0)
    assert read_command(peer) == b"connect\n\n"
    peer.sendall(connect_reply)
    commands = play_switch(peer, api="-ERR No such channel!\n")
    assert sum(c.startswith(b"api uuid_kill") for c in commands) == 1
    record = record_of(server, UUID)
    assert [(s["node"], s["outcome"]) for s in record["path"]] == [("hello", "next"), ("bye", "hangup")]
    assert (record["hangup_cause"], record["hangup_by"]) == ("NORMAL_CLEARING", "server")
    assert record["fault"] == "uuid_kill: -ERR No such channel!; FreeSWITCH never reported the hangup"


@pytest.fixture(scope="module")
def impatient() -> Iterator[Harness]:
    with running(BUNDLE, config=Config(command_timeout=1.0)) as harness:
        yield harness


def test_a_late_connect_reply_leaves_a_record_naming_it(impatient: Harness, connect_reply: bytes) -> None:
    """Issue 11 point 3: the channel data comes after command_timeout. The call it was about is
    recorded (and ended: the switch is not answering in time) with the fault and a real cause."""
    impatient.store.run(lambda s: s.execute(text("DELETE FROM calls")))
    peer = socket.create_connection(impatient.app.server.address, timeout=5.0)
    assert read_command(peer) == b"connect\n\n"
    gevent.sleep(1.4)  # after the 1 s timeout, well before the second second it is awaited
    peer.sendall(connect_reply)
    commands = play_switch(peer)
    assert [c.split(b"\n")[0] for c in commands] == [
        b"myevents", b"linger 5", f"api uuid_kill {UUID} NORMAL_TEMPORARY_FAILURE".encode(), b"exit"]
    record = record_of(impatient, UUID)
    assert record["scenario"] == "faults" and record["path"] == []
    assert record["fault"] == "connect: no answer from FreeSWITCH within 1 s; it came later"
    assert (record["hangup_cause"], record["hangup_by"]) == ("NORMAL_TEMPORARY_FAILURE", "server")


def test_a_late_myevents_reply_leaves_a_record_with_its_scenario(impatient: Harness, connect_reply: bytes) -> None:
    impatient.store.run(lambda s: s.execute(text("DELETE FROM calls")))
    peer = socket.create_connection(impatient.app.server.address, timeout=5.0)
    assert read_command(peer) == b"connect\n\n"
    peer.sendall(connect_reply)
    assert read_command(peer) == b"myevents\n\n"
    read_command(peer)
    gevent.sleep(1.3)
    reply(peer, "+OK Events Enabled")
    reply(peer, "+OK will linger")
    commands = play_switch(peer)
    assert commands[0].startswith(f"api uuid_kill {UUID} NORMAL_TEMPORARY_FAILURE".encode()), commands
    record = record_of(impatient, UUID)
    assert record["scenario"] == "faults" and record["path"] == []
    assert record["fault"] == "myevents: no answer from FreeSWITCH within 1 s"
    assert (record["hangup_cause"], record["hangup_by"]) == ("NORMAL_TEMPORARY_FAILURE", "server")


def test_channel_data_without_a_unique_id_is_no_call(server: Harness, connect_reply: bytes,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Found by the live fuzz (tests/esl/test_server_fuzz.py): whatever answers `connect` without a
    Unique-ID was run as a call with uuid '' - its record, and every later one of the kind,
    collided on (uuid, session), so each batch holding two was refused and rewritten row by row.
    There is no channel to drive or record: the session is ended at once, in one log line."""
    server.store.run(lambda s: s.execute(text("DELETE FROM calls")))
    stripped = b"".join(line + b"\n" for line in connect_reply.split(b"\n")
                        if line and not line.startswith((b"Unique-ID:", b"Channel-Unique-ID:", b"Caller-Unique-ID:")))
    for _ in range(2):
        peer = socket.create_connection(server.app.server.address, timeout=5.0)
        assert read_command(peer) == b"connect\n\n"
        peer.sendall(stripped + b"\n")
        assert read_command(peer) == b"exit\n\n"  # nothing else: no myevents, no uuid_kill of ''
        reply(peer, "+OK bye")
        peer.close()
    assert server.app.runner.idle.wait(10.0) and server.app.records.flush(10.0)
    assert server.store.run(lambda s: s.execute(text("SELECT count(*) FROM calls")).scalar()) == 0
    assert any("no Unique-ID" in m for m in caplog.messages)
    assert not any("rejected a batch" in m for m in caplog.messages)


def test_a_caller_gone_before_our_uuid_kill_is_the_one_who_hung_up(server: Harness) -> None:
    """Found by the hangup matrix: the caller hangs up as our uuid_kill arrives, so FreeSWITCH
    reports the caller's CHANNEL_HANGUP and answers the kill -ERR No such channel!. The record said
    the server hung up (kill() had claimed it before sending) - with the caller's cause."""
    placed = server.call(CallScript(number="sock", at=datetime(2026, 11, 23, 10, tzinfo=UTC),
                                    hangup=Hangup(on_command="uuid_kill", cause="USER_BUSY")))
    assert placed.result.hangup_by == "caller"
    assert placed.path == [("hello", "next"), ("bye", "hangup")]
    record = placed.record
    assert (record["hangup_cause"], record["hangup_by"], record["fault"]) == ("USER_BUSY", "caller", None)
