"""FreeSWITCH's *inbound* ESL side (port 8021): a listener as mod_event_socket.c runs it for a
connection that FreeSWITCH accepted (``listener_run`` without a session).

Framing and texts are byte-exact against shared/esl-traces/00-inbound-auth (and the ``inbound``
connections of the other traces):

* on connect ``Content-Type: auth/request``; ``auth <pw>`` → ``+OK accepted``, or ``-ERR invalid``
  and then the disconnect notice and the close. An inbound listener has no session, so every
  notice is ``Content-Type: text/disconnect-notice`` + ``Content-Length`` + body, *without*
  Controlled-Session-UUID / Content-Disposition (mod_event_socket.c ``send_disconnect``) — also
  the one after ``exit``. Before auth every other command gets ``-ERR command not found``
  (parse_command: only auth/userauth while not LFLAG_AUTHED); nothing within 25 s closes
  (``read_packet(listener, &event, 25)`` in the auth loop of listener_run).
* ``api <cmd>`` → ``api/response`` with the raw output (``-ERR <cmd> Command not found!\\n`` for an
  unknown command, ``-ERR no reply\\n`` for an empty one: api_exec);
* ``bgapi <cmd>`` → ``Reply-Text: +OK Job-UUID: <u>`` + ``Job-UUID: <u>`` (a ``Job-UUID:`` header of
  the command is honoured), then a BACKGROUND_JOB event (Job-UUID, Job-Command[, Job-Command-Arg];
  no Job-Owner-UUID without a session) carrying the output as its body — delivered like any
  event, i.e. only to listeners subscribed to BACKGROUND_JOB (or ALL);
* ``event plain|json <names> [CUSTOM <subclass> ...]``, ``nixevent``, ``noevents``, ``filter``,
  ``myevents <uuid> [fmt]``, ``sendmsg <uuid>``, ``log``/``nolog``, ``exit`` (``+OK bye``, notice,
  close), anything else ``-ERR command not found`` (parse_command's ``done:``);
* events: ``Content-Length`` *before* ``Content-Type: text/event-plain|json`` (read_packet), sent
  between commands: events fired while a command runs follow its reply (07: ``api
  callcenter_config agent add`` → api/response, then the agent-add CUSTOM event).

``api``/``bgapi`` run the switch's one API table (fsivr.testing.api), the same the outbound socket
uses. With a ``Simulator`` (``InboundSwitch(sim=sim)``) the switch is the simulator's: the
commands reach its calls (``uuid_*``, ``show channels``, ``status``), its mod_callcenter and
mod_valet_parking, and ``originate`` places calls through it (socket-controlled ones, or queue
members no socket controls: fsivr.testing.mods.queue_caller); listeners receive the events of its
calls (whatever the simulator fires for a channel, CUSTOM ones included) and mod_callcenter's agent
events (``CallCenter.events``, which in FreeSWITCH only reach inbound listeners). Without one there
are no calls: the commands that need them answer as unknown commands.
"""

from __future__ import annotations

import socket
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

import gevent
import gevent.queue
from gevent.server import StreamServer

from fsivr.testing import wire
from fsivr.testing.api import ApiContext, background_job, execute
from fsivr.testing.channel import Channel, SwitchIdentity
from fsivr.testing.clock import fs_date_fields
from fsivr.testing.profiles import EVENT_SOURCES
from fsivr.testing.session import EVENT_NAMES, MYEVENTS
from fsivr.testing.subscription import EventSubscriber
from fsivr.testing.wire import DISCONNECT_BODY, CommandReader, api_response, bgapi_reply, command_reply

if TYPE_CHECKING:
    from fsivr.testing.session import CallSession
    from fsivr.testing.simulator import Simulator

AUTH_REQUEST = b"Content-Type: auth/request\n\n"
#: The disconnect notice of a listener without a session (mod_event_socket.c send_disconnect): after a
#: refused password (trace 00, connection "inbound-badpw"), after ``exit`` (trace 00, "inbound").
BAD_AUTH_NOTICE = (b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(DISCONNECT_BODY)
                   + DISCONNECT_BODY)
DISCONNECT_NOTICE = BAD_AUTH_NOTICE

AUTH_TIMEOUT = 25.0  # listener_run: read_packet(listener, &event, 25) until authenticated

# mod_callcenter.c: where each CC-Action of an event without channel data is fired (trace 07 for
# the line numbers; the others from mod_callcenter.c of the recorded version's tree).
CC_SOURCES: dict[str, tuple[str, str]] = {
    "agent-add": ("cc_agent_add", "915"),
    "agent-status-get": ("cc_agent_get", "970"),
    "agent-state-get": ("cc_agent_get", "970"),
    "agent-uuid-get": ("cc_agent_get", "970"),
    "agent-status-change": ("cc_agent_update", "1043"),
    "agent-state-change": ("cc_agent_update", "1067"),
    "agent-contact-change": ("cc_agent_update", "1091"),
    "members-count": ("cc_queue_count", "878"),
    "agent-offering": ("outbound_agent_thread_run", "1717"),
    "bridge-agent-start": ("outbound_agent_thread_run", "1934"),
    "bridge-agent-end": ("outbound_agent_thread_run", "2062"),
    "bridge-agent-fail": ("outbound_agent_thread_run", "2196"),
    "agent-max-no-answer": ("outbound_agent_thread_run", "2173"),
}
CC_SUBCLASS = "callcenter::info"

Pairs = list[tuple[str, str]]


def parse_plain_event(frame: bytes) -> Pairs:
    """The (URL-decoded) headers of a framed text/event-plain event."""
    _, _, body = frame.partition(b"\n\n")
    head = body.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    return [(k, unquote(v)) for k, _, v in (ln.partition(": ") for ln in head.split("\n") if ln)]


class _Event:
    """One fired event, rendered per format on demand (each listener serializes it in its own)."""

    __slots__ = ("_body", "_frames", "_pairs", "_render", "name", "subclass")

    def __init__(self, name: str, subclass: str | None, pairs: Pairs | None = None, body: str | None = None,
                 render: Callable[[str], bytes] | None = None) -> None:
        self.name = name
        self.subclass = subclass
        self._pairs = pairs
        self._body = body
        self._frames: dict[str, bytes] = {}
        self._render = render

    def frame(self, fmt: str) -> bytes:
        out = self._frames.get(fmt)
        if out is None:
            out = self._render(fmt) if self._render is not None else _frame(self._pairs or [], self._body, fmt)
            self._frames[fmt] = out
        return out

    def pairs(self) -> Pairs:
        if self._pairs is None:
            self._pairs = parse_plain_event(self.frame("plain"))
        return self._pairs

    def header(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.pairs():
            if k.lower() == low:
                return v
        return None


def _frame(pairs: Pairs, body: str | None, fmt: str) -> bytes:
    if fmt == "json":
        return wire.event_frame(wire.json_body(pairs, body), "json")
    text = "".join(wire.plain_line(k, v) for k, v in pairs)
    if body:
        data = body.encode()
        return wire.event_frame(text.encode() + b"Content-Length: %d\n\n" % len(data) + data, "plain")
    return wire.event_frame((text + "\n").encode(), "plain")


def switch_event(switch: SwitchIdentity, name: str, headers: Pairs, body: str | None = None,
                 subclass: str | None = None, source: tuple[str, str, str] | None = None,
                 at_us: int | None = None) -> Pairs:
    """The header list of an event without channel data (switch_event_prep_for_delivery order;
    Event-Subclass first, as switch_event_create_subclass adds it before Event-Name).
    Empty values are left out, as switch_event_add_header_string leaves them out."""
    us = at_us if at_us is not None else int(time.time() * 1_000_000)
    local, gmt, stamp = fs_date_fields(us)
    f, fn, line = source or EVENT_SOURCES.get(name, ("switch_event.c", "switch_event_fire_detailed", "1"))
    _, prefix = switch.prefix(name)
    pairs: Pairs = [("Event-Subclass", subclass)] if subclass else []
    pairs += [*prefix, ("Event-Date-Local", local), ("Event-Date-GMT", gmt), ("Event-Date-Timestamp", stamp),
              ("Event-Calling-File", f), ("Event-Calling-Function", fn), ("Event-Calling-Line-Number", line),
              ("Event-Sequence", str(switch.next_seq()))]
    pairs += [(k, v) for k, v in headers if v != ""]
    return pairs


class _Listener(EventSubscriber):
    """One accepted inbound connection (mod_event_socket.c listener_t without a session)."""

    def __init__(self, owner: InboundSwitch, sock: socket.socket, number: int) -> None:
        self.owner = owner
        self.sock = sock
        self.number = number
        self.authed = False
        self.running = True
        self.init_subscription(EVENT_NAMES)
        self.myevents = False
        self.session_uuid: str | None = None  # ``myevents <uuid>``
        self._out: gevent.queue.Queue[bytes | None] = gevent.queue.Queue()
        self._held: list[bytes] | None = None

    # --- output: one writer greenlet keeps replies and events in order ------------------------

    def write(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
        else:
            self._out.put(data)

    def _writer(self) -> None:
        while True:
            data = self._out.get()
            if data is None:
                break
            try:
                self.sock.sendall(data)
            except OSError:
                break
        self.running = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def close(self, notice: bool = True) -> None:
        """listener_run's end: the notice (no session: no Controlled-Session-UUID), then the close."""
        self.running = False
        if notice:
            self._out.put(DISCONNECT_NOTICE)
        self._out.put(None)

    # --- events (mod_event_socket.c event_handler) -------------------------------------------

    def subscribed(self, name: str, subclass: str | None) -> bool:
        return self.running and self.authed and self.subscribed_to(name, subclass)

    def offer(self, ev: _Event) -> None:
        if not self.subscribed(ev.name, ev.subclass):
            return
        if not self.passes_filters(ev.header):
            return
        if self.myevents:
            uuid = ev.header("Unique-ID")
            mine = bool(uuid) and (not self.session_uuid or uuid == self.session_uuid)
            if not mine and not (self.session_uuid and ev.header("Job-Owner-UUID") == self.session_uuid):
                return
        self.write(ev.frame(self.format))

    def run(self) -> None:
        writer = gevent.spawn(self._writer)
        reader = CommandReader()
        self.write(AUTH_REQUEST)
        deadline = time.monotonic() + self.owner.auth_timeout
        try:
            while self.running:
                timeout = None if self.authed else max(0.0, deadline - time.monotonic())
                if timeout is not None and timeout <= 0:
                    self.close()  # read_packet timed out before auth: notice and close
                    break
                try:
                    self.sock.settimeout(timeout)
                    data = self.sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    self.close(notice=False)
                    break
                if not data:
                    self.close(notice=False)
                    break
                for cmd in reader.feed(data):
                    self._process(cmd)
                    if not self.running:
                        break
        finally:
            self.owner._drop(self)
            if self.running:
                self.close(notice=False)
            writer.join(timeout=5.0)
            if not writer.dead:
                writer.kill(block=False)

    def _process(self, cmd: wire.Command) -> None:
        line = cmd.first_line.strip()
        self.owner.received.append((self.number, line))
        self._held = []
        try:
            reply = self._command(cmd, line)
        except Exception as exc:  # never kill the switch; say what went wrong like a failed command
            reply = f"-ERR {type(exc).__name__}: {exc}"
        held, self._held = self._held, None
        if isinstance(reply, bytes):
            self.write(reply)  # api/response
        elif reply is not None:
            if reply == "":
                reply = "-ERR command not found"  # parse_command's "done:"
            self.write(reply[1:].encode() if reply.startswith("~") else command_reply(reply))
        for data in held:
            self.write(data)
        if not self.running:
            self.close()

    def _command(self, cmd: wire.Command, line: str) -> str | bytes | None:
        """The reply text (``~`` = a raw header block), bytes for an api/response, None for none.
        Events fired meanwhile (e.g. by the api command) are held and follow the reply."""
        low = line.lower()
        if low.startswith("exit") or low.startswith("..."):
            self.running = False
            return "+OK bye"
        if not self.authed:
            if low.startswith("auth "):
                if line[5:] == self.owner.password:  # strcmp(prefs.password, cmd + 5)
                    self.authed = True
                    return "+OK accepted"
                self.running = False
                return "-ERR invalid"
            return ""
        if low.startswith("filter "):
            return self.filter_command(line[7:])
        if low.startswith("myevents "):
            return self._myevents(line[9:])
        if low.startswith("divert_events"):
            return "-ERR not controlling a session."
        if low.startswith("sendmsg"):
            return self._sendmsg(cmd, line[7:].strip())
        if low.startswith("sendevent"):
            return f"+OK {uuidlib.uuid4()}"
        if low.startswith("api "):
            return api_response(self.owner.run_api(line[4:]))
        if low.startswith("bgapi "):
            return self._bgapi(cmd, line[6:])
        if low.startswith("linger") or low.startswith("nolinger"):
            return "-ERR not controlling a session"  # parse_command: linger/nolinger need listener->session
        reply = self.listener_command(low, line)
        return "" if reply is None else reply

    def _myevents(self, rest: str) -> str:
        if self.myevents:
            return "-ERR aready enabled."
        uuid, _, fmt = rest.strip().partition(" ")
        if uuid and self.owner.find_session(uuid) is None and fmt:
            return "-ERR invalid uuid"
        self.session_uuid = uuid or None
        if fmt.lower() in ("plain", "json", "xml"):
            self.format = fmt.lower()
        self.event_list |= MYEVENTS
        self.myevents = True
        self.events_on = True
        return "+OK Events Enabled"

    def _sendmsg(self, cmd: wire.Command, uuid: str) -> str:
        uuid = uuid or (cmd.header("session-id") or "")
        session = self.owner.find_session(uuid) if uuid else None
        if session is None or session.channel.uuid != uuid:  # the A-leg is not a simulated channel
            return f"-ERR invalid session id [{uuid}]"
        # switch_core_session_queue_private_event: the channel's park loop runs it.
        session.queue.append(cmd)
        session.wake.set()
        return "+OK"

    def _bgapi(self, cmd: wire.Command, text: str) -> bytes:
        """parse_command's bgapi: the reply at once, the command in its own thread (api_exec), its
        output in a BACKGROUND_JOB event fired to every listener subscribed to it (or ALL)."""
        job = cmd.header("job-uuid") or str(uuidlib.uuid4())
        owner = self.owner
        lost = bool(owner.drop_after_bgapi) and text.startswith(owner.drop_after_bgapi)
        if lost:
            owner.drop_after_bgapi = ""
        withheld = bool(owner.withhold_bgapi) and text.startswith(owner.withhold_bgapi)
        if withheld:
            owner.withhold_bgapi = ""

        def run() -> None:
            if lost:
                # The network fails after the reply: the job still runs on the switch (the call is
                # placed), but this connection is gone before its BACKGROUND_JOB.
                self.close(notice=False)
            headers, body = background_job(owner.api_context(), job, text)
            if withheld:
                return
            if owner.sim is not None:
                owner.sim.publish_background_job(headers, body)  # this switch's listeners among them
            else:
                owner.fire("BACKGROUND_JOB", headers, body)

        gevent.spawn(run)
        return bgapi_reply(job)


@dataclass
class InboundSwitch:
    """A listening inbound ESL port.

    ``api`` maps an API command name to its output (a string or a function of the argument) and
    takes precedence over the built-in commands; unknown commands answer as FreeSWITCH does.
    ``sim``: the Simulator whose calls, modules and events this switch shares (optional).
    """

    password: str = "ClueCon"
    api: dict[str, str | Callable[[str], str]] = field(default_factory=dict)
    #: Every command received, in order, per connection: [(connection number, first line), ...].
    received: list[tuple[int, str]] = field(default_factory=list)
    connections: int = 0
    sim: Simulator | None = None
    auth_timeout: float = AUTH_TIMEOUT
    #: A test's network failure: the next ``bgapi`` whose command starts with this is run, but its
    #: connection is closed right after the reply (once).
    drop_after_bgapi: str = ""
    #: The next ``bgapi`` whose command starts with this runs, but its BACKGROUND_JOB is never sent
    #: (an originate still ringing, as far as the client can tell), once.
    withhold_bgapi: str = ""
    _server: StreamServer | None = None
    _listeners: list[_Listener] = field(default_factory=list)
    _own_switch: SwitchIdentity = field(default_factory=SwitchIdentity)

    def __post_init__(self) -> None:
        if self.sim is not None:
            self.attach(self.sim)

    def attach(self, sim: Simulator) -> None:
        """Share ``sim``: its calls' events and mod_callcenter's agent events reach these listeners."""
        self.sim = sim
        if self not in sim.inbound:
            sim.inbound.append(self)
        if self._cc_event not in sim.callcenter.subscribers:
            sim.callcenter.subscribers.append(self._cc_event)

    @property
    def switch(self) -> SwitchIdentity:
        return self.sim.switch if self.sim is not None else self._own_switch

    # --- server -----------------------------------------------------------------------------

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
        for listener in list(self._listeners):
            listener.close(notice=False)
        if self._server is not None:
            self._server.stop(timeout=1)
        if self.sim is not None:
            if self in self.sim.inbound:
                self.sim.inbound.remove(self)
            if self._cc_event in self.sim.callcenter.subscribers:
                self.sim.callcenter.subscribers.remove(self._cc_event)

    def __enter__(self) -> InboundSwitch:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def drop_links(self) -> int:
        """A network failure now: every connection closes without a notice. Commands running on
        the switch (a bgapi originate ringing) go on; their BACKGROUND_JOB reaches nobody.
        Returns how many connections were dropped."""
        dropped = list(self._listeners)
        for listener in dropped:
            listener.close(notice=False)
        return len(dropped)

    def calls(self, command: str) -> int:
        """How many times a command (first line, e.g. ``api reloadxml``) was received."""
        return sum(1 for _, line in self.received if line == command)

    def _handle(self, sock: socket.socket, _peer: object) -> None:
        self.connections += 1
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener = _Listener(self, sock, self.connections)
        self._listeners.append(listener)
        listener.run()

    def _drop(self, listener: _Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- events -----------------------------------------------------------------------------

    def wants(self, name: str, subclass: str | None = None) -> bool:
        return any(lst.subscribed(name, subclass) for lst in self._listeners)

    def publish(self, ev: _Event) -> None:
        """switch_event_fire → event_handler: every listener that wants it gets it queued."""
        for lst in list(self._listeners):
            lst.offer(ev)

    def fire(self, name: str, headers: Pairs, body: str | None = None, subclass: str | None = None,
             source: tuple[str, str, str] | None = None) -> None:
        """Fire an event without channel data (e.g. from a test: ``sw.fire("CUSTOM", [...], subclass=...)``)."""
        if self.wants(name, subclass):
            self.publish(_Event(name, subclass, switch_event(self.switch, name, headers, body, subclass, source),
                                body=body))

    def channel_event(self, s: CallSession, event_name: str, pre: Pairs | None, post: Pairs | None,
                      body: str | None, channel_data: bool, subclass: str | None = None,
                      source: tuple[str, str, str] | None = None) -> None:
        """A simulated call fired an event (session.fire / mods.common.fire_ex): render it now, as the
        channel is now, for the listeners that want it."""
        self.leg_event(s.channel, event_name, pre, post, body, channel_data, subclass, source)

    def leg_event(self, ch: Channel, event_name: str, pre: Pairs | None = None, post: Pairs | None = None,
                  body: str | None = None, channel_data: bool = True, subclass: str | None = None,
                  source: tuple[str, str, str] | None = None) -> None:
        """An event of a channel no CallSession runs (a leg ``originate`` made: fsivr.testing.legs)."""
        if not self._listeners or not self.wants(event_name, subclass):
            return
        frames = {
            fmt: ch.render(event_name, fmt, pre, post, body, channel_data, subclass=subclass, source=source)
            for fmt in {lst.format for lst in self._listeners if lst.subscribed(event_name, subclass)}
        }
        self.publish(_Event(event_name, subclass, render=lambda fmt: frames.get(fmt) or ch.render(
            event_name, fmt, pre, post, body, channel_data, subclass=subclass, source=source)))

    def _cc_event(self, action: str, headers: Pairs) -> None:
        """mod_callcenter's events that carry no channel data (agent-*, members-count, ...)."""
        func, line = CC_SOURCES.get(action, ("cc_agent_update", "0"))
        self.fire("CUSTOM", headers, subclass=CC_SUBCLASS, source=("mod_callcenter.c", func, line))

    # --- api --------------------------------------------------------------------------------

    def find_session(self, uuid: str) -> CallSession | None:
        """A live simulated call by its uuid (the socket leg) or its loopback A-leg's uuid."""
        if self.sim is None:
            return None
        return self.sim.find_session(uuid)

    def api_context(self) -> ApiContext:
        return ApiContext(self.switch, self.sim)

    def run_api(self, text: str) -> str:
        """switch_api_execute: the output of ``<name> <arg>`` - an ``api`` override, else the
        switch's one API table (fsivr.testing.api)."""
        name, _, arg = text.partition(" ")
        override = self.api.get(name)
        if override is not None:
            return override(arg) if callable(override) else override
        return execute(self.api_context(), text)
