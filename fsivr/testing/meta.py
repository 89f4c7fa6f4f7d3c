"""``bind_meta_app`` and the broadcasts it makes (mod_dptools.c dtmf_bind_function, switch_ivr_async.c
switch_ivr_bind_dtmf_meta_session / meta_on_dtmf / switch_ivr_broadcast).

A binding listens to the DTMF our channel *receives* (``a``: the caller's keys) or *sends* (``b``: keys
coming from the bridged far end, on their way to the caller). The meta key (``*``, or the first
character of ``bind_meta_key``) and the bound digit are swallowed; the application is then broadcast —
queued as a private ``execute`` event with ``event-lock: true`` and ``hold-bleg: true`` — onto our
channel or the bridge peer, by the respond flags (trace 13: ``s`` for a ``b`` binding runs on the peer,
``o`` on our channel). A broadcast onto our channel waits in the same queue as the server's sendmsgs, so
an event-locked ``bridge`` keeps it waiting until the bridge ends (switch_core_session.c
switch_core_session_dequeue_private_event honours CF_EVENT_LOCK), while an unlocked one runs it at once,
nested inside the bridge (switch_ivr_bridge.c: the bridge loop calls switch_ivr_parse_next_event).

Keys pass the hook while the channel is bridged (the far end's ``Target.dtmf``, the caller's
``CallScript.presses`` and ``uuid_send_dtmf`` into the A-leg); keys for ``read`` /
``play_and_get_digits`` are scripted per attempt and do not.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fsivr.testing import dialplan, media
from fsivr.testing.broadcast import private_execute
from fsivr.testing.expand import GLOBALS, expand, separate_string

if TYPE_CHECKING:
    from fsivr.testing.peer import Peer
    from fsivr.testing.session import CallSession

RECV, SEND = "recv", "send"  # switch_dtmf_direction_t: keys our channel receives / sends
META_TIMEOUT = 5  # meta_on_dtmf: a digit more than 5 s after the meta key is not taken as its partner


@dataclass
class Binding:
    app: str  # "APP::ARGS" as given (switch_ivr_broadcast splits it)
    listen: str  # the listen flags ("a", "b", "ab")
    respond: str  # the respond flags ("a", "b", "o", "s", "i", "1")


@dataclass
class Direction:
    """dtmf_meta_data_t.sr[direction]: the meta key, whether it was just pressed, the bound digits."""

    meta: str = "*"
    up: bool = False
    meta_on: bool = False
    last_digit: float = 0.0
    map: dict[str, Binding] = field(default_factory=dict)


@dataclass
class MetaBindings:
    sides: dict[str, Direction] = field(default_factory=lambda: {RECV: Direction(), SEND: Direction()})


def bind_meta_app(s: CallSession, arg: str) -> None:
    """mod_dptools.c dtmf_bind_function: ``<key> [a|b|ab] [a|b|o|s|i|1] <app>``; four parts
    (switch_separate_string), the last one the rest (``execute_extension::metamenu XML esltest11``).
    Always ``_none_``: a bad binding only logs (``Usage: ...`` / ``Bind Error!``)."""
    parts = separate_string(arg, 4)
    if len(parts) != 4 or not all(parts):
        return
    key, listen, respond, app = parts
    meta_var = s.channel.get_var("bind_meta_key")
    meta = meta_var[0] if meta_var and meta_var[0] in "0123456789*#ABCDabcd" else "*"
    if key == meta or len(key) != 1 or key not in "0123456789*#ABCD" or not app:
        return  # switch_ivr_bind_dtmf_meta_session: "Invalid key"
    md = s.meta_bindings
    if md is None:
        md = s.meta_bindings = MetaBindings()
    binding = Binding(app, listen, respond)
    # 'a' listens to what the channel receives, 'b' to what it sends (switch_ivr_bind_dtmf_meta_session)
    for flag, direction in (("a", RECV), ("b", SEND)):
        if flag in listen:
            side = md.sides[direction]
            side.meta, side.up = meta, True
            side.map[key] = binding


def on_dtmf(s: CallSession, digit: str, direction: str) -> bool:
    """switch_ivr_async.c meta_on_dtmf: False = the digit is swallowed (the meta key, the bound digit)."""
    md = s.meta_bindings
    if md is None:
        return True
    side = md.sides[direction]
    if not side.up:
        return True
    now = s.clock.now_us / 1e6
    if side.meta_on and now - side.last_digit > META_TIMEOUT:
        side.meta_on = False
        return True
    side.last_digit = now
    if digit == side.meta:
        # the meta key twice passes the second one through
        side.meta_on = not side.meta_on
        return not side.meta_on
    if not side.meta_on:
        return True
    side.meta_on = False
    binding = side.map.get(digit.upper())
    listening = "a" if direction == RECV else "b"
    if binding is not None and listening in binding.listen:
        _dispatch(s, binding, direction)
    return False


def _dispatch(s: CallSession, binding: Binding, direction: str) -> None:
    """meta_on_dtmf's respond flags → switch_ivr_broadcast's SMF_ECHO_ALEG (our channel) /
    SMF_ECHO_BLEG (the bridge peer); every binding also carries SMF_HOLD_BLEG."""
    respond = binding.respond
    if "o" in respond:
        target = "us" if direction == SEND else "peer"
    elif "s" in respond:
        target = "peer" if direction == SEND else "us"
    elif "b" in respond and "a" not in respond:
        target = "peer"
    else:
        target = "us"
    app, sep, arg = binding.app.partition("::")
    if not sep:
        app, arg = "playback", binding.app
    if "1" in respond:
        # SBF_ONCE: the binding is removed after its first use
        md = s.meta_bindings
        if md is not None:
            md.sides[direction].map = {k: b for k, b in md.sides[direction].map.items() if b is not binding}
    inline = "i" in respond
    if target == "us":
        if inline:
            s.execute(app, arg or None, str(uuidlib.uuid4()))  # SMF_EXEC_INLINE: run here and now
        else:
            queue_broadcast(s, app, arg, hold_bleg=True)
        return
    if s.peer is None:
        return  # switch_ivr_broadcast: no partner, nothing to do on the B side
    broadcast_to_peer(s, s.peer, app, arg, hold_bleg=not inline)


def broadcast_to_peer(s: CallSession, peer: Peer, app: str, arg: str, hold_bleg: bool = True) -> None:
    """switch_ivr_broadcast(SMF_ECHO_BLEG) → the peer's switch_ivr_parse_event: with ``hold-bleg`` our
    channel (the peer's partner) first gets the hold music broadcast onto it (``playback <hold_music>``
    looping, trace 13b), the peer runs the app (its bridge thread has no event lock: at once), then
    switch_channel_stop_broadcast ends our hold music."""
    music = s.channel.get_var("hold_music") or GLOBALS.get("hold_music", "")
    holding = hold_bleg and _is_moh(music)
    if holding:
        queue_broadcast(s, "playback", expand(s.channel, music), loop=True)
    seconds = run_on_peer(s, peer, app, arg)
    if holding and peer.collector is not None:
        peer.collector.on_done = s.stop_broadcast_now  # the app ends with the keys, not a clock
    elif holding and peer.xfer is not None:
        peer.xfer.on_done = s.stop_broadcast_now  # att_xfer ends with its originate / keys
    elif holding:
        s.at(seconds, s.stop_broadcast_now, owner=peer)


def _is_moh(stream: str) -> bool:
    """switch_utils.c switch_is_moh: anything but silence / indicate_hold / no music."""
    low = stream.strip().lower()
    return bool(low) and low not in ("silence", "indicate_hold") and not low.startswith("silence_stream://")


def run_on_peer(s: CallSession, peer: Peer, app: str, arg: str) -> float:
    """What an application does on the peer as far as the socket can tell: variables, media seconds.
    ``execute_extension`` runs the extension's applications from the script's dialplan."""
    if app == "execute_extension":
        found = dialplan.lookup(s, arg, peer.context)
        return sum(run_on_peer(s, peer, a, x) for a, x in (found or []))
    if app == "play_and_get_digits":
        from fsivr.testing.peer import collect_on_peer  # peer imports this module

        return collect_on_peer(s, peer, arg)
    if app == "att_xfer":
        from fsivr.testing import attxfer  # peer → attxfer → apps → meta: imported when used

        return attxfer.start(s, peer, arg)
    if app == "set":
        name, sep, value = arg.partition("=")
        if name.strip():
            if sep and value:
                peer.vars[name.strip()] = value
            else:
                peer.vars.pop(name.strip(), None)
        return 0.0
    if app in ("playback", "endless_playback"):
        peer.heard.append(arg.strip())
        return media.file_seconds(arg.strip(), s.script.files) or 0.0
    if app == "sleep":
        try:
            return int(arg.strip() or "0") / 1000.0
        except ValueError:
            return 0.0
    return 0.0


def queue_broadcast(s: CallSession, app: str, arg: str, hold_bleg: bool = False, loop: bool = False) -> None:
    """switch_ivr_broadcast(SMF_ECHO_ALEG) onto our channel: the private ``execute`` event
    (fsivr.testing.broadcast) with, as asked, ``loops: -1`` and ``hold-bleg: true``."""
    extra = {"loops": "-1"} if loop else {}
    if hold_bleg:
        extra["hold-bleg"] = "true"
    s.queue.append(private_execute(app, arg, extra))
    s.wake.set()
