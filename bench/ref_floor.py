"""Reference (b): the floor — a bare gevent server that answers the same message sequence.

No parsing and no logic: it sends fsivr's captured commands one after the other and moves on
when a byte marker shows up in what came back (the reply, or CHANNEL_EXECUTE_COMPLETE for an
application). The only thing it reads out of the stream is the channel's UUID, which the
``uuid_kill`` command needs. What remains of the server's cost is gevent, the sockets and the
kernel: no controller can go below it.

    python -m bench.ref_floor PORT CONFIG.json
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

from gevent.server import StreamServer  # noqa: E402

from bench.metrics import raise_nofile  # noqa: E402

COMPLETE = b"CHANNEL_EXECUTE_COMPLETE"
REPLY = b"Reply-Text: "
API = b"api/response"
LINGER = b"Content-Disposition: linger"
UNIQUE_ID = b"\nUnique-ID: "


def make_handler(commands: list[bytes], captured_uuid: bytes):  # type: ignore[no-untyped-def]
    # What ends each command's turn: applications end with their EXECUTE_COMPLETE, the hangup
    # with the linger notice; `exit` with FreeSWITCH closing the socket.
    markers = []
    for cmd in commands:
        if cmd.startswith(b"sendmsg"):
            markers.append(COMPLETE)
        elif cmd.startswith(b"api uuid_kill"):
            markers.append(LINGER)
        elif cmd.startswith(b"api"):
            markers.append(API)
        elif cmd.startswith(b"exit"):
            markers.append(b"")
        else:
            markers.append(REPLY)

    def handle(sock: socket.socket, _addr: object) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        uuid = b""
        tail = b""
        try:
            for cmd, marker in zip(commands, markers, strict=True):
                if uuid and captured_uuid in cmd:
                    cmd = cmd.replace(captured_uuid, uuid)
                sock.sendall(cmd)
                tail = b""
                while True:
                    data = sock.recv(65536)
                    if not data:
                        return
                    chunk = tail + data
                    if not uuid:
                        pos = chunk.find(UNIQUE_ID)
                        if pos >= 0 and len(chunk) >= pos + 48:
                            uuid = chunk[pos + 12:pos + 48]
                    if LINGER in chunk and marker != LINGER:
                        # The caller hung up: nothing more to do but say goodbye.
                        sock.sendall(b"exit\n\n")
                        while sock.recv(65536):
                            pass
                        return
                    if marker and marker in chunk:
                        break
                    tail = chunk[-64:]
        except OSError:
            pass
        finally:
            sock.close()

    return handle


def main(argv: list[str]) -> int:
    port = int(argv[0])
    with open(argv[1]) as fh:
        config = json.load(fh)
    raise_nofile()
    commands = [c.encode("latin-1") for c in config["commands"]]
    server = StreamServer(("127.0.0.1", port), make_handler(commands, config["uuid"].encode()), backlog=1024)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
