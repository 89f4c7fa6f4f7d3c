"""``uuid_broadcast`` (mod_commands.c uuid_broadcast_function → switch_ivr_async.c switch_ivr_broadcast).

The broadcast is not run by the API: it queues a private event on the channel (``execute``
``playback <path>`` with ``event-lock: true``), which the channel's own thread runs when it
dequeues private events - between applications in the park loop, or inside a running application
that parses events (switch_ivr_play_file does) unless that application was sent with event-lock
(CF_EVENT_LOCK: switch_core_session_dequeue_private_event). mod_callcenter flushes what is still
queued when its wait ends (traces 12 / 12b). ``app::args`` runs another application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsivr.testing import wire
from fsivr.testing.expand import separate_string

if TYPE_CHECKING:
    from fsivr.testing.api import ApiContext
    from fsivr.testing.session import CallSession

SYNTAX = "<uuid> <path> [aleg|bleg|holdb|both]"  # BROADCAST_SYNTAX (mod_commands.c)


def private_execute(app: str, arg: str, extra: dict[str, str] | None = None) -> wire.Command:
    """The COMMAND event switch_ivr_broadcast queues, as the channel thread will parse it; ``extra``:
    ``loops: -1`` (SMF_LOOP), ``hold-bleg: true`` (SMF_HOLD_BLEG)."""
    headers = {"call-command": "execute", "execute-app-name": app, "execute-app-arg": arg,
               "event-lock": "true", "lead-frames": "5", **(extra or {})}
    text = "".join(f"{k}: {v}\n" for k, v in headers.items())
    return wire.Command(raw=text.encode(), text=text, first_line="sendmsg", headers=headers)


def broadcast(s: CallSession, path: str) -> None:
    """Queue ``path`` (or ``app::args``) for the channel's thread (SMF_ECHO_ALEG)."""
    app, sep, args = path.partition("::")
    s.queue.append(private_execute(app, args) if sep else private_execute("playback", path))
    s.wake.set()


def uuid_broadcast(ctx: ApiContext, arg: str) -> str | None:
    """``uuid_broadcast <uuid> <path> [aleg|bleg|both]``: ``+OK Message sent`` once queued. The
    simulated channel has no B-leg of its own, so ``bleg``/``both`` reach the A side only."""
    if ctx.sim is None:
        return None
    # switch_separate_string(mycmd, ' ', argv, 4): blanks separate, single quotes group (a path
    # with spaces, "say:" text), the fourth part takes the rest
    argv = separate_string(arg.strip(), 4)
    if len(argv) < 2 or not argv[0]:
        return f"-USAGE: {SYNTAX}\n"
    s = ctx.sim.find_session(argv[0])
    if s is None and _to_peer(ctx, argv):
        return "+OK Message sent\n"
    if s is None or s.channel.uuid != argv[0]:  # the loopback A-leg is the caller, not a simulated channel
        return "-ERR invalid uuid\n"
    legs = argv[2].lower() if len(argv) > 2 else "aleg"
    if "aleg" in legs or "both" in legs or "bleg" not in legs:
        broadcast(s, argv[1])
    return "+OK Message sent\n"


def _to_peer(ctx: ApiContext, argv: list[str]) -> bool:
    """``uuid_broadcast`` of a bridge's far end (a callcenter agent's leg): the flags as
    uuid_broadcast_function sets them — no leg word = SMF_ECHO_ALEG|SMF_HOLD_BLEG, ``aleg`` =
    SMF_ECHO_ALEG alone, ``holdb`` adds SMF_HOLD_BLEG — and the app runs on the peer as a meta
    binding's does (fsivr.testing.meta.broadcast_to_peer: with hold, our channel hears the hold
    music meanwhile). False if no bridge has that far end."""
    from fsivr.testing import meta  # meta imports this module

    assert ctx.sim is not None
    for s in ctx.sim.live_sessions():
        for peer in (s.peer, s.outer_peer):
            if peer is None or peer.uuid != argv[0] or peer.hungup:
                continue
            legs = argv[2].lower() if len(argv) > 2 else ""
            hold_bleg = not legs or "holdb" in legs  # holdb is parsed last: it wins over bleg
            if not legs or "aleg" in legs or "both" in legs or "holdb" in legs:
                app, sep, arg = argv[1].partition("::")
                meta.broadcast_to_peer(s, peer, app if sep else "playback", arg if sep else argv[1], hold_bleg)
            return True
    return False
