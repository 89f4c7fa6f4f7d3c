"""mod_valet_parking (src/mod/applications/mod_valet_parking/mod_valet_parking.c), trace 10.

``valet_park <lot> <ext>`` parks the channel in a slot of a lot, playing hold music, until another
channel runs ``valet_park <lot> <ext>`` for the same slot: that retriever fires the ``Action: bridge``
event with the *parked* channel's data and calls switch_ivr_uuid_bridge, which takes the parked
channel out of valet_park *and out of the socket app* (``Action: exit``, valet_park COMPLETE,
socket COMPLETE, CS_HIBERNATE/RESET/SOFT_EXECUTE, uuid_bridge EXECUTE, CHANNEL_BRIDGE).
``valet_park <lot> auto in <min> <max>`` takes the lowest free slot; ``valet_info [<lot>]`` lists
the lots. With ``valet_parking_timeout`` (or ``valet_parking_orbit_exten``: 60 s) a caller nobody
picks up leaves the slot after that long: to the orbit extension (a transfer, out of the socket
app) or, without one, back to whoever ran valet_park — ``Action: exit`` and valet_park's
EXECUTE_COMPLETE with the channel still in the socket app (valet_parking_function,
read_frame_callback).

Lots are shared by every call of one Simulator (``Simulator.valet``). A retriever is either the
script (``CallScript.valet_retrieve``: a second channel, outside the simulation, arrives after so
many seconds), the test (``Simulator.valet_retrieve``), or another simulated call running
``valet_park`` on the occupied slot.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent.event

from fsivr.testing import apps
from fsivr.testing.expand import separate_string
from fsivr.testing.mods.common import (
    Partner,
    fire_ex,
    hold,
    now_epoch,
    other_leg_pairs,
    uuid_bridge_in,
    uuid_bridge_out,
)
from fsivr.testing.script import Retrieve

if TYPE_CHECKING:
    from fsivr.testing.api import ApiContext, ApiFunc
    from fsivr.testing.session import CallSession

SUBCLASS = "valet_parking::info"
_SRC = "mod_valet_parking.c"


@dataclass
class Slot:
    """valet_token_t: who is parked on an extension."""

    ext: str
    uuid: str
    start_epoch: int
    session: CallSession | None = None
    bridged: bool = False
    retriever: Partner | None = None
    # the retrieving simulated call waits for the parked one to leave its bridge
    link: gevent.event.Event = field(default_factory=gevent.event.Event)


class ValetLots:
    """valet_lot_t per name (created on first use and never removed, like valet_find_lot)."""

    def __init__(self) -> None:
        self.lots: dict[str, dict[str, Slot]] = {}

    def lot(self, name: str) -> dict[str, Slot]:
        return self.lots.setdefault(name, {})

    def info(self, name: str = "") -> str:
        """valet_info_function's XML."""
        out = ["<lots>\n"]
        for lot_name, slots in self.lots.items():
            if name and lot_name.lower() != name.lower():
                continue
            out.append(f'  <lot name="{lot_name}">\n')
            for ext, slot in slots.items():
                out.append(f'    <extension uuid="{slot.uuid}">{ext}</extension>\n')
            out.append("  </lot>\n")
        out.append("</lots>\n")
        return "".join(out)

    def parked(self, lot: str, ext: str) -> Slot | None:
        return self.lots.get(lot, {}).get(ext)

    def retrieve(self, lot: str, ext: str, talk: float | None = 5.0, number: str = "valet_retrieve") -> bool:
        """A channel outside the simulation runs ``valet_park <lot> <ext>``: False if nobody is parked there."""
        slot = self.parked(lot, ext)
        if slot is None or slot.bridged or slot.session is None or not slot.session.channel.ready:
            return False
        s = slot.session
        slot.retriever = outside_retriever(s, Retrieve(talk=talk, number=number))
        s.wake.set()
        return True

    def next_free(self, lot: str, lo: int, hi: int) -> str | None:
        """next_id(..., in=1): the lowest free extension in [lo, hi] (hi 0 = unbounded)."""
        slots = self.lot(lot)
        i = max(1, lo)
        while hi == 0 or i <= hi:
            if str(i) not in slots:
                return str(i)
            i += 1
        return None


def lots(s: CallSession) -> ValetLots:
    return s.sim.valet


def outside_retriever(s: CallSession, r: Retrieve) -> Partner:
    """A loopback channel (``originate loopback/<number>/<context> &park`` running valet_park), trace 10."""
    now = s.clock.now_us
    leg_uuid = str(uuidlib.uuid4())
    values = {
        "Direction": "inbound", "Logical-Direction": "inbound", "Dialplan": "xml", "Caller-ID-Name": "Outbound Call",
        "Caller-ID-Number": s.channel._profile_values.get("Context", "default"), "Orig-Caller-ID-Number": "0000000000",
        "Callee-ID-Number": "0000000000", "ANI": "0000000000", "Destination-Number": r.number, "Unique-ID": leg_uuid,
        "Source": "mod_loopback", "Context": s.channel._profile_values.get("Context", "default"),
        "Channel-Name": f"loopback/{r.number}-b",
    }
    return Partner(
        uuid=leg_uuid, channel_name=f"loopback/{r.number}-b", other_leg=other_leg_pairs(values, now, now),
        callee_name=None, callee_number="0000000000", talk=r.talk,
    )


def _event(s: CallSession, lot: str, ext: str, action: str, line: str, extra: list[tuple[str, str]] | None = None,
           ) -> None:
    pre = [("Valet-Lot-Name", lot), ("Valet-Extension", ext), ("Action", action), *(extra or [])]
    fire_ex(s, "CUSTOM", pre=pre, subclass=SUBCLASS, source=(_SRC, "valet_parking_function", line))


def valet_park(s: CallSession, arg: str) -> None:
    """valet_parking_function: ``<lot> <ext>`` or ``<lot> auto in|out <min> <max>``."""
    ch = s.channel
    argv = separate_string(arg, 6)
    if len(argv) < 2:
        return  # "Usage: ..."
    lot_name, ext = argv[0], argv[1]
    state = lots(s)
    slots = state.lot(lot_name)
    if ext.lower() == "auto":
        if len(argv) < 5 or argv[2].lower() not in ("in", "out"):
            return
        lo, hi = _atoi(argv[3]), _atoi(argv[4])
        if argv[2].lower() == "out":
            # take the longest-parked call in the range (find_longest), as a retriever
            cands = [sl for e, sl in slots.items() if (hi == 0 or lo <= _atoi(e) <= hi) and not sl.bridged]
            if not cands:
                return  # valet_lot_empty phrase
            ext = min(cands, key=lambda sl: sl.start_epoch).ext
        else:
            free = state.next_free(lot_name, lo, hi)
            if free is None:
                return  # "lot is full" (valet_lot_full phrase)
            ext = free
    slot = slots.get(ext)
    if slot is not None and not slot.bridged and slot.session is not None and slot.session is not s \
            and slot.session.channel.ready:
        _retrieve_as_call(s, lot_name, ext, slot)
        return
    slot = Slot(ext=ext, uuid=ch.uuid, start_epoch=now_epoch(s), session=s)
    slots[ext] = slot
    music = ch.get_var("valet_hold_music") or ch.get_var("hold_music") or "silence"
    if music.lower() == "silence":
        music = "silence_stream://-1"
    ch.set_var("inline_destination", f"set:valet_ticket={ch.uuid},set:valet_hold_music='{music}',"
                                     f"sleep:1000,valet_park:{lot_name} {ext}")
    _event(s, lot_name, ext, "hold", "684")
    ch.set_var("valet_lot_extension", ext)
    info = apps.playback_info(music)
    s.fire("PLAYBACK_START", post=info)
    started = s.clock.now_us
    plan = _scripted(s)
    timeout = _timeout(s)
    limits = [x for x in (plan.after if plan is not None else None, timeout) if x is not None]
    outcome = hold(s, lambda: slot.retriever is not None, limit=min(limits) if limits else None)
    timed_out = False
    if outcome == "done" and slot.retriever is None and ch.ready:
        if plan is not None and (timeout is None or plan.after < timeout):
            slot.retriever = outside_retriever(s, plan)
            outcome = "event"
        else:
            # read_frame_callback counted the timeout's frames down: the play loop ends, and with
            # an orbit extension the channel is transferred there (leaving the socket app);
            # without one valet_park just returns and the socket app goes on.
            timed_out = True
            orbit = ch.get_var("valet_parking_orbit_exten")
            if orbit:
                s.transfer_to = orbit
    partner = slot.retriever if outcome == "event" else None
    if partner is not None:
        # the retriever's thread: Action bridge (our channel's data), then switch_ivr_uuid_bridge
        slot.bridged = True
        _event(s, lot_name, ext, "bridge", "579", [("Bridge-To-UUID", partner.uuid)])
        uuid_bridge_in(s, partner)
    played_ms = (s.clock.now_us - started) // 1000
    samples = played_ms * 8
    ch.set_var("playback_last_offset_pos", str(samples))
    ch.set_var("playback_seconds", str(played_ms // 1000))
    ch.set_var("playback_ms", str(played_ms))
    ch.set_var("playback_samples", str(samples))
    s.fire("PLAYBACK_STOP", post=[*info, ("Playback-Status",
                                          "break" if outcome in ("break", "event") or timed_out else "done")])
    # token->timeout = 1: the slot is free again (check_timeouts drops it)
    if slots.get(ext) is slot:
        del slots[ext]
    _event(s, lot_name, ext, "exit", "749")
    if partner is not None:
        s.after_socket = uuid_bridge_out(partner)


def _retrieve_as_call(s: CallSession, lot_name: str, ext: str, slot: Slot) -> None:
    """This simulated call is the retriever of another simulated call parked on ``ext``.

    Departure: the retriever is bridged too (it leaves its socket app the same way); the two bridge
    halves end together when either side hangs up.
    """
    parked = slot.session
    assert parked is not None
    me = s.channel
    now = s.clock.now_us
    mine = {
        "Direction": "inbound", "Logical-Direction": "inbound", "Dialplan": "xml",
        "Caller-ID-Name": me.spec.caller_name, "Caller-ID-Number": me.spec.caller,
        "Destination-Number": me.spec.number, "Unique-ID": me.uuid, "Source": me.profile.source,
        "Context": me._profile_values.get("Context", ""), "Channel-Name": me.name,
    }
    link = slot.link
    partner_for_parked = Partner(uuid=me.uuid, channel_name=me.name, other_leg=other_leg_pairs(mine, now, now),
                                 callee_name=me.spec.caller_name, callee_number=me.spec.caller, talk=None,
                                 until=link.is_set, on_end=lambda _s, _by: link.set())
    pch = parked.channel
    theirs = {
        "Direction": "inbound", "Logical-Direction": "inbound", "Dialplan": "xml",
        "Caller-ID-Name": pch.spec.caller_name, "Caller-ID-Number": pch.spec.caller,
        "Destination-Number": pch.spec.number, "Unique-ID": pch.uuid, "Source": pch.profile.source,
        "Context": pch._profile_values.get("Context", ""), "Channel-Name": pch.name,
    }
    partner_for_me = Partner(uuid=pch.uuid, channel_name=pch.name, other_leg=other_leg_pairs(theirs, now, now),
                             callee_name=pch.spec.caller_name, callee_number=pch.spec.caller, talk=None,
                             until=link.is_set, on_end=lambda _s, _by: link.set())
    slot.retriever = partner_for_parked
    parked.wake.set()
    uuid_bridge_in(s, partner_for_me)
    s.after_socket = uuid_bridge_out(partner_for_me)


def _timeout(s: CallSession) -> float | None:
    """valet_parking_function: 60 s with valet_parking_orbit_exten, valet_parking_timeout (atol,
    used when > 0) over that; None = parked until picked up or hung up."""
    ch = s.channel
    seconds = 60 if ch.get_var("valet_parking_orbit_exten") else 0
    value = _atoi(ch.get_var("valet_parking_timeout") or "")
    if value > 0:
        seconds = value
    return float(seconds) if seconds else None


def _scripted(s: CallSession) -> Retrieve | None:
    plans: list[Retrieve] = s.__dict__.setdefault("_valet_plans", list(s.script.valet_retrieve))
    return plans.pop(0) if plans else None


def _atoi(text: str) -> int:
    digits = ""
    for c in text.strip():
        if not c.isdigit():
            break
        digits += c
    return int(digits) if digits else 0


def valet_info(ctx: ApiContext, arg: str) -> str | None:
    """``api valet_info [<lot>]`` (valet_info_function) on the switch's lots."""
    return ctx.sim.valet.info(arg.strip()) if ctx.sim is not None else None


APPLICATIONS = {"valet_park": valet_park}
API_COMMANDS: dict[str, ApiFunc] = {"valet_info": valet_info}
