"""FreeSWITCH's *inbound* ESL side (port 8021), enough for tools that connect, authenticate and
run ``api`` commands — e.g. ``fsivr render-conf`` asking for ``reloadxml``.

Framing and texts from shared/esl-traces/00-inbound-auth: the ``auth/request`` banner on connect;
``auth <pw>`` → ``+OK accepted``, or ``-ERR invalid`` followed by a disconnect notice *without*
Controlled-Session-UUID/Content-Disposition and the close; ``api`` → ``api/response`` with the raw
output; ``exit`` → ``+OK bye``, the final notice, close. Anything before auth gets
``-ERR command not found`` (mod_event_socket.c: only ``auth`` is accepted while not
authenticated).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
from gevent.server import StreamServer

from fsivr.testing.wire import DISCONNECT_BODY, CommandReader, api_response, command_reply

#: reloadxml's output on success (mod_commands.c reload_xml_function; docs/freeswitch-notes.md §5).
RELOADXML_OK = "+OK [Success]\n"

AUTH_REQUEST = b"Content-Type: auth/request\n\n"
#: After a refused password (trace 00-inbound-auth, connection "inbound-badpw").
BAD_AUTH_NOTICE = (b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(DISCONNECT_BODY)
                   + DISCONNECT_BODY)


def _final_notice() -> bytes:
    return (b"Content-Type: text/disconnect-notice\nContent-Disposition: disconnect\n"
            b"Content-Length: %d\n\n" % len(DISCONNECT_BODY)) + DISCONNECT_BODY


@dataclass
class InboundSwitch:
    """A listening inbound ESL port. ``api`` maps an API command name to its output (a string or a
    function of the argument); unknown commands answer as FreeSWITCH does."""

    password: str = "ClueCon"
    api: dict[str, str | Callable[[str], str]] = field(default_factory=lambda: {"reloadxml": RELOADXML_OK})
    #: Every command received, in order, per connection: [(connection number, first line), ...].
    received: list[tuple[int, str]] = field(default_factory=list)
    connections: int = 0
    _server: StreamServer | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self._server = StreamServer((host, port), self._handle)
        self._server.start()
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "not started"
        host, port = self._server.address[:2]
        return host, port

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=1)

    def __enter__(self) -> InboundSwitch:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def calls(self, command: str) -> int:
        """How many times a command (first line, e.g. ``api reloadxml``) was received."""
        return sum(1 for _, line in self.received if line == command)

    def _handle(self, sock: socket.socket, _peer: object) -> None:
        self.connections += 1
        conn = self.connections
        reader = CommandReader()
        authed = False
        try:
            sock.sendall(AUTH_REQUEST)
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                for cmd in reader.feed(data):
                    line = cmd.first_line.strip()
                    self.received.append((conn, line))
                    if not authed:
                        if line.startswith("auth "):
                            if line[5:].strip() == self.password:
                                authed = True
                                sock.sendall(command_reply("+OK accepted"))
                            else:
                                sock.sendall(command_reply("-ERR invalid") + BAD_AUTH_NOTICE)
                                return
                        else:
                            sock.sendall(command_reply("-ERR command not found"))
                        continue
                    if line.startswith("exit"):
                        sock.sendall(command_reply("+OK bye") + _final_notice())
                        return
                    if line.startswith("api "):
                        name, _, arg = line[4:].strip().partition(" ")
                        sock.sendall(api_response(self._api(name, arg)))
                    else:
                        sock.sendall(command_reply("-ERR command not found"))
        except OSError:
            return
        finally:
            gevent.sleep(0)
            try:
                sock.close()
            except OSError:
                pass

    def _api(self, name: str, arg: str) -> str:
        handler = self.api.get(name)
        if handler is None:
            return f"-ERR {name} Command not found!\n"
        return handler(arg) if callable(handler) else handler
