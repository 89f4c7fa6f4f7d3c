"""Ringing people: targets → dial strings, ring strategies, and what FreeSWITCH's result means.

Shared by every node that rings someone (dial, forward, group, extension, menu with
allow_extension, responsible_manager, any_manager); the node modules only decide *whom* to ring.

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

Result: ``originate_disposition`` (the cause name; switch_ivr_originate.c sets it at the end of
every originate) and, as a fallback, ``DIALSTATUS``. Not ``bridge_hangup_cause`` /
``last_bridge_hangup_cause`` / ``originate_failed_cause``: a failed bridge leaves them as the
previous bridge set them (trace 04, README "bridge" table) — and we even unset
originate_disposition/DIALSTATUS before each bridge so that a bridge that never reaches originate
cannot show us an older result either.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from fsivr.engine.call import RingResult
from fsivr.esl.errors import ChannelHangup
from fsivr.esl.frames import Event
from fsivr.store.names import DIALABLE_NAME, DIALABLE_NUMBER, EXTERNAL_NUMBER

if TYPE_CHECKING:
    from fsivr.engine.call import Call
    from fsivr.engine.directory import DirectoryCache
    from fsivr.store.directory import Account

log = logging.getLogger("fsivr.ringing")

ANSWERED, NO_ANSWER, BUSY, FAILED = "answered", "no_answer", "busy", "failed"
RING_OUTCOMES = (ANSWERED, NO_ANSWER, BUSY, FAILED)
STRATEGIES = ("simultaneous", "sequential", "random_weighted")

# ---- the one table: FreeSWITCH result → outcome ---------------------------------------------------

#: ``originate_disposition`` values (hangup cause names, switch_types.h switch_call_cause_t, as
#: switch_channel_cause2str spells them) and the ``DIALSTATUS`` spellings that differ from them
#: (switch_ivr_originate.c: CANCEL, BUSY, NOANSWER, INVALIDARGS, DONTCALL; ANSWER/EARLY in older
#: paths) → the outcome a scenario sees. Anything not listed is ``failed``.
CAUSE_OUTCOMES: dict[str, str] = {
    # Connected. SUCCESS is what 1.11.1 reports for an answered bridge, in both variables (trace 04).
    "SUCCESS": ANSWERED,
    "ANSWER": ANSWERED,  # DIALSTATUS
    "EARLY": ANSWERED,  # DIALSTATUS when the peer answered during early media
    # Someone else's phone took the call (intercept / call pickup): the caller was served.
    "PICKED_OFF": ANSWERED,
    # Rang, nobody picked up in time.
    "NO_ANSWER": NO_ANSWER,  # originate_timeout reached (trace 04: DIALSTATUS NOANSWER)
    "NOANSWER": NO_ANSWER,  # DIALSTATUS
    "NO_USER_RESPONSE": NO_ANSWER,  # far end alerted but no answer (SIP 408 from some trunks, Q.850 18)
    "ALLOTTED_TIMEOUT": NO_ANSWER,  # our per-leg leg_timeout ended the leg (check_per_channel_timeouts)
    "RECOVERY_ON_TIMER_EXPIRE": NO_ANSWER,  # SIP 408 Request Timeout: the phone never answered
    # Cancelled ringing without the caller hanging up (a caller hang-up surfaces as ChannelHangup).
    "ORIGINATOR_CANCEL": NO_ANSWER,
    "CANCEL": NO_ANSWER,  # DIALSTATUS for ORIGINATOR_CANCEL
    "LOSE_RACE": NO_ANSWER,  # another leg/branch won
    # The person is there but will not take the call now.
    "USER_BUSY": BUSY,  # SIP 486/600 (trace 04: DIALSTATUS BUSY)
    "BUSY": BUSY,  # DIALSTATUS
    "CALL_REJECTED": BUSY,  # SIP 603 Decline: the employee pressed "reject" — busy to the caller
    "DONTCALL": BUSY,  # DIALSTATUS for CALL_REJECTED
    # Could not reach anyone: offline phone, wrong number, trunk or network trouble.
    "USER_NOT_REGISTERED": FAILED,  # account exists, no registration (trace 04)
    "SUBSCRIBER_ABSENT": FAILED,  # no such user in the directory (trace 04); SIP 480 on some trunks
    "UNALLOCATED_NUMBER": FAILED,  # SIP 404
    "NO_ROUTE_DESTINATION": FAILED,
    "NO_ROUTE_TRANSIT_NET": FAILED,
    "INVALID_NUMBER_FORMAT": FAILED,  # SIP 484
    "NUMBER_CHANGED": FAILED,  # SIP 410
    "NORMAL_TEMPORARY_FAILURE": FAILED,  # SIP 503 and generic transient failures
    "NORMAL_CIRCUIT_CONGESTION": FAILED,
    "SWITCH_CONGESTION": FAILED,
    "NETWORK_OUT_OF_ORDER": FAILED,
    "DESTINATION_OUT_OF_ORDER": FAILED,  # also: an unknown endpoint/application
    "INVALIDARGS": FAILED,  # DIALSTATUS: bad dial string / profile
    "INVALID_PROFILE": FAILED,
    "INVALID_GATEWAY": FAILED,
    "GATEWAY_DOWN": FAILED,
    "SERVICE_UNAVAILABLE": FAILED,
    "REQUESTED_CHAN_UNAVAIL": FAILED,
    "CHAN_NOT_IMPLEMENTED": FAILED,
    "INCOMPATIBLE_DESTINATION": FAILED,  # SIP 488: no common codec
    "BEARERCAPABILITY_NOTAVAIL": FAILED,
    "FACILITY_REJECTED": FAILED,
    "MANDATORY_IE_MISSING": FAILED,  # user without a dial-string (mod_dptools user endpoint)
    "PROGRESS_TIMEOUT": FAILED,  # the far end never even started ringing
    "MEDIA_TIMEOUT": FAILED,
    "EXCHANGE_ROUTING_ERROR": FAILED,  # SIP 483
    "INTERWORKING": FAILED,
    "SYSTEM_SHUTDOWN": FAILED,
    # A *failed* bridge that reports NORMAL_CLEARING: the SIP far end refused with a code
    # FreeSWITCH has no better cause for (trace 04: SIP 480 → NORMAL_CLEARING). An answered
    # bridge reports SUCCESS, never this.
    "NORMAL_CLEARING": FAILED,
    "NORMAL_UNSPECIFIED": FAILED,
    "NONE": FAILED,
}


def classify(disposition: str | None, dialstatus: str | None = None) -> tuple[str, str]:
    """(outcome, cause) for a bridge's ``originate_disposition`` and ``DIALSTATUS``.

    originate_disposition is the precise cause name; DIALSTATUS only decides when it is missing.
    An unknown or missing result is ``failed`` — a scenario must never treat "we don't know" as
    "someone took the call".
    """
    for value in (disposition, dialstatus):
        if value and value != "_undef_":
            cause = value.strip().upper()
            return CAUSE_OUTCOMES.get(cause, FAILED), cause
    return FAILED, "UNKNOWN"


def classify_event(event: Event) -> tuple[str, str]:
    """Classify the CHANNEL_EXECUTE_COMPLETE of a ``bridge``."""
    return classify(event.variable("originate_disposition"), event.variable("DIALSTATUS"))


# ---- targets -------------------------------------------------------------------------------------

# The name/number rules (fsivr.store.names) are shared with bundle parsing and the renderer;
# validation checks targets with parse_target below, so it accepts exactly what rings.
TARGET_KINDS = {"sip": "sip", "user": "sip", "ext": "ext", "extension": "ext", "group": "group",
                "tel": "number", "gateway": "gateway"}


@dataclass(frozen=True)
class Target:
    """One target as a scenario writes it: ``sip:101``, ``ext:101``, ``101``, ``group:sales``,
    ``+48600100200``, ``tel:0600100200``, ``gateway:trunk2/+48600100200``."""

    kind: str  # sip | ext | group | number | gateway | bare
    value: str
    text: str
    gateway: str | None = None


def parse_target(text: str) -> Target:
    """Parse the syntax; raises ValueError with a message for the user. Whether the named thing
    exists is checked against the directory by validation, and again when the call rings."""
    text = str(text).strip()
    prefix, sep, rest = text.partition(":")
    if sep:
        kind = TARGET_KINDS.get(prefix.lower())
        if kind is None:
            raise ValueError(f"unknown target kind {prefix!r} in {text!r} (use sip:, ext:, group:, tel:, "
                             "gateway:NAME/NUMBER, or a number)")
        if kind == "gateway":
            gw, _, number = rest.partition("/")
            if not DIALABLE_NAME.match(gw) or not DIALABLE_NUMBER.match(number):
                raise ValueError(f"target {text!r}: use gateway:NAME/NUMBER")
            return Target("number", number, text, gateway=gw)
        if kind == "number":
            if not DIALABLE_NUMBER.match(rest):
                raise ValueError(f"target {text!r}: not a phone number")
            return Target("number", rest, text)
        if kind == "group":
            if not rest.strip():
                raise ValueError(f"target {text!r}: group name missing")
            return Target("group", rest, text)
        if not DIALABLE_NAME.match(rest):
            raise ValueError(f"target {text!r}: {rest!r} is not a valid account user / extension")
        return Target(kind, rest, text)
    if EXTERNAL_NUMBER.match(text):
        return Target("number", text, text)
    if DIALABLE_NAME.match(text):
        return Target("bare", text, text)
    raise ValueError(f"target {text!r} is not sip:USER, ext:NNN, group:NAME or a phone number")


@dataclass
class Leg:
    """One thing to ring: a FreeSWITCH endpoint and how long it rings."""

    endpoint: str
    timeout: int
    label: str
    #: Account user when the leg rings an employee's SIP account (for any_manager).
    employee: str | None = None
    weight: int = 1
    #: Seconds after the bridge starts before this leg starts ringing (leg_delay_start).
    delay: int = 0
    variables: dict[str, str] = field(default_factory=dict)


def user_at_domain(user: str, domain: str) -> str:
    """``101@domain``, or just ``101`` for FreeSWITCH's default domain.

    Without ``@domain`` the user endpoint and sofia_contact use FreeSWITCH's default domain
    (mod_dptools.c user_outgoing_channel → switch_core_get_domain). A ``$${...}`` preprocessor
    variable means "the default domain" too: it is expanded only in XML, never in text sent over ESL.
    """
    return f"{user}@{domain}" if domain and not domain.startswith("$$") else user


def sip_endpoint(user: str, domain: str) -> str:
    """``user/101`` (mod_dptools' user endpoint: looks the user up in the directory and dials its
    dial-string, i.e. its registrations; an unregistered user fails USER_NOT_REGISTERED, trace 04)."""
    if not DIALABLE_NAME.match(user):
        raise ValueError(f"account user {user!r} cannot be dialled")
    return f"user/{user_at_domain(user, domain)}"


def gateway_endpoint(gateway: str, number: str) -> str:
    if not DIALABLE_NAME.match(gateway) or not DIALABLE_NUMBER.match(number):
        raise ValueError(f"cannot dial {number!r} through gateway {gateway!r}")
    return f"sofia/gateway/{gateway}/{number}"


@dataclass
class Resolver:
    """Turns targets into legs against the live directory snapshot."""

    directory: DirectoryCache
    domain: str = ""
    #: Gateway for external numbers when the node names none (else the directory's default).
    gateway: str | None = None
    #: Caller ID shown on external legs (else the gateway's caller_id, else the caller's own).
    caller_id: str | None = None
    problems: list[str] = field(default_factory=list)

    def report(self, call: Call, node_id: str) -> None:
        """Log what could not be rung (a target deleted from the directory since validation)."""
        for problem in self.problems:
            log.warning("call %s: node %s: %s; ringing the others", call.uuid, node_id, problem)
        self.problems.clear()

    def account_leg(self, account: Account, timeout: int, label: str | None = None,
                    weight: int = 1) -> Leg | None:
        """The account's leg, or None (and a problem note) when its data cannot be rung: one bad
        directory entry must not fail a whole group or dial node."""
        if timeout < 1:
            self.problems.append(f"account {account.user!r}: ring time {timeout} s is not at least 1 s")
            return None
        try:
            endpoint = sip_endpoint(account.user, self.domain)
        except ValueError as exc:
            self.problems.append(str(exc))
            return None
        return Leg(endpoint, timeout, label or f"sip:{account.user}", employee=account.user, weight=weight)

    def number_leg(self, number: str, timeout: int, gateway: str | None = None, label: str | None = None,
                   delay: int = 0) -> Leg | None:
        gw = self.directory.gateway(gateway or self.gateway)
        if gw is None:
            self.problems.append(f"no gateway {gateway or self.gateway or '(default)'} for {number}")
            return None
        try:
            endpoint = gateway_endpoint(gw.name, number)
        except ValueError as exc:
            self.problems.append(str(exc))
            return None
        leg = Leg(endpoint, timeout, label or number, delay=delay)
        caller_id = self.caller_id or gw.caller_id
        if caller_id and DIALABLE_NUMBER.match(caller_id):
            leg.variables["origination_caller_id_number"] = caller_id
        return leg

    def legs(self, target: Target, timeout: int, weight: int = 1) -> list[Leg]:
        """Legs for one target; an unknown name yields none (and a problem note)."""
        d = self.directory
        kind = target.kind
        if kind == "bare":
            if d.employee(target.value) is not None:
                kind = "ext"
            elif d.account(target.value) is not None:
                kind = "sip"
            elif d.group(target.value) is not None:
                kind = "group"
        if kind == "number":
            leg = self.number_leg(target.value, timeout, target.gateway, target.text)
            return [leg] if leg else []
        if kind == "sip":
            account = d.account(target.value)
            if account is None:
                self.problems.append(f"no account {target.value!r}")
                return []
            leg = self.account_leg(account, timeout, target.text, weight)
            return [leg] if leg else []
        if kind == "ext":
            account = d.employee(target.value)
            if account is None:
                self.problems.append(f"no employee with extension {target.value!r}")
                return []
            leg = self.account_leg(account, timeout, target.text, weight)
            return [leg] if leg else []
        if kind == "group":
            group = d.group(target.value)
            if group is None:
                self.problems.append(f"no group {target.value!r}")
                return []
            return self.group_legs(group.name)
        self.problems.append(f"{target.text!r} names no account, extension or group")
        return []

    def group_legs(self, name: str) -> list[Leg]:
        group = self.directory.group(name)
        if group is None:
            self.problems.append(f"no group {name!r}")
            return []
        out = []
        for m in group.members:
            account = self.directory.account(m.account)
            if account is None:
                continue
            leg = self.account_leg(account, m.ring_timeout or group.ring_timeout, weight=m.weight)
            if leg is not None:
                out.append(leg)
        return out


# ---- strategies and dial strings ------------------------------------------------------------------


def weighted_order(legs: Sequence[Leg], rng: random.Random) -> list[Leg]:
    """A random order in which each leg comes first with probability weight / total weight.

    Efraimidis-Spirakis weighted sampling without replacement: each leg draws u^(1/w) and the
    largest key goes first; P(first) = w_i / Σw exactly. Weight 0 (or less) = only after everyone
    with a positive weight, in random order.
    """
    positive = [(rng.random() ** (1.0 / leg.weight), leg) for leg in legs if leg.weight > 0]
    zero = [leg for leg in legs if leg.weight <= 0]
    rng.shuffle(zero)
    return [leg for _, leg in sorted(positive, key=lambda kv: kv[0], reverse=True)] + zero


def ordered(legs: Sequence[Leg], strategy: str, rng: random.Random) -> list[Leg]:
    return weighted_order(legs, rng) if strategy == "random_weighted" else list(legs)


def _vars(values: dict[str, Any]) -> str:
    # Values are numbers and safe names only (checked where they are made), so no quoting is
    # needed inside {} / [] (which split on ',').
    return ",".join(f"{k}={v}" for k, v in values.items())


def dial_string(legs: Sequence[Leg], strategy: str) -> str:
    """The ``bridge`` argument for legs already in ring order.

    simultaneous: ``{...}user/101,user/102`` — all ring, the first to answer wins and FreeSWITCH
    cancels the rest. sequential / random_weighted:
    ``{...}[leg_timeout=15]user/101|[leg_timeout=20]user/102`` — failover: each ``|`` group is its
    own originate attempt with its own timer (switch_ivr_originate.c, the ``for (r = 0; r < or_argc``
    loop), so every member rings for its own leg_timeout.

    Global variables: ``originate_timeout`` (else 60 s) = the longest leg, so it never cuts a leg
    short; ``originate_continue_on_timeout`` so that a member whose time runs out at the same
    second as the originate timer does not end the whole chain (on NO_ANSWER the remaining ``|``
    groups are skipped otherwise, docs/freeswitch-notes.md §3); ``ignore_early_media`` keeps one
    trunk's early media ("the subscriber is not available…") from ending a simultaneous ring and
    reaching the caller; ``instant_ringback`` makes the caller hear ringback (the channel's
    ringback variables) at once. A leg's own ``leg_timeout`` is written only when it differs from
    originate_timeout, or in a ``|`` chain, or with ``leg_delay_start`` (it counts from the start of
    the originate, so a delayed leg gets delay + its ring time; check_per_channel_timeouts).
    """
    if not legs:
        raise ValueError("nothing to ring")
    longest = max(leg.timeout + leg.delay for leg in legs)
    sequential = strategy != "simultaneous"
    head: dict[str, Any] = {"ignore_early_media": "true", "instant_ringback": "true", "originate_timeout": longest}
    if sequential:
        head["originate_continue_on_timeout"] = "true"
    parts = []
    for leg in legs:
        per_leg: dict[str, Any] = {}
        if sequential or leg.delay or leg.timeout + leg.delay != longest:
            per_leg["leg_timeout"] = leg.timeout + leg.delay
        if leg.delay:
            per_leg["leg_delay_start"] = leg.delay
        per_leg.update(leg.variables)
        parts.append((f"[{_vars(per_leg)}]" if per_leg else "") + leg.endpoint)
    return "{" + _vars(head) + "}" + ("|" if sequential else ",").join(parts)


# ---- ringing --------------------------------------------------------------------------------------

_rng = random.SystemRandom()


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
    legs = ordered(legs, strategy, rng or _rng)
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

    call.conn.add_listener(on_event)
    try:
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
    finally:
        call.conn.remove_listener(on_event)
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
    directory = call.services.directory
    if directory is None:
        raise RuntimeError("no directory loaded: ringing nodes need fsivr.engine.directory")
    cfg = call.services.config
    return Resolver(directory, cfg.sip_domain, gateway=gateway or cfg.default_gateway or None, caller_id=caller_id)


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
    directory = call.services.directory
    account = directory.employee(extension) if directory is not None else None
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


def positive_seconds(value: float) -> float:
    if not 0 < value <= 3600:
        raise ValueError("must be between 1 and 3600 seconds")
    return value


def ring_seconds(value: int) -> int:
    if not 1 <= value <= 600:
        raise ValueError("must be between 1 and 600 seconds")
    return value


def caller_id_check(value: str) -> str:
    if not DIALABLE_NUMBER.match(value):
        raise ValueError("caller_id must be a phone number (digits, optionally starting with +)")
    return value
