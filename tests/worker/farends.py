"""Real far ends on loopback for the worker's tests: an SMTP server (aiosmtpd), an HTTP SMS gateway
(stdlib http.server in a thread), and real ``fsivr worker`` processes. Fixtures: conftest.py."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Shared with tests elsewhere (tests/tcpproxy.py); re-exported for the worker tests.
from procs import Popen, spawn
from tcpproxy import TcpProxy, free_port

__all__ = ["TcpProxy", "free_port"]

REPO = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], Any], limit: float = 30.0, what: str = "condition") -> Any:
    """Poll until ``check()`` is truthy; the limit only bounds a broken test, it is no timing."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# --- SMTP ----------------------------------------------------------------------------------------


@dataclass
class Received:
    envelope_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    #: The client's (host, port): one per SMTP connection.
    peer: Any = None


class SmtpServer:
    """aiosmtpd on 127.0.0.1 in its own thread. ``hold`` (an Event, cleared) makes the server wait at
    ``hold_at`` until it is set — a send in progress, for killing a worker mid-send; ``holding`` is set
    when a client reaches that point. ``hold_at="rcpt"``: before the message was transferred (it is
    not delivered if the client goes away); ``"data"``: after the server has taken the message but before its
    250 (it is delivered, and a client that goes away never hears so: RFC 1047's duplicate window)."""

    def __init__(self, auth: tuple[str, str] | None = None, tls: tuple[Path, Path] | None = None,
                 refuse_rcpt: set[str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.received: list[Received] = []
        self.logins: list[tuple[str, bool]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.holding = threading.Event()
        self.hold_at = "data"
        self.refuse_rcpt = refuse_rcpt or set()
        server = self

        class Handler:
            async def handle_RCPT(self, _srv: Any, _session: Any, envelope: Any, address: str,
                                  _options: Any) -> str:
                if address in server.refuse_rcpt:
                    return "550 5.1.1 no such user"
                if server.hold_at == "rcpt":
                    await server.wait()
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, _srv: Any, session: Any, envelope: Any) -> str:
                msg = message_from_bytes(envelope.original_content, policy=policy.default)
                server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg,  # type: ignore[arg-type]
                                                session.peer))
                if server.hold_at == "data":
                    await server.wait()  # committed, the 250 not sent yet (the RFC 1047 window)
                return "250 Message accepted for delivery"

        def authenticator(_srv: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
            ok = auth is not None and (data.login.decode(), data.password.decode()) == auth
            server.logins.append((data.login.decode(), ok))
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers (535 on failure)

        kwargs: dict[str, Any] = {}
        if auth is not None:
            kwargs.update(authenticator=authenticator, auth_require_tls=tls is not None)
        if tls is not None:
            import ssl

            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = True
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     server_hostname="localhost", **kwargs)
        self.controller.start()

    async def wait(self) -> None:
        self.holding.set()
        while not self.hold.is_set():
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self.hold.set()
        self.controller.stop()



# --- HTTP SMS gateway ----------------------------------------------------------------------------


@dataclass
class GatewayRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: The client's (host, port): one per TCP connection.
    peer: Any = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Gateway:
    """A web SMS gateway: ``answers`` is consumed one per request (then ``default`` is used); each
    answer is (status, body). ``hold`` (cleared) makes a request wait before answering, as a slow
    gateway would; ``arrived`` is set when one does. ``delivered`` counts each idempotency key once,
    as a gateway honouring the key would. ``close_each``: close the connection after each answer
    without saying so (no ``Connection: close``), as a gateway with a short keep-alive would."""

    answers: list[tuple[int, str]] = field(default_factory=list)
    default: tuple[int, str] = (200, '{"status": "queued"}')
    requests: list[GatewayRequest] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    delivered: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    close_each: bool = False

    def __post_init__(self) -> None:
        self.hold.set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = GatewayRequest(self.command, self.path, dict(self.headers.items()),
                                         self.rfile.read(length), self.client_address)
                with gateway.lock:
                    gateway.requests.append(request)
                    status, body = gateway.answers.pop(0) if gateway.answers else gateway.default
                gateway.arrived.set()
                gateway.hold.wait()
                if 200 <= status < 300:
                    key = request.headers.get("Idempotency-Key", "")
                    with gateway.lock:
                        gateway.delivered[key] = gateway.delivered.get(key, 0) + 1
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client is gone (a killed worker)
                if gateway.close_each:
                    self.close_connection = True

            do_POST = do_PUT = do_GET = do_any

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        self.hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()



# --- store and worker processes ------------------------------------------------------------------



def worker_env(db_url: str, **settings: Any) -> dict[str, str]:
    """The environment of a ``fsivr worker`` subprocess: this tree first on PYTHONPATH, settings as
    FSIVR_* variables (the configuration's environment form)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSIVR_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["FSIVR_DATABASE_URL"] = db_url
    for name, value in settings.items():
        env["FSIVR_" + name.upper()] = str(value)
    return env


def start_worker(env: dict[str, str], cwd: Path, log_name: str = "worker.log") -> Popen:
    log = open(cwd / log_name, "ab")  # noqa: SIM115 - the process owns it; read back by the test
    try:
        # procs.spawn, not subprocess.Popen: the exit status must survive gevent's hub reaping
        # children (tests/procs.py); tests assert on it (SIGKILL vs a clean exit).
        return spawn([sys.executable, "-m", "fsivr", "-v", "worker"], env=env, cwd=cwd,
                     stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


# --- a database that goes away -------------------------------------------------------------------
