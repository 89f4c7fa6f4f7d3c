"""One simulated call: FreeSWITCH's socket application talking to the server under test.

Two greenlets mirror FreeSWITCH's two threads (mod_event_socket.c):

* the *listener* reads commands from the TCP connection and replies (``parse_command``);
* the *session* runs the channel: park loop, queued ``sendmsg`` commands, applications
  (``switch_ivr_park`` / ``switch_ivr_parse_event`` in switch_ivr.c).

In sync mode (``socket … full`` without ``async``) the listener runs inside the session, so
applications run while the command is being processed and their events follow the ``+OK``.
Events fired while a command is being processed are held and sent after its reply, as
FreeSWITCH only flushes its event queue between commands (read_packet).
"""

from __future__ import annotations

import collections
import socket
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import gevent
import gevent.event
import gevent.lock
import gevent.queue
from gevent import socket as gsocket

from fsivr.testing import apps, dialplan, wire
from fsivr.testing.api import ApiContext, background_job, execute
from fsivr.testing.channel import Channel
from fsivr.testing.clock import VirtualClock, rfc2822
from fsivr.testing.expand import expand
from fsivr.testing.profiles import PROFILES, ChannelSpec, cause_from_str
from fsivr.testing.script import AppRun, CallResult, CallScript
from fsivr.testing.subscription import EventSubscriber

if TYPE_CHECKING:
    from fsivr.testing.meta import MetaBindings
    from fsivr.testing.mods.common import Partner
    from fsivr.testing.peer import Peer
    from fsivr.testing.simulator import Simulator

# switch_event.c EVENT_NAMES (the ones a client may subscribe to by name).
EVENT_NAMES = frozenset(
    [
        "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
        "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
        "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
        "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH",
        "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE",
        "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING",
        "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH", "DETECTED_TONE",
        "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
        "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE",
        "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND",
        "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO",
        "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START", "RECORD_STOP",
        "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA", "MEDIA_BUG_START",
        "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ",
        "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL"
    ]
)

# mod_event_socket.c parse_command, "myevents".
MYEVENTS = frozenset(
    [
        "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
        "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING",
        "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE",
        "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK"
    ]
)


FIRST_PACKET_TIMEOUT = 25.0  # mod_event_socket.c listener_run: read_packet(listener, &ievent, 25)


class CallSession(EventSubscriber):
    def __init__(self, sim: Simulator, script: CallScript, address: tuple[str, int]) -> None:
        self.sim = sim
        self.script = script
        self.address = address
        self.result = CallResult()
        self.clock = VirtualClock(script.at if script.at is not None else sim.channel_start(), sim.time_scale)
        self.start_us = self.clock.now_us
        self.created_monotonic = time.monotonic()  # when the channel was created, in real time
        profile = PROFILES.get(script.profile)
        if profile is None:
            raise ValueError(f"unknown profile {script.profile!r}")
        args = script.socket_args.split()
        self.async_mode = "async" in args
        self.full = "full" in args
        spec = ChannelSpec(
            uuid=script.uuid or str(uuidlib.uuid4()), other_uuid=str(uuidlib.uuid4()), number=script.number,
            caller=script.caller, caller_name=script.caller_name or script.caller, created_us=self.start_us,
            session_id=sim.switch.next_session_id(), socket_arg=f"{address[0]}:{address[1]} {script.socket_args}",
            extra_vars=dict(script.variables), call_id=str(uuidlib.uuid4()),
            from_tag=uuidlib.uuid4().hex[:13], rfc2822=rfc2822(self.start_us),
        )
        self.channel = Channel(sim.switch, profile, spec, self.clock)
        self.result.uuid = self.channel.uuid
        if script.answered_after is not None:
            # An originated leg: it rang, was answered, and only then runs the socket application.
            self.clock.advance(script.answered_after)
            self.channel.mark_answered()
            self.channel.set_callstate("ACTIVE")
        self.socket_app_uuid = str(uuidlib.uuid4())
        # listener (mod_event_socket listener_t) flags
        self.sock: socket.socket | None = None
        self._send_lock = gevent.lock.Semaphore()
        self.running = True
        self.connected = False
        self.init_subscription(EVENT_NAMES)
        self.myevents = False
        self.linger = False
        self.linger_timeout = -1
        self.handle_disco = False
        self._held: list[bytes] | None = None
        self.pending_disco: float | str | None = None
        self._inbox: gevent.queue.Queue[bytes | None] = gevent.queue.Queue()
        self._pump: gevent.Greenlet | None = None
        # session (channel thread) state
        self.queue: collections.deque[wire.Command] = collections.deque()
        self.wake = gevent.event.Event()
        self.event_lock = False
        self.break_flag = False
        self.controlled = True
        self.transfer_to: str | None = None
        # switch_ivr_session_transfer in progress (CF_TRANSFER: the channel is not "ready" for media
        # and apps) and where to (extension, context)
        self.transferring = False
        self.transfer_target: tuple[str, str] | None = None
        # att_xfer completed: the uuid_bridge that follows the current one (fsivr.testing.attxfer)
        self.rebridge: Partner | None = None
        # the dialplan the transfer hunts in ("XML", or "inline": fsivr.testing.dialplan.inline)
        self.transfer_dialplan = "XML"
        # the far end of the running bridge (fsivr.testing.peer)
        self.peer: Peer | None = None
        # a uuid_bridge'd peer (callcenter agent) while a nested bridge has its own peer in ``peer``
        self.outer_peer: Peer | None = None
        # bind_meta_app's bindings (the channel's SWITCH_META_VAR_KEY private, fsivr.testing.meta)
        self.meta_bindings: MetaBindings | None = None
        # CF_BROADCAST (an app from a sendmsg / broadcast is running) and CF_STOP_BROADCAST
        self.broadcasting = False
        self.stop_broadcast = False
        # things other legs do at a virtual time (µs), run by media(): (due, callback, owner)
        self.timers: list[tuple[int, Callable[[], None], object]] = []
        self.channel_gone = gevent.event.Event()
        self.finished = gevent.event.Event()
        self.digits = collections.deque(script.digits)
        self.idle_dtmf = collections.deque(sorted(script.idle_dtmf))
        self.leftover_dtmf: list[str] = []
        self.app_counts: collections.Counter[str] = collections.Counter()
        # commands received, by application / API command name (Hangup.on_command)
        self.command_counts: collections.Counter[str] = collections.Counter()
        #: commands received and processed (replied to), all kinds (Press.after_commands)
        self.commands_done = 0
        self.armed_hangup: float | None = None  # virtual seconds into the current app
        self.app_elapsed = 0.0
        self.apps_completed = 0
        self.current: AppRun | None = None
        # set by an app that takes the channel out of the socket app (valet_park, callcenter:
        # uuid_bridge); run once the socket app has returned
        self.after_socket: Callable[[CallSession], None] | None = None
        self._waiting: tuple[float, float] | None = None  # media(): (monotonic start, virtual step)
        # displace media bugs (fsivr.testing.displace): file path → when it has played out (clock µs)
        self.media_bugs: dict[str, int] = {}
        # run in switch_core_session_hangup_state (media bugs such as record_session close there)
        self.hangup_hooks: list[Callable[[CallSession], None]] = []
        self.hangup_after_us: int | None = (
            self.start_us + int(script.hangup.after * 1_000_000)
            if script.hangup is not None and script.hangup.after is not None else None
        )
        self.deadline = time.monotonic() + script.timeout

    # ------------------------------------------------------------------ output

    def send(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
            return
        self._write(data)

    def _write(self, data: bytes) -> None:
        sock = self.sock
        if sock is None:
            return
        if self.script.record:
            self.result.wire.append(("recv", data))  # as the server receives it
        with self._send_lock:
            try:
                sock.sendall(data)
            except OSError:
                self._lost_connection()

    def reply(self, text: str) -> None:
        self._write(wire.command_reply(text))

    def _lost_connection(self) -> None:
        self.running = False
        self.sock = None
        self.wake.set()

    def wants(self, event_name: str, headers: dict[str, str] | None = None, subclass: str | None = None) -> bool:
        """mod_event_socket.c event_handler: subscription, filters, myevents."""
        if not self.running or self.sock is None or not self.subscribed_to(event_name, subclass):
            return False
        hdrs = headers or {"Event-Name": event_name, "Unique-ID": self.channel.uuid}
        return self.passes_filters(hdrs.get)

    def fire(
        self,
        event_name: str,
        pre: list[tuple[str, str]] | None = None,
        post: list[tuple[str, str]] | None = None,
        body: str | None = None,
        channel_data: bool = True,
    ) -> None:
        if self.sim.inbound:  # inbound ESL listeners of this switch (fsivr.testing.inbound)
            for sink in self.sim.inbound:
                sink.channel_event(self, event_name, pre, post, body, channel_data)
        headers: dict[str, str] | None = None
        if self.filters:
            headers = {"Event-Name": event_name, "Unique-ID": self.channel.uuid}
            for k, v in (pre or []) + (post or []):
                headers[k] = v
            headers.update({"variable_" + k: v for k, v in self.channel.vars.items()})
        if not self.wants(event_name, headers):
            return
        self.send(self.channel.render(event_name, self.format, pre, post, body, channel_data))

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> CallResult:
        try:
            self._run()
        except Exception as exc:  # never crash the load generator; report instead
            self.result.error.append(f"simulator error: {type(exc).__name__}: {exc}")
        finally:
            self._close()
            self.finished.set()
        r = self.result
        r.variables = dict(self.channel.vars)
        r.answered = self.channel.answered
        end = self.channel.times["Channel-Hangup-Time"] or self.clock.now_us
        r.duration = (end - self.start_us) / 1_000_000
        r.transferred_to = self.transfer_to
        return r

    def _run(self) -> None:
        if self.script.answered_after is not None:
            self.fire("CHANNEL_ANSWER")  # the inbound listeners see it; the socket is not there yet
        try:
            sock = gsocket.create_connection(self.address, timeout=self.script.timeout)
        except OSError as exc:
            self.result.error.append(f"connect to {self.address}: {exc}")
            return
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        reader = gevent.spawn(self._listener)
        try:
            if self.async_mode:
                self._session_async()
            else:
                reader.join()
            remaining = max(0.0, self.deadline - time.monotonic())
            if not reader.join(timeout=remaining) and not reader.dead:
                self.result.error.append(f"timeout: exchange not finished within {self.script.timeout}s")
        finally:
            reader.kill(block=False)
            if self._pump is not None:
                self._pump.kill(block=False)

    def _close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.running = False
        if self.channel.ready:
            # The call cannot outlive the simulation; nobody sees events any more.
            self.hangup("NORMAL_CLEARING", "socket")
        if not self.channel_gone.is_set():
            self._report()

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    # ------------------------------------------------------------------ listener

    def _listener(self) -> None:
        reader = wire.CommandReader()
        first = True
        sock = self.sock
        assert sock is not None
        linger_deadline: float | None = None
        while self.running and self.sock is not None:
            timeout = None
            if first:
                timeout = FIRST_PACKET_TIMEOUT
            if linger_deadline is not None:
                timeout = max(0.0, linger_deadline - time.monotonic())
            timeout = min(timeout, self.time_left()) if timeout is not None else self.time_left()
            if timeout <= 0:
                if linger_deadline is not None and time.monotonic() >= linger_deadline:
                    break  # linger timeout, closing socket
                if self.time_left() <= 0:
                    self.result.error.append(f"timeout: exchange not finished within {self.script.timeout}s")
                break
            # The disconnect check of read_packet needs waking when the channel goes away.
            data = self._recv(sock, timeout)
            if data is None:  # timeout or wake-up
                if first and self.time_left() > 0 and not self.connected and timeout >= FIRST_PACKET_TIMEOUT:
                    self.result.error.append("server sent nothing within 25 s of the connection")
                    break
                disco = self.pending_disco if self.pending_disco is not None else self._check_disco()
                self.pending_disco = None
                if disco == "close":
                    break
                if disco is not None and linger_deadline is None:
                    linger_deadline = disco
                continue
            if data == b"":
                self._server_closed()
                return
            for cmd in reader.feed(data):
                self.result.commands.append(cmd.raw)
                if self.script.record:
                    self.result.wire.append(("send", cmd.raw))
                hang = self._hangup_on_command(cmd)
                if hang and self.script.hangup is not None and self.script.hangup.before_reply:
                    self.hangup(cause_from_str(self.script.hangup.cause), "caller")
                    hang = False
                if first:
                    first = False
                    self._process(cmd, reply=False)
                else:
                    self._process(cmd, reply=True)
                self.commands_done += 1
                if hang:
                    # Before the session thread can start a queued sendmsg: the listener does not
                    # yield between its reply and this (writes to a socket with room never do).
                    self.hangup(cause_from_str(self.script.hangup.cause), "caller")  # type: ignore[union-attr]
                if not self.running:
                    break
            disco = self.pending_disco if self.pending_disco is not None else self._check_disco()
            self.pending_disco = None
            if disco == "close":
                break
            if disco is not None and linger_deadline is None:
                linger_deadline = disco
            if not self.handle_disco:
                linger_deadline = None
        self._finish_listener()

    def _hangup_on_command(self, cmd: wire.Command) -> bool:
        """Whether ``cmd`` is the one the script's caller hangs up on (Hangup.on_command)."""
        h = self.script.hangup
        if h is None or h.on_command is None or not self.channel.ready:
            return False
        low = cmd.first_line.lower()
        if low.startswith("sendmsg"):
            name = (cmd.header("execute-app-name") or cmd.header("call-command") or "").strip()
        elif low.startswith(("api ", "bgapi ")):
            name = cmd.first_line.split(" ", 2)[1] if " " in cmd.first_line.strip() else ""
        else:
            name = low.split(" ", 1)[0]
        self.command_counts[name] += 1
        return name == h.on_command and self.command_counts[name] == h.occurrence

    def _recv(self, sock: socket.socket, timeout: float) -> bytes | None:
        """Next data from the server, or None on timeout / when the channel went away (so the
        disconnect notice goes out promptly). One pump greenlet per call feeds ``_inbox``."""
        if self._pump is None:
            self._pump = gevent.spawn(self._pump_socket, sock)
        try:
            item = self._inbox.get(timeout=timeout)
        except gevent.queue.Empty:
            return None
        return item

    def _pump_socket(self, sock: socket.socket) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            self._inbox.put(data)
            if not data:
                return

    def _poke_listener(self) -> None:
        self._inbox.put(None)

    def _check_disco(self, down: bool = False) -> float | str | None:
        """read_packet's channel-down handling: linger notice, or close at once."""
        if self.handle_disco:
            return None
        if not self.channel_gone.is_set() and not down:
            return None
        self.handle_disco = True
        if self.linger:
            self._write(wire.linger_notice(self.channel.uuid, self.channel.name, self.linger_timeout))
            if self.linger_timeout == -1:
                return time.monotonic() + max(0.0, self.time_left())
            real = max(self.sim.linger_floor, self.linger_timeout * self.sim.time_scale)
            return time.monotonic() + real
        return "close"

    def _server_closed(self) -> None:
        self.running = False
        self.sock = None
        self.controlled = False
        self.wake.set()

    def _finish_listener(self) -> None:
        """listener_run's end: final notice, close, release the channel from socket control."""
        self.running = False
        if self.sock is not None:
            self._write(wire.disconnect_notice(self.channel.uuid))
            sock, self.sock = self.sock, None
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.controlled = False
        self.wake.set()

    # ------------------------------------------------------------------ commands

    def _process(self, cmd: wire.Command, reply: bool) -> None:
        was_up = self.channel.ready
        self._held = []
        try:
            text = self._command(cmd)
        except Exception as exc:
            self.result.error.append(f"simulator error on {cmd.first_line!r}: {exc}")
            text = "-ERR command not found"
        held, self._held = self._held, None
        if text == "":
            text = "-ERR command not found"  # parse_command's "done:" for an empty reply
        if text is not None and reply:
            if text.startswith("~"):
                self._write(text[1:].encode())
            else:
                self._write(wire.command_reply(text))
        if not self.async_mode and held and self.channel_gone.is_set():
            # Sync mode: the session thread notices the hangup before the event thread has
            # queued CHANNEL_HANGUP to the listener, so the linger notice comes first (02c).
            self.pending_disco = self._check_disco()
        for data in held:
            self._write(data)
        if self.async_mode and was_up and not self.channel.ready and self.linger:
            # The listener hung the channel up itself (api uuid_kill <own uuid>): its next
            # read_packet round sees the channel down before the session thread has fired the
            # rest, so the linger notice follows CHANNEL_HANGUP (07b).
            self.pending_disco = self._check_disco(down=True)

    def _command(self, cmd: wire.Command) -> str | None:
        """mod_event_socket.c parse_command, outbound branch. Returns the reply (None = none)."""
        line = cmd.first_line
        low = line.lower()
        if low.startswith("exit") or low.startswith("..."):
            self.running = False
            return "+OK bye"
        if low.startswith("filter "):
            return self.filter_command(line[7:])
        if low.startswith("resume"):
            self.channel.set_var("socket_resume", "true")
            return "+OK"
        if low.startswith("connect"):
            self.connected = True
            self._write(self.channel.connect_reply("async" if self.async_mode else "static",
                                                   "full" if self.full else "single-channel"))
            self.wake.set()
            return None
        if low.startswith("getvar"):
            parts = line.split(" ", 1)
            value = self.channel.get_var(parts[1]) if len(parts) > 1 else None
            return value or ""
        if low.startswith("myevents"):
            if self.myevents:
                return "-ERR aready enabled."
            self.event_list |= MYEVENTS
            self.myevents = True
            self.events_on = True
            if "json" in cmd.text.lower():
                self.format = "json"
            elif "xml" in cmd.text.lower():
                self.format = "xml"
            return "+OK Events Enabled"
        if low.startswith("divert_events"):
            onoff = line[13:].strip()
            if not onoff:
                return "-ERR missing value."
            return "+OK events diverted" if onoff.lower() == "on" else "+OK events not diverted"
        if low.startswith("sendmsg"):
            return self._sendmsg(cmd)
        if not self.full:
            return ""  # single-channel control: everything else is "command not found"
        if low.startswith("sendevent"):
            return f"+OK {uuidlib.uuid4()}"
        if low.startswith("api "):
            self._write(wire.api_response(self.api(line[4:])))
            return None
        if low.startswith("bgapi "):
            self._bgapi(cmd, line[6:])
            return None
        if low.startswith("linger"):
            rest = line[6:]
            if rest.startswith(" ") and rest[1:]:
                try:
                    self.linger_timeout = int(rest[1:].strip().split()[0])
                except (ValueError, IndexError):
                    self.linger_timeout = 0  # atoi()
            else:
                self.linger_timeout = -1
            self.linger = True
            if self.handle_disco and self.linger_timeout != -1:
                # linger_timeout is now a small absolute epoch → already past (09c).
                self.running = False
            if self.linger_timeout != -1:
                return f"+OK will linger {self.linger_timeout} seconds"
            return "+OK will linger"
        if low.startswith("nolinger"):
            self.linger = False
            return "+OK will not linger"
        reply = self.listener_command(low, line)
        return "" if reply is None else reply

    def _sendmsg(self, cmd: wire.Command) -> str:
        uuid = cmd.first_line[7:].strip() or (cmd.header("session-id") or "")
        if uuid and uuid != self.channel.uuid:
            return f"-ERR invalid session id [{uuid}]"
        run_now = self.async_mode or (cmd.header("async") or "").lower() in ("true", "yes", "on", "1")
        if not self.async_mode and not run_now:
            # sync mode: the listener *is* the session thread; the app runs before the reply.
            self.parse_event(cmd)
            self.flush_leftover_dtmf()
            return "+OK"
        if not self.async_mode:
            # "async: true" in sync mode queues to a thread that never parks: it never runs (02c).
            return "+OK"
        self.queue.append(cmd)
        self.wake.set()
        return "+OK"

    def _bgapi(self, cmd: wire.Command, text: str) -> None:
        """parse_command's bgapi: the reply at once, the command in its own thread (api_exec), its
        output in a BACKGROUND_JOB event fired to every listener that subscribed to it (05)."""
        job = cmd.header("job-uuid") or str(uuidlib.uuid4())

        def run() -> None:
            self.sim.publish_background_job(*background_job(self.api_context(), job, text))

        gevent.spawn(run)
        self._write(wire.bgapi_reply(job))

    def background_job_event(self, headers: list[tuple[str, str]], body: str) -> None:
        """mod_event_socket.c event_handler for a BACKGROUND_JOB (anyone's): to this listener if it
        subscribed to it; with myevents only its own jobs (Job-Owner-UUID), as it has no Unique-ID."""
        fields = {"Event-Name": "BACKGROUND_JOB", **dict(headers)}
        if self.myevents and fields.get("Job-Owner-UUID") != self.channel.uuid:
            return
        if self.wants("BACKGROUND_JOB", fields):
            self.send(self.channel.render("BACKGROUND_JOB", self.format, pre=headers, body=body, channel_data=False))

    # ------------------------------------------------------------------ api

    def _expansion_api(self, name: str, args: str) -> str:
        """An API command reached through ``${name(args)}`` in an application argument: real
        FreeSWITCH runs it (api-expansion is on by default), so the simulator does too and keeps a
        note of it - from user text it would be an injection."""
        self.result.api_expansions.append(f"{name} {args}".strip())
        return self.api(f"{name} {args}").rstrip("\n")

    def api_context(self) -> ApiContext:
        return ApiContext(self.sim.switch, self.sim, self)

    def api(self, text: str) -> str:
        """``api <text>`` from this call's socket: the switch's one API table (fsivr.testing.api)."""
        return execute(self.api_context(), text)

    # ------------------------------------------------------------------ channel thread

    def _session_async(self) -> None:
        # socket_function: wait for the listener to get "connect" (or to die).
        while not self.connected and self.running and self.channel.ready:
            self.wake.clear()
            if not self.wake.wait(timeout=max(0.0, min(self.time_left(), FIRST_PACKET_TIMEOUT + 1))):
                break
        self.wake.clear()
        self.fire("CHANNEL_PARK")
        self._park_loop()
        self.fire("CHANNEL_UNPARK")
        if self.transferring:
            # mod_event_socket.c socket_function: switch_ivr_park, then switch_ivr_parse_all_events -
            # broadcasts an event-locked app kept waiting run now, in a channel that is not ready
            # (trace 13: playback → PLAYBACK ERROR, execute_extension runs nothing)
            while self.queue and self.channel.ready:
                self.parse_event(self.queue.popleft())
        resp = self.channel.get_var("current_application_response") or "_none_"
        self.fire(
            "CHANNEL_EXECUTE_COMPLETE",
            post=[("Application", "socket"), ("Application-Data", self.channel.spec.socket_arg),
                  ("Application-Response", resp), ("Application-UUID", self.socket_app_uuid)],
        )
        if self.after_socket is not None and self.channel.ready:
            self.after_socket(self)
        if self.transfer_to is not None and self.channel.ready and not dialplan.run_transfer(self):
            # The transfer destination's dialplan is outside the simulation: it ends the call.
            self.hangup("NORMAL_CLEARING", "server")
        if self.channel.ready:
            # exit / TCP close: the socket app returns and the dialplan, empty here, hangs up.
            self.hangup("NORMAL_CLEARING", "socket")
        self._report()

    def _park_loop(self) -> None:
        while self.channel.ready and self.controlled and self.transfer_to is None and self.after_socket is None:
            if self.time_left() <= 0:
                return
            self.flush_leftover_dtmf()
            self._idle_script()
            if not self.channel.ready:
                break
            if self.queue and not self.event_lock:
                if self.sim.pickup_delay:
                    # The park loop reads a frame every 20 ms and only then looks at its queue,
                    # so back-to-back sendmsgs all get their +OK before the first app starts (02).
                    gevent.sleep(self.sim.pickup_delay)
                    if not self.channel.ready or not self.queue:
                        continue
                self.parse_event(self.queue.popleft())
                continue
            self.wake.clear()
            if self.queue or not self.channel.ready or not self.controlled:
                continue
            self.wake.wait(timeout=min(1.0, max(0.01, self.time_left())))

    def _idle_script(self) -> None:
        h = self.script.hangup
        while self.idle_dtmf and self.idle_dtmf[0][0] <= self.apps_completed:
            _, keys = self.idle_dtmf.popleft()
            for key in keys:
                self.fire_dtmf(key)
        if h is None:
            return
        due = self.hangup_after_us is not None and self.clock.now_us >= self.hangup_after_us
        if h.after_apps is not None and self.apps_completed >= h.after_apps:
            due = True
        if due:
            self.hangup(cause_from_str(h.cause), "caller")

    def _report(self) -> None:
        """Hangup → reporting state machine (switch_core_state_machine.c), once."""
        if self.channel_gone.is_set():
            return
        ch = self.channel
        if ch.ready:
            self.hangup("NORMAL_CLEARING", "socket")
        if self.async_mode:
            ch.set_running_state("CS_HANGUP", 10)
            self.fire("CHANNEL_STATE")
            ch.mark_hangup_time()
            for hook in self.hangup_hooks:
                hook(self)
            ch.set_callstate("HANGUP")
            ch.set_running_state("CS_REPORTING", 11)
            self.fire("CHANNEL_STATE")
            ch.set_reporting_vars()
            self.fire("CHANNEL_HANGUP_COMPLETE", pre=[("Hangup-Cause", ch.hangup_cause or "NORMAL_CLEARING")])
        else:
            ch.mark_hangup_time()
            for hook in self.hangup_hooks:
                hook(self)
        self.channel_gone.set()
        self._poke_listener()

    def hangup(self, cause: str, by: str) -> None:
        """switch_channel_perform_hangup: CHANNEL_HANGUP now, the app notices afterwards."""
        ch = self.channel
        if not ch.ready:
            return
        ch.mark_hangup(cause)
        self.result.commands_at_hangup = len(self.result.commands)
        far_bye = by == "caller"
        if ch.profile.hangup_ops and far_bye:
            # the caller's BYE brings its Reason (01b); our own BYE leaves these unset (13: hangup app)
            ops = [(n, v.replace("cause=16", f"cause={ch_q850(cause)}").replace("NORMAL_CLEARING", cause)
                    if v is not None else None) for n, v in ch.profile.hangup_ops]
            ch.apply_ops(ops)
        self.fire("CHANNEL_HANGUP")
        if by == "caller" and self.script.listener_sees_hangup_first and self.async_mode and self.linger \
                and not self.handle_disco:
            # the listener's loop runs before the application notices (CallScript)
            self.pending_disco = self._check_disco(down=True)
            self._poke_listener()
        if ch.profile.unpark_ops:
            if far_bye:
                ch.apply_ops(ch.profile.unpark_ops)
            else:
                # we send the BYE: mod_sofia records it while the channel is reported (13)
                ch.hangup_disposition = "send_bye"
        self.result.hangup_cause = cause
        self.result.hangup_by = by
        self.wake.set()
        if not self.async_mode:
            # sync mode: the session thread sits in listener_run; reporting happens after it.
            self.channel_gone.set()
            self._poke_listener()

    # ------------------------------------------------------------------ executing

    def parse_event(self, cmd: wire.Command) -> None:
        """switch_ivr.c switch_ivr_parse_event."""
        ch = self.channel
        call_command = (cmd.header("call-command") or "").strip().lower()
        if not call_command:
            self.result.error.append(f"sendmsg without call-command: {cmd.raw[:200]!r}")
            return
        locked = (cmd.header("event-lock") or "").lower() in ("true", "yes", "on", "1")
        if locked:
            self.event_lock = True
        # CF_BROADCAST: set by the outermost execute, cleared by it (or by a stop); CF_STOP_BROADCAST
        # cleared whenever an execute starts (switch_ivr_parse_event)
        was_broadcasting = self.broadcasting
        try:
            if call_command == "execute":
                self.stop_broadcast = False
                self.broadcasting = True
                app = cmd.header("execute-app-name")
                arg = cmd.header("execute-app-arg")
                ctype = (cmd.header("content-type") or "").lower()
                if not arg and ctype == "text/plain":
                    arg = cmd.body
                if not app:
                    self.result.error.append(f"sendmsg execute without execute-app-name: {cmd.raw[:200]!r}")
                    return
                try:
                    loops = int((cmd.header("loops") or "1").strip() or "1")
                except ValueError:
                    loops = 0  # atoi() of garbage
                event_uuid = cmd.header("event-uuid")
                ch.flush_pending()
                x = 0
                while x < loops or loops < 0:
                    b4 = self.clock.now_us
                    ch.set_var("current_loop", str(x + 1))
                    ch.set_var("total_loops", str(loops))
                    if not self.execute(app.strip(), arg, event_uuid or str(uuidlib.uuid4())):
                        break
                    # switch_ivr_parse_event: a loop shorter than 0.5 s (or a stopped broadcast) ends the loops.
                    if not ch.ready or self.stop_broadcast or self.clock.now_us - b4 < 500_000:
                        break
                    x += 1
                ch.set_var("current_loop", None)
                ch.set_var("total_loops", None)
            elif call_command == "hangup":
                self.hangup(cause_from_str(cmd.header("hangup-cause")), "server")
            elif call_command in ("nomedia", "unicast", "xferext"):
                pass
            else:
                self.result.error.append(f"unknown call-command {call_command!r}")
        finally:
            if locked:
                self.event_lock = False
            if call_command == "execute" and (not was_broadcasting or self.stop_broadcast):
                self.broadcasting = False

    def execute(self, app: str, arg: str | None, app_uuid: str) -> bool:
        """switch_core_session_execute_application + switch_core_session_exec."""
        ch = self.channel
        func = apps.APPLICATIONS.get(app)
        if func is None:
            # switch_core_session_execute_application_get_flags: "Invalid Application".
            if self.sim.strict_apps:
                self.result.error.append(f"unknown application {app!r}")
            self.hangup("DESTINATION_OUT_OF_ORDER", "server")
            return False
        if not ch.ready:
            return False
        expanded = expand(ch, arg, self._expansion_api) if arg else None
        if expanded == "":
            expanded = None
        ch.app_log.append((app, expanded))
        ch.set_var("current_application", app)
        ch.set_var("current_application_data", expanded)
        ch.set_var("current_application_response", None)
        run = AppRun(app, expanded, app_uuid=app_uuid, started=(self.clock.now_us - self.start_us) / 1e6)
        self.result.apps.append(run)
        post = [("Application", app)]
        if expanded is not None:
            post.append(("Application-Data", expanded))
        post.append(("Application-UUID", app_uuid))
        self.fire("CHANNEL_EXECUTE", post=post)
        ch.set_var("current_application", app)
        self.app_counts[app] += 1
        self.armed_hangup = None
        h = self.script.hangup
        if h is not None and h.on_app == app and self.app_counts[app] == h.occurrence:
            self.armed_hangup = max(0.0, h.offset)
        self.app_elapsed = 0.0
        # an app run nested inside another (a broadcast inside an unlocked callcenter/playback):
        # when it ends, the outer one is still running
        outer = self.current
        self.current = run
        self.break_flag = False
        try:
            func(self, expanded or "")
        finally:
            self.current = outer
            self.break_flag = False
        if self.armed_hangup is not None and ch.ready:
            self.hangup(cause_from_str(h.cause if h else None), "caller")
        self.armed_hangup = None
        resp = ch.get_var("current_application_response")
        run.response = resp or "_none_"
        run.duration = (self.clock.now_us - self.start_us) / 1e6 - run.started
        post = [("Application", app)]
        if expanded is not None:
            post.append(("Application-Data", expanded))
        post += [("Application-Response", resp or "_none_"), ("Application-UUID", app_uuid)]
        self.fire("CHANNEL_EXECUTE_COMPLETE", post=post)
        self.apps_completed += 1
        return True

    def media(self, seconds: float) -> str:
        """Let ``seconds`` of media pass. Returns "done", "break", "hangup" or "transfer".

        While the current app is not event-locked, queued sendmsgs are run nested, as
        switch_ivr_play_file's loop calls switch_ivr_parse_all_events (09g: a sendmsg hangup
        during an unlocked playback takes effect at once; 09f: with event-lock it waits).
        """
        ch = self.channel
        remaining = max(0.0, seconds)
        while True:
            if not ch.ready:
                return "hangup"
            if self.transferring:
                return "transfer"  # CF_TRANSFER: switch_channel_ready is false
            self._run_timers()
            if self.break_flag:
                self.break_flag = False
                return "break"
            if self.queue and not self.event_lock:
                self.parse_event(self.queue.popleft())
                continue
            if remaining <= 0:
                return "done"
            step = remaining
            hang = None
            if self.armed_hangup is not None:
                left = self.armed_hangup - self.app_elapsed
                if left <= step:
                    step, hang = max(0.0, left), "armed"
            if self.hangup_after_us is not None:
                left = (self.hangup_after_us - self.clock.now_us) / 1e6
                if left <= step:
                    step, hang = max(0.0, left), "after"
            if self.timers:
                left = (min(t[0] for t in self.timers) - self.clock.now_us) / 1e6
                if left < step:
                    step, hang = max(0.0, left), None
            real = self.clock.real_seconds(step)
            self.wake.clear()
            t0 = time.monotonic()
            if real > 0:
                self._waiting = (t0, step)
                try:
                    self.wake.wait(timeout=min(real, max(0.0, self.time_left())))
                finally:
                    self._waiting = None
            else:
                gevent.sleep(0)
            if self.time_left() <= 0:
                return "hangup" if not ch.ready else "break"
            if real > 0:
                spent_real = time.monotonic() - t0
                spent = min(step, spent_real / self.clock.time_scale) if spent_real < real else step
            else:
                spent = step
            self.clock.advance(spent)
            self.app_elapsed += spent
            remaining -= spent
            if hang is not None and spent >= step:
                self.armed_hangup = None
                cause = self.script.hangup.cause if self.script.hangup else None
                self.hangup(cause_from_str(cause), "caller")
                return "hangup"

    def now_us(self) -> int:
        """The call's virtual time now, counting a media wait in progress (``media`` moves the clock
        only when a wait ends): what another greenlet (an api command) sees as the switch's time."""
        waiting = self._waiting
        if waiting is None or self.clock.time_scale <= 0:
            return self.clock.now_us
        since, step = waiting
        return self.clock.now_us + int(min(step, (time.monotonic() - since) / self.clock.time_scale) * 1_000_000)

    def at(self, seconds: float, callback: Callable[[], None], owner: object = None) -> None:
        """Run ``callback`` once ``seconds`` of media time have passed: something another leg
        (``owner``) does to this channel."""
        self.timers.append((self.clock.now_us + int(max(0.0, seconds) * 1_000_000), callback, owner))

    def cancel_timers(self, owner: object) -> None:
        """The other leg is gone: what it would still have done here does not happen."""
        self.timers = [t for t in self.timers if t[2] is not owner]

    def _run_timers(self) -> None:
        due = [t for t in self.timers if t[0] <= self.clock.now_us]
        if due:
            self.timers = [t for t in self.timers if t[0] > self.clock.now_us]
            for _, callback, _ in due:
                callback()

    def stop_broadcast_now(self) -> None:
        """switch_channel.c switch_channel_stop_broadcast: with CF_BROADCAST set, CF_STOP_BROADCAST and
        CF_BREAK - the broadcast app (hold music) ends; a bridge does not look at CF_BREAK."""
        if not self.broadcasting:
            return
        self.stop_broadcast = True
        if self.current is not None:
            self.break_flag = True
            self.wake.set()

    def next_digits(self) -> str:
        return self.digits.popleft() if self.digits else ""

    def receive_dtmf(self, keys: str, wake: bool = True) -> None:
        """Keys arriving on the channel (the caller pressing them, uuid_recv_dtmf, uuid_send_dtmf
        while not bridged). Idle: DTMF events at once. During ``playback`` (a broadcast included):
        switch_ivr_play_file dequeues each key (switch_channel_dequeue_dtmf fires its DTMF event)
        and hands it to mod_dptools' on_dtmf, which ends the playback on a key of
        ``playback_terminators`` (default ``*``, "any", "none") and drops the others: the app the
        broadcast plays inside (callcenter's moh_on_dtmf) never sees them
        (switch_ivr_play_say.c switch_ivr_play_file, mod_dptools.c on_dtmf, v1.11.1). Keys after a
        terminator stay queued for what runs next. Any other app: its own input takes them."""
        if self.current is None:
            for key in keys:
                self.fire_dtmf(key)
            return
        # A playback already told to stop (uuid_break: CF_BREAK) leaves the keys queued:
        # switch_ivr_play_file tests CF_BREAK before it dequeues DTMF.
        if self.current.name == "playback" and not self.break_flag:
            terminators = self.channel.get_var("playback_terminators") or "*"
            if terminators.lower() == "any":
                terminators = "1234567890*#"
            elif terminators.lower() == "none":
                terminators = ""
            for i, key in enumerate(keys):
                self.fire_dtmf(key)
                if key in terminators:
                    self.channel.set_var("playback_terminator_used", key)
                    if keys[i + 1:]:
                        self.digits.append(keys[i + 1:])
                    self.break_flag = True
                    self.wake.set()
                    return
            return
        self.digits.append(keys)
        if wake:
            self.wake.set()

    def fire_dtmf(self, key: str) -> None:
        self.channel.digits_dialed += key
        self.fire("DTMF", post=[("DTMF-Digit", key), ("DTMF-Duration", "2000"), ("DTMF-Source", "UNKNOWN")])

    def flush_leftover_dtmf(self) -> None:
        """Keys an app did not consume reach the park loop, which dequeues them (03: '#')."""
        if self.leftover_dtmf and self.channel.ready:
            keys, self.leftover_dtmf = self.leftover_dtmf, []
            for key in keys:
                self.fire_dtmf(key)


def ch_q850(cause: str) -> int:
    from fsivr.testing.profiles import Q850

    return Q850.get(cause, 16)
