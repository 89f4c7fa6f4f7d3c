"""The directory (accounts, groups, queues, mailboxes, prompts, contacts, gateways) as plain data.

These dataclasses are what a YAML bundle describes and what the server, the renderer and the nodes
read: plain values, safe to hand between greenlets and threads, unlike ORM objects bound to a
session. Things refer to each other by the names users write (an account's ``user``, a group's
``name``), never by row id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from fsivr.store.models import (
    AccountRow,
    AgentRow,
    ContactRow,
    GatewayRow,
    GroupMemberRow,
    GroupRow,
    MailboxRow,
    PromptRow,
    QueueAgentRow,
    QueueRow,
)

GROUP_STRATEGIES = ("simultaneous", "sequential", "random_weighted")


@dataclass
class Mailbox:
    box: str
    email: str | None = None
    pin: str | None = None


@dataclass
class Account:
    """A SIP account; one with an extension is an employee."""

    user: str
    password: str | None = None
    name: str | None = None
    caller_id: str | None = None
    extension: str | None = None
    mobile: list[str] = field(default_factory=list)
    email: str | None = None
    #: Box of the account's mailbox.
    mailbox: str | None = None
    #: ``REALM:HEX``, FreeSWITCH's a1-hash (fsivr.store.secrets); what is stored and exported in
    #: place of ``password`` unless sip_plain_passwords.
    a1_hash: str | None = None

    @property
    def is_employee(self) -> bool:
        return self.extension is not None


#: A department id: what the agent keys after ``*2`` (spec §5: "three-digit id → queue or group").
DEPARTMENT = re.compile(r"[0-9]{3}")


@dataclass
class GroupMember:
    #: The member's account user.
    account: str
    #: Override of the group's ring_timeout.
    ring_timeout: int | None = None
    weight: int = 1


@dataclass
class Group:
    name: str
    strategy: str = "simultaneous"
    ring_timeout: int = 20
    #: In ring order (sequential strategy).
    members: list[GroupMember] = field(default_factory=list)
    #: Three digits: the agent's ``*2`` transfer target (DEPARTMENT), unique across groups and queues.
    department: str | None = None


@dataclass
class QueueAgent:
    """A tier: an account serving a queue at a level and position (mod_callcenter tiers)."""

    account: str
    level: int = 1
    position: int = 1


@dataclass
class Queue:
    """A mod_callcenter queue (fields: fsivr.store.models.QueueRow)."""

    name: str
    strategy: str = "longest-idle-agent"
    music: str | None = None
    max_wait: int = 0
    max_wait_no_agent: int = 0
    max_wait_no_agent_reached: int = 5
    tier_rules_apply: bool = False
    tier_rule_wait_second: int = 0
    tier_rule_wait_multiply_level: bool = False
    tier_rule_no_agent_no_wait: bool = True
    discard_abandoned_after: int = 60
    abandoned_resume_allowed: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    agents: list[QueueAgent] = field(default_factory=list)
    #: See Group.department.
    department: str | None = None


#: Agent fields a bundle may set, with their defaults (fsivr.store.models.AgentRow says why).
AGENT_CONTACTS = ("sip", "mobile")


@dataclass
class Agent:
    """An employee as a mod_callcenter agent (fields: fsivr.store.models.AgentRow)."""

    #: The account's user.
    account: str
    contact: str = "sip"
    gateway: str | None = None
    #: mod_callcenter's status. Live state, not configuration: the agent IVR and FreeSWITCH change
    #: it during the day, so a bundle that does not name one (None) leaves the stored status as it
    #: is — an import must not log out every agent mid-shift — and a new agent starts Logged Out.
    status: str | None = None
    max_no_answer: int = 3
    wrap_up_time: int = 10
    reject_delay_time: int = 10
    busy_delay_time: int = 60
    no_answer_delay_time: int = 0
    #: The agent IVR's PIN hash, only as a bundle gives it (``pin_hash``): None leaves the stored
    #: one as it is (a PIN changed by phone survives a re-import). Never loaded nor exported.
    pin_hash: str | None = None


@dataclass
class Contact:
    number: str
    name: str | None = None
    #: Account users of the responsible employees.
    owner: str | None = None
    backup_owner: str | None = None


@dataclass
class Gateway:
    name: str
    proxy: str | None = None
    realm: str | None = None
    username: str | None = None
    password: str | None = None
    register: bool = False
    transport: str | None = None
    caller_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prompt:
    name: str
    #: Relative to the prompts directory.
    file: str | None = None
    text: str | None = None
    language: str | None = None
    voice: str | None = None


@dataclass
class Directory:
    accounts: list[Account] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    queues: list[Queue] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)
    mailboxes: list[Mailbox] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    gateways: list[Gateway] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not any((self.accounts, self.groups, self.queues, self.agents, self.mailboxes, self.prompts,
                        self.contacts, self.gateways))


# --- loading ---------------------------------------------------------------------------------


def _users(session: Session) -> dict[int, str]:
    return dict(session.execute(select(AccountRow.id, AccountRow.user)).all())


def load_accounts(session: Session) -> dict[str, Account]:
    """Accounts by user."""
    boxes = dict(session.execute(select(MailboxRow.id, MailboxRow.box)).all())
    return {
        r.user: Account(user=r.user, password=r.password, name=r.name, caller_id=r.caller_id,
                        extension=r.extension, mobile=list(r.mobile or []), email=r.email,
                        mailbox=boxes.get(r.mailbox_id) if r.mailbox_id is not None else None,
                        a1_hash=r.a1_hash)
        for r in session.scalars(select(AccountRow).order_by(AccountRow.user))
    }


def load_groups(session: Session) -> dict[str, Group]:
    """Groups by name, members in ring order."""
    users = _users(session)
    groups = {r.id: Group(name=r.name, strategy=r.strategy, ring_timeout=r.ring_timeout, department=r.department)
              for r in session.scalars(select(GroupRow).order_by(GroupRow.name))}
    members = select(GroupMemberRow).order_by(GroupMemberRow.group_id, GroupMemberRow.position)
    for m in session.scalars(members):
        groups[m.group_id].members.append(
            GroupMember(account=users[m.account_id], ring_timeout=m.ring_timeout, weight=m.weight))
    return {g.name: g for g in groups.values()}


_QUEUE_FIELDS = ("strategy", "music", "max_wait", "max_wait_no_agent", "max_wait_no_agent_reached",
                 "tier_rules_apply", "tier_rule_wait_second", "tier_rule_wait_multiply_level",
                 "tier_rule_no_agent_no_wait", "discard_abandoned_after", "abandoned_resume_allowed")
_AGENT_FIELDS = ("contact", "gateway", "status", "max_no_answer", "wrap_up_time", "reject_delay_time",
                 "busy_delay_time", "no_answer_delay_time")


def load_queues(session: Session) -> dict[str, Queue]:
    users = _users(session)
    queues = {r.id: Queue(name=r.name, params=dict(r.params or {}), department=r.department,
                          **{f: getattr(r, f) for f in _QUEUE_FIELDS})
              for r in session.scalars(select(QueueRow).order_by(QueueRow.name))}
    for a in session.scalars(select(QueueAgentRow).order_by(QueueAgentRow.queue_id, QueueAgentRow.id)):
        queues[a.queue_id].agents.append(QueueAgent(account=users[a.account_id], level=a.level,
                                                    position=a.position))
    return {q.name: q for q in queues.values()}


def load_agents(session: Session) -> dict[str, Agent]:
    """Agents by account user."""
    users = _users(session)
    agents = [Agent(account=users[r.account_id], **{f: getattr(r, f) for f in _AGENT_FIELDS})
              for r in session.scalars(select(AgentRow))]
    return {a.account: a for a in sorted(agents, key=lambda a: a.account)}


def load_mailboxes(session: Session) -> dict[str, Mailbox]:
    return {r.box: Mailbox(box=r.box, email=r.email, pin=r.pin)
            for r in session.scalars(select(MailboxRow).order_by(MailboxRow.box))}


def load_contacts(session: Session) -> dict[str, Contact]:
    """Contacts by number."""
    users: dict[int | None, str] = dict(_users(session))
    return {
        r.number: Contact(number=r.number, name=r.name, owner=users.get(r.owner_id),
                          backup_owner=users.get(r.backup_owner_id))
        for r in session.scalars(select(ContactRow).order_by(ContactRow.number))
    }


def load_gateways(session: Session) -> dict[str, Gateway]:
    return {r.name: Gateway(name=r.name, proxy=r.proxy, realm=r.realm, username=r.username,
                            password=r.password, register=r.register, transport=r.transport,
                            caller_id=r.caller_id, params=dict(r.params or {}))
            for r in session.scalars(select(GatewayRow).order_by(GatewayRow.name))}


def load_prompts(session: Session) -> dict[str, Prompt]:
    return {r.name: Prompt(name=r.name, file=r.file, text=r.text, language=r.language, voice=r.voice)
            for r in session.scalars(select(PromptRow).order_by(PromptRow.name))}


def load_directory(session: Session) -> Directory:
    return Directory(
        accounts=list(load_accounts(session).values()), groups=list(load_groups(session).values()),
        queues=list(load_queues(session).values()), agents=list(load_agents(session).values()),
        mailboxes=list(load_mailboxes(session).values()),
        prompts=list(load_prompts(session).values()), contacts=list(load_contacts(session).values()),
        gateways=list(load_gateways(session).values()))


def directory_names(session: Session) -> dict[str, set[str]]:
    """Names that exist, per reference kind (a node parameter's ``Param.ref``), for validation."""
    return {
        "account": set(session.scalars(select(AccountRow.user))),
        "extension": {e for e in session.scalars(select(AccountRow.extension)) if e is not None},
        "group": set(session.scalars(select(GroupRow.name))),
        "queue": set(session.scalars(select(QueueRow.name))),
        "mailbox": set(session.scalars(select(MailboxRow.box))),
        "prompt": set(session.scalars(select(PromptRow.name))),
        "gateway": set(session.scalars(select(GatewayRow.name))),
    }


# --- saving ----------------------------------------------------------------------------------


def save_directory(session: Session, directory: Directory) -> None:
    """Create or update every entry of ``directory`` by its name; entries not named stay as they are.

    Group members and queue agents are replaced by the given lists. Names referred to (an account's
    mailbox, a member's account) must exist after the save; check them first (fsivr.scenario.validate)
    to get a readable error instead of a ValueError.
    """
    for mb in directory.mailboxes:
        _upsert(session, MailboxRow, "box", mb.box, email=mb.email, pin=mb.pin)
    session.flush()
    boxes = dict(session.execute(select(MailboxRow.box, MailboxRow.id)).all())

    # Extensions are unique: free the ones being reassigned first, or swapping two would collide.
    # Only those that move: an UPDATE is a write (it bumps the directory's change counter,
    # fsivr/store/versions.py), and re-importing an unchanged bundle must not make servers reload.
    wanted = {a.user: a.extension for a in directory.accounts}
    moving = [user for user, ext in session.execute(
        select(AccountRow.user, AccountRow.extension).where(AccountRow.user.in_(wanted),
                                                            AccountRow.extension.is_not(None)))
        if ext != wanted[user]] if wanted else []
    if moving:
        session.execute(update(AccountRow).where(AccountRow.user.in_(moving)).values(extension=None))
    for a in directory.accounts:
        mailbox_id = _need(boxes, a.mailbox, f"account {a.user}: mailbox") if a.mailbox else None
        _upsert(session, AccountRow, "user", a.user, password=a.password, a1_hash=a.a1_hash, name=a.name,
                caller_id=a.caller_id, extension=a.extension, mobile=list(a.mobile), email=a.email,
                mailbox_id=mailbox_id)
    session.flush()
    ids = dict(session.execute(select(AccountRow.user, AccountRow.id)).all())

    _free_departments(session, directory)
    for g in directory.groups:
        row = _upsert(session, GroupRow, "name", g.name, strategy=g.strategy, ring_timeout=g.ring_timeout,
                      department=g.department)
        session.flush()
        session.execute(delete(GroupMemberRow).where(GroupMemberRow.group_id == row.id))
        session.add_all(
            GroupMemberRow(group_id=row.id, account_id=_need(ids, m.account, f"group {g.name}: member"),
                           position=i, ring_timeout=m.ring_timeout, weight=m.weight)
            for i, m in enumerate(g.members))
    for ag in directory.agents:
        account_id = _need(ids, ag.account, "agent: account")
        values = {f: getattr(ag, f) for f in _AGENT_FIELDS if f != "status"}
        if ag.pin_hash is not None:
            values["pin_hash"] = ag.pin_hash
        if ag.status is not None:
            # A status the bundle sets is the whole story: the old reason (break, not ready) goes.
            values.update(status=ag.status, status_reason=None)
        _upsert(session, AgentRow, "account_id", account_id, **values)
    for q in directory.queues:
        row = _upsert(session, QueueRow, "name", q.name, params=dict(q.params), department=q.department,
                      **{f: getattr(q, f) for f in _QUEUE_FIELDS})
        session.flush()
        session.execute(delete(QueueAgentRow).where(QueueAgentRow.queue_id == row.id))
        session.add_all(
            QueueAgentRow(queue_id=row.id, account_id=_need(ids, a.account, f"queue {q.name}: agent"),
                          level=a.level, position=a.position)
            for a in q.agents)
    # Whoever serves a queue is an agent: one named only under a queue gets the defaults.
    session.flush()
    agent_accounts = set(session.scalars(select(AgentRow.account_id)))
    for account_id in sorted(set(session.scalars(select(QueueAgentRow.account_id))) - agent_accounts):
        session.add(AgentRow(account_id=account_id))
    for c in directory.contacts:
        owner = _need(ids, c.owner, f"contact {c.number}: owner") if c.owner else None
        backup = _need(ids, c.backup_owner, f"contact {c.number}: backup_owner") if c.backup_owner else None
        _upsert(session, ContactRow, "number", c.number, name=c.name, owner_id=owner, backup_owner_id=backup)
    for gw in directory.gateways:
        _upsert(session, GatewayRow, "name", gw.name, proxy=gw.proxy, realm=gw.realm, username=gw.username,
                password=gw.password, register=gw.register, transport=gw.transport, caller_id=gw.caller_id,
                params=dict(gw.params))
    for p in directory.prompts:
        _upsert(session, PromptRow, "name", p.name, file=p.file, text=p.text, language=p.language,
                voice=p.voice)
    session.flush()


def _free_departments(session: Session, directory: Directory) -> None:
    """Departments move between entries (a swap, or from a group to a queue): the ones given up are
    cleared first, or the unique index would refuse the move half-way. Only rows whose department
    changes are written (an unchanged import must not bump the directory's change counter)."""
    wanted = {("group", g.name): g.department for g in directory.groups}
    wanted |= {("queue", q.name): q.department for q in directory.queues}
    for kind, model in (("group", GroupRow), ("queue", QueueRow)):
        moving = [name for name, dep in session.execute(
            select(model.name, model.department).where(model.department.is_not(None)))
            if (kind, name) in wanted and wanted[(kind, name)] != dep]
        if moving:
            session.execute(update(model).where(model.name.in_(moving)).values(department=None))
    session.flush()


def departments(session: Session) -> dict[str, tuple[str, str]]:
    """Department id -> ("queue" | "group", name)."""
    out: dict[str, tuple[str, str]] = {}
    for kind, model in (("group", GroupRow), ("queue", QueueRow)):
        for name, dep in session.execute(select(model.name, model.department).where(model.department.is_not(None))):
            out[dep] = (kind, name)
    return out


def _upsert(session: Session, model: Any, key: str, value: str | int, **values: Any) -> Any:
    row = session.scalars(select(model).where(getattr(model, key) == value)).one_or_none()
    if row is None:
        row = model(**{key: value})
        session.add(row)
    for name, v in values.items():
        setattr(row, name, v)
    return row


def _need(ids: dict[str, int], name: str | None, what: str) -> int:
    if name is None or name not in ids:
        raise ValueError(f"{what} {name!r} does not exist")
    return ids[name]
