"""Whom a ringing node rings: scenario targets (sip:, ext:, group:, numbers) resolved against the
directory into the legs of a dial string."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fsivr.store.names import DIALABLE_NAME, DIALABLE_NUMBER, EXTERNAL_NUMBER

if TYPE_CHECKING:
    from fsivr.engine.call import Call
    from fsivr.engine.directory import DirectoryCache
    from fsivr.store.directory import Account


log = logging.getLogger("fsivr.ringing")


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
