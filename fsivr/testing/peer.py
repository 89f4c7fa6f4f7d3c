"""The far end of an answered ``bridge`` while the bridge is up (switch_ivr_bridge.c
switch_ivr_multi_threaded_bridge): its channel, how it shows on ours (Other-Leg, callee), the keys it
sends through the bridge, and what ends the talk.

The B-leg runs in a session thread of its own; the socket only ever sees our channel's events
(myevents filters on our Unique-ID), so the peer is kept to what the socket can observe: its uuid and
variables (``uuid_getvar``, trace 13: ``meta_menu_ran`` set by an app broadcast onto it, see
fsivr.testing.meta) and the keys it sends.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from fsivr.testing import attxfer, meta
from fsivr.testing.mods import common

if TYPE_CHECKING:
    from fsivr.testing.channel import Channel
    from fsivr.testing.script import Target
    from fsivr.testing.session import CallSession

# The SDP a SIP B-leg answered with, as our channel keeps it in switch_m_sdp (trace 13; the o= line's
# session numbers are the far end's).
B_SDP = ("v=0\r\no=FreeSWITCH 1796078142 1796078143 IN IP4 192.0.2.2\r\ns=FreeSWITCH\r\nc=IN IP4 127.0.0.1\r\n"
         "t=0 0\r\nm=audio 18232 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
         "a=fmtp:101 0-15\r\na=ptime:20\r\n")


# RFC 2833 digits take their time to cross a leg: the switch sends each for 2000 samples (250 ms) plus
# a gap; trace 13 shows keys sent with uuid_send_dtmf arriving ~0.3 s apart (caller's "*1": DTMF events
# +0.26 s and +0.88 s; the far end's "*1" acted on +0.66 s).
DTMF_SPACING = 0.3
#: Virtual seconds of talk between looks at whether a Press's commands have been answered.
COMMAND_WAIT = 0.05


@dataclass
class Peer:
    """The bridge's B-leg: uuid and channel name as our events show them (Other-Leg-*), the context
    its caller profile has, the variables apps run on it have set."""

    uuid: str
    name: str
    context: str = "default"
    vars: dict[str, str] = field(default_factory=dict)
    # an app run on the peer (a meta binding's ``s``) that reads the keys its user presses
    collector: Collector | None = None
    # ``uuid_kill`` of the peer: its bridge ends as if its user hung up
    hungup: bool = False
    # what was played to the peer (``playback`` run on it); a callcenter agent's is Agent.heard
    heard: list[str] = field(default_factory=list)
    # ``att_xfer`` running on the peer (fsivr.testing.attxfer.AttXfer): the peer's keys go to it
    xfer: Any = None


@dataclass
class Collector:
    """``play_and_get_digits`` running on the peer (mod_dptools.c play_and_get_digits_function →
    switch_ivr_play_and_get_digits): the keys the peer's user presses go to it, not through the
    bridge (its bridge thread is inside the app). Per try: keys until a terminator, ``max_digits``, or
    ``timeout`` s without a key; a try whose keys are at least ``min_digits`` long and match
    ``regex`` sets ``var``; otherwise the next try, and after the last one ``var`` stays unset."""

    var: str
    min_digits: int
    max_digits: int
    tries: int
    timeout: float
    terminators: str
    regex: str
    keys: str = ""
    on_done: Callable[[], None] | None = None

    def feed(self, key: str) -> bool:
        """One key; True when the app is over."""
        if key in self.terminators:
            return self._try_ends()
        self.keys += key
        return len(self.keys) >= self.max_digits and self._try_ends()

    def _try_ends(self) -> bool:
        keys, self.keys = self.keys, ""
        if len(keys) >= self.min_digits and (not self.regex or re.fullmatch(self.regex, keys)):
            self.result = keys
            return True
        self.tries -= 1
        return self.tries <= 0

    def timed_out(self) -> bool:
        return self._try_ends()

    result: str = ""


def is_sip(endpoint: str) -> bool:
    return endpoint.lower().startswith("sofia/")


def sip_other_leg(s: CallSession, endpoint: str, number: str, leg_uuid: str, created: int,
                  answered: int) -> common.Pairs:
    """Other-Leg-* of a SIP B-leg (trace 13): the outbound leg's caller profile - our caller's id, the
    dialled number as callee and destination, Username and Network-Addr as mod_sofia fills them."""
    spec = s.channel.spec
    values = {
        "Direction": "outbound", "Logical-Direction": "inbound", "Username": spec.caller, "Dialplan": "XML",
        "Caller-ID-Name": spec.caller_name, "Caller-ID-Number": spec.caller,
        "Orig-Caller-ID-Name": spec.caller_name, "Orig-Caller-ID-Number": spec.caller,
        "Callee-ID-Name": number, "Callee-ID-Number": number, "Network-Addr": "127.0.0.1", "ANI": spec.caller,
        "Destination-Number": number, "Unique-ID": leg_uuid, "Source": "mod_sofia", "Context": "public",
        "Channel-Name": endpoint,
    }
    return common.other_leg_pairs(values, created, answered)


def set_callee(ch: Channel, name: str, number: str) -> None:
    """The answering SIP far end's identity becomes our caller profile's callee (mod_sofia's display
    update on bridge; trace 13: ``Caller-Callee-ID-Name: bleg`` from CHANNEL_BRIDGE on) - same profile,
    the fields added in switch_caller_profile_event_set_data order."""
    values = dict(ch._profile_values)
    values.update({"Callee-ID-Name": name, "Callee-ID-Number": number})
    known = set(ch.profile.fields) | {"Callee-ID-Name", "Callee-ID-Number"}
    ch.profile = replace(ch.profile, fields=[f for f in common.PROFILE_ORDER if f in known])
    ch._profile_values = values
    ch._dirty()


def collect_on_peer(s: CallSession, peer: Peer, arg: str) -> float:
    """``play_and_get_digits <min> <max> <tries> <timeout ms> <terminators> <file> <invalid file>
    <var> <regex> [<digit timeout ms>]`` (mod_dptools.c, switch_separate_string on blanks) on the
    peer: starts a collector fed by the peer's keys (``pass_key``); returns how long the app runs if
    nobody presses anything (every try's timeout)."""
    parts = arg.split()
    if len(parts) < 8:
        return 0.0
    try:
        lo, hi, tries, timeout_ms = (int(x) for x in parts[:4])
    except ValueError:
        return 0.0
    collector = Collector(var=parts[7], min_digits=lo, max_digits=hi, tries=max(1, tries),
                          timeout=timeout_ms / 1000.0, terminators=parts[4] if parts[4] != "none" else "",
                          regex=parts[8] if len(parts) > 8 else "")
    peer.collector = collector
    peer.vars.pop(collector.var, None)

    def try_timeout() -> None:
        if peer.collector is not collector:
            return
        if collector.timed_out():
            finish_collect(s, peer)
        else:
            s.at(collector.timeout, try_timeout, owner=collector)

    s.at(collector.timeout, try_timeout, owner=collector)
    return collector.timeout * collector.tries


def finish_collect(s: CallSession, peer: Peer) -> None:
    """The collecting app is over: its variable set (or not), the partner's hold music stopped."""
    collector = peer.collector
    if collector is None:
        return
    peer.collector = None
    s.cancel_timers(collector)
    if collector.result:
        peer.vars[collector.var] = collector.result
    if collector.on_done is not None:
        collector.on_done()


def pass_key(s: CallSession, peer: Peer, key: str, direction: str) -> None:
    """One key in a bridge: the peer's (``SEND``: to a collecting app on the peer, else through our
    send-DTMF hook) or the caller's (``RECV``: our receive hook, a DTMF event if it passes)."""
    if direction == meta.SEND and peer.xfer is not None and attxfer.feed(s, peer, key):
        return
    if direction == meta.SEND and peer.collector is not None:
        if peer.collector.feed(key):
            finish_collect(s, peer)
        return
    passes = meta.on_dtmf(s, key, direction)
    if passes and direction == meta.RECV:
        s.fire_dtmf(key)
    # keys our channel sends on to the caller raise no event on it


def talk(s: CallSession, peer: Peer, target: Target, occurrence: int) -> str:
    """The bridged talk: "done" when the far end hangs up after ``target.talk`` s, "hangup" when our
    caller does, "transfer" when a transfer takes our channel out of the bridge. Meanwhile the far
    end's keys go through our channel's send-DTMF hook and the caller's through its receive hook
    (bind_meta_app); a uuid_break does not end a bridge (the bridge loop ignores CF_BREAK: a BREAK
    read is acceptable, switch_ivr_bridge.c)."""
    sent = [(at, meta.SEND, keys, 0) for at, keys in target.dtmf]
    sent += [(p.after, meta.RECV, p.keys, p.after_commands) for p in s.script.presses if p.bridge == occurrence]
    timeline = sorted((at + (i + 1) * DTMF_SPACING, direction, key, need)
                      for at, direction, keys, need in sent for i, key in enumerate(keys))
    elapsed = 0.0
    for at, direction, keys, need in [*(t for t in timeline if t[0] <= target.talk), (target.talk, "", "", 0)]:
        while elapsed < at - 1e-6 or (s.commands_done < need and elapsed < target.talk):
            before = s.clock.now_us
            outcome = s.media(at - elapsed if elapsed < at - 1e-6 else COMMAND_WAIT)
            elapsed += (s.clock.now_us - before) / 1e6
            if outcome in ("hangup", "transfer"):
                return outcome
            if outcome == "break" and s.time_left() <= 0:
                return "hangup"
        if not direction:
            break
        for key in keys:
            pass_key(s, peer, key, direction)
    return "transfer" if s.transferring else "done"


def agent_talk(s: CallSession, peer: Peer, target: Target, until: Callable[[], bool] | None = None) -> str:
    """A uuid_bridge'd talk (mod_callcenter's agent): the far end's keys (``target.dtmf``) cross at
    their times — as timers, so they also land while a broadcast plays nested on our channel (the
    hold music a meta app on the peer puts there) — and the talk also ends when the peer is killed
    (``uuid_kill``) or ``until()``. Media passes in small steps: an api command or a kill from the
    controller lands mid-talk."""
    for at, keys in target.dtmf:
        for i, key in enumerate(keys):
            s.at(at + (i + 1) * DTMF_SPACING, functools.partial(pass_key, s, peer, key, meta.SEND), owner=peer)
    # the caller's keys in this bridge: ``Press(bridge=0)``
    for press in (p for p in s.script.presses if p.bridge == 0):
        for i, key in enumerate(press.keys):
            s.at(press.after + (i + 1) * DTMF_SPACING, functools.partial(pass_key, s, peer, key, meta.RECV),
                 owner=peer)
    start = s.clock.now_us
    s.outer_peer = peer
    try:
        while True:
            # a nested ``bridge`` (a transfer run inside this one) had its own peer: ours again
            s.peer = peer
            elapsed = (s.clock.now_us - start) / 1e6
            if peer.hungup or (until is not None and until()) or elapsed >= target.talk - 1e-6:
                return "done"
            outcome = s.media(min(0.1, target.talk - elapsed))
            if outcome in ("hangup", "transfer"):
                return outcome
            if outcome == "break" and s.time_left() <= 0:
                return "hangup"
    finally:
        s.outer_peer = None
        s.cancel_timers(peer)
