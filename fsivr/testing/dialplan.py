"""A small model of the switch's XML dialplan, for where a call goes when it leaves the socket app's
commands: ``execute_extension`` and transfers (``uuid_transfer``, the ``transfer`` application).

An extension is what ``CallScript.extensions["<ext>@<context>"]`` lists: the applications its matching
condition runs, in order. An extension the script does not know is outside the simulation.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fsivr.testing.session import CallSession


def lookup(s: CallSession, arg: str, default_context: str | None = None) -> list[tuple[str, str]] | None:
    """The applications of ``<ext> [<dialplan> [<context>]]`` (context: the channel's own by default);
    None if the script has no such extension (the XML hunt finds nothing)."""
    parts = arg.split()
    if not parts:
        return None
    context = parts[2] if len(parts) > 2 else default_context or current_context(s)
    return s.script.extensions.get(f"{parts[0]}@{context}")


def current_context(s: CallSession) -> str:
    return s.channel.get_var("context") or s.channel.profile.context


def execute_extension(s: CallSession, arg: str) -> None:
    """mod_dptools.c exe_function → switch_core_session_execute_exten (switch_core_session.c): the
    extension's applications run nested, each with its own EXECUTE / EXECUTE_COMPLETE, ``while
    (switch_channel_ready(channel) ...)``: with a transfer pending (CF_TRANSFER) the channel is not
    ready and nothing runs (trace 13: execute_extension completes at once after uuid_transfer)."""
    found = lookup(s, arg)
    for app, app_arg in found or []:
        if not s.channel.ready or s.transferring:
            break
        if not s.execute(app, app_arg or None, str(uuidlib.uuid4())):
            break


def transfer_session(s: CallSession, extension: str, dialplan: str = "", context: str = "") -> bool:
    """switch_ivr.c switch_ivr_session_transfer: max_forwards counted down, a new caller profile (index
    + 1, destination = the extension, RDNIS = the old destination, Transfer-Source ``<epoch>:<uuid>:
    bl_xfer:<ext>/<context>/<dialplan>``, no originatee), a bridge peer hung up (BLIND_TRANSFER: the
    bridge ends), CF_TRANSFER set (the channel is not "ready": the running app and the park loop end),
    CS_ROUTING requested. The socket app then returns and the new extension runs (``run_transfer``).
    False when max_forwards ran out: the channel is hung up with EXCHANGE_ROUTING_ERROR instead."""
    from fsivr.testing.mods import common  # mods imports apps, which imports this module

    ch = s.channel
    use_dialplan = dialplan or ch.profile.dialplan or "XML"
    use_context = context or current_context(s)
    try:
        forwards = int(ch.get_var("max_forwards") or "70") - 1
    except ValueError:
        forwards = 69
    if forwards <= 0:
        s.hangup("EXCHANGE_ROUTING_ERROR", "server")
        return False
    ch.set_var("max_forwards", str(forwards))
    old_destination = ch.get_var("destination_number") or ch.spec.number
    now = s.clock.now_us
    source = f"{now // 1_000_000}:{uuidlib.uuid4()}:bl_xfer:{extension}/{use_context}/{use_dialplan}"
    ch.set_var("signal_bond", None)
    common.new_caller_profile(ch, now, {
        "Destination-Number": extension, "RDNIS": old_destination, "Context": use_context,
        "Dialplan": use_dialplan, "Transfer-Source": source,
    })
    common.set_other_leg(ch, [])
    # switch_channel_set_caller_profile: the new profile keeps created/answered/progress times only
    for name in ("Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum"):
        ch.times[name] = 0
    ch.set_running_state(ch.running_state, 2)  # CS_ROUTING requested, not yet entered
    ch.push_var("transfer_history", source)
    ch.set_var("transfer_source", source)
    s.transferring = True
    # where to, as the command gave it (CallResult.transferred_to: "200 XML default", "xfer")
    s.transfer_to = " ".join(p for p in (extension, dialplan, context) if p)
    s.transfer_target = (extension, use_context)
    s.transfer_dialplan = use_dialplan
    s.wake.set()
    return True


def run_transfer(s: CallSession) -> bool:
    """After the socket app returned: CS_ROUTING (callstate RINGING, switch_channel.c
    switch_channel_perform_set_running_state), CS_EXECUTE, and the extension's applications; then, the
    extension done, the channel hangs up. False if the script does not know the extension."""
    target = s.transfer_target
    if target is None:
        return False
    found = inline(target[0]) if s.transfer_dialplan == "inline" else s.script.extensions.get(
        f"{target[0]}@{target[1]}")
    if found is None:
        return False
    ch = s.channel
    s.transferring = False
    # what ran before the transfer (a uuid_bridge an app set up) is over
    s.after_socket = None
    ch.set_running_state("CS_ROUTING", 2)
    ch.set_callstate("RINGING")
    s.fire("CHANNEL_STATE")
    ch.set_running_state("CS_EXECUTE", 4)
    ch.set_callstate("ACTIVE" if ch.answered else "EARLY" if ch.early else ch.callstate)
    s.fire("CHANNEL_STATE")
    # the dialplan run sets call_uuid again (trace 13: it moves to the end of the variables)
    ch.set_var("call_uuid", ch.vars.get("call_uuid") or ch.uuid)
    for app, arg in found:
        if not ch.ready or s.transferring:
            break
        s.execute(app, arg or None, str(uuidlib.uuid4()))
        if s.after_socket is not None and ch.ready:
            # the app handed the channel to a uuid_bridge (callcenter's agent): it runs now, and
            # back in CS_EXECUTE the extension goes on (switch_core_state_machine.c)
            then, s.after_socket = s.after_socket, None
            then(s)
    if ch.ready and not s.transferring:
        # switch_core_state_machine.c: the extension ran out of applications → NORMAL_CLEARING
        s.hangup("NORMAL_CLEARING", "server")
    return True


def inline(target: str) -> list[tuple[str, str]] | None:
    """mod_dptools.c inline_dialplan_hunt: ``app[:data],app[:data]`` (``m:<c>:`` picks the
    separator instead of ','); each app's data starts after its first ':'."""
    if not target:
        return None
    delim = ","
    if len(target) > 3 and target[0] == "m" and target[1] == ":" and target[3] == ":":
        delim, target = target[2], target[4:]
    found = []
    for part in target.split(delim):
        app, _, data = part.partition(":")
        found.append((app.lstrip(" "), data))
    return found


def transfer(s: CallSession, arg: str) -> None:
    """mod_dptools.c transfer_function (the application): ``[-bleg|-both] <ext> [<dialplan> [<context>]]``;
    only our leg moves (the far end is not a simulated call); no extension → ``service``
    (switch_ivr_session_transfer)."""
    parts = arg.split()
    if parts and parts[0].startswith("-"):
        parts = parts[1:]
    parts = parts or ["service"]
    transfer_session(s, parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "")

