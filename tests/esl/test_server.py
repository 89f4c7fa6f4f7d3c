"""The outbound server's gate: only FreeSWITCH's configured addresses get a handler."""

from __future__ import annotations

import gevent
import pytest
from gevent import socket

from fsivr.esl.server import OutboundServer, parse_allow


def test_connections_from_outside_the_allow_list_are_closed_unserved() -> None:
    handled: list[object] = []
    server = OutboundServer(handled.append, "127.0.0.1", 0, allow=["10.0.0.0/8"])
    server.start()
    try:
        client = socket.create_connection(server.address, timeout=2.0)
        assert client.recv(100) == b""  # closed without a word: no `connect` is ever sent
        client.close()
        gevent.sleep(0.05)
        assert handled == [] and server.refused == 1 and server.accepted == 0
    finally:
        server.stop(0.1)


def test_allowed_connection_reaches_the_handler_and_gets_connect() -> None:
    seen: list[str] = []

    def handler(conn) -> None:  # type: ignore[no-untyped-def]
        seen.append(conn.peer[0])
        try:
            conn.connect(timeout=1.0)
        except Exception:
            pass

    server = OutboundServer(handler, "127.0.0.1", 0, allow=["127.0.0.0/8"])
    server.start()
    try:
        client = socket.create_connection(server.address, timeout=2.0)
        assert client.recv(100) == b"connect\n\n"
        client.close()
        gevent.sleep(0.05)
        assert seen == ["127.0.0.1"]
    finally:
        server.stop(0.1)


def test_allow_list_entries_are_checked() -> None:
    with pytest.raises(ValueError, match=r"'fs\.example' is not an IP address"):
        parse_allow(["127.0.0.1", "fs.example"])
