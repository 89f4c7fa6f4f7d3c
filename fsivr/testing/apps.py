"""Dialplan applications, emulated (mod_dptools.c, switch_ivr_play_say.c, switch_ivr_originate.c).

Each application takes the session and its (expanded) argument, moves simulated time with
``session.media`` and leaves channel variables the way FreeSWITCH does, because the server reads
them back (``read_result``, ``originate_disposition`` ...) and header order follows them.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from fsivr.testing import dialplan, dialstring, media, meta
from fsivr.testing.expand import separate_string
from fsivr.testing.profiles import OTHER_LEG_FIELDS, Q850, cause_from_str
from fsivr.testing.script import BridgeLeg, BridgeRun, Target

if TYPE_CHECKING:
    from fsivr.testing.channel import Channel
    from fsivr.testing.session import CallSession

App = Callable[["CallSession", str], None]


def is_true(value: str | None) -> bool:
    """switch_true (switch_utils.h): how FreeSWITCH reads a boolean channel variable."""
    return (value or "").strip().lower() in ("true", "yes", "on", "1", "enabled", "active", "allow")


# ----------------------------------------------------------------------------- call state


def answer(s: CallSession, arg: str) -> None:
    ch = s.channel
    if ch.answered:
        return
    if ch.profile.early_media_on_answer and not ch.early:
        _pre_answer(s)
    ch.mark_answered()
    if ch.profile.answer_ops:
        ch.apply_ops(ch.profile.answer_ops)
    s.fire("CHANNEL_ANSWER")
    ch.set_callstate("ACTIVE")  # the callstate follows the event (traces: RINGING on ANSWER)
    ch.set_var("endpoint_disposition", "ANSWER")
    if ch.profile.ack_ops:
        ch.pending_ops.extend(ch.profile.ack_ops)


def _pre_answer(s: CallSession) -> None:
    ch = s.channel
    if ch.profile.early_media_ops:
        ch.apply_ops(ch.profile.early_media_ops)
    ch.mark_pre_answered()
    s.fire("CHANNEL_PROGRESS_MEDIA")
    ch.set_callstate("EARLY")


def pre_answer(s: CallSession, arg: str) -> None:
    if not s.channel.answered and not s.channel.early:
        _pre_answer(s)


def ring_ready(s: CallSession, arg: str) -> None:
    ch = s.channel
    if not ch.answered and not ch.times["Channel-Progress-Time"]:
        ch.mark_ring_ready()
        s.fire("CHANNEL_PROGRESS")
        ch.set_callstate("RING_WAIT")


def hangup(s: CallSession, arg: str) -> None:
    s.hangup(cause_from_str(arg.strip() or None), "server")


def noop(s: CallSession, arg: str) -> None:
    return None


# ----------------------------------------------------------------------------- variables


def set_(s: CallSession, arg: str) -> None:
    name, sep, value = arg.partition("=")
    if not name.strip():
        return
    # mod_dptools.c base_set: an empty value unsets the variable.
    s.channel.set_var(name.strip(), value if sep and value else None)


def export(s: CallSession, arg: str) -> None:
    name, sep, value = arg.partition("=")
    name = name.strip()
    if name.startswith("nolocal:"):
        return
    if not name:
        return
    s.channel.set_var(name, value if sep else None)
    current = s.channel.get_var("export_vars")
    names = current.split(",") if current else []
    if name not in names:
        names.append(name)
        s.channel.set_var("export_vars", ",".join(names))


def unset(s: CallSession, arg: str) -> None:
    if arg.strip():
        s.channel.set_var(arg.strip(), None)


def multiset(s: CallSession, arg: str) -> None:
    for item in arg.split():
        set_(s, item)


def multiunset(s: CallSession, arg: str) -> None:
    """mod_dptools multiunset: names separated by blanks (the ^^<delim> form is not used by fsivr)."""
    for name in arg.split():
        s.channel.set_var(name, None)


# ----------------------------------------------------------------------------- media


def play_file(s: CallSession, target: str) -> str:
    """switch_ivr_play_file: "ok", "break", "hangup" or "missing"; sets playback_* variables."""
    if s.transferring:
        return "transfer"  # switch_ivr_play_file: the channel is not ready (CF_TRANSFER), nothing played
    seconds = media.file_seconds(target.strip(), s.script.files)
    if seconds is None:
        return "missing"
    before = s.clock.now_us
    info = playback_info(target)
    s.fire("PLAYBACK_START", post=info)
    outcome = s.media(seconds)
    played_ms = (s.clock.now_us - before) // 1000
    samples = played_ms * 8
    ch = s.channel
    ch.set_var("playback_last_offset_pos", str(samples))
    ch.set_var("playback_seconds", str(played_ms // 1000))
    ch.set_var("playback_ms", str(played_ms))
    ch.set_var("playback_samples", str(samples))
    s.fire("PLAYBACK_STOP", post=[*info, ("Playback-Status", "break" if outcome == "break" else "done")])
    return "ok" if outcome == "done" else outcome


def playback_info(target: str) -> list[tuple[str, str]]:
    """Playback-File-Type (only for these two) and -Path (switch_ivr_play_file)."""
    low = target[:13].lower()
    if low.startswith("local_stream:"):
        return [("Playback-File-Type", "local_stream"), ("Playback-File-Path", target)]
    if low.startswith("tone_stream:"):
        return [("Playback-File-Type", "tone_stream"), ("Playback-File-Path", target)]
    return [("Playback-File-Path", target)]


def playback(s: CallSession, arg: str) -> None:
    outcome = play_file(s, arg)
    if outcome == "missing":
        response = "FILE NOT FOUND"
    elif outcome == "transfer" or (outcome == "hangup" and s.result.hangup_by != "server"):
        # switch_ivr_play_file returns FALSE once the channel is not ready (CF_TRANSFER: trace 13)
        response = "PLAYBACK ERROR"
    else:
        # uuid_break and an own-side hangup end playback normally (02, 09g).
        response = "FILE PLAYED"
    s.channel.set_var("current_application_response", response)
    if s.current is not None:
        s.current.interrupted = None if outcome in ("ok", "missing") else outcome


def endless_playback(s: CallSession, arg: str) -> None:
    while s.channel.ready:
        if play_file(s, arg) != "ok":
            break


def sleep(s: CallSession, arg: str) -> None:
    try:
        ms = int(arg.strip() or "0")
    except ValueError:
        ms = 0
    s.media(ms / 1000.0)


def speak(s: CallSession, arg: str) -> None:
    text = arg.split("|")[-1] if "|" in arg else arg
    s.media(media.speak_seconds(text))


def say(s: CallSession, arg: str) -> None:
    words = arg.split()
    value = words[-1] if words else ""
    s.media(max(0.6, 0.45 * max(1, len(value))))


# ----------------------------------------------------------------------------- digits


def _read(
    s: CallSession, min_d: int, max_d: int, prompt: str | None, var: str | None, timeout_ms: int,
    terminators: str, digit_timeout_ms: int,
) -> tuple[str, str]:
    """switch_ivr_read: returns (status, digits); status success/timeout/too_small/hangup/notfound."""
    ch = s.channel
    if not digit_timeout_ms:
        digit_timeout_ms = timeout_ms
    if max_d < min_d:
        max_d = min_d
    ch.set_var("read_result", None)
    if var:
        ch.set_var(var, None)
    if prompt and prompt.lower() != "silence":
        outcome = play_file(s, prompt)
        if outcome == "hangup":
            return "hangup", ""
        if outcome == "missing":
            # switch_ivr_read: a prompt switch_ivr_play_file cannot open (SWITCH_STATUS_NOTFOUND)
            # jumps to its end with read_result still cleared, collecting nothing.
            return "notfound", ""
    if not ch.ready:
        return "hangup", ""
    keys = s.next_digits()
    if s.current is not None:
        s.current.digits = (s.current.digits or "") + keys
    collected = ""
    terminator = ""
    used = 0
    for key in keys:
        if max_d and len(collected) >= max_d:
            break
        used += 1
        if key in terminators.lstrip("=") and terminators:
            terminator = key
            break
        collected += key
    consumed = keys[:used]
    s.leftover_dtmf.extend(keys[used:])
    if terminator or (max_d and len(collected) >= max_d):
        status = "success"
    else:
        wait = digit_timeout_ms if collected else timeout_ms
        if s.media(wait / 1000.0) == "hangup":
            return "hangup", ""
        status = "timeout"
    for key in consumed:
        s.fire_dtmf(key)
    if terminator:
        ch.set_var("read_terminator_used", terminator)
    elif terminators.startswith("="):
        status = "too_small"
    if min_d and len(collected) < min_d:
        status = "too_small"
    ch.set_var("read_result", {"success": "success", "timeout": "timeout"}.get(status, "failure"))
    if max_d == 1 and len(collected) == 1 and collected in terminators:
        collected = ""
    if var and collected:
        ch.set_var(var, collected)
    return status, collected


def play_and_get_digits(s: CallSession, arg: str) -> None:
    """mod_dptools play_and_get_digits → switch_play_and_get_digits (switch_ivr_play_say.c).

    Arguments: min max tries timeout terminators prompt invalid_prompt var regex digit_timeout
    [transfer_on_failure].
    """
    argv = separate_string(arg, 11)
    ch = s.channel

    def num(i: int, default: int) -> int:
        try:
            return int(argv[i]) if len(argv) > i else default
        except ValueError:
            return 0

    min_d, max_d, tries = num(0, 0), num(1, 0), num(2, 0)
    timeout = num(3, 1000)
    terms = argv[4] if len(argv) > 4 else ""
    prompt = argv[5] if len(argv) > 5 else None
    bad = argv[6] if len(argv) > 6 else None
    var = argv[7] if len(argv) > 7 else None
    regex = argv[8] if len(argv) > 8 else None
    digit_timeout = num(9, 0)
    if regex and var:
        ch.set_var(f"{var}_invalid", None)
    while ch.ready and tries > 0:
        status, got = _read(s, min_d, max_d, prompt, var, timeout, terms, digit_timeout)
        if status == "hangup":
            return
        if status == "timeout" and len(got) >= min_d:
            status = "success"
        if min_d == 0 and not got and ch.get_var("read_terminator_used") is not None:
            return
        if not (status == "too_small" and not got) and status == "success" and got:
            if not regex:
                return
            try:
                ok = re.search(regex, got) is not None
            except re.error:
                ok = False
            if ok:
                return
            ch.set_var(var or "", None)
            if var:
                ch.set_var(f"{var}_invalid", got)
        if not ch.ready:
            break
        if bad:
            play_file(s, bad)
        tries -= 1


def read(s: CallSession, arg: str) -> None:
    """mod_dptools read: min max sound_file variable_name timeout terminators [digit_timeout]."""
    argv = separate_string(arg, 7)

    def num(i: int, default: int) -> int:
        try:
            return int(argv[i]) if len(argv) > i else default
        except ValueError:
            return 0

    min_d, max_d = num(0, 0), num(1, 0)
    prompt = argv[2] if len(argv) > 2 else None
    var = argv[3] if len(argv) > 3 else None
    timeout = num(4, 0) or 1000
    terms = argv[5] if len(argv) > 5 else "#"
    digit_timeout = num(6, 0)
    _read(s, min_d, max_d, prompt, var, timeout, terms, digit_timeout)


# ----------------------------------------------------------------------------- call flow


def park(s: CallSession, arg: str) -> None:
    # switch_ivr_park: "Cannot park channels that are under control already." → returns at once.
    return None


_FAIL_BEHAVIOUR = {
    "USER_BUSY": "busy", "NO_ANSWER": "no_answer", "USER_NOT_REGISTERED": "unregistered",
    "CALL_REJECTED": "rejected",
}


def _dialstatus(cause: str) -> str:
    # switch_ivr_originate.c: DIALSTATUS is the cause name except for these.
    return {"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER", "NO_USER_RESPONSE": "NOANSWER",
            "ORIGINATOR_CANCEL": "CANCEL"}.get(cause, cause)


def _timeout_for(leg: dialstring.Leg, ds: dialstring.DialString, ch: Channel) -> float:
    for source in (leg.variables, ds.global_vars):
        for key in ("leg_timeout", "originate_timeout", "call_timeout"):
            if key in source:
                try:
                    return float(source[key])
                except ValueError:
                    pass
    for key in ("call_timeout", "originate_timeout"):
        value = ch.get_var(key)
        if value:
            try:
                return float(value)
            except ValueError:
                pass
    return 60.0


def _next_behaviour(s: CallSession, key: str) -> Target:
    """The target's behaviour for this attempt: a list in ``CallScript.targets`` gives one entry per
    time the target is rung on this call (the last one repeats), e.g. busy, then free."""
    spec = s.script.targets.get(key, Target())
    if isinstance(spec, list):
        counts: dict[str, int] = s.__dict__.setdefault("_target_attempts", {})
        n = counts.get(key, 0)
        counts[key] = n + 1
        spec = spec[min(n, len(spec) - 1)] if spec else Target()
    s.__dict__.setdefault("_target_current", {})[key] = spec
    return spec


def _current_behaviour(s: CallSession, key: str) -> Target:
    """The behaviour _next_behaviour picked for the target's latest attempt."""
    current: dict[str, Target] = s.__dict__.get("_target_current", {})
    return current.get(key) or Target()


def _delay_for(leg: dialstring.Leg, ds: dialstring.DialString) -> float:
    for source in (leg.variables, ds.global_vars):
        if "leg_delay_start" in source:
            try:
                return max(0.0, float(source["leg_delay_start"]))
            except ValueError:
                return 0.0
    return 0.0


def _leg_plan(s: CallSession, leg: dialstring.Leg, timeout: float) -> tuple[str, str, float]:
    """(outcome, cause, seconds until it happens) for one leg."""
    endpoint = leg.endpoint
    key = leg.target
    if endpoint.lower().startswith("error/"):
        cause = cause_from_str(endpoint.split("/", 1)[1], "NORMAL_TEMPORARY_FAILURE")
        return _FAIL_BEHAVIOUR.get(cause, "failed"), cause, 0.0
    if endpoint.lower().startswith("user/"):
        user = key[4:]
        if not s.script.registered.get(user, True):
            return "unregistered", "USER_NOT_REGISTERED", 0.0
    target = _next_behaviour(s, key)
    b = target.behaviour
    if b == "answered":
        if target.answer_after >= timeout:
            return "no_answer", "NO_ANSWER", timeout
        return "answered", "NORMAL_CLEARING", target.answer_after
    if b == "no_answer":
        return "no_answer", "NO_ANSWER", timeout
    if b == "busy":
        return "busy", target.cause or "USER_BUSY", min(target.after, timeout)
    if b == "unregistered":
        return "unregistered", "USER_NOT_REGISTERED", 0.0
    if b == "rejected":
        return "rejected", target.cause or "CALL_REJECTED", min(target.after, timeout)
    return "failed", cause_from_str(target.cause, "NORMAL_TEMPORARY_FAILURE"), min(target.after, timeout)


def _other_leg(
    s: CallSession, leg: dialstring.Leg, leg_uuid: str, created: int, answered: int
) -> list[tuple[str, str]]:
    key = leg.target
    number = key[4:] if key.startswith("sip:") else key
    source = "mod_loopback" if leg.endpoint.startswith("loopback/") else "mod_sofia"
    ch_name = f"loopback/{number}-a" if source == "mod_loopback" else f"sofia/internal/{number}"
    values = {
        "Direction": "outbound", "Logical-Direction": "inbound", "Dialplan": "xml",
        "Caller-ID-Name": s.channel.spec.caller_name, "Caller-ID-Number": s.channel.spec.caller,
        "Orig-Caller-ID-Name": s.channel.spec.caller_name, "Orig-Caller-ID-Number": s.channel.spec.caller,
        "Callee-ID-Name": "Outbound Call", "Callee-ID-Number": number, "ANI": s.channel.spec.caller,
        "Destination-Number": number, "Unique-ID": leg_uuid, "Source": source, "Context": "default",
        "Channel-Name": ch_name, "Profile-Created-Time": str(created), "Channel-Created-Time": str(created),
        "Channel-Answered-Time": str(answered), "Screen-Bit": "true", "Privacy-Hide-Name": "false",
        "Privacy-Hide-Number": "false",
    }
    return [(f"Other-Leg-{f}", values.get(f, "0")) for f in OTHER_LEG_FIELDS]


def bridge(s: CallSession, arg: str) -> None:
    """mod_dptools bridge → switch_ivr_originate + switch_ivr_multi_threaded_bridge."""
    ch = s.channel
    ds = dialstring.parse(arg)
    # Enterprise branches ring in parallel: their first groups form one simultaneous group.
    groups: list[list[dialstring.Leg]]
    if len(ds.branches) > 1:
        groups = [[leg for branch in ds.branches for leg in branch[0]]]
    else:
        groups = ds.branches[0] if ds.branches else []
    run = BridgeRun(arg, [], "NORMAL_CLEARING")
    s.result.bridges.append(run)
    order = 0
    winner: tuple[dialstring.Leg, BridgeLeg, str] | None = None
    final_cause = "NORMAL_CLEARING"
    created_legs: list[tuple[str, str]] = []  # (uuid, cause) of legs that got a channel
    last_sofia: dialstring.Leg | None = None
    for gi, group in enumerate(groups):
        start = (s.clock.now_us - s.start_us) / 1e6
        plans = []
        for leg in group:
            timeout = _timeout_for(leg, ds, ch)
            outcome, cause, at = _leg_plan(s, leg, timeout)
            delay = _delay_for(leg, ds)
            if delay:
                # switch_ivr_originate.c check_per_channel_timeouts: a delayed leg starts
                # leg_delay_start s into the originate; its leg_timeout counts from the start.
                at = min(at + delay, timeout)
                if outcome == "answered" and at >= timeout:
                    outcome, cause = "no_answer", "NO_ANSWER"
            rec = BridgeLeg(leg.endpoint, leg.target, outcome, cause, order, gi, start, start + at, timeout)
            order += 1
            run.legs.append(rec)
            plans.append((leg, rec, at))
            if leg.endpoint.lower().startswith("user/") and cause != "SUBSCRIBER_ABSENT":
                # an unknown user fails in the directory lookup, before these are set (04)
                user, _, domain = leg.endpoint.split("/", 1)[1].partition("@")
                ch.set_var("dialed_user", user)
                ch.set_var("dialed_domain", domain or None)
        # a ringing leg marks the caller's progress time (no event: the caller is answered)
        rang = any(p[2] > 0 and p[1].outcome in ("answered", "no_answer") for p in plans)
        if rang and not ch.times["Channel-Progress-Time"]:
            ch.mark_ring_ready()
        answered = [p for p in plans if p[1].outcome == "answered"]
        first = min(answered, key=lambda p: p[2]) if answered else None
        span = first[2] if first else max((p[2] for p in plans), default=0.0)
        outcome = s.media(span)
        if outcome != "done":
            # The caller hung up (or the server broke in) while legs were ringing.
            now = (s.clock.now_us - s.start_us) / 1e6
            for _, rec, at in plans:
                if start + at > now or rec.outcome in ("answered", "no_answer"):
                    rec.outcome, rec.cause, rec.ended = "cancelled", "ORIGINATOR_CANCEL", now
            final_cause = "ORIGINATOR_CANCEL"
            break
        for leg, rec, at in plans:
            # Directory lookups (user/) and error/ fail before any channel exists: they leave
            # originated_legs and last_bridge_hangup_cause alone (04: stale values).
            if rec.cause not in _NO_CHANNEL_CAUSES and not leg.endpoint.lower().startswith("error/"):
                created_legs.append((str(uuidlib.uuid4()), rec.cause))
                last_sofia = leg if leg.endpoint.lower().startswith("sofia/") else None
            if first is not None and rec is not first[1] and at >= first[2]:
                rec.outcome, rec.cause, rec.ended = "cancelled", "LOSE_RACE", start + first[2]
        if first is not None:
            winner = (first[0], first[1], created_legs[-1][0] if created_legs else str(uuidlib.uuid4()))
            break
        # All legs of the group failed: the last one to end decides the cause.
        last = max(plans, key=lambda p: (p[2], p[1].outcome == "no_answer"))
        final_cause = last[1].cause
    if winner is None:
        run.result = final_cause
        if created_legs:
            for u, c in created_legs:
                ch.push_var("originated_legs", f"{u};Outbound Call;{run.legs[-1].target}")
                ch.push_var("originate_causes", f"{u};{c}")
            ch.set_var("originate_signal_bond", created_legs[-1][0])
            if last_sofia is not None:
                code, phrase = _SIP_FAILURE.get(final_cause, (480, "Temporarily Unavailable"))
                ch.set_var("sip_invite_failure_status", str(code))
                ch.set_var("sip_invite_failure_phrase", phrase)
                ch.set_var("sip_reason", f'Q.850;cause={Q850.get(final_cause, 16)};text="{final_cause}"')
                ch.set_var("sip_hangup_phrase", phrase)
            ch.set_var("last_bridge_hangup_cause", final_cause)
            if last_sofia is not None:
                ch.set_var("last_bridge_proto_specific_hangup_cause", f"sip:{code}")
        ch.set_var("originate_disposition", final_cause)
        ch.set_var("DIALSTATUS", _dialstatus(final_cause))
        ch.set_var("originate_failed_cause", final_cause)
        if ch.ready:
            _handle_cause(s, final_cause)
        return
    leg, rec, leg_uuid = winner
    run.result = "SUCCESS"
    run.winner = rec.target
    target = _current_behaviour(s, rec.target)
    created = s.clock.now_us - int(rec.ended - rec.started) * 1_000_000
    from fsivr.testing import peer as peer_mod  # peer → mods.common → mods → apps: imported when used

    sip_peer = peer_mod.is_sip(leg.endpoint)
    callee = rec.target if sip_peer else "Outbound Call"
    ch.push_var("originated_legs", f"{leg_uuid};Outbound Call;{rec.target}")
    if sip_peer and ch.get_var("audio_media_flow"):
        # a SIP B-leg: its answer SDP kept on our channel, the media flows renegotiated (trace 13)
        ch.set_var("switch_m_sdp", peer_mod.B_SDP)
        for kind in ("video", "text", "audio"):
            ch.set_var(f"{kind}_media_flow", ch.get_var(f"{kind}_media_flow"))
    ch.set_var("originate_disposition", "SUCCESS")
    ch.set_var("DIALSTATUS", "SUCCESS")
    ch.push_var("originate_causes", f"{leg_uuid};NONE")
    ch.set_var("originate_signal_bond", None)
    ch.set_var("signal_bond", leg_uuid)
    if sip_peer:
        leg_name = leg.endpoint
        ch.mark_bridged(peer_mod.sip_other_leg(s, leg.endpoint, rec.target, leg_uuid, created, s.clock.now_us))
        peer_mod.set_callee(ch, callee, rec.target)
    else:
        loop = leg.endpoint.startswith("loopback/")
        leg_name = f"loopback/{rec.target}-a" if loop else f"sofia/internal/{rec.target}"
        ch.mark_bridged(_other_leg(s, leg, leg_uuid, created, s.clock.now_us))
    bridge_ids = [("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", leg_uuid)]
    s.fire("CHANNEL_BRIDGE", pre=bridge_ids)
    # switch_ivr_multi_threaded_bridge once bridged (trace 13 shows them mid-bridge; bridge_to goes
    # again when it ends, trace 04)
    ch.set_var("bridge_to", leg_uuid)
    ch.set_var("last_bridge_to", leg_uuid)
    ch.set_var("bridge_channel", leg_name)
    ch.set_var("bridge_uuid", leg_uuid)
    ch.set_var("signal_bond", leg_uuid)
    ch.set_var("last_sent_callee_id_name", callee)
    ch.set_var("last_sent_callee_id_number", rec.target)
    s.peer = peer_mod.Peer(leg_uuid, leg_name, context="public" if sip_peer else "default")
    try:
        talk_outcome = peer_mod.talk(s, s.peer, target, len(s.result.bridges))
    finally:
        s.cancel_timers(s.peer)
        s.peer = None
    ch.set_var("bridge_to", None)
    if talk_outcome != "transfer":
        # a transfer hangs the B-leg up itself: no last_bridge_hangup_cause from it (trace 13)
        ch.set_var("last_bridge_hangup_cause", "NORMAL_CLEARING")
    ch.set_var("bridge_hangup_cause", "NORMAL_CLEARING")
    rec.ended = (s.clock.now_us - s.start_us) / 1e6
    s.fire("CHANNEL_UNBRIDGE", pre=bridge_ids)
    if talk_outcome == "done" and ch.ready and is_true(ch.get_var("hangup_after_bridge")):
        s.hangup("NORMAL_CLEARING", "far_end")


_NO_CHANNEL_CAUSES = frozenset({"USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT"})

# What a SIP far end answers for a failure cause (mod_sofia's hangup_cause_to_sip, reversed).
_SIP_FAILURE = {
    "NORMAL_CLEARING": (480, "Temporarily Unavailable"), "NO_ANSWER": (480, "Temporarily Unavailable"),
    "USER_BUSY": (486, "Busy Here"), "CALL_REJECTED": (603, "Decline"),
    "NORMAL_TEMPORARY_FAILURE": (503, "Service Unavailable"), "UNALLOCATED_NUMBER": (404, "Not Found"),
}


def _handle_cause(s: CallSession, cause: str) -> None:
    """switch_channel_handle_cause (switch_channel.c): a failed bridge hangs the caller up unless
    continue_on_fail allows it; NO_ANSWER / NO_USER_RESPONSE / ORIGINATOR_CANCEL never do."""
    ch = s.channel
    cof = ch.get_var("continue_on_fail")
    if cof is not None:
        if is_true(cof):
            return
        allowed = {c.strip().upper() for c in cof.split(",")}
        if cause in allowed or str(Q850.get(cause, -1)) in allowed:
            return
    elif cause in ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"):
        return
    s.hangup(cause, "server")


APPLICATIONS: dict[str, App] = {
    "answer": answer,
    "pre_answer": pre_answer,
    "ring_ready": ring_ready,
    "hangup": hangup,
    "playback": playback,
    "endless_playback": endless_playback,
    "sleep": sleep,
    "speak": speak,
    "say": say,
    "play_and_get_digits": play_and_get_digits,
    "read": read,
    "set": set_,
    "export": export,
    "unset": unset,
    "multiset": multiset,
    "multiunset": multiunset,
    "bridge": bridge,
    "park": park,
    "transfer": dialplan.transfer,
    "execute_extension": dialplan.execute_extension,
    "bind_meta_app": meta.bind_meta_app,
    # Instant no-ops: accepted so a call using them is not hung up as an unknown application.
    "log": noop,
    "info": noop,
    "event": noop,
    "sched_hangup": noop,
    "record_session": noop,
    "stop_record_session": noop,
    "send_dtmf": noop,
    "flush_dtmf": noop,
    "start_dtmf": noop,
    "stop_dtmf": noop,
    "set_global": noop,
    "presence": noop,
    "hash": noop,
    "db": noop,
}
