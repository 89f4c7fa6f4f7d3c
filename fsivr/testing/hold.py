"""Holding a channel (switch_ivr.c switch_ivr_hold / switch_ivr_unhold; ``api uuid_hold``, fsivr.testing.api).

Hold sets the callstate HELD and fires CHANNEL_HOLD; unhold sets it back (ACTIVE) and fires
CHANNEL_UNHOLD. A bridge stays up (trace 13: no UNBRIDGE); the peer's hold music is a broadcast onto
the peer, which the socket does not see. A sofia channel re-INVITEs its far end, which leaves SIP
variables behind (profile ``hold_ops`` / ``unhold_ops``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fsivr.testing.session import CallSession


def hold(s: CallSession) -> bool:
    """switch_ivr_hold: refused ("already on hold") when the callstate is HELD."""
    ch = s.channel
    if ch.callstate == "HELD":
        return False
    ch.apply_ops(ch.profile.hold_ops)
    ch.times["Channel-Last-Hold"] = s.clock.now_us
    ch.hold_record.append([s.clock.now_us, 0])
    ch._dirty()
    ch.set_callstate("HELD")
    s.fire("CHANNEL_HOLD")
    ch.apply_ops(ch.profile.hold_answer_ops)
    return True


def unhold(s: CallSession) -> bool:
    """switch_ivr_unhold: refused ("not on hold") unless the callstate is HELD."""
    ch = s.channel
    if ch.callstate != "HELD":
        return False
    ch.apply_ops(ch.profile.unhold_ops)
    if ch.hold_record and not ch.hold_record[-1][1]:
        ch.hold_record[-1][1] = s.clock.now_us
        ch.times["Channel-Hold-Accum"] += s.clock.now_us - ch.hold_record[-1][0]
        ch._dirty()
    ch.set_callstate("ACTIVE" if ch.answered else "EARLY" if ch.early else "RINGING")
    s.fire("CHANNEL_UNHOLD")
    ch.apply_ops(ch.profile.unhold_answer_ops)
    return True
