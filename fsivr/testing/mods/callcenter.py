"""mod_callcenter (src/mod/applications/mod_callcenter/mod_callcenter.c), traces 07*, 11, 12, 12b, 14.

State shared by all calls of one Simulator (``Simulator.callcenter``): the queues of
callcenter.conf.xml (``define_queue``) and the loaded ones (globals.queue_hash: ``queue load``,
or on demand by the app and ``tier add`` through get_queue; ``queue list`` in the hash's order),
agents (status, state, tiers) and member rows ordered by score (``(now - joined_epoch) +
base_score + skill_score``, ``queue list members`` → ORDER BY score DESC). A member whose call
ends without an agent keeps its row as Abandoned (session_uuid emptied, still counted) until the
dispatch thread drops it after the queue's discard-abandoned-after (11). ``callcenter_config``
answers as cc_config_api_function does, over either socket or through ``Simulator.callcenter_config``;
epochs are the switch's time (``Simulator.now_us``).

The ``callcenter <queue>`` app (callcenter_function): member-queue-start (CUSTOM callcenter::info,
reaches the outbound socket since it carries the caller's Unique-ID), queue music until an agent
answers — then cc_agent_uuid, switch_ivr_uuid_bridge (the caller leaves the socket app, see
common.uuid_bridge_out), cc_cause=answered; member-queue-end (Terminated) comes from the agent
thread after the caller's hangup (07, 12) — or until the caller hangs up / uuid_kill:
member-queue-end Cancel BREAK_OUT, cc_cause=cancel (07b/c/d, 12b). uuid_break only restarts the
music; uuid_broadcast plays inside the wait unless the app holds event-lock (12, 12b).
Members that no socket controls: fsivr.testing.mods.queue_caller.

Agents are not simulated calls: each has a behaviour (``Target``: answers after ``answer_after``,
talks ``talk``; no_answer/busy/failed → the member waits for the next dispatch). Agent events
(agent-offering, bridge-agent-*, agent-state-change, members-count) only reach inbound listeners in
FreeSWITCH; here they are appended to ``CallCenter.events``.
"""
from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent

from fsivr.testing import apps, displace
from fsivr.testing.expand import separate_string
from fsivr.testing.mods.common import (
    Partner,
    fire_ex,
    hold,
    other_leg_pairs,
    uuid_bridge_in,
    uuid_bridge_out,
)
from fsivr.testing.script import Target

if TYPE_CHECKING:
    from fsivr.testing.api import ApiContext, ApiFunc
    from fsivr.testing.session import CallSession

SUBCLASS = "callcenter::info"
_SRC = "mod_callcenter.c"
DISPATCH_DELAY = 0.5  # the agent dispatch thread offers a waiting member about every 0.5 s (07)
INSTANCE = "single_box"

AGENT_STATUSES = ("Logged Out", "Available", "Available (On Demand)", "On Break")
AGENT_STATES = ("Idle", "Waiting", "Receiving", "In a queue call")
TIER_STATES = ("Unknown", "No Answer", "Ready", "Offering", "Active Inbound", "Standby")
AGENT_TYPES = ("callback", "uuid-standby")

QUEUE_FIELDS = (
    "name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|tier_rule_wait_multiply_level|"
    "tier_rule_no_agent_no_wait|discard_abandoned_after|abandoned_resume_allowed|max_wait_time|"
    "max_wait_time_with_no_agent|max_wait_time_with_no_agent_time_reached|record_template|calls_answered|"
    "calls_abandoned|ring_progressively_delay|skip_agents_with_external_calls|agent_no_answer_status\n"
)
AGENT_FIELDS = (
    "name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|busy_delay_time|"
    "no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|last_status_change|no_answer_count|"
    "calls_answered|talk_time|ready_time|external_calls_count\n"
)
MEMBER_FIELDS = (
    "queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|rejoined_epoch|bridge_epoch|"
    "abandoned_epoch|base_score|skill_score|serving_agent|serving_system|state|score\n"
)
TIER_FIELDS = "queue|agent|state|level|position\n"
# CC_CONFIG_API_SYNTAX: what a bare ``callcenter_config`` prints after "-USAGE: \n" (11)
CONFIG_SYNTAX = (
    "callcenter_config <target> <args>,\n"
    "\tcallcenter_config agent add [name] [type] | \n"
    "\tcallcenter_config agent del [name] | \n"
    "\tcallcenter_config agent reload [name] | \n"
    "\tcallcenter_config agent set status [agent_name] [status] | \n"
    "\tcallcenter_config agent set state [agent_name] [state] | \n"
    "\tcallcenter_config agent set contact [agent_name] [contact] | \n"
    "\tcallcenter_config agent set ready_time [agent_name] [wait till epoch] | \n"
    "\tcallcenter_config agent set reject_delay_time [agent_name] [wait second] | \n"
    "\tcallcenter_config agent set busy_delay_time [agent_name] [wait second] | \n"
    "\tcallcenter_config agent set no_answer_delay_time [agent_name] [wait second] | \n"
    "\tcallcenter_config agent get status [agent_name] | \n"
    "\tcallcenter_config agent get state [agent_name] | \n"
    "\tcallcenter_config agent get uuid [agent_name] | \n"
    "\tcallcenter_config agent list [[agent_name]] | \n"
    "\tcallcenter_config tier add [queue_name] [agent_name] [[level]] [[position]] | \n"
    "\tcallcenter_config tier set state [queue_name] [agent_name] [state] | \n"
    "\tcallcenter_config tier set level [queue_name] [agent_name] [level] | \n"
    "\tcallcenter_config tier set position [queue_name] [agent_name] [position] | \n"
    "\tcallcenter_config tier del [queue_name] [agent_name] | \n"
    "\tcallcenter_config tier reload [queue_name] [agent_name] | \n"
    "\tcallcenter_config tier list | \n"
    "\tcallcenter_config queue load [queue_name] | \n"
    "\tcallcenter_config queue unload [queue_name] | \n"
    "\tcallcenter_config queue reload [queue_name] | \n"
    "\tcallcenter_config queue list | \n"
    "\tcallcenter_config queue list agents [queue_name] [status] [state] | \n"
    "\tcallcenter_config queue list members [queue_name] | \n"
    "\tcallcenter_config queue list tiers [queue_name] | \n"
    "\tcallcenter_config queue count | \n"
    "\tcallcenter_config queue count agents [queue_name] [status] [state] | \n"
    "\tcallcenter_config queue count members [queue_name] | \n"
    "\tcallcenter_config queue count tiers [queue_name]"
)


@dataclass
class Queue:
    name: str
    strategy: str = "longest-idle-agent"
    moh_sound: str = "tone_stream://%(2000,4000,440,480);loops=-1"
    time_base_score: str = "system"
    tier_rules_apply: bool = False
    tier_rule_wait_second: int = 300
    tier_rule_wait_multiply_level: bool = True
    tier_rule_no_agent_no_wait: bool = False
    discard_abandoned_after: int = 60
    abandoned_resume_allowed: bool = False
    max_wait_time: int = 0
    max_wait_time_with_no_agent: int = 0
    max_wait_time_with_no_agent_time_reached: int = 5
    record_template: str = ""
    calls_answered: int = 0
    calls_abandoned: int = 0
    ring_progressively_delay: int = 0
    skip_agents_with_external_calls: bool = True
    agent_no_answer_status: str = "On Break"
    # not in ``queue list``: the member thread's periodic announcement (a displace)
    announce_sound: str = ""
    announce_frequency: int = 0

    def row(self) -> str:
        def b(v: bool) -> str:
            return "true" if v else "false"

        return "|".join([
            self.name, self.strategy, self.moh_sound, self.time_base_score, b(self.tier_rules_apply),
            str(self.tier_rule_wait_second), b(self.tier_rule_wait_multiply_level), b(self.tier_rule_no_agent_no_wait),
            str(self.discard_abandoned_after), b(self.abandoned_resume_allowed), str(self.max_wait_time),
            str(self.max_wait_time_with_no_agent), str(self.max_wait_time_with_no_agent_time_reached),
            self.record_template, str(self.calls_answered), str(self.calls_abandoned),
            str(self.ring_progressively_delay), b(self.skip_agents_with_external_calls), self.agent_no_answer_status,
        ]) + "\n"


@dataclass
class Agent:
    name: str
    type: str = "callback"
    contact: str = ""
    status: str = "Logged Out"
    state: str = "Waiting"
    uuid: str = ""
    max_no_answer: int = 0
    wrap_up_time: int = 0
    reject_delay_time: int = 0
    busy_delay_time: int = 0
    no_answer_delay_time: int = 0
    last_bridge_start: int = 0
    last_bridge_end: int = 0
    last_offered_call: int = 0
    last_status_change: int = 0
    no_answer_count: int = 0
    calls_answered: int = 0
    talk_time: int = 0
    ready_time: int = 0
    external_calls_count: int = 0
    # how the agent's phone behaves when offered a call (simulation only)
    target: Target = field(default_factory=lambda: Target("answered", answer_after=0.0, talk=30.0))
    # Which thread wins once the agent is bridged: the agent thread setting cc_agent /
    # cc_queue_answered_epoch on the member, or the member's bridge sending the callee id
    # (last_sent_callee_id_*). 07: the agent thread; 12: the bridge (simulation only).
    vars_after_callee_update: bool = False
    #: What the agent's phone played before the bridge: the member's ``cc_outbound_announce``
    #: (outbound_agent_thread_run: playback_array(agent_session, ...)) (simulation only).
    heard: list[str] = field(default_factory=list)
    #: The leg ``uuid_bridge <agent uuid> <other>`` joined the agent to (simulation only).
    bridged_to: str = ""

    def row(self) -> str:
        return "|".join(str(x) for x in (
            self.name, INSTANCE, self.uuid, self.type, self.contact, self.status, self.state, self.max_no_answer,
            self.wrap_up_time, self.reject_delay_time, self.busy_delay_time, self.no_answer_delay_time,
            self.last_bridge_start, self.last_bridge_end, self.last_offered_call, self.last_status_change,
            self.no_answer_count, self.calls_answered, self.talk_time, self.ready_time, self.external_calls_count,
        )) + "\n"


@dataclass
class Tier:
    queue: str
    agent: str
    state: str = "Ready"
    level: int = 1
    position: int = 1

    def row(self) -> str:
        return f"{self.queue}|{self.agent}|{self.state}|{self.level}|{self.position}\n"


@dataclass
class Member:
    queue: str
    uuid: str
    session_uuid: str
    cid_number: str
    cid_name: str
    system_epoch: int
    joined_epoch: int
    base_score: int = 0
    skill_score: int = 0
    rejoined_epoch: int = 0
    bridge_epoch: int = 0
    abandoned_epoch: int = 0
    serving_agent: str = ""
    serving_system: str = ""
    state: str = "Waiting"
    session: CallSession | None = None

    def score(self, now: int) -> int:
        return (now - self.joined_epoch) + self.base_score + self.skill_score

    def row(self, now: int) -> str:
        return "|".join(str(x) for x in (
            self.queue, INSTANCE, self.uuid, self.session_uuid, self.cid_number, self.cid_name, self.system_epoch,
            self.joined_epoch, self.rejoined_epoch, self.bridge_epoch, self.abandoned_epoch, self.base_score,
            self.skill_score, self.serving_agent, self.serving_system, self.state, self.score(now),
        )) + "\n"


class CallCenter:
    """mod_callcenter's database (queues, agents, tiers, members) for one simulated switch."""

    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        # <queues> of callcenter.conf.xml (name → settings): what ``queue load`` and the
        # ``callcenter`` app (get_queue) can load
        self.conf: dict[str, dict[str, object]] = {}
        # loaded queues (globals.queue_hash); ``loaded()`` lists them in the hash's order
        self.queues: dict[str, Queue] = {}
        self._inserted: dict[str, int] = {}
        self._inserts = 0
        self.agents: dict[str, Agent] = {}
        self.tiers: list[Tier] = []
        self.members: list[Member] = []
        # (action, headers) of callcenter::info events that only inbound listeners would see
        self.events: list[tuple[str, list[tuple[str, str]]]] = []
        # called with (action, headers) for each of them (fsivr.testing.inbound delivers them)
        self.subscribers: list[Callable[[str, list[tuple[str, str]]], None]] = []
        self._clock = clock

    # --- configuration --------------------------------------------------------------------

    def define_queue(self, name: str, **settings: object) -> None:
        """A ``<queue>`` of callcenter.conf.xml, not loaded yet (loaded by ``queue load`` or on
        demand by the ``callcenter`` app and ``tier add``: mod_callcenter.c get_queue)."""
        for k in settings:
            if k not in Queue.__dataclass_fields__ or k in ("name", "calls_answered", "calls_abandoned"):
                raise ValueError(f"unknown queue setting {k!r}")
        self.conf[name] = dict(settings)

    def add_queue(self, name: str, **settings: object) -> Queue:
        """A queue of callcenter.conf.xml, loaded (queues are not created by callcenter_config)."""
        self.define_queue(name, **settings)
        q = self.load_queue(name)
        assert q is not None
        return q

    def load_queue(self, name: str) -> Queue | None:
        """mod_callcenter.c load_queue: a fresh queue from the XML (counters 0) replaces a loaded one
        (switch_core_hash_insert with HASHTABLE_DUP_CHECK); None if the XML has no such queue."""
        settings = self.conf.get(name)
        if settings is None:
            return None
        q = Queue(name, **settings)  # type: ignore[arg-type]
        self.queues.pop(name, None)
        self.queues[name] = q
        self._inserts += 1
        self._inserted[name] = self._inserts
        return q

    def get_queue(self, name: str) -> Queue | None:
        """mod_callcenter.c get_queue: the loaded queue, else loaded from the XML on demand."""
        return self.queues.get(name) or self.load_queue(name)

    def unload_queue(self, name: str) -> None:
        """mod_callcenter.c destroy_queue (silent for an unknown name)."""
        self.queues.pop(name, None)
        self._inserted.pop(name, None)

    def loaded(self) -> list[Queue]:
        """The loaded queues in switch_core_hash_first/next order (``queue list``)."""
        return [self.queues[n] for n in hash_order(self._inserted)]

    def set_agent_target(self, name: str, target: Target) -> None:
        self.agents[name].target = target

    def now(self, at_us: int | None = None) -> int:
        if at_us is not None:
            return at_us // 1_000_000
        if self._clock is not None:
            return self._clock()
        import time

        return int(time.time())

    def members_count(self, queue: str) -> None:
        """cc_queue_count's members-count event (Waiting and Trying members)."""
        self._event("members-count", [("CC-Queue", queue), ("CC-Action", "members-count"),
                                      ("CC-Count", str(self.waiting_count(queue))), ("CC-Selection", "Single-Queue")])

    def _event(self, action: str, headers: list[tuple[str, str]]) -> None:
        self.events.append((action, headers))
        for subscriber in list(self.subscribers):
            subscriber(action, headers)

    # --- callcenter_config -----------------------------------------------------------------

    def config(self, text: str, at_us: int | None = None) -> str:
        """``callcenter_config <args>`` (cc_config_api_function); ``at_us`` = the switch's time."""
        now = self.now(at_us)
        if not text.strip():
            return f"-USAGE: \n{CONFIG_SYNTAX}\n"
        argv = separate_string(text.strip(), 8)  # char *argv[8]
        if len(argv) < 2:
            return "-ERR Invalid!\n"
        section, action, args = argv[0].lower(), argv[1].lower(), argv[2:]
        if section == "agent":
            return self._agent_cmd(action, args, now)
        if section == "tier":
            return self._tier_cmd(action, args)
        if section == "queue":
            return self._queue_cmd(action, args, now)
        return ""  # nothing written: mod_event_socket answers "-ERR no reply" (11)

    def _agent_cmd(self, action: str, args: list[str], now: int) -> str:
        if action == "add":
            if len(args) < 2:
                return "-ERR Invalid!\n"
            name, typ = args[0], args[1]
            if name in self.agents:
                return "-ERR Agent already exist!\n"
            if typ not in AGENT_TYPES:
                return "-ERR Agent type invalid!\n"
            self.agents[name] = Agent(name, type=typ, last_status_change=0)
            self._event("agent-add", [("CC-Agent", name), ("CC-Agent-Type", typ), ("CC-Action", "agent-add")])
            return "+OK\n"
        if action == "del":
            if len(args) < 1:
                return "-ERR Invalid!\n"
            self.agents.pop(args[0], None)
            self.tiers = [t for t in self.tiers if t.agent != args[0]]
            return "+OK\n"
        if action == "reload":
            return "+OK\n" if args else "-ERR Invalid!\n"
        if action == "set":
            if len(args) < 3:
                return "-ERR Invalid!\n"
            return self._agent_update(args[0].lower(), args[2], args[1], now)
        if action == "get":
            if len(args) < 2:
                return "-ERR Invalid!\n"
            key, name = args[0].lower(), args[1]
            agent = self.agents.get(name)
            if key not in ("status", "state", "uuid"):
                return "-ERR Invalid Agent Update KEY!\n"
            if agent is None:
                return "-ERR Agent not found!\n"
            header = "CC-Agent-UUID" if key == "uuid" else f"CC-Agent-{key.capitalize()}"
            self._event(f"agent-{key}-get", [("CC-Agent", name), ("CC-Action", f"agent-{key}-get"),
                                             (header, str(getattr(agent, key)))])
            return str(getattr(agent, key))  # no LF (07: 'Logged Out')
        if action == "list":
            if len(args) > 1:
                return "-ERR Invalid!\n"
            rows = [a for a in self.agents.values() if not args or a.name == args[0]]
            return _list(AGENT_FIELDS, [a.row() for a in rows])
        return "-ERR Invalid!\n"

    def _agent_update(self, key: str, value: str, name: str, now: int) -> str:
        """cc_agent_update: the status/state names must match exactly (unquoted 'Logged Out' → 'Logged')."""
        agent = self.agents.get(name)
        if key == "status":
            if value not in AGENT_STATUSES:
                return "-ERR Invalid Agent Status!\n"
            if agent is None:
                return "-ERR Agent not found!\n"
            if value == "Available" and agent.status != value:
                # cc_agent_update: "Reset values on available only" (talk_time, calls_answered,
                # no_answer_count), and only when the status changes.
                agent.talk_time = agent.calls_answered = agent.no_answer_count = 0
            agent.status = value
            agent.last_status_change = now
            self._event("agent-status-change", [("CC-Agent", name), ("CC-Action", "agent-status-change"),
                                                ("CC-Agent-Status", value)])
            return "+OK\n"
        if key == "state":
            if value not in AGENT_STATES:
                return "-ERR Invalid Agent State!\n"
            if agent is None:
                return "-ERR Agent not found!\n"
            agent.state = value
            self._event("agent-state-change", [("CC-Agent", name), ("CC-Action", "agent-state-change"),
                                               ("CC-Agent-State", value)])
            return "+OK\n"
        if key == "type" and value not in AGENT_TYPES:
            return "-ERR Invalid Agent Type!\n"
        numeric = ("max_no_answer", "wrap_up_time", "reject_delay_time", "busy_delay_time", "no_answer_delay_time",
                   "ready_time")
        if key not in ("contact", "type", *numeric):
            return "-ERR Invalid Agent Update KEY!\n"
        if agent is None:
            return "-ERR Agent not found!\n"
        if key in numeric:
            setattr(agent, key, atoi(value))
        else:
            setattr(agent, key, value)
        if key == "contact":
            self._event("agent-contact-change", [("CC-Agent", name), ("CC-Action", "agent-contact-change"),
                                                 ("CC-Agent-Contact", value)])
        return "+OK\n"

    def _tier_cmd(self, action: str, args: list[str]) -> str:
        if action == "add":
            if len(args) < 2:
                return "-ERR Invalid!\n"
            queue, agent = args[0], args[1]
            if self.get_queue(queue) is None:
                return "-ERR Queue not found!\n"
            if agent not in self.agents:
                return "-ERR Agent not found!\n"
            if any(t.queue == queue and t.agent == agent for t in self.tiers):
                return "-ERR Tier already exist!\n"
            level = atoi(args[2]) if len(args) > 2 else 1
            position = atoi(args[3]) if len(args) > 3 else 1
            self.tiers.append(Tier(queue, agent, "Ready", level or 1, position or 1))
            return "+OK\n"
        if action == "set":
            if len(args) < 4:
                return "-ERR Invalid!\n"
            key, queue, agent, value = args[0].lower(), args[1], args[2], args[3]
            tier = next((t for t in self.tiers if t.queue == queue and t.agent == agent), None)
            # cc_tier_update: an unknown tier is CC_STATUS_TIER_NOT_FOUND, which the api maps to
            # its default "Unknown Error" (11); the key and value are checked after that
            if tier is None:
                return "-ERR Unknown Error!\n"
            if agent not in self.agents:
                return "-ERR Agent not found!\n"
            if self.get_queue(queue) is None:
                return "-ERR Agent not found!\n"  # CC_STATUS_QUEUE_NOT_FOUND's text in the api (sic)
            if key == "state":
                if value not in TIER_STATES:
                    return "-ERR Invalid Tier State!\n"
            elif key not in ("level", "position"):
                return "-ERR Invalid Tier Update KEY!\n"
            setattr(tier, key, value if key == "state" else atoi(value))
            return "+OK\n"
        if action == "del":
            if len(args) < 2:
                return "-ERR Invalid!\n"
            self.tiers = [t for t in self.tiers if not (t.queue == args[0] and t.agent == args[1])]
            return "+OK\n"
        if action == "reload":
            return "+OK\n" if args else "-ERR Invalid!\n"
        if action == "list":
            rows = sorted(self.tiers, key=lambda t: (t.level, t.position))
            return _list(TIER_FIELDS, [t.row() for t in rows])
        return "-ERR Invalid!\n"

    def _queue_cmd(self, action: str, args: list[str], now: int) -> str:
        # cc_config_api_function, section "queue" (11)
        if action in ("load", "unload", "reload"):
            if not args:
                return "-ERR Invalid!\n"
            if action != "load":
                self.unload_queue(args[0])
            if action == "unload":
                return "+OK\n"
            return "+OK\n" if self.load_queue(args[0]) is not None else "-ERR Invalid Queue not found!\n"
        if action == "list":
            if not args:
                # the header is written before the loop, so it is there without rows too
                return QUEUE_FIELDS + "".join(q.row() for q in self.loaded()) + "+OK\n"
            sub, queue = args[0].lower(), (args[1] if len(args) > 1 else "")
            if sub == "agents":
                return _list(AGENT_FIELDS, [a.row() for a in self.queue_agents(queue, *args[2:4])])
            if sub == "members":
                return _list(MEMBER_FIELDS, [m.row(now) for m in self.queue_members(queue, now)])
            if sub == "tiers":
                return _list(TIER_FIELDS, [t.row() for t in self.tiers if t.queue == queue])
            return "-ERR Invalid!\n"
        if action == "count":
            if not args:
                return f"{len(self.queues)}\n"
            sub, queue = args[0].lower(), (args[1] if len(args) > 1 else "")
            if sub == "agents":
                return f"{len(self.queue_agents(queue, *args[2:4]))}\n"
            if sub == "members":
                # every row, Abandoned ones included (SELECT count(*) FROM members WHERE queue = ...)
                return f"{len(self.queue_members(queue, now))}\n"
            if sub == "tiers":
                return f"{sum(1 for t in self.tiers if t.queue == queue)}\n"
            return "-ERR Invalid!\n"
        return "-ERR Invalid!\n"

    # --- queries ----------------------------------------------------------------------------

    def queue_agents(self, queue: str, status: str | None = None, state: str | None = None) -> list[Agent]:
        names = [t.agent for t in self.tiers if t.queue == queue]
        out = [self.agents[n] for n in names if n in self.agents]
        if status is not None:
            out = [a for a in out if a.status == status]
        if state is not None:
            out = [a for a in out if a.state == state]
        return out

    def queue_members(self, queue: str, now: int) -> list[Member]:
        """The member rows of a queue (Abandoned ones too), best score first: ``queue list members``
        (ORDER BY score DESC; without a queue ORDER BY queue, score DESC), the order agents are
        offered them."""
        rows = [m for m in self.members if m.queue == queue or not queue]
        return sorted(rows, key=lambda m: (m.queue if not queue else "", -m.score(now)))

    def waiting_count(self, queue: str) -> int:
        """cc_queue_count (the members-count event): Waiting and Trying members only."""
        return sum(1 for m in self.members if m.queue == queue and m.state in ("Waiting", "Trying"))

    def abandon(self, member: Member, now: int) -> None:
        """callcenter_function when the wait is canceled: the row stays, state Abandoned,
        session_uuid emptied, abandoned_epoch set (UPDATE members SET state = 'Abandoned' ...)."""
        member.state = "Abandoned"
        member.session_uuid = ""
        member.abandoned_epoch = now
        member.session = None
        queue = self.get_queue(member.queue)
        if queue is not None:
            queue.calls_abandoned += 1

    def discard_abandoned(self, now: int) -> None:
        """members_callback of the dispatch thread: Abandoned rows older than the queue's
        discard-abandoned-after are deleted (rows of a queue that cannot be loaded at once)."""
        keep = []
        for m in self.members:
            if m.state == "Abandoned":
                q = self.get_queue(m.queue)
                since = m.abandoned_epoch or m.joined_epoch
                if q is None or since + q.discard_abandoned_after < now:
                    continue
            keep.append(m)
        self.members = keep

    def position(self, session_uuid: str, now: int) -> int | None:
        """1-based position of a caller among the waiting members of its queue."""
        me = next((m for m in self.members if m.session_uuid == session_uuid), None)
        if me is None:
            return None
        waiting = [m for m in self.queue_members(me.queue, now) if m.state == "Waiting"]
        return waiting.index(me) + 1 if me in waiting else None

    def free_agent(self, queue: str, now: int) -> Agent | None:
        """An agent that can be offered a call now (status Available, state Waiting, tier Ready,
        wrap-up over), longest idle first (strategy longest-idle-agent), by tier level/position."""
        cands = []
        for t in self.tiers:
            if t.queue != queue:
                continue
            a = self.agents.get(t.agent)
            if a is None or t.state not in ("Ready", "No Answer"):
                continue
            if a.status not in ("Available", "Available (On Demand)") or a.state != "Waiting":
                continue
            if a.last_bridge_end and now < a.last_bridge_end + a.wrap_up_time:
                continue
            cands.append((t.level, a.last_bridge_end, t.position, a))
        cands.sort(key=lambda c: c[:3])
        return cands[0][3] if cands else None

    def first_waiting(self, queue: str, now: int) -> Member | None:
        for m in self.queue_members(queue, now):
            if m.state == "Waiting":
                return m
        return None


def _list(header: str, rows: list[str]) -> str:
    """list_result_callback: the column line comes with the first row, so no rows = just +OK (11)."""
    return (header + "".join(rows) if rows else "") + "+OK\n"


HASH_SIZE = 53  # switch_create_hashtable(.., 16, ..): the first prime above 16 (switch_hashtable.c)


def _hash_index(key: str, size: int = HASH_SIZE) -> int:
    """switch_hash_default (switch_hashtable.h) mixed by hash() of switch_hashtable_private.h, mod size."""
    m = 0xFFFFFFFF
    h = 0
    for c in key.encode():
        h = (c + (h << 6) + (h << 16) - h) & m
    h = (h + (~(h << 9) & m)) & m
    h ^= ((h >> 14) | (h << 18)) & m
    h = (h + (h << 4)) & m
    h ^= ((h >> 10) | (h << 22)) & m
    return h % size


def hash_order(inserted: dict[str, int]) -> list[str]:
    """Keys in switch_hashtable iteration order: by bucket, and within a bucket the latest insert
    first (entries are pushed on the chain's head). ``inserted``: key → insertion sequence.
    The table grows past 34 entries (max_load_factor 0.65): more keys than that are not modelled."""
    return sorted(inserted, key=lambda k: (_hash_index(k), -inserted[k]))


def atoi(text: str) -> int:
    digits = ""
    for i, c in enumerate(text.strip()):
        if not c.isdigit() and not (i == 0 and c == "-"):
            break
        digits += c
    try:
        return int(digits)
    except ValueError:
        return 0


def _cc(s: CallSession) -> CallCenter:
    return s.sim.callcenter


def _post(s: CallSession, action: str, line: str, headers: list[tuple[str, str]], fn: str = "callcenter_function",
          ) -> None:
    fire_ex(s, "CUSTOM", post=headers, subclass=SUBCLASS, source=(_SRC, fn, line))


def _agent_partner(s: CallSession, agent: Agent, member: Member) -> Partner:
    """The agent's leg as Other-Leg (07: a SIP leg from switch_ivr_originate.c, context default)."""
    contact = agent.contact
    while contact and contact[0] in "[{<":  # an agent without a contact: loopback/<name>
        close = {"[": "]", "{": "}", "<": ">"}[contact[0]]
        contact = contact.split(close, 1)[1] if close in contact else ""
    leg_name = contact or f"loopback/{agent.name}"
    user = leg_name.rsplit("/", 1)[-1].split("@", 1)[0]
    if leg_name.startswith("user/"):
        leg_name = f"sofia/internal/{user}"
    now = s.clock.now_us
    leg_uuid = agent.uuid or str(uuidlib.uuid4())
    agent.uuid = leg_uuid
    values = {
        "Direction": "outbound", "Logical-Direction": "inbound", "Caller-ID-Name": member.cid_name,
        "Caller-ID-Number": member.cid_number, "Orig-Caller-ID-Name": member.cid_name,
        "Orig-Caller-ID-Number": member.cid_number, "Callee-ID-Name": user, "Callee-ID-Number": user,
        "Network-Addr": "127.0.0.1" if leg_name.startswith("sofia/") else "", "ANI": member.cid_number,
        "Destination-Number": user, "Unique-ID": leg_uuid, "Source": "src/switch_ivr_originate.c",
        "Context": "default", "Channel-Name": leg_name,
    }
    sip = leg_name.startswith("sofia/")
    from fsivr.testing.peer import Peer  # peer → meta → dialplan → apps: imported when used

    # set on the member by the agent thread once bridged (outbound_agent_thread_run, "for xml_cdr needs")
    agent_vars = [("cc_agent", agent.name), ("cc_queue_answered_epoch", str(now // 1_000_000))]
    return Partner(
        uuid=leg_uuid, channel_name=leg_name, other_leg=other_leg_pairs(values, now - 20_000, now - 20_000, now),
        callee_name=user, callee_number=user, talk=agent.target.talk,
        end_vars=[("cc_agent_bridged", "true"), *([] if agent.vars_after_callee_update else agent_vars)],
        end_vars_late=[*(agent_vars if agent.vars_after_callee_update else []),
                       *([("sip_reason", 'Q.850;cause=16;text="NORMAL_CLEARING"'), ("sip_hangup_phrase", "OK")]
                         if sip else [])],
        last_sent_callee=(user, user),
        # an agent who presses keys (the in-call menu) is the bridge's peer while it lasts
        peer=Peer(leg_uuid, leg_name, context="default", heard=agent.heard) if agent.target.dtmf else None,
        target=agent.target if agent.target.dtmf else None,
    )


def callcenter(s: CallSession, arg: str) -> None:
    """callcenter <queue> (callcenter_function)."""
    ch = s.channel
    cc = _cc(s)
    queue_name = arg.strip().split(" ", 1)[0]
    queue = cc.get_queue(queue_name)
    if queue is None:
        return  # "Queue %s not found"
    if not ch.answered:
        apps.answer(s, "")  # switch_channel_answer before reading the answered time
    now = s.sim.now_us() // 1_000_000  # local_epoch_time_now: the switch's time
    # system_epoch is the channel's answered time (start_epoch = times->answered)
    answered = (ch.times["Channel-Answered-Time"] or ch.spec.created_us) // 1_000_000
    member = Member(queue=queue_name, uuid=str(uuidlib.uuid4()), session_uuid=ch.uuid,
                    cid_number=ch.get_var("caller_id_number") or "", cid_name=ch.get_var("caller_id_name") or "",
                    system_epoch=answered, joined_epoch=now, session=s)
    base = ch.get_var("cc_base_score")
    if base:
        member.base_score += atoi(base)
    if queue.time_base_score == "system":
        member.base_score += now - answered
    ch.set_var("cc_side", "member")
    ch.set_var("cc_member_uuid", member.uuid)
    ch.set_var("cc_agent_found", None)
    ch.set_var("cc_agent_bridged", None)
    ch.set_var("cc_queue_joined_epoch", str(now))
    ch.set_var("cc_queue", queue_name)
    cc.members.append(member)
    ids = [("CC-Member-UUID", member.uuid), ("CC-Member-Session-UUID", ch.uuid),
           ("CC-Member-CID-Name", member.cid_name), ("CC-Member-CID-Number", member.cid_number)]
    _post(s, "member-queue-start", "3113", [("CC-Queue", queue_name), ("CC-Action", "member-queue-start"), *ids])
    cc.members_count(queue_name)
    music = ch.get_var("cc_moh_override") or queue.moh_sound
    info = apps.playback_info(music)
    reason: list[str] = []
    agent = _wait_for_agent(s, cc, queue, member, info, reason)
    # "Stop uuid_broadcasts": private events still queued (uuid_broadcast, and sendmsgs the
    # controller sent meanwhile: mod_event_socket queues them the same way) are dropped
    s.queue.clear()
    now = s.clock.now_us // 1_000_000
    if agent is None:
        # "Canceled for some reason": hangup, uuid_kill (BREAK_OUT, 07b/c/d, 12b), a key of
        # cc_exit_keys (EXIT_WITH_KEY); the row stays
        cancel_reason = reason[0] if reason else "BREAK_OUT"
        cc.abandon(member, now)
        _post(s, "member-queue-end", "3274", [
            ("CC-Queue", queue_name), ("CC-Action", "member-queue-end"), ("CC-Member-Leaving-Time", str(now)),
            ("CC-Member-Joined-Time", str(member.joined_epoch)), ("CC-Cause", "Cancel"),
            ("CC-Cancel-Reason", cancel_reason), *ids])
        ch.set_var("cc_queue_canceled_epoch", str(now))
        ch.set_var("cc_cause", "cancel")
        ch.set_var("cc_cancel_reason", cancel_reason)
        cc.members_count(queue_name)
        return
    ch.set_var("cc_cause", "answered")
    loaded = cc.get_queue(queue_name)
    if loaded is not None:
        loaded.calls_answered += 1
    partner = _agent_partner(s, agent, member)
    partner.on_end = _bridge_ended(cc, agent, member, queue_name, ids)
    s.after_socket = uuid_bridge_out(partner)


def _exit_key(s: CallSession) -> str | None:
    """Keys the caller pressed during the wait (``uuid_send_dtmf``/``uuid_recv_dtmf`` while the app
    runs land in ``s.digits``): each is a DTMF the channel receives; the first one listed in
    ``cc_exit_keys`` ends the wait (moh_on_dtmf returns SWITCH_STATUS_BREAK, callcenter_function sets
    cc_exit_key and EXIT_WITH_KEY). Other keys are dropped by the callback."""
    exit_keys = s.channel.get_var("cc_exit_keys") or ""
    while s.digits:
        keys = s.digits.popleft()
        for i, key in enumerate(keys):
            s.fire_dtmf(key)
            if exit_keys and key in exit_keys:
                if keys[i + 1:]:
                    s.digits.appendleft(keys[i + 1:])
                return key
    return None


def _wait_for_agent(s: CallSession, cc: CallCenter, queue: Queue, member: Member,
                    info: list[tuple[str, str]], reason: list[str]) -> Agent | None:
    """callcenter_function's wait loop: queue music (switch_ivr_play_file) until an agent
    answered (the agent that did) or the channel went down (None).

    Private events queued before each play_file are flushed (switch_core_session_flush_private_events);
    during it, unless the app runs with event-lock (CF_EVENT_LOCK: switch_ivr_parse_event,
    switch_core_session_dequeue_private_event), uuid_broadcasts play inside the wait (12b) and the
    member stays Waiting. uuid_break only ends the current music file: play_file returns BREAK
    without an exit key and the loop starts the music again (12). The member thread
    (cc_member_thread_run) plays the queue's announce-sound as a displace (media bug, no events)."""
    ch = s.channel
    queue_name = queue.name
    agent: Agent | None = None
    last_announce = s.clock.now_us // 1_000_000
    while ch.ready:
        s.queue.clear()
        s.fire("PLAYBACK_START", post=info)
        started = s.clock.now_us
        outcome = "done"
        while ch.ready:
            # the dispatch thread: every DISPATCH_DELAY s the best-scored waiting member is offered
            outcome = s.media(DISPATCH_DELAY)
            now = s.sim.now_us() // 1_000_000
            if queue.announce_sound and queue.announce_frequency > 0 and \
                    now - last_announce >= queue.announce_frequency:
                displace.start(s, queue.announce_sound)
                last_announce = now
            if outcome != "done":
                break
            pressed = _exit_key(s)
            if pressed is not None:
                ch.set_var("cc_exit_key", pressed)
                reason.append("EXIT_WITH_KEY")
                outcome = "exit"
                break
            cc.discard_abandoned(now)

            def offer(now: int = now) -> Agent | None:
                # Both must hold; the free agent is looked for first because it is cheap, while
                # the first waiting member means sorting the queue's members, which polled by
                # every member four times a second is O(members²) (bench/queues.py: 1,000 in one
                # queue). Both are pure reads, so the order changes nothing else.
                agent = cc.free_agent(queue_name, now)
                if agent is None or cc.first_waiting(queue_name, now) is not member:
                    return None
                return agent

            outcome = hold(s, lambda: bool(s.digits) or offer() is not None)
            if outcome != "event":
                break
            if s.digits:
                continue
            cand = offer(s.sim.now_us() // 1_000_000)
            if cand is not None and _ring_agent(s, cc, cand, member, queue):
                agent = cand
                # the agent thread bridges the member (cc_agent_uuid, switch_ivr_uuid_bridge),
                # which ends the music (07: playback_* variables come after the bridge's)
                partner = _agent_partner(s, agent, member)
                ch.set_var("cc_agent_uuid", partner.uuid)
                uuid_bridge_in(s, partner)
                break
        played_ms = (s.clock.now_us - started) // 1000
        _playback_vars(s, played_ms)
        s.fire("PLAYBACK_STOP", post=[*info, ("Playback-Status", "done" if outcome == "done" else "break")])
        if agent is not None or outcome != "break":
            break
    return agent


def _playback_vars(s: CallSession, played_ms: int) -> None:
    ch = s.channel
    samples = played_ms * 8
    ch.set_var("playback_last_offset_pos", str(samples))
    ch.set_var("playback_seconds", str(played_ms // 1000))
    ch.set_var("playback_ms", str(played_ms))
    ch.set_var("playback_samples", str(samples))


def agent_state(cc: CallCenter, agent: Agent, state: str) -> None:
    """cc_agent_update("state", ...) from the agent thread: the agent-state-change event (07)."""
    agent.state = state
    cc._event("agent-state-change", [("CC-Agent", agent.name), ("CC-Action", "agent-state-change"),
                                     ("CC-Agent-State", state)])


def agent_no_answer(cc: CallCenter, agent: Agent, queue: Queue, member: Member, now: int) -> None:
    """outbound_agent_thread_run, an offer not answered (the default cause branch): no_answer_count
    + 1; at max-no-answer the agent-max-no-answer event, then cc_agent_update("status", <the queue's
    agent-no-answer-status>), which fires agent-status-change — before bridge-agent-fail
    (mod_callcenter.c v1.11.1)."""
    agent.no_answer_count += 1
    if agent.max_no_answer and agent.no_answer_count >= agent.max_no_answer:
        cc._event("agent-max-no-answer", [
            ("CC-Agent", agent.name), ("CC-Action", "agent-max-no-answer"),
            ("CC-Agent-No-Answer-Count", str(agent.max_no_answer)),
            ("CC-Agent-No-Answer-Status", queue.agent_no_answer_status),
            ("CC-Member-UUID", member.uuid), ("CC-Member-Session-UUID", member.session_uuid)])
        cc._agent_update("status", queue.agent_no_answer_status, agent.name, now)


def member_ids(member: Member) -> list[tuple[str, str]]:
    return [("CC-Member-UUID", member.uuid), ("CC-Member-Session-UUID", member.session_uuid),
            ("CC-Member-CID-Name", member.cid_name), ("CC-Member-CID-Number", member.cid_number)]


def _ring_agent(s: CallSession, cc: CallCenter, agent: Agent, member: Member, queue: Queue) -> bool:
    """outbound_agent_thread_run: offer the member to the agent's contact; True if answered.

    Agent events as in 07 (mod_callcenter.c outbound_agent_thread_run): agent-state-change Receiving,
    agent-offering; answered: bridge-agent-start, members-count, agent-state-change 'In a queue call';
    not answered: bridge-agent-fail, agent-state-change Waiting."""
    now = s.clock.now_us // 1_000_000
    agent_state(cc, agent, "Receiving")
    agent.last_offered_call = now
    member.state = "Trying"
    cc._event("agent-offering", [("CC-Queue", queue.name), ("CC-Action", "agent-offering"), ("CC-Agent", agent.name),
                                 ("CC-Agent-Type", agent.type), ("CC-Agent-System", INSTANCE), *member_ids(member)])
    t = agent.target
    if t.behaviour == "answered":
        outcome = s.media(t.answer_after)
        if outcome != "done":
            agent_state(cc, agent, "Waiting")
            member.state = "Waiting"
            return False
        now = s.clock.now_us // 1_000_000
        agent.uuid = agent.uuid or str(uuidlib.uuid4())
        announce = s.channel.get_var("cc_outbound_announce")
        if announce:  # played to the agent alone, before the bridge
            agent.heard.append(announce)
        agent.last_bridge_start = now
        agent.calls_answered += 1
        agent.no_answer_count = 0
        member.state = "Answered"
        member.bridge_epoch = now
        member.serving_agent = agent.name
        member.serving_system = INSTANCE
        cc._event("bridge-agent-start", [
            ("CC-Queue", queue.name), ("CC-Action", "bridge-agent-start"), ("CC-Agent", agent.name),
            ("CC-Agent-System", INSTANCE), ("CC-Agent-UUID", agent.uuid), ("CC-Agent-Called-Time", str(now)),
            ("CC-Agent-Answered-Time", str(now)), ("CC-Member-Joined-Time", str(member.joined_epoch)),
            *member_ids(member)])
        cc.members_count(queue.name)
        agent_state(cc, agent, "In a queue call")
        return True
    # no answer / busy / failed: the agent is skipped for a while (no_answer/busy delay)
    s.media(min(t.after or 0.0, 60.0) if t.behaviour != "no_answer" else 60.0)
    now = s.clock.now_us // 1_000_000
    cause = {"no_answer": "NO_ANSWER", "busy": "USER_BUSY"}.get(t.behaviour, t.cause or "NORMAL_TEMPORARY_FAILURE")
    if t.behaviour == "no_answer":
        agent_no_answer(cc, agent, queue, member, now)
    cc._event("bridge-agent-fail", [
        ("CC-Queue", queue.name), ("CC-Action", "bridge-agent-fail"), ("CC-Hangup-Cause", cause),
        ("CC-Agent", agent.name), ("CC-Agent-System", INSTANCE), ("CC-Agent-Called-Time", str(agent.last_offered_call)),
        ("CC-Agent-Aborted-Time", str(now)), *member_ids(member), ("CC-Member-Joined-Time", str(member.joined_epoch))])
    agent_state(cc, agent, "Waiting")
    member.state = "Waiting"
    agent.last_bridge_end = now  # keeps it out of the rotation for the wrap-up/delay time
    return False


def _bridge_ended(cc: CallCenter, agent: Agent, member: Member, queue_name: str,
                  ids: list[tuple[str, str]]) -> Callable[[CallSession, str], None]:
    def ended(s: CallSession, by: str) -> None:
        now = s.clock.now_us // 1_000_000
        agent.state = "Waiting"
        agent.last_bridge_end = now
        agent.talk_time += max(0, now - agent.last_bridge_start)
        if member in cc.members:
            cc.members.remove(member)
        called = str(agent.last_offered_call)
        cc._event("bridge-agent-end", [
            ("CC-Queue", queue_name), ("CC-Action", "bridge-agent-end"), ("CC-Hangup-Cause", "NORMAL_CLEARING"),
            ("CC-Agent", agent.name), ("CC-Agent-System", INSTANCE), ("CC-Agent-UUID", agent.uuid),
            ("CC-Agent-Bridged", "true"), ("CC-Agent-Called-Time", called),
            ("CC-Agent-Answered-Time", str(member.bridge_epoch)), ("CC-Member-Joined-Time", str(member.joined_epoch)),
            ("CC-Bridge-Terminated-Time", str(now)), *member_ids(member)])
        headers = [
            ("CC-Queue", queue_name), ("CC-Action", "member-queue-end"), ("CC-Hangup-Cause", "SUCCESS"),
            ("CC-Cause", "Terminated"), ("CC-Agent", agent.name), ("CC-Agent-System", INSTANCE),
            ("CC-Agent-UUID", agent.uuid), ("CC-Agent-Called-Time", called),
            ("CC-Agent-Answered-Time", str(member.bridge_epoch)), ("CC-Member-Leaving-Time", str(now)),
            ("CC-Member-Joined-Time", str(member.joined_epoch)), *ids,
        ]
        gevent.spawn(_member_queue_end_after_hangup, s, headers, now, cc, agent)

    return ended


def _member_queue_end_after_hangup(s: CallSession, headers: list[tuple[str, str]], now: int,
                                   cc: CallCenter | None = None, agent: Agent | None = None) -> None:
    """The agent thread fires member-queue-end once the member channel is gone (07: after
    CHANNEL_HANGUP_COMPLETE and the linger notice, Channel-State-Number 12 = CS_DESTROY)."""
    s.channel_gone.wait(timeout=max(0.0, s.time_left()))
    for _ in range(100):
        if s.handle_disco or not s.running:
            break
        gevent.sleep(0.005)
    ch = s.channel
    ch.set_running_state(ch.running_state, 12)
    ch.set_var("cc_queue_terminated_epoch", str(now))
    _post(s, "member-queue-end", "2098", headers, fn="outbound_agent_thread_run")
    if cc is not None and agent is not None:
        cc._event("agent-state-change", [("CC-Agent", agent.name), ("CC-Action", "agent-state-change"),
                                         ("CC-Agent-State", "Waiting")])  # 07: after member-queue-end


def callcenter_config(ctx: ApiContext, arg: str) -> str | None:
    """``api callcenter_config <args>`` (cc_config_api_function) on the switch's mod_callcenter, at
    the switch's time (epochs and scores: members of other calls list too)."""
    return ctx.sim.callcenter.config(arg, at_us=ctx.sim.now_us()) if ctx.sim is not None else None


APPLICATIONS = {"callcenter": callcenter}
API_COMMANDS: dict[str, ApiFunc] = {"callcenter_config": callcenter_config}
