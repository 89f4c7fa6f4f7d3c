"""One FreeSWITCH outbound-socket connection: commands, applications, events.

Frames are read in the hub: each connection has a libev I/O watcher whose callback reads what
arrived, parses every whole frame and hands each on at once — command replies to the oldest
waiting command (ESL answers commands in order), CHANNEL_EXECUTE_COMPLETE to whoever waits for
that Application-UUID, CHANNEL_HANGUP to every waiter — so nothing polls, and a caller hanging up
wakes the call's greenlet immediately whatever it waits for. A call costs one greenlet (its
handler): no reader greenlet to switch to and from for every frame, no failed read (EAGAIN) before
every wait, and a waiter is a plain gevent Waiter with a libev timer for its timeout (bench/README.md
has the measurements).

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
from collections.abc import Callable, Iterable
from typing import Any

from gevent.event import Event as Flag
from gevent.hub import Waiter, get_hub
from gevent.socket import wait_write

from fsivr.esl import frames
from fsivr.esl.errors import ChannelHangup, ChannelLeft, CommandFailed, CommandTimeout
from fsivr.esl.frames import Event, Frame, FrameReader, ProtocolError

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


class ResultTimeout(Exception):
    """A Result was not set within the time its waiter gave it."""


class _Expired:
    """What a Result's timer wakes its waiter with."""


class Result:
    """A one-shot result for one waiting greenlet: what AsyncResult does for us, made to measure.

    Set from the hub (the reader's I/O callback), it wakes the waiter with a callback later in the
    same loop turn — after the frames that arrived with it are dispatched, as with AsyncResult.
    The timeout is a bare libev timer, not a gevent.Timeout (an exception object and its timer
    per wait).
    """

    __slots__ = ("_exc", "_value", "_waiter", "done")

    def __init__(self) -> None:
        self.done = False
        self._value: Any = None
        self._exc: BaseException | None = None
        self._waiter: Waiter | None = None

    def ready(self) -> bool:
        return self.done

    def set(self, value: Any) -> None:
        if not self.done:
            self.done = True
            self._value = value
            self._wake()

    def set_exception(self, exc: BaseException) -> None:
        if not self.done:
            self.done = True
            self._exc = exc
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            get_hub().loop.run_callback(waiter.switch, None)

    def get(self, timeout: float) -> Any:
        """The value, or the exception set raised; ResultTimeout after ``timeout`` seconds."""
        if not self.done:
            hub = get_hub()
            waiter = self._waiter = Waiter(hub)
            timer = hub.loop.timer(max(0.0, timeout))
            timer.start(waiter.switch, _Expired)
            try:
                waiter.get()
            finally:
                timer.close()
                self._waiter = None
            if not self.done:  # the timer, not a result, woke us
                raise ResultTimeout
        if self._exc is not None:
            raise self._exc
        return self._value


class PendingApp:
    """An application started on the channel, waiting for its CHANNEL_EXECUTE_COMPLETE."""

    __slots__ = ("app", "result", "uuid")

    def __init__(self, app: str, app_uuid: str) -> None:
        self.app = app
        self.uuid = app_uuid
        self.result = Result()


class OutboundConnection:
    """The controller's side of one ``socket ... async full`` session."""

    #: Told (kind "error" or "timeout", command name) of each command FreeSWITCH answered with
    #: -ERR or not in time, as it is raised (fsivr.metrics counts them); None = nobody asks.
    on_command_error: Callable[[str, str], None] | None = None

    def __init__(self, sock: socket.socket, peer: tuple[str, int] | None = None, *,
                 command_timeout: float = 10.0) -> None:
        self.sock = sock
        self.peer = peer
        self.command_timeout = command_timeout
        self.channel: Event | None = None
        self.uuid = ""
        self._reader = FrameReader(sock)
        # FIFO of what each command's reply goes to: a Result someone waits on; the PendingApp a
        # sendmsg started (its +OK matters to nobody, trace README "Command replies"; its -ERR fails
        # that application's wait at once); None = nobody (exit), checked only for -ERR.
        self._replies: deque[Result | PendingApp | None] = deque()
        #: connect's waiter, kept so a reply that comes after its timeout can still be read.
        self._connect_result: Result | None = None
        self._apps: dict[str, Result] = {}
        self._listeners: list[EventListener] = []
        self.hungup = Flag()
        self.hangup_cause = ""
        self.hangup_by = ""
        self.hangup_event: Event | None = None
        self.hangup_complete: Event | None = None
        self.answered = False
        #: The cause of our last uuid_kill ("" = none sent) and what went wrong with it (None: taken).
        self.kill_cause = ""
        self.kill_error: str | None = None
        self.left_socket_app = False
        #: Applications whose completion we waited for and got: the engine's measure of whether a
        #: step really went to FreeSWITCH (and so took time) or returned at once.
        self.apps_completed = 0
        self.closed = Flag()
        self.error: str | None = None
        self._watcher: Any = None

    # ---- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading: from now on frames are dispatched as they arrive, in the hub."""
        # Non-blocking for good: the hub must never wait in recv (a spurious wake-up just
        # returns), and _write waits for room itself.
        self.sock.setblocking(False)
        self._watcher = get_hub().loop.io(self.sock.fileno(), 1)  # 1 = EV_READ
        self._watcher.start(self._on_readable)

    def _on_readable(self) -> None:
        """The I/O callback, in the hub: read, dispatch every whole frame. Never blocks."""
        try:
            chunk = self.sock.recv(frames.RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._on_closed()
            return
        try:
            reader = self._reader
            reader.feed(chunk)
            while self._watcher is not None:
                frame = reader.next()
                if frame is None:
                    break
                self._dispatch(frame)
        except ProtocolError as exc:
            self.error = f"malformed ESL from {self.peer}: {exc}"
            log.error("%s (call %s); closing the connection", self.error, self.uuid or "?")
            self._on_closed()
        except Exception:  # a bug here must not leave the call's greenlet waiting forever
            self.error = "internal error in the ESL reader"
            log.exception("ESL reader failed for call %s", self.uuid or "?")
            self._on_closed()

    def _on_closed(self) -> None:
        """The connection is over (EOF, error, or our close): stop reading, fail every waiter."""
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        if not self.hungup.is_set():
            self._mark_hungup(self.hangup_cause or "NORMAL_CLEARING", "socket")
        self.closed.set()
        exc = ChannelHangup(self.hangup_cause, self.hangup_by)
        while self._replies:
            waiter = self._replies.popleft()
            # A PendingApp's own result is in self._apps: _mark_hungup above failed it.
            if type(waiter) is Result:
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
                self._write(frames.command("exit"))
                self.closed.wait(2.0)
            except OSError:
                pass
        self._on_closed()

    # ---- incoming ---------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> None:
        ctype = frame.content_type
        if ctype == "text/event-plain":
            self._on_plain_event(frame.body)
        elif ctype == "command/reply" or ctype == "api/response":
            self._on_reply(frame)
        elif ctype == "text/event-json":
            self._on_event(frame.event())
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
        if type(waiter) is Result:
            waiter.set(frame)
        elif frame.reply_text.startswith("-ERR"):
            if waiter is None:
                log.warning("command refused on call %s: %s", self.uuid, frame.reply_text)
                return
            if self.on_command_error is not None:
                self.on_command_error("error", "sendmsg")
            # The application was refused, so no CHANNEL_EXECUTE_COMPLETE will come for it: fail
            # its wait now, not at its timeout (mod_event_socket.c parse_command answers sendmsg
            # "-ERR invalid session id [...]" for a uuid it cannot locate; a hostile or odd switch
            # may refuse anything).
            result = self._apps.pop(waiter.uuid, None)
            if result is not None:
                result.set_exception(CommandFailed(f"{waiter.app}: FreeSWITCH refused it: {frame.reply_text}"))

    def _on_plain_event(self, body: bytes) -> None:
        # Most of myevents' events (CHANNEL_EXECUTE, CHANNEL_STATE, DTMF...) matter to nobody
        # unless a listener is on: their name is read off the first line (FreeSWITCH serializes
        # Event-Name first, switch_event_serialize) and they go no further.
        if not self._listeners and body.startswith(b"Event-Name: "):
            end = body.find(b"\n", 12)
            if body[12:end] not in _ACTED_ON:
                return
        self._on_event(Event.from_plain(body))

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
        if self._listeners:
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
        """Call ``listener(event)`` for every event from now on. It runs in the hub, as the events
        are read: it must not block (no I/O, no waiting) and should be quick."""
        self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ---- outgoing ---------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        """Send all of ``data``. One send() nearly always takes a command whole (gevent's sendall
        asks the socket's buffer size, a getsockopt(2), before every send)."""
        sock = self.sock
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        while sent < len(data):
            # The kernel's buffer is full (FreeSWITCH not reading): wait for room, bounded.
            wait_write(sock.fileno(), timeout=self.command_timeout,
                       timeout_exc=CommandTimeout("FreeSWITCH is not reading our commands"))
            try:
                sent += sock.send(data[sent:])
            except BlockingIOError:
                pass

    def _send(self, data: bytes, waiters: Iterable[Result | None]) -> None:
        if self.closed.is_set():
            raise ChannelHangup(self.hangup_cause or "NORMAL_CLEARING", self.hangup_by or "socket")
        self._replies.extend(waiters)
        try:
            self._write(data)
        except OSError as exc:
            # The reader sees the same failure and fails every waiter; say what happened here.
            raise ChannelHangup(self.hangup_cause or "NORMAL_CLEARING", "socket") from exc

    def _wait(self, waiter: Result, timeout: float | None, what: str) -> Any:
        seconds = self.command_timeout if timeout is None else timeout
        try:
            return waiter.get(seconds)
        except ResultTimeout:
            if self.on_command_error is not None:
                self.on_command_error("timeout", what)
            raise CommandTimeout(f"{what}: no answer from FreeSWITCH within {seconds:g} s") from None

    def _request(self, text: str, timeout: float | None, what: str) -> Frame:
        """One command, and the frame that answers it (a command/reply or an api/response)."""
        waiter = Result()
        self._send(frames.command(text), (waiter,))
        return self._wait(waiter, timeout, what)

    def command(self, text: str, timeout: float | None = None) -> str:
        """Send a socket command and return its Reply-Text (raises CommandFailed on -ERR)."""
        return self.commands([text], timeout)[0]

    def commands(self, texts: list[str], timeout: float | None = None) -> list[str]:
        """Several socket commands in one write, then their Reply-Texts (ESL answers in order, so
        this costs one round trip instead of one each). Raises CommandFailed on the first -ERR;
        unlike one ``command`` after another, the later commands were sent all the same."""
        waiters = [Result() for _ in texts]
        self._send(b"".join(frames.command(t) for t in texts), waiters)
        replies = []
        for text, waiter in zip(texts, waiters, strict=True):
            frame: Frame = self._wait(waiter, timeout, text.split(" ", 1)[0])
            replies.append(frame.reply_text)
        for text, reply in zip(texts, replies, strict=True):
            if reply.startswith("-ERR"):
                if self.on_command_error is not None:
                    self.on_command_error("error", text.split(" ", 1)[0])
                raise CommandFailed(f"{text.split(' ', 1)[0]}: {reply}")
        return replies

    def connect(self, timeout: float | None = None) -> Event:
        """``connect``: FreeSWITCH answers with the channel's data as a CHANNEL_DATA block."""
        waiter = self._connect_result = Result()
        self._send(frames.command("connect"), (waiter,))
        return self._connected(self._wait(waiter, timeout, "connect"))

    def late_connect(self, timeout: float) -> Event | None:
        """After ``connect`` timed out: its reply, if it still comes within ``timeout`` (ESL answers
        in order, so it is the next reply whenever it comes); None if it does not."""
        waiter = self._connect_result
        if waiter is None:
            return None
        try:
            frame = waiter.get(timeout)
        except (ResultTimeout, ChannelHangup):
            return None
        return self._connected(frame)

    def _connected(self, frame: Frame) -> Event:
        self._connect_result = None
        self.channel = frame.header_event()
        self.uuid = self.channel.get("Unique-ID") or self.channel.get("Channel-Unique-ID") or ""
        if self.channel.get("Answer-State") == "answered":
            self.answered = True
        return self.channel

    def api(self, cmd: str, timeout: float | None = None) -> str:
        """Run an API command on FreeSWITCH over this socket; return its output."""
        frame = self._request("api " + cmd, timeout, "api " + cmd.split(" ", 1)[0])
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
            self._send(frames.sendmsg(app, arg, pending.uuid, lock=lock), (pending,))
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

    def poll_app(self, pending: PendingApp, within: float) -> Event | None:
        """The application's CHANNEL_EXECUTE_COMPLETE if it arrives within ``within`` seconds,
        else None: it still runs and can be polled again (``wait_app`` would give it up)."""
        try:
            return pending.result.get(within)
        except ResultTimeout:
            return None

    def kill(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the channel up now, even while an application runs (``sendmsg hangup`` would wait
        for the running app to end, trace 09f). What we asked for and whether FreeSWITCH refused
        stay in ``kill_cause`` and ``kill_error``, for the record of a hangup it never reports."""
        if self.hungup.is_set() or self.closed.is_set():
            return
        self.hangup_by = self.hangup_by or "server"
        self.kill_cause, self.kill_error = cause, None
        try:
            reply = self.api(f"uuid_kill {self.uuid} {cause}")
        except ChannelHangup:
            return
        except CommandTimeout as exc:
            self.kill_error = str(exc)
            return
        if not reply.startswith("+OK"):
            # mod_commands.c kill_function: "+OK\n", or "-ERR No such channel!\n", "-USAGE: ...".
            self.kill_error = f"uuid_kill: {reply.strip()[:80]}"
            if self.hangup_event is not None:
                # The channel was down before our uuid_kill reached it (its CHANNEL_HANGUP came
                # first, with the caller's cause): the hangup was the caller's, not ours.
                self.hangup_by = "caller"


#: Events the connection itself acts on (see _on_event); without listeners, others are skipped.
_ACTED_ON = frozenset({b"CHANNEL_EXECUTE_COMPLETE", b"CHANNEL_HANGUP", b"CHANNEL_ANSWER",
                       b"CHANNEL_HANGUP_COMPLETE"})
