"""The simulated switch's API commands: one table, whichever socket a command comes in on.

FreeSWITCH runs ``api``/``bgapi`` through one registry (switch_loadable_module.c
``switch_api_execute``) for the outbound socket, the inbound socket and ``${api(args)}``
expansion alike, so the simulator keeps one table too: ``API`` maps a command name to a function
of an ``ApiContext`` and the command's argument. A function returns the command's output, or None
where this switch cannot run it (an ``InboundSwitch`` without a Simulator has no calls), which
answers as an unknown command does (mod_event_socket.c api_exec: ``-ERR <cmd> Command not
found!\\n``).

Adding a command is a function and one line in ``API`` (or in a module emulation's
``API_COMMANDS``, see fsivr.testing.mods). The outputs are mod_commands.c's (cited per command)
as the traces in shared/esl-traces recorded them.
"""

from __future__ import annotations

import re
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import gevent

from fsivr.testing import apps, broadcast, dialplan, displace, hold, legs, meta, mods
from fsivr.testing.clock import fs_stamp
from fsivr.testing.expand import separate_char, separate_string
from fsivr.testing.mods import queue_caller
from fsivr.testing.profiles import HOSTNAME, cause_from_str
from fsivr.testing.script import CallScript

if TYPE_CHECKING:
    from fsivr.testing.channel import Channel, SwitchIdentity
    from fsivr.testing.peer import Peer
    from fsivr.testing.session import CallSession
    from fsivr.testing.simulator import Originated, Simulator

Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class ApiContext:
    """What a command may reach: the switch, its Simulator (calls, modules) and the calling call."""

    switch: SwitchIdentity
    #: The calls and module state of the switch; None for an InboundSwitch on its own.
    sim: Simulator | None = None
    #: The call whose outbound socket sent the command; None on the inbound socket.
    session: CallSession | None = None

    @property
    def now_us(self) -> int | None:
        """The switch's clock for epochs: the calling call's virtual clock, else None (real time)."""
        return self.session.clock.now_us if self.session is not None else None


ApiFunc = Callable[[ApiContext, str], "str | None"]


def execute(ctx: ApiContext, text: str) -> str:
    """switch_api_execute: the output of ``<name> <arg>``."""
    name, _, arg = text.strip().partition(" ")
    func = API.get(name)
    out = func(ctx, arg.strip()) if func is not None else None
    return f"-ERR {name} Command not found!\n" if out is None else out


def background_job(ctx: ApiContext, job: str, text: str) -> tuple[Pairs, str]:
    """mod_event_socket.c api_exec with ``acs->bg``: runs the command and gives the headers and the
    body of its BACKGROUND_JOB event. Job-Owner-UUID is the listener's session (none on inbound);
    Job-Command-Arg is the raw rest of the line (parse_command cuts at the first blank only)."""
    name, _, arg = text.partition(" ")
    body = execute(ctx, text)
    headers: Pairs = [("Job-UUID", job)]
    if ctx.session is not None:
        headers.append(("Job-Owner-UUID", ctx.session.channel.uuid))
    headers.append(("Job-Command", name))
    if arg:
        headers.append(("Job-Command-Arg", arg))
    return headers, body


# ----------------------------------------------------------------------------- core


#: ``api version`` (mod_commands.c version_function: "FreeSWITCH Version %s (%s)\n" with
#: switch_version_full / switch_version_full_human) of the recorded switch (README of the traces).
VERSION_TEXT = "FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n"
#: reloadxml's output on success (mod_commands.c reload_xml_function; docs/freeswitch-notes.md §5).
RELOADXML_OK = "+OK [Success]\n"


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


def status(ctx: ApiContext, _arg: str) -> str:
    """Sessions are the switch's live calls (in core memory, not the DB: trace 05 counts 2 while
    ``show channels`` still says 0)."""
    sim = ctx.sim
    uptime = int(time.time() * 1_000_000) - ctx.switch.started_us
    if sim is None:
        return status_text(uptime, 0, 0, 0)
    return status_text(uptime, sim.calls_started, len(sim.live_sessions()), sim.peak_sessions)


def version(_ctx: ApiContext, arg: str) -> str:
    """mod_commands.c version_function: ``short`` anywhere in the first word → major.minor.micro."""
    if arg and "short" in arg.split(" ", 1)[0].lower():  # switch_stristr("short", argv[0])
        return "1.11.1\n"
    return VERSION_TEXT


def hostname(_ctx: ApiContext, _arg: str) -> str:
    return HOSTNAME  # mod_commands.c hostname_api_function: no LF


def reloadxml(_ctx: ApiContext, _arg: str) -> str:
    return RELOADXML_OK


def echo(_ctx: ApiContext, arg: str) -> str:
    return arg  # mod_commands.c echo_function: "%s", cmd


def eval_(_ctx: ApiContext, arg: str) -> str:
    # mod_commands.c eval_function expands variables; the simulator's callers only echo text.
    return arg


def global_getvar(_ctx: ApiContext, _arg: str) -> str:
    # mod_commands.c global_getvar_function: "%s" of switch_str_nil(value); no globals are set here.
    return ""


# ----------------------------------------------------------------------------- channels


#: How long a new channel stays out of the core DB's channels table: switch_core_sqldb.c
#: switch_user_sql_thread, once woken, yields 39 x 5 ms for more statements before it writes the
#: batch. Trace 05: ``show channels`` 0.1 s after the call was created says ``0 total.``.
CHANNELS_DB_LAG = 0.195

# switch_core_sqldb.c create_channels_sql: the columns ``show channels`` prints.
CHANNEL_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num", "ip_addr", "dest",
    "application", "application_data", "dialplan", "context", "read_codec", "read_rate", "read_bit_rate",
    "write_codec", "write_rate", "write_bit_rate", "secure", "hostname", "presence_id", "presence_data",
    "accountcode", "callstate", "callee_name", "callee_num", "callee_direction", "call_uuid", "sent_callee_name",
    "sent_callee_num", "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
    "initial_dialplan", "initial_context",
)


def show(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c show_function for ``channels`` / ``calls`` (``[count]``): the rows of the
    channels table (the simulator's live calls once CHANNELS_DB_LAG has passed), CSV with its
    columns, then ``\\n<N> total.\\n``."""
    argv = arg.split()
    what = argv[0].lower() if argv else ""
    if what not in ("channels", "calls"):
        return None if ctx.sim is None else f"-USAGE: {what}\n"
    now = time.monotonic()
    sessions = [s for s in ctx.sim.live_sessions() if now - s.created_monotonic >= CHANNELS_DB_LAG] \
        if ctx.sim is not None else []
    if len(argv) > 1 and argv[1].lower() == "count":
        return f"\n{len(sessions)} total.\n"
    if not sessions:
        return "\n0 total.\n"
    rows = [",".join(CHANNEL_COLUMNS)]
    rows += [",".join(_channel_row(s)) for s in sessions]
    return "\n".join(rows) + f"\n\n{len(sessions)} total.\n"


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


NO_SUCH_CHANNEL = "-ERR No such channel!\n"


def _locate(ctx: ApiContext, uuid: str, a_leg: bool = False) -> CallSession | None:
    """switch_core_session_locate over the simulator's calls. The loopback A-leg of a call only
    where ``a_leg``: it is not simulated as a channel of its own - killing it or sending keys into it
    is the caller (README of the traces), but it has no variables to read."""
    if ctx.sim is None or not uuid:
        return None
    s = ctx.sim.find_session(uuid)
    if s is not None and not a_leg and s.channel.uuid != uuid:
        return None
    return s


def _locate_peer(ctx: ApiContext, uuid: str) -> Peer | None:
    """The far end of a running bridge (fsivr.testing.peer), a channel of this switch too (trace 13:
    ``uuid_getvar`` of the bridge's B-leg)."""
    if ctx.sim is None or not uuid:
        return None
    for s in ctx.sim.live_sessions():
        for peer in (s.peer, s.outer_peer):
            if peer is not None and peer.uuid == uuid:
                return peer
    return None


def uuid_exists(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c uuid_exists_function: "true"/"false", no LF."""
    if ctx.sim is None:
        return None
    uuid = arg.split(" ", 1)[0]
    # A leg an originate is still ringing exists too (switch_ivr_originate creates it first).
    found = (_locate(ctx, uuid, a_leg=True) is not None or uuid in ctx.sim.queue_callers
             or uuid in ctx.sim.ringing)
    return "true" if found else "false"


def uuid_kill(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c kill_function: ``<uuid> [cause]``."""
    if ctx.sim is None:
        return None
    uuid, _, cause = arg.partition(" ")
    s = _locate(ctx, uuid, a_leg=True)
    caller = ctx.sim.queue_callers.get(uuid)
    if s is None and caller is not None:
        queue_caller.hangup(ctx.sim, caller)  # a queue member no socket controls
        return "+OK\n"
    if s is None and ctx.sim.parked_legs.pop(uuid, None) is not None:
        # a leg originate placed and parked (or is still ringing: its originate fails with the cause)
        ctx.sim.killed_legs[uuid] = cause_from_str(cause.strip() or None)
        leg = ctx.sim.leg_channels.pop(uuid, None)
        if leg is not None:
            # kill_function's switch_channel_hangup: CHANNEL_HANGUP in this thread, the leg's own
            # thread reports it (fsivr.testing.legs); a ringing leg's originate fails after that
            legs.hangup(ctx.sim, leg, ctx.sim.killed_legs[uuid])
        return "+OK\n"
    peer = _locate_peer(ctx, uuid) if s is None else None
    if peer is not None and not peer.hungup:
        # the far end of a bridge (a callcenter agent): its leg goes down, our bridge ends
        peer.hungup = True
        for other in ctx.sim.live_sessions():
            if peer in (other.peer, other.outer_peer):
                other.wake.set()
        return "+OK\n"
    if s is None:
        return NO_SUCH_CHANNEL
    # killing the loopback A-leg is the caller hanging up; the socket leg: the switch did it
    by = "caller" if uuid != s.channel.uuid else "server"
    s.hangup(cause_from_str(cause.strip() or None), by)
    s.wake.set()
    return "+OK\n"


def uuid_bridge(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c uuid_bridge_function: ``<uuid> <other_uuid>`` → ``+OK <other_uuid>\\n`` or
    ``-ERR Invalid uuid\\n``. Only what the simulator can hold: a mod_callcenter agent's leg while it
    is in a queue call (agents are not simulated calls) joined to a leg ``originate`` answered and
    parked (``Simulator.parked_legs``); the join is kept on the agent (``Agent.bridged_to``)."""
    sim = ctx.sim
    if sim is None:
        return None
    parts = arg.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a, b = parts[0], parts[1]
    agent = next((ag for ag in sim.callcenter.agents.values()
                  if ag.uuid == a and ag.state == "In a queue call"), None)
    if agent is None or b not in sim.parked_legs:
        return "-ERR Invalid uuid\n"
    agent.bridged_to = b
    return f"+OK {b}\n"


def uuid_getvar(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c uuid_getvar_function: the value without LF, ``_undef_`` when unset (trace 05)."""
    if ctx.sim is None:
        return None
    uuid, _, rest = arg.partition(" ")
    name = rest.strip().split(" ", 1)[0]
    peer = _locate_peer(ctx, uuid)
    if peer is not None and not peer.hungup:
        return peer.vars.get(name) or "_undef_"
    s = _locate(ctx, uuid)
    caller = ctx.sim.queue_callers.get(uuid)
    if s is None and caller is not None:
        return caller.variables.get(name) or "_undef_"
    if s is None:
        return NO_SUCH_CHANNEL
    return s.channel.get_var(name) or "_undef_"


def uuid_setvar(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c uuid_setvar_function: switch_separate_string into 3 parts (quotes and escapes
    of the value resolved), stored as given - no variable expansion."""
    if ctx.sim is None:
        return None
    parts = separate_string(arg, 3)
    if len(parts) < 2:
        return "-USAGE: <uuid> <var> [value]\n"
    s = _locate(ctx, parts[0])
    peer = _locate_peer(ctx, parts[0]) if s is None else None
    if peer is not None and not peer.hungup:
        if len(parts) > 2 and parts[2]:
            peer.vars[parts[1]] = parts[2]
        else:
            peer.vars.pop(parts[1], None)
        return "+OK\n"
    if s is None:
        return NO_SUCH_CHANNEL
    s.channel.set_var(parts[1], parts[2] if len(parts) > 2 and parts[2] else None)
    return "+OK\n"


def uuid_break(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c break_function: the running application stops (trace 02: FILE PLAYED)."""
    if ctx.sim is None:
        return None
    s = _locate(ctx, arg.split(" ", 1)[0])
    if s is None:
        return NO_SUCH_CHANNEL
    if s.current is not None:
        s.break_flag = True
        s.wake.set()
    return "+OK\n"


def uuid_answer(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c uuid_answer_function: switch_channel_answer on the channel (the whole argument
    is the uuid); ``-ERROR\n`` when there is none."""
    if ctx.sim is None:
        return None
    s = _locate(ctx, arg)
    if s is None:
        return "-ERROR\n"
    apps.answer(s, "")
    return "+OK\n"


def uuid_send_dtmf(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c uuid_send_dtmf_function (trace 03: ``+OK <uuid> sent DTMF 12#.\\n``). Keys sent
    into the A-leg reach the socket leg as the caller's. Idle: DTMF events at once (as the park loop
    dequeues them); while an app runs they answer its next digit-collecting attempt (the simulator's
    apps take keys per attempt, not per key as they arrive)."""
    if ctx.sim is None:
        return None
    argv = arg.split(" ", 1)
    if len(argv) < 2 or not argv[0] or not argv[1]:
        return "-USAGE: <uuid> <dtmf_data>\n"
    uuid, data = argv[0], argv[1]
    s = _locate(ctx, uuid, a_leg=True)
    if s is None:
        return "-ERR Cannot locate session!\n"
    keys = "".join(k for k in data.split(" ", 1)[0] if k in "0123456789*#ABCDabcd")
    if s.peer is not None:
        # bridged: the keys cross as they come, through the meta hook (trace 13: the caller's *1
        # passes as DTMF events when only the far end's keys are bound)
        for key in keys:
            if meta.on_dtmf(s, key, meta.RECV):
                s.fire_dtmf(key)
    else:
        s.receive_dtmf(keys, wake=False)
    return f"+OK {uuid} sent DTMF {data}.\n"


def uuid_recv_dtmf(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c uuid_recv_dtmf_function: the keys are queued on the channel as if the caller
    pressed them (switch_channel_queue_dtmf_string) → ``+OK <uuid> received DTMF <keys>.\n``."""
    if ctx.sim is None:
        return None
    argv = arg.split(" ", 1)
    if len(argv) < 2 or not argv[0] or not argv[1]:
        return "-USAGE: <uuid> <dtmf_data>\n"
    s = _locate(ctx, argv[0])
    if s is None:
        return "-ERR Cannot locate session!\n"
    keys = "".join(k for k in argv[1] if k in "0123456789*#ABCDabcd")
    s.receive_dtmf(keys)
    return f"+OK {argv[0]} received DTMF {argv[1]}.\n"


def uuid_transfer(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c transfer_function: ``<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]``
    → ``+OK\n``. switch_ivr_session_transfer (fsivr.testing.dialplan.transfer_session) takes the
    channel out of its application - a bridge ends - and out of the socket app; the connection stays
    and sees the destination's applications (trace 13). ``-bleg``/``-both`` move only our leg: the
    far end is not a simulated call."""
    if ctx.sim is None:
        return None
    argv = arg.split()
    if len(argv) < 2 or len(argv) > 5:
        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    s = _locate(ctx, argv[0])
    if s is None:
        return NO_SUCH_CHANNEL
    rest = argv[2:] if argv[1].startswith("-") else argv[1:]
    if not rest:
        return "-ERR\n"
    ok = dialplan.transfer_session(s, rest[0], rest[1] if len(rest) > 1 else "", rest[2] if len(rest) > 2 else "")
    return "+OK\n" if ok else "-ERR\n"


def uuid_hold(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c uuid_hold_function: ``[off|toggle] <uuid> [<display>]`` → ``+OK Success\n``, or
    ``-ERR Operation failed\n`` (no such channel, already held, not held; trace 13)."""
    if ctx.sim is None:
        return None
    argv = arg.split()
    if not argv:
        return "-USAGE: [off|toggle] <uuid> [<display>]\n"
    mode = argv[0].lower()
    uuid = (argv[1] if len(argv) > 1 else "") if mode in ("off", "toggle") else argv[0]
    s = _locate(ctx, uuid)
    if s is None:
        ok = False
    elif mode == "off":
        ok = hold.unhold(s)
    elif mode == "toggle":
        ok = hold.unhold(s) if s.channel.callstate == "HELD" else hold.hold(s)
    else:
        ok = hold.hold(s)
    return "+OK Success\n" if ok else "-ERR Operation failed\n"


def sofia_contact(ctx: ApiContext, arg: str) -> str:
    """mod_sofia.c sofia_contact_function: ``sofia/<profile>/sip:<contact>`` or
    ``error/user_not_registered`` (no LF). Registrations are the calling call's script's
    (``CallScript.registered``; everyone is registered unless it says otherwise)."""
    text = arg.strip()
    if "/" in text:
        text = text.split("/", 1)[1]
    user = text.split("@", 1)[0]
    if ctx.sim is not None and "@" in text:
        reg = ctx.sim.sofia.registrations.get((user, text.split("@", 1)[1]))
        if reg is not None:  # a phone registered with Simulator.register_phone
            return f"sofia/{reg.profile}/sip:{user}@{reg.ip}:{reg.port}"
    registered = ctx.session.script.registered if ctx.session is not None else {}
    if not user or not registered.get(user, True):
        return "error/user_not_registered"
    return f"sofia/internal/sip:{user}@192.0.2.10:5060"


def originate(ctx: ApiContext, arg: str) -> str | None:
    """mod_commands.c originate_function: ``+OK <uuid>\\n`` of the created A-leg, or ``-ERR <CAUSE>\\n``.

    ``[{vars}]<endpoint> &socket(<host:port> <args>)`` - or ``loopback/<ext>[/ctx]`` where ``ext``
    is one of ``Simulator.extensions`` (its dialplan runs ``socket``) - places a simulated call into
    that socket server; the reply comes at once (the call runs on in its own greenlet:
    ``Simulator.originated[uuid]``). ``error/<cause>`` fails with that cause (trace 05:
    ``-ERR USER_BUSY``). Any other target is a leg the simulator does not run (e.g. trace 05's
    ``loopback/answer/esltest &park``): it is created - ``origination_uuid`` or a new uuid - and
    left to its own dialplan."""
    sim = ctx.sim
    if sim is None:
        return None
    text = arg.strip()
    variables: dict[str, str] = {}
    m = re.match(r"^\{([^}]*)\}", text)
    if m:
        # switch_event_create_brackets (switch_event.c): split on "," then each item on "=", each
        # pass with switch_separate_string's quoting and escapes.
        for item in separate_char(m.group(1), ",", 1024):
            pair = separate_char(item, "=", 2)
            if len(pair) == 2 and pair[0]:
                variables[pair[0]] = pair[1]
        text = text[m.end():]
    endpoint, _, app = text.partition(" ")
    inline, queue = queue_caller.parse_inline(app)
    if endpoint.startswith("loopback/") and queue is not None:
        return _originate_queue_caller(sim, endpoint, variables, inline, queue)
    if endpoint.startswith("error/"):
        return f"-ERR {cause_from_str(endpoint[6:], 'NORMAL_TEMPORARY_FAILURE')}\n"
    parts = endpoint.split("/")
    number = parts[1] if len(parts) > 1 else parts[0]
    address = sim.address
    socket_args: str | None = None
    sm = re.match(r"^&socket\((\S+)(?:\s+([^)]*))?\)", app.strip())
    if sm:
        host, _, port = sm.group(1).rpartition(":")
        address = (host or "127.0.0.1", int(port))
        socket_args = sm.group(2) or ""
    elif parts[0] == "loopback" and number in sim.extensions:
        socket_args = sim.extensions[number]
    placed: Originated | None = None
    answered_after: float | None = None
    # The leg's channel as listeners on the live link see it (fsivr.testing.legs) where no
    # simulated call runs it: an attempt that fails, or a leg left to &park().
    leg: Channel | None = None
    if parts[0] != "loopback":
        number = parts[-1]
        # switch_ivr_originate returns only once the far end answered or the attempt failed, and
        # originate_function replies after it (mod_commands.c): the command waits out the ringing
        # (``Simulator.originate_ring``; real waiting only with ``Simulator.ring_scale``).
        outcome = sim.originate_outcome(number)
        ring = sim.originate_ring.get(number)
        if ring is None:
            # Nobody answering rings until originate_timeout (switch_ivr_originate's default 60 s).
            ring = _seconds(variables.get("originate_timeout"), 60.0) if outcome == "NO_ANSWER" else 0.0
        placed = sim.originate_started(number, variables, outcome)
        cause = cause_from_str(outcome, "NORMAL_TEMPORARY_FAILURE") if outcome != "ANSWER" else ""
        if (cause or socket_args is None) and cause not in legs.NO_CHANNEL_CAUSES:
            leg = legs.create(sim, endpoint, number, variables, placed.at_us)
        # Ringing takes real time only where a test asks for it (ring_scale): the answered leg's
        # clock still starts ``ring`` after its creation either way.
        scale = sim.ring_scale or 0.0
        ringing = variables.get("origination_uuid") or ""
        if ring > 0 and scale > 0:
            sim.ringing.add(ringing)
            try:
                gevent.sleep(ring * scale)
            finally:
                sim.ringing.discard(ringing)
        if cause:
            # The test's script for the far end: how ringing this number ends when nobody answers
            # (USER_BUSY, NO_ANSWER, ...): originate fails with that cause (mod_commands.c), after
            # the leg's CHANNEL_HANGUP (and, usually, the rest of its end: fsivr.testing.legs).
            sim.originate_ended(placed)
            if leg is not None:
                legs.hangup(sim, leg, cause, ring, sim.leg_report_delay)
            return f"-ERR {cause}\n"
        answered_after = ring
    if socket_args is None:
        if placed is not None:
            # Not a leg that runs the socket application: the switch's count of legs it placed
            # for a campaign only covers those it tracks to their end.
            sim.originate_ended(placed)
        if leg is None:
            leg = legs.create(sim, endpoint, number, variables, sim.switch_us())
        # answered and left to its application (e.g. &park()): uuid_bridge may join it to a leg
        sim.parked_legs[leg.uuid] = number
        ring = float(sim.originate_answers.get(number, {}).get("answer_after", 0.0))
        if ring > 0:
            # switch_ivr_originate waits for the answer; a uuid_kill of the ringing leg meanwhile
            # makes it fail with the cause the leg was hung up with
            sim.leg_channels[leg.uuid] = leg
            deadline = ring * max(sim.time_scale, 0.0)
            waited = 0.0
            while waited < deadline:
                gevent.sleep(min(0.05, deadline - waited))
                waited += 0.05
                if leg.uuid not in sim.parked_legs:
                    return f"-ERR {sim.killed_legs.pop(leg.uuid, 'NORMAL_CLEARING')}\n"
        legs.answered(sim, leg, (answered_after or 0.0) + ring)
        sim.leg_channels[leg.uuid] = leg
        return f"+OK {leg.uuid}\n"
    caller = variables.pop("origination_caller_id_number", "0000000000")
    name = variables.pop("origination_caller_id_name", caller)
    # A loopback's socket leg is its B-leg, which the simulator names itself; any other endpoint's
    # originated channel is the one that runs socket, under origination_uuid (switch_ivr_originate).
    own_uuid = variables.pop("origination_uuid", "") if parts[0] != "loopback" else ""
    variables.pop("origination_uuid", None)
    at = {"at": datetime.fromtimestamp(placed.at_us / 1_000_000, UTC)} if placed is not None else {}
    script = CallScript(number=number, caller=caller, caller_name=name, variables=variables, uuid=own_uuid,
                        profile="loopback" if parts[0] == "loopback" else "sofia", socket_args=socket_args,
                        timeout=sim.originate_timeout, answered_after=answered_after, **at,
                        **sim.originate_answers.get(number, {}))
    handle = sim.start_call(script, address=address)
    if placed is not None:
        placed.uuid = handle.session.channel.uuid
        handle.greenlet.link(lambda _: sim.originate_ended(placed))
    a_leg = handle.session.channel.spec.other_uuid if parts[0] == "loopback" else handle.session.channel.uuid
    sim.originated[a_leg] = handle
    return f"+OK {a_leg}\n"


def _seconds(value: str | None, default: float) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default


def _originate_queue_caller(sim: Simulator, endpoint: str, variables: dict[str, str], inline: dict[str, str],
                            queue: str) -> str:
    """``loopback/<ext>/<ctx> set:...,callcenter:<queue> inline``: the A-leg (origination_uuid) runs
    the inline applications and waits in the queue, no socket involved (traces 11, 14). Without
    ``set:caller_id_*`` mod_callcenter records the loopback leg's own caller id: the context and
    "Outbound Call" (README of the traces)."""
    parts = endpoint.split("/")
    uuid = variables.pop("origination_uuid", "") or str(uuidlib.uuid4())
    channel_vars = {"caller_id_number": parts[2] if len(parts) > 2 else parts[-1], "caller_id_name": "Outbound Call"}
    if "origination_caller_id_number" in variables:
        channel_vars["caller_id_number"] = variables.pop("origination_caller_id_number")
    if "origination_caller_id_name" in variables:
        channel_vars["caller_id_name"] = variables.pop("origination_caller_id_name")
    channel_vars.update(variables)
    channel_vars.update(inline)
    queue_caller.join(sim, uuid, queue, channel_vars)
    return f"+OK {uuid}\n"


#: The one API table (switch_api_execute's registry): name → function of (context, argument).
API: dict[str, ApiFunc] = {
    "status": status,
    "version": version,
    "hostname": hostname,
    "reloadxml": reloadxml,
    "echo": echo,
    "eval": eval_,
    "global_getvar": global_getvar,
    "show": show,
    "uuid_exists": uuid_exists,
    "uuid_kill": uuid_kill,
    "uuid_getvar": uuid_getvar,
    "uuid_setvar": uuid_setvar,
    "uuid_break": uuid_break,
    "uuid_answer": uuid_answer,
    "uuid_send_dtmf": uuid_send_dtmf,
    "uuid_recv_dtmf": uuid_recv_dtmf,
    "uuid_transfer": uuid_transfer,
    "uuid_bridge": uuid_bridge,
    "uuid_broadcast": broadcast.uuid_broadcast,
    "uuid_displace": displace.uuid_displace,
    "uuid_hold": uuid_hold,
    "sofia_contact": sofia_contact,
    "originate": originate,
    **mods.API_COMMANDS,  # callcenter_config, valet_info
}
