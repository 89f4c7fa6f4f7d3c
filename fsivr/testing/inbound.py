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

With a ``Simulator`` (``InboundSwitch(sim=sim)``) the switch is the simulator's: ``api``/``bgapi``
reach its calls (``uuid_kill``, ``uuid_getvar``/``uuid_setvar``, ``uuid_exists``, ``uuid_break``,
``uuid_send_dtmf``, ``show channels``, ``status``), its mod_callcenter (``callcenter_config``) and
mod_valet_parking (``valet_info``); ``originate ... &socket(host:port args)`` (or a ``loopback/<ext>``
of ``extensions``) places a call into a socket server through the simulator's outbound machinery;
and listeners receive the events of its calls (whatever the simulator fires for a channel, CUSTOM
ones included) and mod_callcenter's agent events (``CallCenter.events``, which in FreeSWITCH only
reach inbound listeners).
"""

from __future__ import annotations

import re
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
from fsivr.testing.channel import SwitchIdentity
from fsivr.testing.clock import fs_date_fields, fs_stamp
from fsivr.testing.profiles import EVENT_SOURCES, HOSTNAME, cause_from_str
from fsivr.testing.session import EVENT_NAMES, MYEVENTS
from fsivr.testing.subscription import EventSubscriber
from fsivr.testing.wire import DISCONNECT_BODY, CommandReader, api_response, command_reply

if TYPE_CHECKING:
    from fsivr.testing.session import CallSession
    from fsivr.testing.simulator import CallHandle, Simulator

#: reloadxml's output on success (mod_commands.c reload_xml_function; docs/freeswitch-notes.md §5).
RELOADXML_OK = "+OK [Success]\n"
#: ``api version`` (mod_commands.c version_function) of the recorded switch (trace 00).
VERSION_TEXT = "FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n"

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

# switch_core_sqldb.c create_channels_sql: the columns ``show channels`` prints.
CHANNEL_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr", "dest",
    "application", "application_data", "dialplan", "context", "read_codec", "read_rate", "read_bit_rate",
    "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id", "presence_data",
    "accountcode", "callstate", "callee_name", "callee_num", "callee_direction", "call_uuid", "sent_callee_name",
    "sent_callee_num", "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
    "initial_dialplan", "initial_context",
)

Pairs = list[tuple[str, str]]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def status_text(uptime_us: int, since_startup: int, sessions: int, peak: int) -> str:
    """mod_commands.c status_function (trace 00: the lines, the trailing spaces, the final LF)."""
    yr, rest = divmod(uptime_us, 365 * 86400 * 1_000_000)
    day, rest = divmod(rest, 86400 * 1_000_000)
    hr, rest = divmod(rest, 3600 * 1_000_000)
    mins, rest = divmod(rest, 60 * 1_000_000)
    sec, rest = divmod(rest, 1_000_000)
    ms, mms = divmod(rest, 1000)
    return (
        f"UP {_plural(yr, 'year')}, {_plural(day, 'day')}, {_plural(hr, 'hour')}, {_plural(mins, 'minute')}, "
        f"{_plural(sec, 'second')}, {_plural(ms, 'millisecond')}, {_plural(mms, 'microsecond')}\n"
        "FreeSWITCH (Version 1.11.1-release  64bit) is ready\n"
        f"{since_startup} session(s) since startup\n"
        f"{sessions} session(s) - peak {peak}, last 5min {peak} \n"
        "0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
        "1000 session(s) max\n"
        "min idle cpu 0.00/100.00\n"
        "Current Stack Size/Max 240K/8192K\n"
    )


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
            name, _, arg = line[4:].partition(" ")
            return api_response(self.owner.run_api(name, arg))
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

    def _bgapi(self, cmd: wire.Command, text: str) -> str:
        job = cmd.header("job-uuid") or str(uuidlib.uuid4())
        name, _, arg = text.partition(" ")
        owner = self.owner

        def run() -> None:
            # api_exec with acs->bg: the output becomes the body of BACKGROUND_JOB, fired to all
            out = owner.run_api(name, arg) or "Command returned no output!"
            headers = [("Job-UUID", job), ("Job-Command", name)]
            if arg:
                headers.append(("Job-Command-Arg", arg))
            owner.publish(_Event("BACKGROUND_JOB", None, switch_event(owner.switch, "BACKGROUND_JOB", headers),
                                 body=out))

        gevent.spawn(run)
        # parse_command: "~Reply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n"
        return f"~Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\nJob-UUID: {job}\n\n"


@dataclass
class InboundSwitch:
    """A listening inbound ESL port.

    ``api`` maps an API command name to its output (a string or a function of the argument) and
    takes precedence over the built-in commands; unknown commands answer as FreeSWITCH does.
    ``sim``: the Simulator whose calls, modules and events this switch shares (optional).
    ``extensions``: dialplan extensions (``loopback/<ext>/<context>`` in ``originate``) that run
    ``socket <sim.address> <args>`` — the recording's context ``esltest``.
    """

    password: str = "ClueCon"
    api: dict[str, str | Callable[[str], str]] = field(default_factory=lambda: {"reloadxml": RELOADXML_OK})
    #: Every command received, in order, per connection: [(connection number, first line), ...].
    received: list[tuple[int, str]] = field(default_factory=list)
    connections: int = 0
    sim: Simulator | None = None
    auth_timeout: float = AUTH_TIMEOUT
    extensions: dict[str, str] = field(default_factory=lambda: {"sock": "async full", "socksync": "full"})
    #: CallScript.timeout of calls placed by ``originate``.
    originate_timeout: float = 300.0
    _server: StreamServer | None = None
    _listeners: list[_Listener] = field(default_factory=list)
    _started_us: int = field(default_factory=lambda: int(time.time() * 1_000_000))
    _own_switch: SwitchIdentity = field(default_factory=SwitchIdentity)
    #: Calls placed by ``originate`` (A-leg uuid → handle).
    originated: dict[str, CallHandle] = field(default_factory=dict)

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
        """A simulated call fired an event (session.fire / modcommon.fire_ex): render it now, as the
        channel is now, for the listeners that want it."""
        if not self._listeners or not self.wants(event_name, subclass):
            return
        ch = s.channel
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

    def run_api(self, name: str, arg: str) -> str:
        """switch_api_execute: the output of ``<name> <arg>``."""
        handler = self.api.get(name)
        if handler is not None:
            return handler(arg) if callable(handler) else handler
        builtin = getattr(self, "_api_" + name, None) if name.isidentifier() else None
        if builtin is not None:
            out = builtin(arg.strip())
            if out is not None:
                return out
        return f"-ERR {name} Command not found!\n"

    def _api_status(self, _arg: str) -> str:
        now = int(time.time() * 1_000_000)
        since = self.sim.calls_started if self.sim is not None else 0
        live = len(self.sim.live_sessions()) if self.sim is not None else 0
        peak = self.sim.peak_sessions if self.sim is not None else 0
        return status_text(now - self._started_us, since, live, peak)

    def _api_version(self, arg: str) -> str:
        if arg and "short" in arg.lower():
            return "1.11.1\n"
        return VERSION_TEXT

    def _api_hostname(self, _arg: str) -> str:
        return HOSTNAME

    def _api_reloadxml(self, _arg: str) -> str:
        return RELOADXML_OK

    def _api_eval(self, arg: str) -> str:
        return arg

    def _api_echo(self, arg: str) -> str:
        return arg

    def _api_show(self, arg: str) -> str | None:
        """mod_commands.c show_function for ``channels`` / ``calls`` (``[count]``); from the simulator's
        live calls; CSV with the channels table's columns, then ``\\n<N> total.\\n``."""
        argv = arg.split()
        what = argv[0].lower() if argv else ""
        if what not in ("channels", "calls"):
            return None if self.sim is None else f"-USAGE: {what}\n"
        sessions = self.sim.live_sessions() if self.sim is not None else []
        if len(argv) > 1 and argv[1].lower() == "count":
            return f"\n{len(sessions)} total.\n"
        if not sessions:
            return "\n0 total.\n"
        rows = [",".join(CHANNEL_COLUMNS)]
        rows += [",".join(_channel_row(s)) for s in sessions]
        return "\n".join(rows) + f"\n\n{len(sessions)} total.\n"

    # uuid_* (mod_commands.c): "-ERR No such channel!\n" for an unknown or gone uuid

    def _with_session(self, arg: str, a_leg: bool = False) -> tuple[CallSession | None, str, str]:
        """The call of ``<uuid> <rest>``; the loopback A-leg's uuid only where ``a_leg`` (the A-leg
        is not simulated as a channel of its own: killing it or sending keys into it is the caller)."""
        uuid, _, rest = arg.partition(" ")
        s = self.find_session(uuid)
        if s is not None and not a_leg and s.channel.uuid != uuid:
            s = None
        return s, uuid, rest.strip()

    def _api_uuid_exists(self, arg: str) -> str | None:
        if self.sim is None:
            return None
        return "true" if self._with_session(arg, a_leg=True)[0] is not None else "false"

    def _api_uuid_kill(self, arg: str) -> str | None:
        if self.sim is None:
            return None
        s, uuid, cause = self._with_session(arg, a_leg=True)
        if s is None:
            return "-ERR No such channel!\n"
        # killing the loopback A-leg is the caller hanging up (README); the socket leg: the switch did it
        by = "caller" if uuid != s.channel.uuid else "server"
        s.hangup(cause_from_str(cause or None), by)
        s.wake.set()
        return "+OK\n"

    def _api_uuid_getvar(self, arg: str) -> str | None:
        if self.sim is None:
            return None
        s, _, name = self._with_session(arg)
        if s is None:
            return "-ERR No such channel!\n"
        return s.channel.get_var(name.split(" ", 1)[0]) or "_undef_"

    def _api_uuid_setvar(self, arg: str) -> str | None:
        if self.sim is None:
            return None
        s, _, rest = self._with_session(arg)
        if s is None:
            return "-ERR No such channel!\n"
        var, _, value = rest.partition(" ")
        s.channel.set_var(var, value or None)
        return "+OK\n"

    def _api_uuid_break(self, arg: str) -> str | None:
        if self.sim is None:
            return None
        s, _, _ = self._with_session(arg)
        if s is None:
            return "-ERR No such channel!\n"
        if s.current is not None:
            s.break_flag = True
            s.wake.set()
        return "+OK\n"

    def _api_uuid_send_dtmf(self, arg: str) -> str | None:
        """Keys sent into the A-leg reach the socket leg as the caller's. Idle: DTMF events at once (as
        the park loop dequeues them); while an app runs they answer its next digit-collecting attempt
        (the simulator's apps take keys per attempt, not per key as they arrive)."""
        if self.sim is None:
            return None
        s, _, keys = self._with_session(arg, a_leg=True)
        if s is None:
            return "-ERR No such channel!\n"
        keys = "".join(k for k in keys.split(" ", 1)[0] if k in "0123456789*#ABCDabcd")
        if s.current is None:
            for key in keys:
                s.fire_dtmf(key)
        else:
            s.digits.append(keys)
        return "+OK\n"

    def _api_callcenter_config(self, arg: str) -> str | None:
        return self.sim.callcenter_config(arg) if self.sim is not None else None

    def _api_valet_info(self, arg: str) -> str | None:
        return self.sim.valet_info(arg) if self.sim is not None else None

    def _api_originate(self, arg: str) -> str | None:
        """``originate [{vars}]<endpoint> &socket(<host:port> <args>)`` — or ``loopback/<ext>[/ctx]``
        where ``ext`` is one of ``extensions`` (its dialplan runs ``socket``) — places a simulated
        call into that socket server; the reply is ``+OK <A-leg uuid>\\n`` at once (the call runs on
        in its own greenlet: ``originated[uuid]``). Other targets: ``-ERR <CAUSE>\\n``."""
        if self.sim is None:
            return None
        from fsivr.testing.script import CallScript

        text = arg.strip()
        variables: dict[str, str] = {}
        m = re.match(r"^\{([^}]*)\}", text)
        if m:
            for item in m.group(1).split(","):
                k, _, v = item.partition("=")
                if k:
                    variables[k.strip()] = v
            text = text[m.end():]
        endpoint, _, app = text.partition(" ")
        if endpoint.startswith("error/"):
            return f"-ERR {cause_from_str(endpoint[6:], 'NORMAL_TEMPORARY_FAILURE')}\n"
        parts = endpoint.split("/")
        number = parts[1] if len(parts) > 1 else parts[0]
        address = self.sim.address
        socket_args: str | None = None
        sm = re.match(r"^&socket\((\S+)(?:\s+([^)]*))?\)", app.strip())
        if sm:
            host, _, port = sm.group(1).rpartition(":")
            address = (host or "127.0.0.1", int(port))
            socket_args = sm.group(2) or ""
        elif parts[0] == "loopback" and number in self.extensions:
            socket_args = self.extensions[number]
        if socket_args is None:
            return "-ERR NO_ROUTE_DESTINATION\n"
        caller = variables.pop("origination_caller_id_number", "0000000000")
        name = variables.pop("origination_caller_id_name", caller)
        variables.pop("origination_uuid", None)  # the simulator names its legs itself
        script = CallScript(number=number, caller=caller, caller_name=name, variables=variables,
                            profile="loopback" if parts[0] == "loopback" else "sofia", socket_args=socket_args,
                            timeout=self.originate_timeout)
        handle = self.sim.start_call(script, address=address)
        a_leg = handle.session.channel.spec.other_uuid
        self.originated[a_leg] = handle
        return f"+OK {a_leg}\n"


def _channel_row(s: CallSession) -> list[str]:
    ch = s.channel
    v = ch.get_var
    created = ch.spec.created_us
    app = ch.get_var("current_application") or ""
    codec, rate, bits = ch.profile.codec if ch.media else ("", "", "")
    values = [
        ch.uuid, "inbound", fs_stamp(created), str(created // 1_000_000), ch.name, ch.running_state,
        v("caller_id_name") or "", v("caller_id_number") or "", v("network_addr") or "",
        v("destination_number") or "", app, ch.get_var("current_application_data") or "", v("dialplan") or "",
        v("context") or "", codec, rate, bits, codec, rate, bits, "", HOSTNAME, "", "", "", ch.callstate,
        v("callee_id_name") or "", v("callee_id_number") or "", "", v("call_uuid") or ch.uuid, "", "",
        v("caller_id_name") or "", v("caller_id_number") or "", v("network_addr") or "",
        v("destination_number") or "", v("dialplan") or "", v("context") or "",
    ]
    return [x.replace(",", " ") for x in values]
