"""The outbound-socket server: accepts FreeSWITCH's connections and hands each to a handler.

Like Wazo's agid, the server knows nothing of what a call does; the handler (the engine's runner)
gets an OutboundConnection and owns it until it returns. Each connection runs in the greenlet
StreamServer spawns for it, and its frames are read by an I/O watcher in the hub, so a call costs
one greenlet and no polling.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import socket
import sys
from collections.abc import Callable, Iterable

import gevent
from gevent.server import StreamServer

from fsivr.esl.connection import OutboundConnection

log = logging.getLogger("fsivr.server")

Handler = Callable[[OutboundConnection], None]


#: How long a DB threadpool thread may keep the GIL when the hub wants it (CPython's default is
#: 5 ms): while a batch of call records is being built, every call's next command waited behind it.
GIL_SWITCH_INTERVAL = 0.0005
#: Full collections only after this many young-generation ones (CPython: 10). A call in steady
#: state leaves no cyclic garbage (measured in bench/), so full collections find next to nothing
#: while they pause every call for a time proportional to all calls held.
GC_FULL_EVERY = 1000


def tune_for_serving() -> None:
    """Process settings for a long-running server holding many calls, where a step's latency is
    what callers hear (bench/README.md). Call once, after start-up work: everything alive then
    (modules, SQLAlchemy, compiled scenarios) is frozen out of every later collection."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, GC_FULL_EVERY)


def parse_allow(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Networks allowed to connect; an entry that is not an address or network is an error."""
    nets = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"esl allow-list entry {entry!r} is not an IP address or network") from None
    return nets


class OutboundServer:
    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 8084, *,
                 allow: Iterable[str] = ("127.0.0.1/32", "::1/128"), command_timeout: float = 10.0,
                 backlog: int = 1024, on_command_error: Callable[[str, str], None] | None = None) -> None:
        self.handler = handler
        #: Given to every connection (OutboundConnection.on_command_error).
        self.on_command_error = on_command_error
        self.allow = parse_allow(allow)
        self.command_timeout = command_timeout
        self.active: set[OutboundConnection] = set()
        self._server = StreamServer((host, port), self._handle, backlog=backlog)
        self.accepted = 0
        self.refused = 0

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address[:2]

    def bind(self) -> None:
        """Take the listening address (connections wait in the backlog until start)."""
        self._server.init_socket()

    def start(self) -> None:
        self._server.start()
        log.info("listening for FreeSWITCH on %s:%s", *self.address)

    @property
    def listening(self) -> bool:
        """Accepting connections (started and not stopped)."""
        return self._server.started and not self._server.closed

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def _allowed(self, ip: str) -> bool:
        if not self.allow:
            return True
        try:
            addr = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self.allow)

    def _handle(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        if not self._allowed(peer[0]):
            self.refused += 1
            log.warning("refused ESL connection from %s: not in the allow-list", peer[0])
            sock.close()
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.accepted += 1
        conn = OutboundConnection(sock, peer, command_timeout=self.command_timeout)
        if self.on_command_error is not None:
            conn.on_command_error = self.on_command_error
        self.active.add(conn)
        conn.start()
        try:
            self.handler(conn)
        except Exception:
            log.exception("call handler failed for %s", conn.uuid or peer)
        finally:
            self.active.discard(conn)
            conn.close()

    def stop(self, grace: float = 30.0) -> None:
        """Stop accepting, let calls in progress finish for up to ``grace`` seconds, then end the
        rest (their channels are hung up by FreeSWITCH when the socket closes)."""
        self._server.close()
        deadline = gevent.get_hub().loop.now() + grace
        while self.active and gevent.get_hub().loop.now() < deadline:
            gevent.sleep(0.05)
        if self.active:
            log.warning("ending %d call(s) still up after %.0f s of shutdown grace", len(self.active), grace)
            for conn in list(self.active):
                conn.kill("SYSTEM_SHUTDOWN")
                conn.close()
        self._server.stop(timeout=1.0)
