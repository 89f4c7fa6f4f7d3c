"""Helpers shared by the emulated modules (mod_record, mod_valet, mod_spandsp, mod_callcenter).

* ``fire_ex``: session.fire with an Event-Subclass (CUSTOM) and an explicit Event-Calling-* source;
* ``hold``: let time pass until something another call (or the test) does, e.g. a valet retrieval
  or an agent becoming free;
* ``LeftSocket`` / ``uuid_bridge_out``: the "leaves the socket app" pattern of traces 07 and 10 —
  switch_ivr_uuid_bridge (switch_ivr_bridge.c) from another thread gives the channel a new caller
  profile and ends the running app; then the socket app returns and the channel is bridged in
  CS_SOFT_EXECUTE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fsivr.testing.channel import Channel
    from fsivr.testing.peer import Peer
    from fsivr.testing.script import Target
    from fsivr.testing.session import CallSession

Pairs = list[tuple[str, str]]
Source = tuple[str, str, str]


def fire_ex(
    s: CallSession,
    event_name: str,
    pre: Pairs | None = None,
    post: Pairs | None = None,
    subclass: str | None = None,
    source: Source | None = None,
    channel_data: bool = True,
) -> None:
    """CallSession.fire plus subclass/source; CUSTOM events need ``event plain CUSTOM <subclass>``."""
    if s.sim.inbound:  # inbound ESL listeners of this switch (fsivr.testing.inbound)
        for sink in s.sim.inbound:
            sink.channel_event(s, event_name, pre, post, None, channel_data, subclass, source)
    headers: dict[str, str] | None = None
    if s.filters:
        headers = {"Event-Name": event_name, "Unique-ID": s.channel.uuid}
        if subclass:
            headers["Event-Subclass"] = subclass
        for k, v in (pre or []) + (post or []):
            headers[k] = v
        headers.update({"variable_" + k: v for k, v in s.channel.vars.items()})
    if not s.wants(event_name, headers, subclass):
        return
    s.send(s.channel.render(event_name, s.format, pre, post, None, channel_data, subclass=subclass, source=source))


def set_other_leg(ch: Channel, pairs: Pairs) -> None:
    """Other-Leg-* block without touching Channel-Bridged-Time (switch_channel_set_originatee_caller_profile).

    Channel.mark_bridged also stamps the bridge time, which uuid_bridge only does at CHANNEL_BRIDGE.
    """
    ch.other_leg = pairs
    ch._other = None  # cached block of Channel.render
    ch._dirty()


def now_epoch(s: CallSession) -> int:
    return s.clock.now_us // 1_000_000


def hold(s: CallSession, until: Callable[[], bool], limit: float | None = None, step: float = 0.25) -> str:
    """Media time passes (hold music, queue music) until ``until()`` is true ("event"), ``limit``
    virtual seconds passed ("done"), the caller hung up ("hangup") or uuid_break ("break").

    ``until`` may become true from outside this call (another call, the test): with a time scale > 0
    it is polled every ``step`` virtual seconds; with instant time (scale 0) the wait is real (the
    virtual clock follows the real one), except that a scripted limit or caller hangup is reached at
    once — in instant mode outside events cannot interleave with scripted ones.
    """
    waited = 0.0
    while True:
        if until():
            return "event"
        if limit is not None and waited >= limit - 1e-6:  # the clock counts whole microseconds
            return "done"
        left = None if limit is None else limit - waited
        before = s.clock.now_us
        if s.clock.time_scale > 0:
            outcome = s.media(step if left is None else min(step, left))
        else:
            scripted = _next_scripted(s)
            if left is not None or scripted is not None:
                candidates = [x for x in (left, scripted) if x is not None]
                outcome = s.media(max(0.0, min(candidates)))
            else:
                t0 = time.monotonic()
                s.wake.clear()
                # a queued private event waits while the app holds event-lock: it is no reason to spin
                runnable = bool(s.queue) and not s.event_lock
                if not until() and not runnable and s.channel.ready and not s.break_flag:
                    s.wake.wait(timeout=min(0.05, max(0.0, s.time_left())))
                if s.time_left() <= 0:
                    return "break"
                outcome = s.media(time.monotonic() - t0)
        waited += (s.clock.now_us - before) / 1e6
        if outcome != "done":
            return outcome


def _next_scripted(s: CallSession) -> float | None:
    out: list[float] = []
    if s.armed_hangup is not None:
        out.append(max(0.0, s.armed_hangup - s.app_elapsed))
    if s.hangup_after_us is not None:
        out.append(max(0.0, (s.hangup_after_us - s.clock.now_us) / 1e6))
    return min(out) if out else None


# ----------------------------------------------------------------------------- uuid_bridge


# switch_caller_profile_event_set_data (switch_caller.c): every field, in this order; empty ones
# are left out.
PROFILE_ORDER = [
    "Direction", "Logical-Direction", "Username", "Dialplan", "Caller-ID-Name", "Caller-ID-Number",
    "Orig-Caller-ID-Name", "Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number", "Network-Addr", "ANI",
    "Destination-Number", "Unique-ID", "Source", "Transfer-Source", "Context", "RDNIS", "Channel-Name",
    "Profile-Index", "Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time",
    "Channel-Progress-Time", "Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time",
    "Channel-Resurrect-Time", "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum", "Screen-Bit",
    "Privacy-Hide-Name", "Privacy-Hide-Number",
]
_TIMES = frozenset(PROFILE_ORDER[PROFILE_ORDER.index("Channel-Answered-Time"):PROFILE_ORDER.index("Screen-Bit")])


def other_leg_pairs(values: dict[str, str], created_us: int, answered_us: int,
                    profile_created_us: int | None = None) -> Pairs:
    """Other-Leg-* of a partner channel (no Profile-Index, as in traces 04/07/10)."""
    out: Pairs = []
    for f in PROFILE_ORDER:
        if f == "Profile-Index":
            continue
        if f == "Profile-Created-Time":
            v = str(profile_created_us or created_us)
        elif f == "Channel-Created-Time":
            v = str(created_us)
        elif f == "Channel-Answered-Time":
            v = str(answered_us)
        elif f in _TIMES:
            v = "0"
        elif f == "Screen-Bit":
            v = "true"
        elif f in ("Privacy-Hide-Name", "Privacy-Hide-Number"):
            v = "false"
        else:
            v = values.get(f, "")
        if v:
            out.append((f"Other-Leg-{f}", v))
    return out


@dataclass
class Partner:
    """The channel that a uuid_bridge connects ours to (valet retriever, callcenter agent)."""

    uuid: str
    channel_name: str
    # Other-Leg-* pairs (see other_leg_pairs)
    other_leg: Pairs
    # the new caller profile's callee fields (None = left out)
    callee_name: str | None
    callee_number: str | None
    # seconds the partner stays bridged before hanging up; None = until our caller hangs up
    talk: float | None = 5.0
    # variables set on our channel when the bridge ends, after last_bridge_to/bridge_*/signal_bond
    # (callcenter: cc_agent_bridged ...) and after last_sent_callee_id_* (sofia: sip_reason ...)
    end_vars: list[tuple[str, str]] = field(default_factory=list)
    end_vars_late: list[tuple[str, str]] = field(default_factory=list)
    last_sent_callee: tuple[str, str] = ("0000000000", "0000000000")
    # called when the bridge ended (partner gone or caller hung up), before our channel hangs up
    on_end: Callable[[CallSession, str], None] | None = None
    # the partner is another simulated call: the bridge also ends when this becomes true
    until: Callable[[], bool] | None = None
    # the partner presses keys while bridged (a callcenter agent's ``Target.dtmf``): the bridge runs
    # with it as our channel's peer (fsivr.testing.peer.agent_talk), so bind_meta_app, apps broadcast
    # onto it, uuid_getvar/uuid_kill of its uuid work as for a ``bridge`` far end
    peer: Peer | None = None
    target: Target | None = None


def uuid_bridge_in(s: CallSession, partner: Partner) -> None:
    """What switch_ivr_uuid_bridge does to our channel from the other thread (switch_ivr_bridge.c):
    uuid_bridge + bridge_* variables, a transfer-style new caller profile (index 2, Transfer-Source,
    callee from the partner), the partner as Other-Leg, and CS_HIBERNATE requested (state number 8)
    while the running application winds down."""
    ch = s.channel
    now = s.clock.now_us
    epoch = now // 1_000_000
    source = f"{epoch}:{_fake_uuid(s)}:uuid_br:{partner.uuid}"
    ch.set_var("uuid_bridge", partner.uuid)
    ch.set_var("bridge_channel", partner.channel_name)
    ch.set_var("bridge_uuid", partner.uuid)
    ch.set_var("signal_bond", partner.uuid)
    ch.set_var("original_destination_number", ch.get_var("destination_number") or ch.spec.number)
    ch.set_var("original_caller_id_name", ch.get_var("caller_id_name") or ch.spec.caller_name)
    ch.set_var("original_caller_id_number", ch.get_var("caller_id_number") or ch.spec.caller)
    ch.push_var("transfer_history", source)
    ch.set_var("transfer_source", source)
    new_caller_profile(ch, now, {"Transfer-Source": source, "Callee-ID-Name": partner.callee_name or "",
                                 "Callee-ID-Number": partner.callee_number or ""})
    set_other_leg(ch, partner.other_leg)
    ch.set_running_state(ch.running_state, 8)


def new_caller_profile(ch: Channel, created_us: int, changes: dict[str, str]) -> None:
    """switch_caller_profile_clone + switch_channel_set_caller_profile: Profile-Index + 1, its own
    creation time, the changed fields; empty fields are not serialized (10: no Callee-ID-Name)."""
    values = dict(ch._profile_values)
    values.update(changes)
    values["Profile-Index"] = str(int(values.get("Profile-Index", "1") or "1") + 1)
    values["Profile-Created-Time"] = str(created_us)
    known = set(ch.profile.fields) | set(changes)
    fields = [f for f in PROFILE_ORDER if f in known and (values.get(f) or f == "Profile-Created-Time"
                                                          or (f not in values and f in ch.profile.fields))]
    ch.profile = replace(ch.profile, fields=fields)
    ch._profile_values = values
    ch._dirty()


def _fake_uuid(s: CallSession) -> str:
    import uuid as uuidlib

    return str(uuidlib.uuid4())


def rebridge_in_place(s: CallSession, partner_uuid: str) -> None:
    """switch_ivr_uuid_bridge of our channel to the partner it is already bridged to (att_xfer
    cancelled: ``uuid_bridge(agent, bond)``): our bridge loop ends and a new one starts — on our
    socket CHANNEL_UNBRIDGE, the CS_HIBERNATE/RESET/SOFT_EXECUTE round, uuid_bridge's
    CHANNEL_EXECUTE and CHANNEL_BRIDGE, as uuid_bridge_out shows them; the talk itself goes on."""
    ch = s.channel
    ids = [("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", partner_uuid)]
    s.fire("CHANNEL_UNBRIDGE", pre=ids)
    for state, num in (("CS_HIBERNATE", 8), ("CS_RESET", 9), ("CS_SOFT_EXECUTE", 3)):
        ch.set_running_state(state, num)
        s.fire("CHANNEL_STATE")
    fire_ex(s, "CHANNEL_EXECUTE", post=[("Application", "uuid_bridge"), ("Application-Data", partner_uuid)],
            source=("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", "1236"))
    ch.times["Channel-Bridged-Time"] = s.clock.now_us
    ch._dirty()
    s.fire("CHANNEL_BRIDGE", pre=ids)


def uuid_bridge_out(partner: Partner) -> Callable[[CallSession], None]:
    """The session's ``after_socket``: CS_HIBERNATE → CS_RESET → CS_SOFT_EXECUTE, uuid_bridge's
    CHANNEL_EXECUTE (no COMPLETE), CHANNEL_BRIDGE, talk, CHANNEL_UNBRIDGE, back to CS_EXECUTE, and
    — the dialplan being done — hangup (traces 07, 10)."""

    def run(s: CallSession) -> None:
        ch = s.channel
        for state, num in (("CS_HIBERNATE", 8), ("CS_RESET", 9), ("CS_SOFT_EXECUTE", 3)):
            ch.set_running_state(state, num)
            s.fire("CHANNEL_STATE")
        ch.set_var("uuid_bridge", None)
        fire_ex(s, "CHANNEL_EXECUTE", post=[("Application", "uuid_bridge"), ("Application-Data", partner.uuid)],
                source=("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", "1236"))
        ch.times["Channel-Bridged-Time"] = s.clock.now_us
        ch._dirty()
        ids = [("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", partner.uuid)]
        s.fire("CHANNEL_BRIDGE", pre=ids)
        # small steps: the virtual clock only moves when a step ends, and api replies during the
        # bridge (callcenter_config ... members) show epochs
        if partner.peer is not None and partner.target is not None:
            from fsivr.testing.peer import agent_talk  # peer → mods.common: imported when used

            s.peer = partner.peer
            try:
                outcome = agent_talk(s, partner.peer, partner.target, partner.until)
            finally:
                partner.peer.collector = None
                s.peer = None
        else:
            outcome = hold(s, partner.until or (lambda: False), limit=partner.talk, step=0.1)
        ended_by = "caller" if outcome == "hangup" else "partner"
        ch.set_var("last_bridge_to", partner.uuid)
        ch.set_var("bridge_channel", partner.channel_name)
        ch.set_var("bridge_uuid", partner.uuid)
        ch.set_var("signal_bond", partner.uuid)
        for k, v in partner.end_vars:
            ch.set_var(k, v)
        ch.set_var("last_sent_callee_id_name", partner.last_sent_callee[0])
        ch.set_var("last_sent_callee_id_number", partner.last_sent_callee[1])
        for k, v in partner.end_vars_late:
            ch.set_var(k, v)
        cause = ch.hangup_cause or "NORMAL_CLEARING"
        ch.set_var("last_bridge_hangup_cause", cause)
        if any(k == "sip_reason" for k, _ in partner.end_vars_late):
            ch.set_var("last_bridge_proto_specific_hangup_cause", "sip:200")
        ch.set_var("bridge_hangup_cause", cause)
        s.fire("CHANNEL_UNBRIDGE", pre=ids)
        if partner.on_end is not None:
            partner.on_end(s, ended_by)
        following, s.rebridge = s.rebridge, None
        if following is not None and ch.ready and not s.transferring:
            # att_xfer completed: switch_ivr_uuid_bridge(target, us) (mod_dptools.c att_thread_run)
            uuid_bridge_in(s, following)
            uuid_bridge_out(following)(s)
            return
        if ch.ready and not s.transferring:
            ch.set_running_state("CS_EXECUTE", 4)
            s.fire("CHANNEL_STATE")
            call_uuid = ch.vars.get("call_uuid")
            if call_uuid:
                ch.set_var("call_uuid", call_uuid)
            # the bridge ended and the (transferred) dialplan has nothing left: NORMAL_CLEARING
            s.hangup("NORMAL_CLEARING", "far_end")

    return run
