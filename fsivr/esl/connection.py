"""One FreeSWITCH outbound-socket connection: commands, applications, events.

One reader greenlet per connection parses frames and hands them on at once — command replies to
the oldest waiting command (ESL answers commands in order), CHANNEL_EXECUTE_COMPLETE to whoever
waits for that Application-UUID, CHANNEL_HANGUP to every waiter — so nothing polls and a caller
hanging up wakes the call's greenlet immediately.

Why not greenswitch's OutboundSession: it matches completions by application name (two playbacks
in flight are indistinguishable), waits without timeouts, decodes every header of every event, and
runs a second greenlet per call that polls a queue with a one-second timeout. We keep greenswitch
for the inbound side (fsivr.esl.inbound) and as the benchmark's reference.
"""

from __future__ import annotations

import itertools
import logging
import socket
import uuid as uuidlib
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import AsyncResult
from gevent.event import Event as Flag

from fsivr.esl import frames
from fsivr.esl.errors import ChannelHangup, ChannelLeft, CommandFailed, CommandTimeout
from fsivr.esl.frames import ConnectionClosed, Event, Frame, FrameReader, ProtocolError

log = logging.getLogger("fsivr.esl")

EventListener = Callable[[Event], None]

#: The socket application's own completion: the channel has left our control (transfer,
#: callcenter, valet_park, hangup) even though the connection stays open (traces 07, 10).
SOCKET_APP = "socket"


#: Application-UUIDs (our ``event-uuid``): FreeSWITCH copies it into the Application-UUID of the
#: application's events, and we match those only within one connection. uuid4() per application
#: cost a getrandom(2) and a UUID object each; instead one random uuid4 per process gives the first
#: 24 characters (74 random bits) and a counter the last 12 hex digits: unique within the process
#: for 2^48 applications, and across processes and restarts as unlikely to collide as two uuid4s
#: sharing their 74 random bits. Still shaped like a UUID, as FreeSWITCH's own are.
_APP_UUID_PREFIX = str(uuidlib.uuid4())[:24]
_app_seq = itertools.count(1)


def new_app_uuid() -> str:
    return f"{_APP_UUID_PREFIX}{next(_app_seq) & 0xFFFFFFFFFFFF:012x}"


class PendingApp:
    """An application started on the channel, waiting for its CHANNEL_EXECUTE_COMPLETE."""

    __slots__ = ("app", "result", "uuid")

    def __init__(self, app: str, app_uuid: str) -> None:
        self.app = app
        self.uuid = app_uuid
        self.result = AsyncResult()


class OutboundConnection:
    """The controller's side of one ``socket ... async full`` session."""

    def __init__(self, sock: socket.socket, peer: tuple[str, int] | None = None, *,
                 command_timeout: float = 10.0) -> None:
        self.sock = sock
        self.peer = peer
        self.command_timeout = command_timeout
        self.channel: Event | None = None
        self.uuid = ""
        self._reader = FrameReader(sock)
        # FIFO of command waiters; None = a reply nobody waits for (sendmsg in async mode answers
        # +OK at once and always, trace README "Command replies"), checked only for -ERR.
        self._replies: deque[AsyncResult | None] = deque()
        self._apps: dict[str, AsyncResult] = {}
        self._listeners: list[EventListener] = []
        self.hungup = Flag()
        self.hangup_cause = ""
        self.hangup_by = ""
        self.hangup_event: Event | None = None
        self.hangup_complete: Event | None = None
        self.answered = False
        self.left_socket_app = False
        #: Applications whose completion we waited for and got: the engine's measure of whether a
        #: step really went to FreeSWITCH (and so took time) or returned at once.
        self.apps_completed = 0
        self.closed = Flag()
        self.error: str | None = None
        self._reader_greenlet: gevent.Greenlet | None = None

    # ---- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._reader_greenlet = gevent.spawn(self._read_loop)

    def _read_loop(self) -> None:
        try:
            while True:
                self._dispatch(self._reader.read())
        except ConnectionClosed:
            pass
        except ProtocolError as exc:
            self.error = f"malformed ESL from {self.peer}: {exc}"
            log.error("%s (call %s); closing the connection", self.error, self.uuid or "?")
        except Exception:  # a bug here must not leave the call's greenlet waiting forever
            self.error = "internal error in the ESL reader"
            log.exception("ESL reader failed for call %s", self.uuid or "?")
        finally:
            self._on_closed()

    def _on_closed(self) -> None:
        if not self.hungup.is_set():
            self._mark_hungup(self.hangup_cause or "NORMAL_CLEARING", "socket")
        self.closed.set()
        exc = ChannelHangup(self.hangup_cause, self.hangup_by)
        while self._replies:
            waiter = self._replies.popleft()
            if waiter is not None:
                waiter.set_exception(exc)
        try:
            self.sock.close()
        except OSError:
            pass

    def close(self) -> None:
        """End the session: ``exit`` (FreeSWITCH replies and closes), then our side of the socket."""
        if not self.closed.is_set():
            try:
                # FreeSWITCH answers "+OK bye", then the disconnect notice, then closes.
                self._replies.append(None)
                self.sock.sendall(frames.command("exit"))
                self.closed.wait(2.0)
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass
        if self._reader_greenlet is not None and not self._reader_greenlet.dead:
            self._reader_greenlet.kill(block=False)

    # ---- incoming ---------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> None:
        ctype = frame.content_type
        if ctype == "text/event-plain" or ctype == "text/event-json":
            self._on_event(frame.event())
        elif ctype == "command/reply" or ctype == "api/response":
            self._on_reply(frame)
        elif ctype == "text/disconnect-notice":
            if frame.headers.get("Content-Disposition") != "linger" and not self.hungup.is_set():
                self._mark_hungup(self.hangup_cause or "NORMAL_CLEARING", "socket")
        elif ctype == "text/rude-rejection":
            self.error = "FreeSWITCH rejected the connection (acl)"
        # log/data and unknown types are ignored: they are not ours to act on.

    def _on_reply(self, frame: Frame) -> None:
        if not self._replies:
            log.warning("unexpected %s from FreeSWITCH on call %s: %r", frame.content_type,
                        self.uuid or "?", frame.reply_text or frame.body[:80])
            return
        waiter = self._replies.popleft()
        if waiter is not None:
            waiter.set(frame)
        elif frame.reply_text.startswith("-ERR"):
            log.warning("sendmsg refused on call %s: %s", self.uuid, frame.reply_text)

    def _on_event(self, event: Event) -> None:
        name = event.get("Event-Name")
        if name == "CHANNEL_EXECUTE_COMPLETE":
            app_uuid = event.get("Application-UUID")
            waiter = self._apps.pop(app_uuid, None) if app_uuid else None
            if waiter is not None:
                self.apps_completed += 1
                waiter.set(event)
            elif event.get("Application") == SOCKET_APP:
                self._mark_left()
        elif name == "CHANNEL_HANGUP":
            self.hangup_event = event
            self._mark_hungup(event.get("Hangup-Cause") or "NORMAL_CLEARING", "caller")
        elif name == "CHANNEL_ANSWER":
            self.answered = True
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self.hangup_complete = event
        # A copy: a listener may remove itself (or another) while we go through them.
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed on call %s", self.uuid)

    def _mark_hungup(self, cause: str, by: str) -> None:
        if self.hungup.is_set():
            return
        self.hangup_cause = cause
        if not self.hangup_by:
            self.hangup_by = by
        self.hungup.set()
        if self._apps:
            exc = ChannelHangup(cause, self.hangup_by)
            apps, self._apps = self._apps, {}
            for waiter in apps.values():
                waiter.set_exception(exc)

    def _mark_left(self) -> None:
        """The socket application completed while the channel lives on: whatever waits for one of
        our applications will not get it (the channel now runs someone else's)."""
        self.left_socket_app = True
        if self.hungup.is_set() or not self._apps:
            return
        apps, self._apps = self._apps, {}
        for waiter in apps.values():
            waiter.set_exception(ChannelLeft("the channel left the socket application"))

    def add_listener(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ---- outgoing ---------------------------------------------------------------------------

    def _send(self, data: bytes, waiter: AsyncResult | None) -> None:
        if self.closed.is_set():
            raise ChannelHangup(self.hangup_cause or "NORMAL_CLEARING", self.hangup_by or "socket")
        self._replies.append(waiter)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            # The reader sees the same failure and fails every waiter; say what happened here.
            raise ChannelHangup(self.hangup_cause or "NORMAL_CLEARING", "socket") from exc

    def _wait(self, waiter: AsyncResult, timeout: float | None, what: str) -> Any:
        try:
            return waiter.get(timeout=self.command_timeout if timeout is None else timeout)
        except gevent.Timeout:
            raise CommandTimeout(f"{what}: no answer from FreeSWITCH within "
                                 f"{self.command_timeout if timeout is None else timeout:g} s") from None

    def command(self, text: str, timeout: float | None = None) -> str:
        """Send a socket command and return its Reply-Text (raises CommandFailed on -ERR)."""
        reply = self.command_raw(text, timeout)
        if reply.startswith("-ERR"):
            raise CommandFailed(f"{text.split(' ', 1)[0]}: {reply}")
        return reply

    def command_raw(self, text: str, timeout: float | None = None) -> str:
        """Like ``command`` but returns -ERR replies instead of raising (``getvar`` of an unset
        variable answers ``-ERR command not found``, trace 01)."""
        waiter = AsyncResult()
        self._send(frames.command(text), waiter)
        frame: Frame = self._wait(waiter, timeout, text.split(" ", 1)[0])
        return frame.reply_text

    def connect(self, timeout: float | None = None) -> Event:
        """``connect``: FreeSWITCH answers with the channel's data as a CHANNEL_DATA block."""
        waiter = AsyncResult()
        self._send(frames.command("connect"), waiter)
        frame: Frame = self._wait(waiter, timeout, "connect")
        self.channel = frame.header_event()
        self.uuid = self.channel.get("Unique-ID") or self.channel.get("Channel-Unique-ID") or ""
        if self.channel.get("Answer-State") == "answered":
            self.answered = True
        return self.channel

    def api(self, cmd: str, timeout: float | None = None) -> str:
        """Run an API command on FreeSWITCH over this socket; return its output."""
        waiter = AsyncResult()
        self._send(frames.command("api " + cmd), waiter)
        frame: Frame = self._wait(waiter, timeout, "api " + cmd.split(" ", 1)[0])
        return frame.body.decode("utf-8", "replace")

    def execute(self, app: str, arg: str | None = None, *, timeout: float, lock: bool = True) -> Event:
        """Execute a dialplan application on the channel and wait for its CHANNEL_EXECUTE_COMPLETE.

        Raises ChannelHangup as soon as the channel hangs up (not when the app's completion
        arrives later), CommandTimeout when it does not complete within ``timeout``.

        ``lock`` (event-lock) is on by default: without it a sendmsg arriving while an app runs is
        executed *nested inside* that app (switch_ivr_parse_all_events from its media loop;
        docs/freeswitch-notes.md §0), so commands would not run in the order sent.
        """
        return self.wait_app(self.execute_async(app, arg, lock=lock), timeout)

    def execute_async(self, app: str, arg: str | None = None, *, lock: bool = True) -> PendingApp:
        """Start an application; its result is set with its CHANNEL_EXECUTE_COMPLETE."""
        if self.hungup.is_set():
            raise ChannelHangup(self.hangup_cause, self.hangup_by)
        if self.left_socket_app:
            raise ChannelLeft(f"{app}: the channel has left the socket application")
        pending = PendingApp(app, new_app_uuid())
        self._apps[pending.uuid] = pending.result
        try:
            self._send(frames.sendmsg(app, arg, pending.uuid, lock=lock), None)
        except BaseException:
            self._apps.pop(pending.uuid, None)
            raise
        return pending

    def wait_app(self, pending: PendingApp, timeout: float) -> Event:
        try:
            return self._wait(pending.result, timeout, pending.app)
        except CommandTimeout:
            self._apps.pop(pending.uuid, None)
            raise

    def kill(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the channel up now, even while an application runs (``sendmsg hangup`` would wait
        for the running app to end, trace 09f)."""
        if self.hungup.is_set() or self.closed.is_set():
            return
        self.hangup_by = self.hangup_by or "server"
        try:
            self.api(f"uuid_kill {self.uuid} {cause}")
        except (ChannelHangup, CommandTimeout):
            pass
