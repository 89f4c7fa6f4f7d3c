"""The set-up shared by the worker tests that place calls over real sockets (test_callback.py,
test_campaign.py): a real server (the test harness's App) whose calls run on the simulator's switch
clock, the simulator's InboundSwitch as FreeSWITCH, the worker's event link to it, and a clock the
test moves instead of the wall clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from fsivr.esl.link import EventLink
from fsivr.testing import Simulator
from fsivr.testing.harness import Harness
from fsivr.testing.inbound import InboundSwitch


@dataclass
class Clock:
    """The worker's clock: the time the test last set."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Switched:
    sim: Simulator
    switch: InboundSwitch
    #: Not started by ``switched``: the sender or dialler attaches its listeners first (``connect``).
    link: EventLink
    clock: Clock
    #: host:port of the server's outbound socket, where the switch's ``&socket`` sends the answered leg.
    socket_address: str

    def connect(self) -> None:
        self.link.start()
        assert self.link.wait_connected(5.0)


@contextmanager
def switched(h: Harness, epoch: datetime) -> Iterator[Switched]:
    """The server's calls on a simulator whose switch clock starts at ``epoch`` (``call.now()``
    follows it), its InboundSwitch up, a link to that switch, and the test's clock at ``epoch``."""
    sim = Simulator(h.app.server.address, epoch=epoch)
    h.simulator = sim
    with InboundSwitch(sim=sim) as switch:
        host, port = switch.address
        # Short backoffs: a link the switch drops (test_callback.py) is back well within a test's waits.
        link = EventLink(host, port, "ClueCon", timeout=5.0, min_backoff=0.05, max_backoff=0.2)
        server_host, server_port = h.app.server.address[:2]
        try:
            yield Switched(sim, switch, link, Clock(epoch), f"{server_host}:{server_port}")
        finally:
            link.stop()
