"""FreeSWITCH played by hand on a raw socket, for tests that inject faults into a call's outbound
ESL session with the live server (tests/engine/test_faults.py, tests/esl/test_server_fuzz.py).
The channel data they send is the ``connect_reply`` fixture (tests/conftest.py): the reply a real
FreeSWITCH gave in trace 01-connect."""

from __future__ import annotations

from gevent import socket


def read_command(peer: socket.socket) -> bytes:
    """The server's next command, whole; EOFError with what came if the server closes first."""
    data = b""
    while not data.endswith(b"\n\n"):
        chunk = peer.recv(1)
        if not chunk:
            raise EOFError(data)
        data += chunk
    return data


def reply(peer: socket.socket, text: str) -> None:
    peer.sendall(f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode())


def answer_pending(peer: socket.socket, channel_data: bytes) -> bytes:
    """A new call's session up to its first application: ``connect`` answered with
    ``channel_data``, ``myevents`` and ``linger`` accepted; returns the ``answer`` sendmsg, not yet
    replied to (the test says what FreeSWITCH does with it)."""
    assert read_command(peer) == b"connect\n\n"
    peer.sendall(channel_data)
    assert read_command(peer) == b"myevents\n\n"
    reply(peer, "+OK Events Enabled")
    assert read_command(peer).startswith(b"linger")
    reply(peer, "+OK will linger")
    answer = read_command(peer)
    assert b"execute-app-name: answer" in answer
    return answer
