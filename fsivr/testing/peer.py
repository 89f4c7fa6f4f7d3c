"""The far end of an answered ``bridge`` while the bridge is up (switch_ivr_bridge.c
switch_ivr_multi_threaded_bridge): its channel, how it shows on ours (Other-Leg, callee), the keys it
sends through the bridge, and what ends the talk.

The B-leg runs in a session thread of its own; the socket only ever sees our channel's events
(myevents filters on our Unique-ID), so the peer is kept to what the socket can observe: its uuid and
variables (``uuid_getvar``, trace 13: ``meta_menu_ran`` set by an app broadcast onto it, see
fsivr.testing.meta) and the keys it sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from fsivr.testing import meta
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


@dataclass
class Peer:
    """The bridge's B-leg: uuid and channel name as our events show them (Other-Leg-*), the context
    its caller profile has, the variables apps run on it have set."""

    uuid: str
    name: str
    context: str = "default"
    vars: dict[str, str] = field(default_factory=dict)


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


def talk(s: CallSession, peer: Peer, target: Target, occurrence: int) -> str:
    """The bridged talk: "done" when the far end hangs up after ``target.talk`` s, "hangup" when our
    caller does, "transfer" when a transfer takes our channel out of the bridge. Meanwhile the far
    end's keys go through our channel's send-DTMF hook and the caller's through its receive hook
    (bind_meta_app); a uuid_break does not end a bridge (the bridge loop ignores CF_BREAK: a BREAK
    read is acceptable, switch_ivr_bridge.c)."""
    sent = [(at, meta.SEND, keys) for at, keys in target.dtmf]
    sent += [(p.after, meta.RECV, p.keys) for p in s.script.presses if p.bridge == occurrence]
    timeline = sorted((at + (i + 1) * DTMF_SPACING, direction, key)
                      for at, direction, keys in sent for i, key in enumerate(keys))
    elapsed = 0.0
    for at, direction, keys in [*(t for t in timeline if t[0] <= target.talk), (target.talk, "", "")]:
        while elapsed < at - 1e-6:
            before = s.clock.now_us
            outcome = s.media(at - elapsed)
            elapsed += (s.clock.now_us - before) / 1e6
            if outcome in ("hangup", "transfer"):
                return outcome
            if outcome == "break" and s.time_left() <= 0:
                return "hangup"
        if not direction:
            break
        for key in keys:
            passes = meta.on_dtmf(s, key, direction)
            if passes and direction == meta.RECV:
                s.fire_dtmf(key)
            # keys our channel sends on to the caller raise no event on it
    return "transfer" if s.transferring else "done"
