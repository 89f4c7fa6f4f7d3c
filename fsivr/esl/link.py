"""The live event link: one persistent, authenticated inbound ESL connection per ``fsivr serve``.

The outbound socket of a call only carries that call's events. What the controller must hear
beyond them arrives only on inbound listeners — mod_callcenter's agent events (``CUSTOM
callcenter::info``: agent-offering, bridge-agent-start/end/fail, agent-status-change, ...; trace
07, README "callcenter::info on both sockets": the agent-* ones reach only the inbound one) and
BACKGROUND_JOB of our own ``bgapi``. This link is where later features (queue state, callbacks,
campaigns) hear them and send ``api``/``bgapi`` from. It is transport only: it knows nothing of
queues; who needs an event subscribes to it by name (``subscribe``) and listens (``add_listener``).

Guarantees:

* a caller never hangs on it: ``api`` answers, or raises ``LinkTimeout`` after its timeout, or
  ``LinkDown`` at once when the link is not up (no queueing for a connection that may never come);
* it reconnects by itself, with exponential backoff (``min_backoff`` doubling up to
  ``max_backoff``), after a refused password, an unreachable switch or a dropped connection;
  ``on_connected`` callbacks then run (each in its own greenlet) so their owners can
  reconcile what they keep in FreeSWITCH;
* the password is never logged nor shown in ``repr`` or in an exception.

Protocol (mod_event_socket.c listener_run / parse_command; traces 00 and 11): on connect
``Content-Type: auth/request``; ``auth <pw>`` → ``command/reply`` ``+OK accepted`` or
``-ERR invalid`` (then a disconnect notice and the close); each command gets exactly one reply —
``command/reply`` or, for ``api``, ``api/response`` — in the order sent, with events interleaved
between replies, so replies are matched to commands first-in first-out.
"""

from __future__ import annotations

import collections
import logging
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock

# gevent's socket whether or not the process is monkey-patched (tests are not): the reader must
# yield to the hub.
from gevent import socket

from fsivr.esl.connection import Result, ResultTimeout
from fsivr.esl.frames import ConnectionClosed, Event, Frame, FrameReader, ProtocolError, command

log = logging.getLogger("fsivr.esl.link")

EventListener = Callable[[Event], None]


class LinkError(Exception):
    """The live link could not answer; the message is meant for the operator and the log."""


class LinkDown(LinkError):
    """The link is not connected to FreeSWITCH right now (it keeps trying in the background)."""


class LinkTimeout(LinkError):
    """FreeSWITCH did not answer a command within its timeout."""


class AuthRefused(LinkError):
    """FreeSWITCH refused the ESL password."""


class EventLink:
    """A persistent inbound ESL connection (see the module docstring)."""

    def __init__(self, host: str, port: int, password: str, *, timeout: float = 10.0,
                 min_backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self.host = host
        self.port = port
        self._password = password
        #: Default timeout of a command, and the bound of connecting + authenticating.
        self.timeout = timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        #: Called (each in its own greenlet) after every successful connect + subscribe.
        self.on_connected: list[Callable[[], None]] = []
        #: How many times the link came up (tests and the log use it).
        self.connects = 0
        self._events: list[str] = []
        self._listeners: list[EventListener] = []
        self._sock: socket.socket | None = None
        self._pending: collections.deque[Result] = collections.deque()
        self._write_lock = gevent.lock.Semaphore()
        self._up = gevent.event.Event()
        self._runner: gevent.Greenlet | None = None
        self._stopping = False
        self._jobs: dict[str, Result] = {}

    def __repr__(self) -> str:
        return f"<EventLink {self.where} {'up' if self.connected else 'down'}>"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    # --- owners' side ---------------------------------------------------------------------------

    def subscribe(self, *names: str) -> None:
        """Event names (``BACKGROUND_JOB``) or ``CUSTOM <subclass>`` to receive; takes effect on the
        next connect, and at once when connected."""
        new = [n for n in names if n not in self._events]
        self._events.extend(new)
        if new and self.connected:
            gevent.spawn(self._send_subscription, new)

    def add_listener(self, listener: EventListener) -> None:
        """Called with every event, in the reader greenlet: it must not block (spawn if needed)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def wait_connected(self, timeout: float) -> bool:
        return self._up.wait(timeout)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._runner is None:
            self._stopping = False
            self._runner = gevent.spawn(self._run)

    def stop(self) -> None:
        self._stopping = True
        runner, self._runner = self._runner, None
        if runner is not None:
            # First the greenlet (it may be opening a socket), then whatever it left open.
            runner.kill(block=True, timeout=2)
        self._close("link stopped")

    def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stopping:
            try:
                self._connect()
            except LinkError as exc:
                log.warning("live link to FreeSWITCH at %s: %s; retrying in %.2f s", self.where, exc, backoff)
                self._close(str(exc))
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = self.min_backoff
            self.connects += 1
            log.info("live link to FreeSWITCH at %s is up", self.where)
            for callback in list(self.on_connected):
                gevent.spawn(_guarded, callback)
            reason = self._read_until_closed()
            self._close(reason)
            if not self._stopping:
                log.warning("live link to FreeSWITCH at %s lost (%s); reconnecting in %.2f s",
                            self.where, reason, backoff)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _connect(self) -> None:
        """Connect, authenticate, subscribe — all within ``timeout``; raises LinkError."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise LinkError(f"not reachable: {exc.strerror or exc}") from None
        sock.settimeout(None)
        self._sock = sock
        reader = FrameReader(sock)
        try:
            with gevent.Timeout(self.timeout, LinkError(f"no answer within {self.timeout:g} s")):
                hello = reader.read()
                if hello.content_type != "auth/request":
                    raise LinkError(f"not an ESL inbound socket (first message {hello.content_type!r})")
                sock.sendall(command(f"auth {self._password}"))
                reply = _next_reply(reader)
                if not reply.reply_text.startswith("+OK"):
                    # Not the password: it is ours to keep out of logs, FreeSWITCH's reply is safe.
                    raise AuthRefused(f"FreeSWITCH refused the ESL password ({reply.reply_text or 'no reply'}; "
                                      "esl_password / FSIVR_ESL_PASSWORD)")
                if self._events:
                    sock.sendall(command(_event_command(self._events)))
                    reply = _next_reply(reader)
                    if not reply.reply_text.startswith("+OK"):
                        raise LinkError(f"event subscription refused: {reply.reply_text}")
        except (ConnectionClosed, ProtocolError, OSError) as exc:
            raise LinkError(f"connection failed: {exc}") from None
        self._reader = reader
        self._up.set()

    def _read_until_closed(self) -> str:
        reader = self._reader
        try:
            while True:
                self._dispatch(reader.read())
        except (ConnectionClosed, ProtocolError) as exc:
            return str(exc) or type(exc).__name__
        except gevent.GreenletExit:
            return "link stopped"

    def _dispatch(self, frame: Frame) -> None:
        kind = frame.content_type
        if kind in ("command/reply", "api/response"):
            if self._pending:
                self._pending.popleft().set(frame)
            return
        if kind in ("text/event-plain", "text/event-json"):
            event = frame.event()
            if event.name == "BACKGROUND_JOB":
                job = self._jobs.pop(event.get("Job-UUID") or "", None)
                if job is not None:
                    job.set(event.body.decode("utf-8", "replace"))
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:
                    log.exception("live link: an event listener failed")
            return
        if kind == "text/disconnect-notice":
            log.info("live link: FreeSWITCH says goodbye")

    def _close(self, reason: str) -> None:
        self._up.clear()
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        pending, self._pending = self._pending, collections.deque()
        for waiter in pending:
            waiter.set_exception(LinkDown(f"the live link to FreeSWITCH at {self.where} went down ({reason})"))
        jobs, self._jobs = self._jobs, {}
        for waiter in jobs.values():
            waiter.set_exception(LinkDown(f"the live link to FreeSWITCH at {self.where} went down ({reason})"))

    # --- commands -------------------------------------------------------------------------------

    def _request(self, text: str, timeout: float | None, data: bytes | None = None) -> Frame:
        if not self.connected or self._sock is None:
            raise LinkDown(f"the live link to FreeSWITCH at {self.where} is down (reconnecting)")
        data = command(text) if data is None else data
        waiter = Result()
        sock = self._sock
        # The waiter joins the queue in the order its command reaches the wire.
        with self._write_lock:
            self._pending.append(waiter)
            try:
                sock.sendall(data)
            except OSError as exc:
                self._close(f"write failed: {exc}")
                raise LinkDown(f"the live link to FreeSWITCH at {self.where} went down") from None
        try:
            frame: Frame = waiter.get(self.timeout if timeout is None else timeout)
        except ResultTimeout:
            # Its reply may still come; the waiter stays queued so that reply is matched to it
            # (and dropped) rather than to the next command.
            verb = text.split(" ", 2)[:2]
            raise LinkTimeout(f"FreeSWITCH at {self.where} did not answer {' '.join(verb)!r} within "
                              f"{self.timeout if timeout is None else timeout:g} s") from None
        return frame

    def api(self, cmd: str, timeout: float | None = None) -> str:
        """``api <cmd>``: FreeSWITCH's raw output (``+OK\\n``, ``-ERR ...``, a list...)."""
        return self._request("api " + cmd, timeout).body.decode("utf-8", "replace")

    def bgapi(self, cmd: str, timeout: float | None = None) -> str:
        """``bgapi <cmd>``: the output of the background job (its BACKGROUND_JOB event's body)."""
        if "BACKGROUND_JOB" not in self._events:
            raise LinkError("bgapi needs subscribe('BACKGROUND_JOB') before the link starts")
        # Our own Job-UUID (mod_event_socket honours a Job-UUID header on bgapi, trace 00), so the
        # job is known before its BACKGROUND_JOB can arrive — which may be right behind the reply.
        job_uuid = str(uuidlib.uuid4())
        waiter = Result()
        self._jobs[job_uuid] = waiter
        data = command("bgapi " + cmd)[:-1] + f"Job-UUID: {job_uuid}\n\n".encode()
        try:
            frame = self._request("bgapi " + cmd, timeout, data)
        except LinkError:
            self._jobs.pop(job_uuid, None)
            raise
        if not frame.reply_text.startswith("+OK"):
            self._jobs.pop(job_uuid, None)
            raise LinkError(f"bgapi refused: {frame.reply_text}")
        try:
            return str(waiter.get(self.timeout if timeout is None else timeout))
        except ResultTimeout:
            self._jobs.pop(job_uuid, None)
            raise LinkTimeout(f"FreeSWITCH at {self.where} did not finish bgapi job {job_uuid}") from None

    def _send_subscription(self, names: list[str]) -> None:
        try:
            self._request(_event_command(names), None)
        except LinkError as exc:
            # The next connect subscribes to everything anyway.
            log.warning("live link: could not subscribe to %s: %s", " ".join(names), exc)


def _event_command(names: list[str]) -> str:
    """``event plain A B CUSTOM x::y z::w``: every word after ``CUSTOM`` is taken as a subclass
    (mod_event_socket.c parse_command, ``event``: once CUSTOM is seen, the rest go into the
    listener's event_hash), so plain names must come first."""
    plain = [n for n in names if not n.startswith("CUSTOM ")]
    custom = [n.split(" ", 1)[1].strip() for n in names if n.startswith("CUSTOM ")]
    return "event plain " + " ".join(plain + (["CUSTOM", *custom] if custom else []))


def _next_reply(reader: FrameReader) -> Frame:
    while True:
        frame = reader.read()
        if frame.content_type == "command/reply":
            return frame
        if frame.content_type == "text/disconnect-notice":
            raise ConnectionClosed("FreeSWITCH closed the connection")


def _guarded(callback: Callable[[], Any]) -> None:
    try:
        callback()
    except Exception:
        log.exception("live link: an on_connected callback failed")
