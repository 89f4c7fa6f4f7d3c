"""What mod_callcenter must hold, derived from the store: queues (their parameters), agents (name,
contact, status, delays) and tiers.

It is one value, built by a pure function from the directory data, so that ``render-conf``
(callcenter.conf.xml) and the live sync (``callcenter_config``) can never disagree, and so that
two snapshots can be compared to see what changed.

Names in mod_callcenter: a queue is called by its store name; an agent by its account's user
(``101``). Both are arguments of ``callcenter_config`` (split on blanks: switch_separate_string),
which the name rules guarantee (fsivr.store.names).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fsivr.store.directory import Account, Agent, Gateway, Queue
from fsivr.store.names import DIALABLE_NAME, DIALABLE_NUMBER

#: Bundle/store field → mod_callcenter queue parameter (mod_callcenter.c queue_set_config).
QUEUE_FIELD_PARAMS = {
    "strategy": "strategy", "music": "moh-sound", "max_wait": "max-wait-time",
    "max_wait_no_agent": "max-wait-time-with-no-agent",
    "max_wait_no_agent_reached": "max-wait-time-with-no-agent-time-reached",
    "tier_rules_apply": "tier-rules-apply", "tier_rule_wait_second": "tier-rule-wait-second",
    "tier_rule_wait_multiply_level": "tier-rule-wait-multiply-level",
    "tier_rule_no_agent_no_wait": "tier-rule-no-agent-no-wait",
    "discard_abandoned_after": "discard-abandoned-after", "abandoned_resume_allowed": "abandoned-resume-allowed",
}
#: Queue parameters read with switch_true (SWITCH_CONFIG_BOOL in queue_set_config).
BOOL_PARAMS = frozenset({"tier-rules-apply", "tier-rule-wait-multiply-level", "tier-rule-no-agent-no-wait",
                         "abandoned-resume-allowed", "skip-agents-with-external-calls"})
#: Integer queue parameters (SWITCH_CONFIG_INT).
INT_PARAMS = frozenset({"announce-frequency", "ring-progressively-delay", "tier-rule-wait-second",
                        "discard-abandoned-after", "max-wait-time", "max-wait-time-with-no-agent",
                        "max-wait-time-with-no-agent-time-reached"})
#: The agent attributes mod_callcenter keeps besides contact and status, as ``agent set`` keys
#: (cc_agent_update) and as the columns of ``agent list``.
AGENT_NUMBERS = ("max_no_answer", "wrap_up_time", "reject_delay_time", "busy_delay_time", "no_answer_delay_time")
#: mod_callcenter originates to a ``callback`` agent's contact when it offers a call
#: (the other type, uuid-standby, waits on a parked channel: not what an employee is).
AGENT_TYPE = "callback"


@dataclass(frozen=True)
class QueueConf:
    name: str
    #: (mod_callcenter parameter, value as text), in render order.
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)


@dataclass(frozen=True)
class AgentConf:
    name: str
    contact: str
    status: str = "Logged Out"
    type: str = AGENT_TYPE
    max_no_answer: int = 0
    wrap_up_time: int = 0
    reject_delay_time: int = 0
    busy_delay_time: int = 0
    no_answer_delay_time: int = 0


@dataclass(frozen=True)
class TierConf:
    queue: str
    agent: str
    level: int = 1
    position: int = 1


@dataclass
class CallcenterState:
    queues: dict[str, QueueConf] = field(default_factory=dict)
    agents: dict[str, AgentConf] = field(default_factory=dict)
    tiers: dict[tuple[str, str], TierConf] = field(default_factory=dict)
    #: What could not be made into mod_callcenter configuration (and was left out).
    problems: list[str] = field(default_factory=list)

    def same_config(self, other: CallcenterState) -> bool:
        return (self.queues, self.agents, self.tiers) == (other.queues, other.agents, other.tiers)


def param_text(value: Any) -> str:
    """A parameter value as callcenter.conf.xml and ``queue list`` write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def queue_conf(q: Queue) -> QueueConf:
    params: list[tuple[str, str]] = []
    for attr, param in QUEUE_FIELD_PARAMS.items():
        value = getattr(q, attr)
        if value is not None:  # no music: mod_callcenter's own default
            params.append((param, param_text(value)))
    params.extend((k, param_text(v)) for k, v in sorted(q.params.items()))
    return QueueConf(q.name, tuple(params))


def user_at_domain(user: str, domain: str) -> str:
    """``101@domain``, or ``101`` for FreeSWITCH's default domain — also when ``domain`` is a
    ``$${...}`` preprocessor variable, which only XML expands, never ``callcenter_config``
    (the same rule as fsivr.engine.ring_targets.user_at_domain, which this layer cannot import)."""
    return f"{user}@{domain}" if domain and not domain.startswith("$$") else user


def default_gateway(gateways: Iterable[Gateway], configured: str = "") -> str | None:
    """The gateway remote agents are rung through when theirs names none: the configured one,
    else the one named ``default``, else the first by name (fsivr.engine.directory's rule)."""
    names = sorted(g.name for g in gateways)
    if configured:
        return configured
    if "default" in names:
        return "default"
    return names[0] if names else None


def agent_contact(agent: Agent, account: Account | None, domain: str, gateway: str | None) -> str | None:
    """The dial string mod_callcenter originates to: the employee's registrations
    (``user/101``) or, for a remote agent, the first mobile through a gateway."""
    if account is None or not DIALABLE_NAME.match(account.user):
        return None
    if agent.contact == "mobile":
        gw = agent.gateway or gateway
        mobile = account.mobile[0] if account.mobile else None
        if not gw or not mobile or not DIALABLE_NAME.match(gw) or not DIALABLE_NUMBER.match(mobile):
            return None
        return f"sofia/gateway/{gw}/{mobile}"
    return f"user/{user_at_domain(account.user, domain)}"


def build_state(queues: Iterable[Queue], agents: Iterable[Agent], accounts: dict[str, Account],
                gateways: Iterable[Gateway], *, domain: str = "", gateway: str = "") -> CallcenterState:
    state = CallcenterState()
    fallback_gw = default_gateway(gateways, gateway)
    for ag in agents:
        contact = agent_contact(ag, accounts.get(ag.account), domain, fallback_gw)
        if contact is None:
            how = "its mobile through a gateway" if ag.contact == "mobile" else "its SIP account"
            state.problems.append(f"agent {ag.account!r}: cannot be reached ({how}); left out of mod_callcenter")
            continue
        state.agents[ag.account] = AgentConf(ag.account, contact, ag.status or "Logged Out",
                                             **{k: getattr(ag, k) for k in AGENT_NUMBERS})
    for q in queues:
        state.queues[q.name] = queue_conf(q)
        for t in q.agents:
            if t.account in state.agents:
                state.tiers[(q.name, t.account)] = TierConf(q.name, t.account, t.level, t.position)
    return state


def load_state(session: Any, *, domain: str = "", gateway: str = "") -> CallcenterState:
    """The state the store asks for (inside ``Store.run`` / a session)."""
    from fsivr.store.directory import load_accounts, load_agents, load_gateways, load_queues

    return build_state(load_queues(session).values(), load_agents(session).values(), load_accounts(session),
                       load_gateways(session).values(), domain=domain, gateway=gateway)
