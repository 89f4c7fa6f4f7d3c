"""``att_xfer <dial string>`` run on a bridge's far end (a callcenter agent's leg, broadcast onto it
with ``uuid_broadcast <agent> att_xfer::<dial> aleg,holdb``), as mod_dptools.c v1.11.1
att_xfer_function / att_thread_run / xfer_on_dtmf do it:

- ``bond`` = the agent's partner (our caller); with SMF_HOLD_BLEG our channel hears the hold music
  while the app runs (switch_ivr_parse_event; fsivr.testing.meta.broadcast_to_peer).
- The target is originated from the agent (switch_ivr_originate). Not answered → the app ends, the
  agent's channel has ``originate_disposition`` = the cause, the agent is still with our caller.
- Answered → agent and target are bridged (``switch_ivr_multi_threaded_bridge`` with xfer_on_dtmf);
  the agent's keys go to that bridge, not to ours. ``attxfer_hangup_key`` (default ``*``) hangs the
  agent up: the target is ``switch_ivr_uuid_bridge``d to our caller (``att_xfer_result=success`` on
  the target). ``attxfer_cancel_key`` (default ``#``) hangs the target up, and so does the target
  ending the talk: ``switch_ivr_uuid_bridge(agent, bond)`` puts the agent back with our caller
  (``att_xfer_result=success`` on the agent). ``attxfer_conf_key`` (default ``0``, three_way) is not
  modelled: the key is ignored here.
- mod_callcenter's agent thread waits while the agent's channel is up (outbound_agent_thread_run),
  so a cancel does not end the queue call; a completion does (the agent hung up).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fsivr.testing import dialstring
from fsivr.testing.script import BridgeLeg, BridgeRun

if TYPE_CHECKING:
    from fsivr.testing.mods.common import Partner
    from fsivr.testing.peer import Peer
    from fsivr.testing.session import CallSession


@dataclass
class AttXfer:
    """One att_xfer running on the peer."""

    hangup_key: str = "*"
    cancel_key: str = "#"
    conf_key: str = "0"
    #: the target answered and talks with the agent
    consulting: bool = False
    target_partner: Partner | None = None
    run: BridgeRun | None = None
    #: the app returned: our hold music stops (set by broadcast_to_peer)
    on_done: Callable[[], None] | None = None
    done: bool = False
    keys_ignored: list[str] = field(default_factory=list)


def _key(peer: Peer, name: str, default: str) -> str:
    # the agent's channel variable, else the target's (never set by the simulator), else the default
    return (peer.vars.get(name) or default)[:1]


def start(s: CallSession, peer: Peer, data: str) -> float:
    """The app on ``peer``: plans the originate with the script's targets, as ``bridge`` does."""
    from fsivr.testing import apps  # apps → meta → this module

    xfer = AttXfer(hangup_key=_key(peer, "attxfer_hangup_key", "*"),
                   cancel_key=_key(peer, "attxfer_cancel_key", "#"), conf_key=_key(peer, "attxfer_conf_key", "0"))
    peer.xfer = xfer
    ds = dialstring.parse(data.strip())
    legs = ds.branches[0][0] if ds.branches and ds.branches[0] else []
    run = BridgeRun(data.strip(), [], "NORMAL_CLEARING")
    xfer.run = run
    s.result.bridges.append(run)
    start_at = (s.clock.now_us - s.start_us) / 1e6
    plans = []
    for i, leg in enumerate(legs):
        timeout = apps._timeout_for(leg, ds, s.channel)
        outcome, cause, at = apps._leg_plan(s, leg, timeout)
        rec = BridgeLeg(leg.endpoint, leg.target, outcome, cause, i, 0, start_at, start_at + at, timeout)
        run.legs.append(rec)
        plans.append((leg, rec, at))
    answered = [p for p in plans if p[1].outcome == "answered"]
    if not answered:
        # switch_ivr_originate failed: the app ends when the last leg gave up
        last = max(plans, key=lambda p: p[2]) if plans else None
        cause = last[1].cause if last else "DESTINATION_OUT_OF_ORDER"
        run.result = cause

        def failed() -> None:
            peer.vars["originate_disposition"] = cause
            _finish(s, peer, xfer)

        s.at(last[2] if last else 0.0, failed, owner=xfer)
        return last[2] if last else 0.0
    leg, rec, at = min(answered, key=lambda p: p[2])
    for _, other, _ in plans:
        if other is not rec and other.outcome in ("answered", "no_answer"):
            other.outcome, other.cause, other.ended = "cancelled", "LOSE_RACE", rec.ended
    run.result, run.winner = "SUCCESS", rec.target
    target = apps._current_behaviour(s, rec.target)

    def answer() -> None:
        if peer.hungup or not s.channel.ready:
            return
        peer.vars["originate_disposition"] = "SUCCESS"
        xfer.consulting = True
        xfer.target_partner = _target_partner(s, leg, rec.target, target.talk)
        # the target hangs up after its talk: as a cancel, the agent goes back to our caller
        s.at(target.talk, lambda: _cancel(s, peer, xfer), owner=xfer)

    s.at(at, answer, owner=xfer)
    return at + target.talk


def feed(s: CallSession, peer: Peer, key: str) -> bool:
    """A key the agent pressed while the app runs; True if att_xfer took it (xfer_on_dtmf).
    Before the answer the agent's keys go nowhere (the originate is ringing)."""
    xfer = peer.xfer
    if xfer is None or xfer.done:
        return False
    if not xfer.consulting:
        xfer.keys_ignored.append(key)
        return True
    if key == xfer.hangup_key:
        _complete(s, peer, xfer)
    elif key == xfer.cancel_key:
        _cancel(s, peer, xfer)
    else:
        xfer.keys_ignored.append(key)  # (the conf key: three_way, not modelled)
    return True


def _complete(s: CallSession, peer: Peer, xfer: AttXfer) -> None:
    """The agent hung up (NORMAL_CLEARING): target ↔ our caller by switch_ivr_uuid_bridge. Our
    channel's bridge to the agent ends (mod_callcenter: bridge-agent-end), then the new one starts."""
    if xfer.done:
        return
    partner = xfer.target_partner
    assert partner is not None
    _finish(s, peer, xfer)
    s.rebridge = partner
    peer.hungup = True
    s.wake.set()


def _cancel(s: CallSession, peer: Peer, xfer: AttXfer) -> None:
    """The target is hung up (or hung up itself): switch_ivr_uuid_bridge(agent, bond) — our
    channel leaves the bridge it was in and is bridged to the agent again; mod_callcenter's agent
    thread, waiting on the agent channel being up, carries on."""
    if xfer.done:
        return
    from fsivr.testing.mods import common  # mods → apps → meta → this module

    peer.vars["att_xfer_result"] = "success"
    _finish(s, peer, xfer)
    common.rebridge_in_place(s, peer.uuid)


def _finish(s: CallSession, peer: Peer, xfer: AttXfer) -> None:
    xfer.done = True
    s.cancel_timers(xfer)
    if peer.xfer is xfer:
        peer.xfer = None
    if xfer.on_done is not None:
        xfer.on_done()


def _target_partner(s: CallSession, leg: dialstring.Leg, key: str, talk: float) -> Partner:
    from fsivr.testing.mods.common import Partner
    from fsivr.testing.peer import sip_other_leg

    number = key.split(":", 1)[1] if ":" in key else key
    now = s.clock.now_us
    leg_uuid = str(uuidlib.uuid4())
    name = f"sofia/internal/{number}" if leg.endpoint.lower().startswith(("user/", "sofia/")) else leg.endpoint
    return Partner(uuid=leg_uuid, channel_name=name, other_leg=sip_other_leg(s, name, number, leg_uuid, now, now),
                   callee_name=number, callee_number=number, talk=talk, last_sent_callee=(number, number))
