"""Queue members that no socket controls: ``originate {origination_uuid=U,...}loopback/park/<ctx>
set:caller_id_number=N,set:caller_id_name=M,callcenter:<queue> inline`` (traces 11, 14).

Such a leg answers, runs the inline applications and waits in mod_callcenter's ``callcenter`` app
(callcenter_function) with nobody watching its events, so only its member row matters: it joins
at once (system_epoch = joined_epoch = now, ``cc_base_score`` from the channel's variables added
to base_score), is offered to agents in score order together with socket-controlled members, and
on ``uuid_kill`` its row stays as Abandoned (or, if an agent took it, the bridge ends).
"""

from __future__ import annotations

import uuid as uuidlib
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent

from fsivr.testing.mods import callcenter as mod_callcenter
from fsivr.testing.mods.callcenter import INSTANCE, Agent, Member, atoi

if TYPE_CHECKING:
    from fsivr.testing.simulator import Simulator


@dataclass
class QueueCaller:
    uuid: str
    queue: str
    variables: dict[str, str] = field(default_factory=dict)
    member: Member | None = None
    agent: Agent | None = None
    up: bool = True
    greenlet: gevent.Greenlet | None = None


def parse_inline(app: str) -> tuple[dict[str, str], str | None]:
    """``set:k=v,set:k2=v2,callcenter:Q inline`` → (variables set, queue) of the inline dialplan."""
    text = app.strip()
    if not text.endswith(" inline"):
        return {}, None
    variables: dict[str, str] = {}
    queue: str | None = None
    for item in text[: -len(" inline")].split(","):
        name, _, data = item.partition(":")
        if name == "set":
            k, _, v = data.partition("=")
            variables[k] = v
        elif name == "callcenter":
            queue = data.split(" ", 1)[0]
    return variables, queue


def join(sim: Simulator, uuid: str, queue_name: str, variables: dict[str, str]) -> QueueCaller | None:
    """The leg enters ``callcenter <queue>``; None if the queue can neither be found nor loaded."""
    cc = sim.callcenter
    queue = cc.get_queue(queue_name)
    if queue is None:
        return None
    now = sim.now_us() // 1_000_000
    member = Member(queue=queue_name, uuid=str(uuidlib.uuid4()), session_uuid=uuid,
                    cid_number=variables.get("caller_id_number", ""), cid_name=variables.get("caller_id_name", ""),
                    system_epoch=now, joined_epoch=now)
    if variables.get("cc_base_score"):
        member.base_score += atoi(variables["cc_base_score"])
    caller = QueueCaller(uuid=uuid, queue=queue_name, variables=dict(variables), member=member)
    caller.variables.update({"cc_side": "member", "cc_member_uuid": member.uuid,
                             "cc_queue_joined_epoch": str(now), "cc_queue": queue_name})
    cc.members.append(member)
    cc._event("member-queue-start", [("CC-Queue", queue_name), ("CC-Action", "member-queue-start"),
                                     *mod_callcenter.member_ids(member)])
    cc.members_count(queue_name)
    sim.queue_callers[uuid] = caller
    # the loop holds the simulator weakly: a test that drops its Simulator ends its waiting legs too
    caller.greenlet = gevent.spawn(_wait, weakref.ref(sim), caller)
    return caller


def _wait(sim_ref: weakref.ref[Simulator], caller: QueueCaller) -> None:
    """The dispatch thread for this member: every DISPATCH_DELAY it may be offered to a free agent."""
    member = caller.member
    assert member is not None
    while caller.up and member.state == "Waiting":
        sim = sim_ref()
        if sim is None:
            return
        step = max(0.002, mod_callcenter.DISPATCH_DELAY * sim.time_scale)
        del sim  # not held while sleeping
        gevent.sleep(step)
        sim = sim_ref()
        if sim is None or not _dispatch(sim, caller):
            continue
        talk = caller.agent.target.talk if caller.agent is not None else 0.0
        gevent.sleep(max(0.001, talk * sim.time_scale))
        if caller.up:
            hangup(sim, caller)  # the agent hung up: the bridge ends and so does the leg


def _dispatch(sim: Simulator, caller: QueueCaller) -> bool:
    """Offer the member to a free agent once it is the best-scored Waiting member of its queue;
    the agent's behaviour decides (as for socket-controlled members). True if an agent took it."""
    cc = sim.callcenter
    member = caller.member
    now = sim.now_us() // 1_000_000
    cc.discard_abandoned(now)
    if member is None or not caller.up or cc.first_waiting(caller.queue, now) is not member:
        return False
    agent = cc.free_agent(caller.queue, now)
    if agent is None or not _offer(cc, agent, member, now, caller.variables):
        return False
    caller.agent = agent
    caller.variables["cc_cause"] = "answered"
    queue = cc.get_queue(caller.queue)
    if queue is not None:
        queue.calls_answered += 1
    return True


def _offer(cc: mod_callcenter.CallCenter, agent: Agent, member: Member, now: int,
           variables: dict[str, str] | None = None) -> bool:
    """outbound_agent_thread_run for a member nobody controls: the agent's phone answers at once
    (its Target decides) and the member is Answered; otherwise the agent is skipped for now."""
    queue = member.queue
    mod_callcenter.agent_state(cc, agent, "Receiving")
    agent.last_offered_call = now
    cc._event("agent-offering", [("CC-Queue", queue), ("CC-Action", "agent-offering"), ("CC-Agent", agent.name),
                                 ("CC-Agent-Type", agent.type), ("CC-Agent-System", INSTANCE),
                                 *mod_callcenter.member_ids(member)])
    if agent.target.behaviour != "answered":
        mod_callcenter.agent_state(cc, agent, "Waiting")
        agent.last_bridge_end = now
        return False
    agent.uuid = agent.uuid or str(uuidlib.uuid4())
    agent.bridged_to = ""
    if variables and variables.get("cc_outbound_announce"):
        # mod_callcenter.c outbound_agent_thread_run: playback_array(agent_session, cc_outbound_announce)
        # after the agent answered, before switch_ivr_uuid_bridge: the agent alone hears it
        agent.heard.append(variables["cc_outbound_announce"])
    agent.last_bridge_start = now
    agent.calls_answered += 1
    member.state = "Answered"
    member.bridge_epoch = now
    member.serving_agent = agent.name
    member.serving_system = INSTANCE
    cc._event("bridge-agent-start", [
        ("CC-Queue", queue), ("CC-Action", "bridge-agent-start"), ("CC-Agent", agent.name),
        ("CC-Agent-System", INSTANCE), ("CC-Agent-UUID", agent.uuid), ("CC-Agent-Called-Time", str(now)),
        ("CC-Agent-Answered-Time", str(now)), ("CC-Member-Joined-Time", str(member.joined_epoch)),
        *mod_callcenter.member_ids(member)])
    cc.members_count(queue)
    mod_callcenter.agent_state(cc, agent, "In a queue call")
    return True


def hangup(sim: Simulator, caller: QueueCaller) -> None:
    """The leg hangs up (uuid_kill, or its agent hung up): a waiting member is canceled
    (BREAK_OUT, row kept as Abandoned), a bridged one ends its bridge (row deleted, Terminated)."""
    if not caller.up:
        return
    caller.up = False
    cc = sim.callcenter
    member = caller.member
    now = sim.now_us() // 1_000_000
    sim.queue_callers.pop(caller.uuid, None)
    if member is None:
        return
    ids = mod_callcenter.member_ids(member)
    agent = caller.agent
    if agent is None:
        cc.abandon(member, now)
        cc._event("member-queue-end", [
            ("CC-Queue", caller.queue), ("CC-Action", "member-queue-end"), ("CC-Member-Leaving-Time", str(now)),
            ("CC-Member-Joined-Time", str(member.joined_epoch)), ("CC-Cause", "Cancel"),
            ("CC-Cancel-Reason", "BREAK_OUT"), *ids])
        cc.members_count(caller.queue)
        return
    if member in cc.members:
        cc.members.remove(member)
    agent.state = "Waiting"
    agent.last_bridge_end = now
    agent.talk_time += max(0, now - agent.last_bridge_start)
    cc._event("bridge-agent-end", [
        ("CC-Queue", caller.queue), ("CC-Action", "bridge-agent-end"), ("CC-Hangup-Cause", "NORMAL_CLEARING"),
        ("CC-Agent", agent.name), ("CC-Agent-System", INSTANCE), ("CC-Agent-UUID", agent.uuid),
        ("CC-Agent-Bridged", "true"), ("CC-Agent-Called-Time", str(agent.last_offered_call)),
        ("CC-Agent-Answered-Time", str(member.bridge_epoch)), ("CC-Member-Joined-Time", str(member.joined_epoch)),
        ("CC-Bridge-Terminated-Time", str(now)), *ids])
    cc._event("member-queue-end", [
        ("CC-Queue", caller.queue), ("CC-Action", "member-queue-end"), ("CC-Hangup-Cause", "SUCCESS"),
        ("CC-Cause", "Terminated"), ("CC-Agent", agent.name), ("CC-Agent-System", INSTANCE),
        ("CC-Agent-UUID", agent.uuid), ("CC-Agent-Called-Time", str(agent.last_offered_call)),
        ("CC-Agent-Answered-Time", str(member.bridge_epoch)), ("CC-Member-Leaving-Time", str(now)),
        ("CC-Member-Joined-Time", str(member.joined_epoch)), *ids])
    mod_callcenter.agent_state(cc, agent, "Waiting")
