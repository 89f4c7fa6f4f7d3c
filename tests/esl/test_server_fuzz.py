"""Property-based fuzzing of a live server (issue 11 point 8): hostile FreeSWITCH sessions over real
TCP against the running `serve` (fsivr.testing.harness: the real App), while a well-behaved call
waits beside them mid-scenario and simulated calls keep being placed.

Every session ends (the server closes it: at once on a frame it refuses, or when we end our side)
and never with an internal error; the call beside completes normally after them all, and the
server still serves. 2,000 sessions here, 8,000 parser examples in test_frame_fuzz.py.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from eslpeer import answer_pending, read_command, reply
from fuzzframes import FUZZ, FUZZ_MAX_HEAD, Stream, streams
from gevent import socket
from hypothesis import given, settings

from fsivr.config import Config
from fsivr.esl import frames
from fsivr.scenario import repository
from fsivr.testing import CallScript
from fsivr.testing.harness import Harness, running

BUNDLE = """
scenarios:
  - scenario: fuzz
    numbers: ["sock"]
    start: hello
    nodes:
      hello: {type: play, text: "Hello", next: bye}
      bye: {type: hangup}
"""
TRACE_UUID = b"3487dcbc-9e9f-45f2-b36c-5610586c8920"  # the Unique-ID in trace 01's connect reply
#: Bad frames the reader must refuse on its own: the server closes without our EOF.
REFUSED = ("cl_negative", "cl_huge", "huge_header", "no_separator")
SESSIONS = 2000


class Errors(logging.Handler):
    """Log records carrying a traceback: an exception nobody expected (the reader's "malformed
    ESL" line is an expected ERROR and has none)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.tracebacks.append(self.format(record))


@pytest.fixture(scope="module")
def server() -> Iterator[Harness]:
    # The call beside waits in `answer` for as long as the fuzz takes: its timeout (3 x
    # command_timeout) is made a guard far beyond any run, so a slow machine cannot fail it.
    with running(BUNDLE, config=Config(command_timeout=600.0)) as harness:
        yield harness


def complete(peer: socket.socket, uuid: str, command: bytes) -> None:
    app = command.split(b"execute-app-name: ", 1)[1].split(b"\n", 1)[0].decode()
    app_uuid = command.split(b"event-uuid: ", 1)[1].split(b"\n", 1)[0].decode()
    body = (f"Event-Name: CHANNEL_EXECUTE_COMPLETE\nUnique-ID: {uuid}\nApplication: {app}\n"
            f"Application-UUID: {app_uuid}\nApplication-Response: _none_\n\n").encode()
    reply(peer, "+OK")
    peer.sendall(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body)


def read_to_eof(peer: socket.socket) -> bytes:
    """What the server sends until it closes; a guard timeout (not a measure) says it hung."""
    peer.settimeout(20.0)
    data = b""
    while True:
        try:
            chunk = peer.recv(65536)
        except TimeoutError:
            raise AssertionError(f"the server kept the session open; it sent {data[-300:]!r}") from None
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_hostile_sessions_end_alone_while_a_call_beside_completes(server: Harness, connect_reply: bytes,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "MAX_HEAD", FUZZ_MAX_HEAD)  # the server's reader, in this process
    errors = Errors()
    logging.getLogger("fsivr").addHandler(errors)
    try:
        # The call beside: connected, subscribed, its `answer` sent and not yet completed.
        beside_uuid = str(uuidlib.uuid4())
        beside = socket.create_connection(server.app.server.address, timeout=20.0)
        answer = answer_pending(beside, connect_reply.replace(TRACE_UUID, beside_uuid.encode()))

        sessions = 0

        @settings(FUZZ, max_examples=SESSIONS)
        @given(streams(max_good=4))
        def hostile_session(stream: Stream) -> None:
            nonlocal sessions
            sessions += 1
            peer = socket.create_connection(server.app.server.address, timeout=20.0)
            try:
                assert read_command(peer) == b"connect\n\n"
                if sessions % 7:
                    # Mostly after a real connect reply (a fresh channel each); sometimes the
                    # stream itself answers `connect`.
                    peer.sendall(connect_reply.replace(TRACE_UUID, str(uuidlib.uuid4()).encode()))
                for chunk in stream.chunks:
                    try:
                        peer.sendall(chunk)
                    except OSError:
                        break  # it already closed on what came before: fine
                if stream.bad_kind not in REFUSED:
                    peer.shutdown(socket.SHUT_WR)
                read_to_eof(peer)  # a refused frame: closed without our EOF
            finally:
                peer.close()
            if sessions % 200 == 0:
                # The server still serves a whole simulated call, start to end.
                result = server.simulator.run_call(CallScript(number="sock", at=datetime(2026, 11, 23, 10, tzinfo=UTC)))
                assert result.ok, result.error
                assert "playback" in [a.name for a in result.apps]
                assert (result.hangup_cause, result.hangup_by) == ("NORMAL_CLEARING", "server")

        hostile_session()
        assert sessions >= SESSIONS

        # The call beside was left waiting through it all: it completes normally.
        complete(beside, beside_uuid, answer)
        while True:
            command = read_command(beside)
            if command.startswith(b"sendmsg"):
                complete(beside, beside_uuid, command)
            elif command.startswith(b"api uuid_kill"):
                body = b"+OK\n"
                beside.sendall(b"Content-Type: api/response\nContent-Length: 4\n\n" + body)
                event = (f"Event-Name: CHANNEL_HANGUP\nUnique-ID: {beside_uuid}\n"
                         "Hangup-Cause: NORMAL_CLEARING\n\n").encode()
                beside.sendall(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(event) + event)
            elif command.startswith(b"exit"):
                reply(beside, "+OK bye")
                break
        beside.close()
        assert server.app.runner.idle.wait(20.0) and server.app.records.flush(20.0)
        record = server.store.run(lambda s: repository.call_path(s, beside_uuid))
        assert record is not None
        assert [(s["node"], s["outcome"]) for s in record["path"]] == [("hello", "next"), ("bye", "hangup")]
        assert (record["hangup_cause"], record["hangup_by"], record["fault"]) == ("NORMAL_CLEARING", "server", None)
        assert server.app.server.accepted >= SESSIONS
        assert errors.tracebacks == []
    finally:
        logging.getLogger("fsivr").removeHandler(errors)
