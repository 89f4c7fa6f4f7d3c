"""Fixtures of the simulator's tests: a tiny raw-gevent ESL server (not fsivr's own server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from gevent import socket as gsocket
from gevent.server import StreamServer
from simharness import Collector
from test_sim_inbound import Client

from fsivr.testing import Simulator
from fsivr.testing.inbound import InboundSwitch


@pytest.fixture
def esl_server() -> Iterator[Callable[[Callable[[Collector], None]], tuple[str, int]]]:
    """Start a one-handler TCP server; returns its address. The handler drives one connection."""
    servers: list[StreamServer] = []

    def start(handler: Callable[[Collector], None]) -> tuple[str, int]:
        def handle(sock: gsocket.socket, _addr: object) -> None:
            col = Collector(sock)
            col.start()
            try:
                handler(col)
            finally:
                col.close()

        srv = StreamServer(("127.0.0.1", 0), handle)
        srv.start()
        servers.append(srv)
        return ("127.0.0.1", srv.server_port)

    yield start
    for srv in servers:
        srv.stop(timeout=1)


@pytest.fixture
def inbound(sim: Simulator) -> Iterator[Client]:
    """An authenticated inbound ESL client of an InboundSwitch sharing the test module's ``sim``."""
    with InboundSwitch(sim=sim) as sw:
        client = Client(sw.address).auth()
        yield client
        client.close()
