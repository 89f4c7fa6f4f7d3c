"""Ringing people over this call's own socket: one ``bridge`` per ring, its result read back.

Why the ``bridge`` application (over this call's outbound socket) and not ``originate`` +
``uuid_bridge`` through the API: with ``bridge`` the caller's channel never leaves the socket
application — when the bridged call ends (or ringing fails) control comes straight back to us and
the scenario goes on, and the result arrives in the CHANNEL_EXECUTE_COMPLETE of that bridge, as
channel variables, matched by our Application-UUID like every other app. FreeSWITCH itself runs
the strategies (``,`` = ring together, ``|`` = one after another, ``leg_timeout`` /
``leg_delay_start`` per leg, switch_ivr_originate.c) and stops the other legs when one answers.
With originate + uuid_bridge we would have to run the strategies, cancel losing legs, play ringback
and match BACKGROUND_JOBs ourselves, and ``uuid_bridge`` takes the caller out of the socket app
(trace 07: the ``socket`` app completes), so a scenario could not continue after the call.

Which variables carry the result, and why not the others, is said once in ``causes``; we also
unset originate_disposition/DIALSTATUS before each bridge (``prepare``) so that a bridge that never
reaches originate cannot show us an older result.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from fsivr.engine.call import RingResult
from fsivr.esl.errors import ChannelHangup
from fsivr.esl.frames import Event
from fsivr.ringing import dialstrings
from fsivr.ringing.causes import ANSWERED, FAILED, NO_ANSWER, classify_event
from fsivr.ringing.dialstrings import STRATEGIES, dial_string, ordered
from fsivr.ringing.targets import Leg, Resolver, user_at_domain
from fsivr.store.names import DIALABLE_NAME, DIALABLE_NUMBER

if TYPE_CHECKING:
    from fsivr.engine.call import Call

log = logging.getLogger("fsivr.ringing")

#: How long one target may ring, in seconds (a ringing node's ``ring_timeout`` range).
RING_SECONDS = (1, 600)

# ---- ringing --------------------------------------------------------------------------------------


def fs_seconds(event: Event | None) -> float:
    """FreeSWITCH's clock at an event (Event-Date-Timestamp, µs), so waits measured across several
    bridges agree with FreeSWITCH's timers (and with the simulator's virtual clock)."""
    raw = event.get("Event-Date-Timestamp") if event is not None else None
    try:
        return int(raw) / 1_000_000 if raw else time.monotonic()
    except ValueError:
        return time.monotonic()


def prepare(call: Call) -> None:
    """Channel variables for a bridge run from the socket app.

    continue_on_fail=true: without it a failed bridge *hangs the caller up* with the failure cause
    (switch_channel.c, switch_channel_handle_cause; only NO_ANSWER/NO_USER_RESPONSE/
    ORIGINATOR_CANCEL continue by default). hangup_after_bridge=false: after the conversation the
    caller comes back to the scenario (trace 04, last bridge). Unsetting originate_disposition and
    DIALSTATUS (``name=`` unsets, mod_dptools.c base_set) guarantees the result we read is this
    bridge's. ringback/transfer_ringback: what the caller hears while we ring (unanswered /
    answered caller).

    Only through ``call.set_channel_vars``: it records the names, and the exit node unsets them
    before the dialplan takes the call back — left set, continue_on_fail / hangup_after_bridge /
    ringback would change what the number's own dialplan does with its bridges.
    """
    tone = call.services.config.ringback
    # Our own values and the operator's ringback (which may name a tone variable for FreeSWITCH
    # to expand, like ${us-ring}): no caller text here.
    call.set_channel_vars({"continue_on_fail": "true", "hangup_after_bridge": "false",
                           "originate_disposition": "", "DIALSTATUS": "",
                           "ringback": tone, "transfer_ringback": tone}, trusted=True)


def remember_employees(call: Call, legs: Iterable[Leg]) -> None:
    for leg in legs:
        if leg.employee and leg.employee not in call.met_employees:
            call.met_employees.append(leg.employee)


def ring(call: Call, legs: Sequence[Leg], strategy: str = "simultaneous", *, rng: random.Random | None = None,
         label: str = "") -> RingResult:
    """Ring ``legs`` with ``strategy``; set and return ``call.last_ring``.

    Blocks for the whole conversation when someone answers (bridge returns when the bridged call
    ends). A caller who hangs up while it rings raises ChannelHangup (the runner records it); a
    caller who hangs up *during the conversation* was answered: that is what we return.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    call.vars["ring_seconds"] = 0.0
    if not legs:
        result = RingResult(FAILED, "NO_TARGETS", label)
        call.last_ring = result
        _note(call, result, "")
        return result
    legs = ordered(legs, strategy, rng or dialstrings.rng)
    dial = dial_string(legs, strategy)
    prepare(call)
    bridged: list[Event] = []
    started: list[float] = []
    local_start = time.monotonic()

    def on_event(event: Event) -> None:
        name = event.get("Event-Name")
        # myevents includes CHANNEL_BRIDGE (mod_event_socket.c parse_command, "myevents"): it
        # tells us the caller is talking, so a hang-up from now on ends an *answered* call.
        if name == "CHANNEL_BRIDGE":
            bridged.append(event)
        # When the bridge started, on FreeSWITCH's clock (event-lock: nothing else runs now).
        elif name == "CHANNEL_EXECUTE" and event.get("Application") == "bridge" and not started:
            started.append(fs_seconds(event))

    try:
        with call.listen(on_event):
            event = call.bridge(dial, timeout=call.app_timeout)
    except ChannelHangup:
        if bridged:
            result = RingResult(ANSWERED, "SUCCESS", label or _winner(bridged[0], legs))
        else:
            result = RingResult(NO_ANSWER, "ORIGINATOR_CANCEL", label)
        call.last_ring = result
        _note(call, result, dial)
        if result.outcome == ANSWERED:
            return result
        raise
    outcome, cause = classify_event(event)
    result = RingResult(outcome, cause, label or (_winner(bridged[0], legs) if bridged else ""))
    call.last_ring = result
    # How long this took on FreeSWITCH's clock (ringing, plus the conversation if answered);
    # our own clock only if the bridge's CHANNEL_EXECUTE never came.
    took = fs_seconds(event) - started[0] if started else time.monotonic() - local_start
    call.vars["ring_seconds"] = round(max(0.0, took), 3)
    _note(call, result, dial)
    return result


def _winner(event: Event, legs: Sequence[Leg]) -> str:
    """Which leg answered, when CHANNEL_BRIDGE names its channel (best effort, for the record)."""
    if len(legs) == 1:
        return legs[0].label
    name = event.get("Other-Leg-Channel-Name") or ""
    dest = event.get("Other-Leg-Destination-Number") or event.get("Other-Leg-Callee-ID-Number") or ""
    for leg in legs:
        tail = leg.endpoint.rsplit("/", 1)[-1].split("@", 1)[0]
        if tail and (tail == dest or f"/{tail}@" in name or name.endswith("/" + tail)):
            return leg.label
    return ""


def _note(call: Call, result: RingResult, dial: str) -> None:
    call.vars.update(ring_outcome=result.outcome, ring_cause=result.cause, ring_target=result.target)
    # Kept in this node's step of the call record, so a record says who was rung and why it failed.
    call.step_detail.setdefault("rings", []).append(
        {"outcome": result.outcome, "cause": result.cause, "target": result.target, "dial": dial})
    log.debug("call %s: rang %s → %s (%s)", call.uuid, dial or "nobody", result.outcome, result.cause)


def resolver_for(call: Call, *, gateway: str | None = None, caller_id: str | None = None) -> Resolver:
    cfg = call.services.config
    return Resolver(call.services.directory, cfg.sip_domain, gateway=gateway or cfg.default_gateway or None,
                    caller_id=caller_id)


# ---- presence -------------------------------------------------------------------------------------


def registered(call: Call, user: str) -> bool:
    """Is the account registered right now? ``api sofia_contact */USER[@DOMAIN]`` returns the
    contact(s), or ``error/user_not_registered`` (mod_sofia.c, sofia_contact_function).

    Used where the *decision* depends on presence (responsible_manager: mobile at once when the
    owner is offline). Plain dial/group targets are not checked: bridging an offline account fails
    at once with USER_NOT_REGISTERED (trace 04), which costs no round trip and cannot race with a
    registration that changes between the check and the ring.
    """
    if not DIALABLE_NAME.match(user):
        # Never put such a name into an API command; it cannot be rung either (Resolver skips it).
        log.warning("call %s: account user %r cannot be dialled; treated as offline", call.uuid, user)
        return False
    try:
        reply = call.api(f"sofia_contact */{user_at_domain(user, call.services.config.sip_domain)}").strip()
    except ChannelHangup:
        raise
    except Exception as exc:
        log.warning("call %s: sofia_contact %s failed: %s", call.uuid, user, exc)
        return False
    return bool(reply) and not reply.startswith(("error/", "-ERR"))


# ---- shared node pieces ---------------------------------------------------------------------------


def ring_extension(call: Call, extension: str, ring_timeout: int) -> RingResult | None:
    """Ring the employee whose short number is ``extension``; None if there is no such employee.
    (The extension node and menus with allow_extension.)"""
    account = call.services.directory.employee(extension)
    if account is None:
        return None
    resolver = resolver_for(call)
    leg = resolver.account_leg(account, ring_timeout, label=f"ext:{extension}")
    resolver.report(call, f"ext:{extension}")
    if leg is None:
        return ring(call, [], "simultaneous", label=f"ext:{extension}")
    remember_employees(call, [leg])
    return ring(call, [leg], "simultaneous", label=leg.label)


def with_timeout(legs: Iterable[Leg], timeout: int) -> list[Leg]:
    return [replace(leg, timeout=timeout) for leg in legs]


def caller_id_check(value: str) -> str:
    if not DIALABLE_NUMBER.match(value):
        raise ValueError("caller_id must be a phone number (digits, optionally starting with +)")
    return value
