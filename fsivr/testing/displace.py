"""Displace media bugs (switch_ivr_async.c switch_ivr_displace_session / _stop_displace_session)
and the ``uuid_displace`` API (mod_commands.c session_displace_function), trace 12.

A displace mixes a file into the channel's audio through a media bug: no ESL event at all, on the
socket or elsewhere. The bug is kept under the file's path and removes itself when a non-looping
file has played out, so ``stop`` after that fails (``-ERR Cannot stop displace session!``). The
queue's ``announce-sound`` is played the same way by mod_callcenter's member thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsivr.testing import media
from fsivr.testing.expand import separate_string

if TYPE_CHECKING:
    from fsivr.testing.api import ApiContext
    from fsivr.testing.session import CallSession

USAGE = "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"


def start(s: CallSession, path: str, limit: int = 0) -> bool:
    """switch_ivr_displace_session: False if the file cannot be opened."""
    seconds = media.file_seconds(path, s.script.files)
    if seconds is None:
        return False
    if limit > 0:
        seconds = min(seconds, float(limit))
    s.media_bugs[path] = s.clock.now_us + int(seconds * 1_000_000)
    return True


def stop(s: CallSession, path: str) -> bool:
    """switch_ivr_stop_displace_session: only a bug still running under that path can be removed."""
    end = s.media_bugs.pop(path, None)
    return end is not None and end > s.clock.now_us


def uuid_displace(ctx: ApiContext, arg: str) -> str | None:
    """``uuid_displace <uuid> [start|stop] <path> [<limit>] [mux]``."""
    if ctx.sim is None:
        return None
    argv = separate_string(arg.strip(), 5)
    if len(argv) < 3 or not all(argv[:3]):
        return USAGE
    uuid, action, path = argv[0], argv[1].lower(), argv[2]
    s = ctx.sim.find_session(uuid)
    if s is None or s.channel.uuid != uuid:  # the loopback A-leg is the caller, not a simulated channel
        return "-ERR Cannot locate session!\n"
    if action == "start":
        limit = int(argv[3]) if len(argv) > 3 and argv[3].isdigit() else 0
        return "+OK Success\n" if start(s, path, limit) else "-ERR Cannot displace session!\n"
    if action == "stop":
        return "+OK Success\n" if stop(s, path) else "-ERR Cannot stop displace session!\n"
    return USAGE
