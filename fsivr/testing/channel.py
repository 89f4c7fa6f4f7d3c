"""The simulated channel: variables, call state, and event rendering.

Variables behave like FreeSWITCH's channel variable list (switch_channel.c set_variable →
switch_event.c del + add at the bottom): setting a variable moves it to the end, which is why
header order in the traces shifts the way it does. Event header blocks are assembled from parts
that are cached until the state they depend on changes, so a 3-4 KB event costs a few joins.
"""

from __future__ import annotations

import itertools
import time
import uuid as uuidlib
from collections.abc import Iterable

from fsivr.testing import wire
from fsivr.testing.clock import VirtualClock, fs_date_fields, fs_stamp
from fsivr.testing.profiles import (
    EVENT_SOURCES,
    EVENTS_WITH_VARIABLES,
    HOSTNAME,
    IPV4,
    IPV6,
    Q850,
    ChannelSpec,
    Profile,
    fill_ops,
)

Pairs = list[tuple[str, str]]


class SwitchIdentity:
    """What is the same for every channel of one simulated switch (Core-UUID, sequence numbers,
    start time for ``status``)."""

    def __init__(self) -> None:
        self.core_uuid = str(uuidlib.uuid4())
        self.started_us = int(time.time() * 1_000_000)
        self._seq = itertools.count(1000)
        self._session_ids = itertools.count(1)
        self._prefix_cache: dict[str, tuple[str, Pairs]] = {}

    def next_seq(self) -> int:
        return next(self._seq)

    def next_session_id(self) -> int:
        return next(self._session_ids)

    def prefix(self, event_name: str) -> tuple[str, Pairs]:
        """Static head of an event up to (excluding) the dates; plus the pairs for JSON."""
        cached = self._prefix_cache.get(event_name)
        if cached is None:
            pairs = [
                ("Event-Name", event_name), ("Core-UUID", self.core_uuid), ("FreeSWITCH-Hostname", HOSTNAME),
                ("FreeSWITCH-Switchname", HOSTNAME), ("FreeSWITCH-IPv4", IPV4), ("FreeSWITCH-IPv6", IPV6),
            ]
            cached = ("".join(wire.plain_line(k, v) for k, v in pairs), pairs)
            self._prefix_cache[event_name] = cached
        return cached


_SOURCE_CACHE: dict[str, tuple[str, Pairs]] = {}


def _source(event_name: str) -> tuple[str, Pairs]:
    cached = _SOURCE_CACHE.get(event_name)
    if cached is None:
        f, fn, line = EVENT_SOURCES.get(event_name, ("switch_channel.c", "switch_channel_event", "1"))
        pairs = [("Event-Calling-File", f), ("Event-Calling-Function", fn), ("Event-Calling-Line-Number", line)]
        cached = ("".join(wire.plain_line(k, v) for k, v in pairs), pairs)
        _SOURCE_CACHE[event_name] = cached
    return cached


_SOURCE_OF_CACHE: dict[tuple[str, str, str], tuple[str, Pairs]] = {}


def _source_of(source: tuple[str, str, str]) -> tuple[str, Pairs]:
    cached = _SOURCE_OF_CACHE.get(source)
    if cached is None:
        f, fn, line = source
        pairs = [("Event-Calling-File", f), ("Event-Calling-Function", fn), ("Event-Calling-Line-Number", line)]
        cached = ("".join(wire.plain_line(k, v) for k, v in pairs), pairs)
        _SOURCE_OF_CACHE[source] = cached
    return cached


# switch_caller_get_field_by_name (switch_caller.c): names getvar resolves via the caller profile.
_PROFILE_VARS = {
    "caller_id_name": "Caller-ID-Name", "caller_id_number": "Caller-ID-Number",
    "orig_caller_id_name": "Orig-Caller-ID-Name", "orig_caller_id_number": "Orig-Caller-ID-Number",
    "callee_id_name": "Callee-ID-Name", "callee_id_number": "Callee-ID-Number", "ani": "ANI",
    "destination_number": "Destination-Number", "source": "Source", "context": "Context",
    "chan_name": "Channel-Name", "dialplan": "Dialplan", "username": "Username", "network_addr": "Network-Addr",
}


class Channel:
    """One leg under socket control, with FreeSWITCH-shaped state and event rendering."""

    def __init__(self, switch: SwitchIdentity, profile: Profile, spec: ChannelSpec, clock: VirtualClock) -> None:
        self.switch = switch
        self.profile = profile
        self.spec = spec
        self.clock = clock
        self.uuid = spec.uuid
        self.name = profile.channel_name(spec)
        self.running_state = "CS_EXECUTE"
        #: Call-Direction: the socket leg of a call coming in; "outbound" for a leg originate made
        #: (switch_channel_event_set_basic_data, from switch_channel_direction).
        self.direction = "inbound"
        self.state_number = 4
        self.callstate = "RINGING"
        self.answered = False
        self.early = False
        self.media = profile.media_before_answer
        self.hangup_cause: str | None = None
        self.times: dict[str, int] = {
            "Channel-Answered-Time": 0, "Channel-Progress-Time": 0, "Channel-Progress-Media-Time": 0,
            "Channel-Hangup-Time": 0, "Channel-Transfer-Time": 0, "Channel-Resurrect-Time": 0,
            "Channel-Bridged-Time": 0, "Channel-Last-Hold": 0, "Channel-Hold-Accum": 0,
        }
        self._profile_values = profile.profile_values(spec, self.name)
        self.other_leg: Pairs | None = None
        self.vars: dict[str, str] = {}
        self._vlines: dict[str, str] = {}
        for name, value in profile.base_vars(spec, self.name):
            self.set_var(name, value)
        self._basic: tuple[str, Pairs] | None = None
        self._caller: tuple[str, Pairs] | None = None
        self._other: tuple[str, Pairs] | None = None
        self.pending_ops: list[tuple[str, str | None]] = []
        self.app_log: list[tuple[str, str | None]] = [("socket", spec.socket_arg)]
        self.digits_dialed = ""
        # switch_hold_record_t list: (on, off) µs of each hold (off 0 while held)
        self.hold_record: list[list[int]] = []
        # sip_hangup_disposition set in the reporting state (we sent the BYE)
        self.hangup_disposition: str | None = None

    # --- variables ---------------------------------------------------------------------------

    def set_var(self, name: str, value: str | None) -> None:
        """switch_channel_set_variable: delete, then append unless the value is empty."""
        if name in self.vars:
            del self.vars[name]
            del self._vlines[name]
        if value is None or value == "":
            return
        self.vars[name] = value
        self._vlines[name] = wire.plain_line("variable_" + name, value)

    def push_var(self, name: str, value: str) -> None:
        """SWITCH_STACK_PUSH onto an existing variable: it becomes ARRAY:: and keeps its place."""
        old = self.vars.get(name)
        if old is None:
            self.set_var(name, value)
            return
        items = old[7:].split("|:") if old.startswith("ARRAY::") else [old]
        new = "ARRAY::" + "|:".join([*items, value])
        self.vars[name] = new
        self._vlines[name] = wire.plain_line("variable_" + name, new)

    def get_var(self, name: str) -> str | None:
        """switch_channel_get_variable: channel variables, then caller-profile fields."""
        value = self.vars.get(name)
        if value is None and name in _PROFILE_VARS:
            value = self._profile_values.get(_PROFILE_VARS[name]) or None
        return value

    def apply_ops(self, ops: Iterable[tuple[str, str | None]]) -> None:
        for name, value in fill_ops(list(ops), self.spec):
            self.set_var(name, value)

    def flush_pending(self) -> None:
        if self.pending_ops:
            ops, self.pending_ops = self.pending_ops, []
            self.apply_ops(ops)

    # --- state changes (each invalidates the cached blocks it feeds) -------------------------

    def _dirty(self) -> None:
        self._basic = None
        self._caller = None

    def _dirty_state(self) -> None:
        # states do not feed the caller-profile block, only the basic block
        self._basic = None

    @property
    def ready(self) -> bool:
        return self.hangup_cause is None

    def mark_pre_answered(self) -> None:
        self.early = True
        self.media = True
        self.times["Channel-Progress-Media-Time"] = self.clock.now_us
        self._dirty()

    def mark_ring_ready(self) -> None:
        self.times["Channel-Progress-Time"] = self.clock.now_us
        self._dirty()

    def mark_answered(self) -> None:
        self.answered = True
        self.media = True
        self.times["Channel-Answered-Time"] = self.clock.now_us
        self._dirty()

    def set_callstate(self, callstate: str) -> None:
        self.callstate = callstate
        self._dirty_state()

    def mark_hangup(self, cause: str) -> None:
        self.hangup_cause = cause
        self.state_number = 10
        self._dirty_state()

    def set_running_state(self, state: str, number: int) -> None:
        self.running_state = state
        self.state_number = number
        self._dirty_state()

    def mark_hangup_time(self) -> None:
        self.times["Channel-Hangup-Time"] = self.clock.now_us
        self._dirty()

    def mark_bridged(self, other: Pairs) -> None:
        self.times["Channel-Bridged-Time"] = self.clock.now_us
        self.other_leg = other
        self._other = None
        self._dirty()

    # --- rendering ---------------------------------------------------------------------------

    def _basic_block(self) -> tuple[str, Pairs]:
        if self._basic is None:
            answer_state = (
                "hangup" if self.hangup_cause else "answered" if self.answered else "early" if self.early else "ringing"
            )
            pairs: Pairs = [
                ("Channel-State", self.running_state), ("Channel-Call-State", self.callstate),
                ("Channel-State-Number", str(self.state_number)), ("Channel-Name", self.name),
                ("Unique-ID", self.uuid), ("Call-Direction", self.direction),
                ("Presence-Call-Direction", self.direction),
                # an outbound leg has not run a dialplan (switch_channel_event_set_basic_data)
                ("Channel-HIT-Dialplan", "true" if self.direction == "inbound" else "false"),
                ("Channel-Call-UUID", self.vars.get("call_uuid", self.uuid)), ("Answer-State", answer_state),
            ]
            if self.hangup_cause:
                pairs.append(("Hangup-Cause", self.hangup_cause))
            if self.media:
                codec, rate, bits = self.profile.codec
                pairs += [
                    ("Channel-Read-Codec-Name", codec), ("Channel-Read-Codec-Rate", rate),
                    ("Channel-Read-Codec-Bit-Rate", bits), ("Channel-Write-Codec-Name", codec),
                    ("Channel-Write-Codec-Rate", rate), ("Channel-Write-Codec-Bit-Rate", bits),
                ]
            self._basic = ("".join(wire.plain_line(k, v) for k, v in pairs), pairs)
        return self._basic

    def profile_pairs(self, prefix: str) -> Pairs:
        created = str(self.spec.created_us)
        out: Pairs = []
        for field in self.profile.fields:
            if field == "Channel-Created-Time":
                value = created
            elif field == "Profile-Created-Time":
                # a new caller profile (transfer, uuid_bridge) has its own creation time
                value = self._profile_values.get(field) or created
            elif field in self.times:
                value = str(self.times[field])
            elif field == "Screen-Bit":
                value = "true"
            elif field in ("Privacy-Hide-Name", "Privacy-Hide-Number"):
                value = "false"
            else:
                value = self._profile_values.get(field, "")
            out.append((f"{prefix}-{field}", value))
        return out

    def _caller_block(self) -> tuple[str, Pairs]:
        if self._caller is None:
            pairs = self.profile_pairs("Caller")
            self._caller = ("".join(wire.plain_line(k, v) for k, v in pairs), pairs)
        return self._caller

    def _other_block(self) -> tuple[str, Pairs]:
        if self._other is None:
            pairs: Pairs = [("Other-Type", "originatee"), *(self.other_leg or [])] if self.other_leg else []
            self._other = ("".join(wire.plain_line(k, v) for k, v in pairs), pairs)
        return self._other

    def render(
        self,
        event_name: str,
        fmt: str = "plain",
        pre: Pairs | None = None,
        post: Pairs | None = None,
        body: str | None = None,
        channel_data: bool = True,
        subclass: str | None = None,
        source: tuple[str, str, str] | None = None,
    ) -> bytes:
        """A complete framed event (Content-Length, Content-Type, body) in plain or json.

        ``subclass`` (CUSTOM events) goes first, as switch_event_create_subclass adds it before
        Event-Name; ``source`` overrides the (file, function, line) of Event-Calling-*.
        """
        us = self.clock.now_us
        local, gmt, stamp = fs_date_fields(us)
        seq = str(self.switch.next_seq())
        prefix_text, prefix_pairs = self.switch.prefix(event_name)
        if subclass is not None:
            prefix_text = wire.plain_line("Event-Subclass", subclass) + prefix_text
            prefix_pairs = [("Event-Subclass", subclass), *prefix_pairs]
        src_text, src_pairs = _source(event_name) if source is None else _source_of(source)
        with_vars = channel_data and event_name in EVENTS_WITH_VARIABLES
        if fmt == "json":
            pairs: Pairs = [*prefix_pairs, ("Event-Date-Local", local), ("Event-Date-GMT", gmt),
                            ("Event-Date-Timestamp", stamp), *src_pairs, ("Event-Sequence", seq)]
            if pre:
                pairs += pre
            if channel_data:
                pairs += self._basic_block()[1] + self._caller_block()[1] + self._other_block()[1]
                if with_vars:
                    pairs += [("variable_" + k, v) for k, v in self.vars.items()]
            if post:
                pairs += post
            return wire.event_frame(wire.json_body(pairs, body), "json")
        parts = [
            prefix_text,
            wire.plain_line("Event-Date-Local", local), wire.plain_line("Event-Date-GMT", gmt),
            f"Event-Date-Timestamp: {stamp}\n", src_text, f"Event-Sequence: {seq}\n",
        ]
        if pre:
            parts.extend(wire.plain_line(k, v) for k, v in pre)
        if channel_data:
            parts.append(self._basic_block()[0])
            parts.append(self._caller_block()[0])
            if self.other_leg:
                parts.append(self._other_block()[0])
            if with_vars:
                parts.extend(self._vlines.values())
        if post:
            parts.extend(wire.plain_line(k, v) for k, v in post)
        if body:
            data = body.encode()
            parts.append(f"Content-Length: {len(data)}\n\n")
            parts.append(body)
        else:
            parts.append("\n")
        return wire.event_frame("".join(parts).encode(), "plain")

    def connect_reply(self, socket_mode: str, control: str) -> bytes:
        """The CHANNEL_DATA event serialized as a command/reply (mod_event_socket.c parse_command)."""
        us = self.clock.now_us
        local, gmt, stamp = fs_date_fields(us)
        prefix_text, _ = self.switch.prefix("CHANNEL_DATA")
        src_text, _ = _source("CHANNEL_DATA")
        parts = [
            prefix_text, wire.plain_line("Event-Date-Local", local), wire.plain_line("Event-Date-GMT", gmt),
            f"Event-Date-Timestamp: {stamp}\n", src_text, f"Event-Sequence: {self.switch.next_seq()}\n",
        ]
        parts.extend(wire.plain_line(k, v) for k, v in self.profile_pairs("Channel"))
        parts.append(self._basic_block()[0])
        parts.append(self._caller_block()[0])
        if self.other_leg:
            parts.append(self._other_block()[0])
        parts.extend(self._vlines.values())
        for k, v in (("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"), ("Socket-Mode", socket_mode),
                     ("Control", control)):
            parts.append(wire.plain_line(k, v))
        parts.append("\n")
        return "".join(parts).encode()

    # --- end-of-call variables (switch_core_state_machine.c / switch_channel.c set_timestamps) ----

    def set_reporting_vars(self) -> None:
        cause = self.hangup_cause or "NORMAL_CLEARING"
        self.set_var("hangup_cause", cause)
        self.set_var("hangup_cause_q850", str(Q850.get(cause, 0)))
        self.set_var("digits_dialed", self.digits_dialed or "none")
        created = self.spec.created_us
        answered = self.times["Channel-Answered-Time"]
        progress = self.times["Channel-Progress-Time"]
        pmedia = self.times["Channel-Progress-Media-Time"]
        bridged = self.times["Channel-Bridged-Time"]
        end = self.times["Channel-Hangup-Time"] or self.clock.now_us
        self.set_var("start_stamp", fs_stamp(created))
        self.set_var("profile_start_stamp", fs_stamp(created))
        if answered:
            self.set_var("answer_stamp", fs_stamp(answered))
        if bridged:
            self.set_var("bridge_stamp", fs_stamp(bridged))
        if progress:
            self.set_var("progress_stamp", fs_stamp(progress))
        if pmedia:
            self.set_var("progress_media_stamp", fs_stamp(pmedia))
        if self.hold_record:
            self.set_var("hold_events", "{" + ",".join(f"{{{on},{off}}}" for on, off in self.hold_record) + "}")
        self.set_var("end_stamp", fs_stamp(end))

        def epoch(name: str, us: int) -> None:
            self.set_var(f"{name}_epoch", str(us // 1_000_000))
            self.set_var(f"{name}_uepoch", str(us))

        epoch("start", created)
        epoch("profile_start", created)
        epoch("answer", answered)
        epoch("bridge", bridged)
        epoch("last_hold", 0)
        for suffix in ("seconds", "usec", "ms"):
            self.set_var(f"hold_accum_{suffix}", "0")
        epoch("resurrect", 0)
        epoch("progress", progress)
        epoch("progress_media", pmedia)
        epoch("end", end)
        if self.app_log:  # a leg that never ran an application (a failed originate) has none
            last_app, last_arg = self.app_log[-1]
            self.set_var("last_app", last_app)
            self.set_var("last_arg", last_arg)
        self.set_var("caller_id", f'"{self.spec.caller_name}" <{self.spec.caller}>')
        dur = end - created
        bill = end - answered if answered else 0
        progress_d = progress - created if progress else 0
        answer_d = answered - created if answered else 0
        wait_d = bridged - created if bridged else 0
        pmedia_d = pmedia - created if pmedia else 0
        flow = dur
        for unit, div in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
            names = ("duration" if unit == "sec" else "mduration" if unit == "msec" else "uduration",
                     f"bill{unit}", f"progress{unit}", f"answer{unit}", f"wait{unit}",
                     f"progress_media{unit}", f"flow_bill{unit}")
            for name, value in zip(names, (dur, bill, progress_d, answer_d, wait_d, pmedia_d, flow), strict=True):
                self.set_var(name, str(value // div))
        if self.hangup_disposition:
            self.set_var("sip_hangup_disposition", self.hangup_disposition)
        for name, value in self.profile.reporting_vars:
            self.set_var(name, value)
        if self.profile.is_loopback:
            self.set_var("is_loopback", "1")
