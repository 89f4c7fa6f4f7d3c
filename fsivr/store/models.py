"""The SQL schema: every table fsivr keeps, as typed SQLAlchemy models.

Only portable types (JSON, not JSONB; text, not enums) so one alembic chain serves SQLite and
PostgreSQL. Names of people and things are the natural keys users write in YAML (account ``user``,
group ``name``...); integer ids exist so renames don't ripple through foreign keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fsivr.store.types import UTCDateTime, utcnow

# Explicit constraint names: alembic's batch mode on SQLite has to name what it recreates, and
# PostgreSQL's generated names would otherwise differ from SQLite's.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME = 200  # identifiers users type: scenario, node, group, account names
NUMBER = 64  # E.164 numbers, SIP users, extensions


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


# --- scenarios -------------------------------------------------------------------------------


class ScenarioRow(Base):
    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: Bumped on every change, so servers refresh their compiled cache by polling one cheap query.
    version: Mapped[int] = mapped_column(Integer, default=1)
    start: Mapped[str] = mapped_column(String(NAME))
    after_call: Mapped[str | None] = mapped_column(String(NAME))
    #: Where a node's unhandled error goes; NULL = hang up politely.
    fallback: Mapped[str | None] = mapped_column(String(NAME))
    #: The YAML the scenario was imported from (single-scenario files), so export keeps comments.
    source: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    nodes: Mapped[list[ScenarioNodeRow]] = relationship(
        back_populates="scenario", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ScenarioNodeRow.position")
    numbers: Mapped[list[NumberRow]] = relationship(back_populates="scenario", passive_deletes=True)


class ScenarioNodeRow(Base):
    __tablename__ = "scenario_nodes"
    __table_args__ = (UniqueConstraint("scenario_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(NAME))
    type: Mapped[str] = mapped_column(String(100))
    #: Parameters as the user wrote them (outcomes and menu options live in scenario_edges).
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Order in the YAML, kept for export.
    position: Mapped[int] = mapped_column(Integer, default=0)

    scenario: Mapped[ScenarioRow] = relationship(back_populates="nodes")


_NODE_KEY = ["scenario_nodes.scenario_id", "scenario_nodes.key"]


class ScenarioEdgeRow(Base):
    __tablename__ = "scenario_edges"
    __table_args__ = (
        UniqueConstraint("scenario_id", "from_node", "outcome", "is_option"),
        # Edges name nodes by key, and the database guarantees both ends exist.
        ForeignKeyConstraint(["scenario_id", "from_node"], _NODE_KEY, ondelete="CASCADE",
                             name="fk_scenario_edges_from_node"),
        ForeignKeyConstraint(["scenario_id", "to_node"], _NODE_KEY, ondelete="CASCADE",
                             name="fk_scenario_edges_to_node"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    from_node: Mapped[str] = mapped_column(String(NAME))
    outcome: Mapped[str] = mapped_column(String(NAME))
    to_node: Mapped[str] = mapped_column(String(NAME))
    #: A menu key (YAML ``options: {key: node}``) rather than a declared outcome; kept apart so a key
    #: can never be mistaken for an outcome of the same name.
    is_option: Mapped[bool] = mapped_column(Boolean, default=False)


class NumberRow(Base):
    """A dialled number (DID) and the scenario it runs."""

    __tablename__ = "numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(NUMBER), unique=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"), index=True)
    #: Where the ``exit`` node sends the call (the number's default destination), if anywhere.
    exit_destination: Mapped[str | None] = mapped_column(String(NAME))

    scenario: Mapped[ScenarioRow] = relationship(back_populates="numbers")


class PromptRow(Base):
    __tablename__ = "prompts"
    __table_args__ = (CheckConstraint("file IS NOT NULL OR text IS NOT NULL", name="file_or_text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    #: Path relative to the prompts directory.
    file: Mapped[str | None] = mapped_column(String(500))
    #: Text spoken by TTS when there is no file.
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(32))
    voice: Mapped[str | None] = mapped_column(String(100))


# --- directory -------------------------------------------------------------------------------


class MailboxRow(Base):
    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    box: Mapped[str] = mapped_column(String(NAME), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    #: An scrypt hash (fsivr.engine.pins); plain only with mailbox_plain_pins (fsivr.store.secrets).
    pin: Mapped[str | None] = mapped_column(String(200))


class AccountRow(Base):
    """A SIP account; with an extension it is an employee (spec section 7)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "user" is reserved in PostgreSQL; the column is named so raw SQL needs no quoting.
    user: Mapped[str] = mapped_column("sip_user", String(NUMBER), unique=True)
    #: The SIP password as given: kept only with sip_plain_passwords (or by rows from before
    #: migration 0017 until ``fsivr db hash-secrets``).
    password: Mapped[str | None] = mapped_column(String(200))
    #: ``REALM:HEX``: FreeSWITCH's a1-hash, MD5(user:REALM:password), and the realm it is for
    #: (fsivr.store.secrets). As good as the password for registering in that realm: a secret.
    a1_hash: Mapped[str | None] = mapped_column(String(300))
    name: Mapped[str | None] = mapped_column(String(NAME))
    caller_id: Mapped[str | None] = mapped_column(String(NUMBER))
    #: The employee's short number; unique when set (NULLs never collide in a unique index).
    extension: Mapped[str | None] = mapped_column(String(NUMBER), unique=True)
    mobile: Mapped[list[Any]] = mapped_column(default=list)
    email: Mapped[str | None] = mapped_column(String(320))
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"))

    mailbox: Mapped[MailboxRow | None] = relationship()


class GroupRow(Base):
    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint("strategy IN ('simultaneous', 'sequential', 'random_weighted')", name="strategy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    strategy: Mapped[str] = mapped_column(String(32), default="simultaneous")
    #: Seconds each member rings (sequential) or all ring together (simultaneous).
    ring_timeout: Mapped[int] = mapped_column(Integer, default=20)
    #: Three digits an agent keys after ``*2`` to transfer a caller here; unique across groups and
    #: queues (checked by the import: one index per table cannot span both).
    department: Mapped[str | None] = mapped_column(String(3), unique=True)

    members: Mapped[list[GroupMemberRow]] = relationship(
        back_populates="group", cascade="all, delete-orphan", passive_deletes=True,
        order_by="GroupMemberRow.position")


class GroupMemberRow(Base):
    __tablename__ = "group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "account_id"),
        CheckConstraint("weight >= 0", name="weight"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: Ring order for the sequential strategy.
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: Overrides the group's ring_timeout for this member.
    ring_timeout: Mapped[int | None] = mapped_column(Integer)
    #: random_weighted: a member with weight 4 is picked first about 4 times as often as weight 1.
    weight: Mapped[int] = mapped_column(Integer, default=1)

    group: Mapped[GroupRow] = relationship(back_populates="members")
    account: Mapped[AccountRow] = relationship()


class GatewayRow(Base):
    """A SIP trunk for external numbers (rendered into sofia gateway XML)."""

    __tablename__ = "gateways"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    proxy: Mapped[str | None] = mapped_column(String(255))
    realm: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(200))
    password: Mapped[str | None] = mapped_column(String(200))
    register: Mapped[bool] = mapped_column(Boolean, default=False)
    transport: Mapped[str | None] = mapped_column(String(16))
    caller_id: Mapped[str | None] = mapped_column(String(NUMBER))
    #: Further sofia gateway parameters (name -> value), rendered as they are.
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ContactRow(Base):
    """A CRM contact: a caller's number and the employees responsible for them."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(NUMBER), unique=True)
    name: Mapped[str | None] = mapped_column(String(NAME))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    backup_owner_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))

    owner: Mapped[AccountRow | None] = relationship(foreign_keys=[owner_id])
    backup_owner: Mapped[AccountRow | None] = relationship(foreign_keys=[backup_owner_id])


#: mod_callcenter's agent statuses (mod_callcenter.c AGENT_STATUS_CHART, v1.11.1).
AGENT_STATUSES = ("Logged Out", "Available", "Available (On Demand)", "On Break")


class QueueRow(Base):
    """A mod_callcenter queue: one ``<queue>`` of callcenter.conf.xml.

    Columns carry mod_callcenter's queue parameters (mod_callcenter.c queue_set_config, v1.11.1)
    under the names the bundle uses; their defaults are the module's own, so a queue that sets
    nothing behaves as mod_callcenter would with an empty ``<queue>``.
    """

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    strategy: Mapped[str] = mapped_column(String(64), default="longest-idle-agent")
    #: moh-sound of the queue.
    music: Mapped[str | None] = mapped_column(String(500))
    #: Seconds before the caller leaves the queue (mod_callcenter max-wait-time); 0 = no limit.
    max_wait: Mapped[int] = mapped_column(Integer, default=0)
    #: max-wait-time-with-no-agent: seconds the queue may go without any logged-in agent before
    #: its members leave (0 = never).
    max_wait_no_agent: Mapped[int] = mapped_column(Integer, default=0)
    #: max-wait-time-with-no-agent-time-reached: seconds after that limit a new caller still waits.
    max_wait_no_agent_reached: Mapped[int] = mapped_column(Integer, default=5)
    tier_rules_apply: Mapped[bool] = mapped_column(Boolean, default=False)
    tier_rule_wait_second: Mapped[int] = mapped_column(Integer, default=0)
    tier_rule_wait_multiply_level: Mapped[bool] = mapped_column(Boolean, default=False)
    tier_rule_no_agent_no_wait: Mapped[bool] = mapped_column(Boolean, default=True)
    discard_abandoned_after: Mapped[int] = mapped_column(Integer, default=60)
    abandoned_resume_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Further mod_callcenter queue parameters (name -> value).
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Three digits an agent keys after ``*2`` to move a caller into this queue (see GroupRow).
    department: Mapped[str | None] = mapped_column(String(3), unique=True)

    agents: Mapped[list[QueueAgentRow]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", passive_deletes=True,
        order_by="QueueAgentRow.id")


class QueueAgentRow(Base):
    """An account serving a queue: a mod_callcenter tier (the agent itself is an AgentRow)."""

    __tablename__ = "queue_agents"
    __table_args__ = (UniqueConstraint("queue_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=1)

    queue: Mapped[QueueRow] = relationship(back_populates="agents")
    account: Mapped[AccountRow] = relationship()


class AgentRow(Base):
    """An employee as a mod_callcenter agent: how to reach them, their status, their delays.

    Every account that serves a queue has one (created with these defaults when a bundle names the
    account only under a queue). Defaults: the vanilla callcenter.conf.xml example agent
    (max-no-answer 3, wrap-up 10 s, reject delay 10 s, busy delay 60 s); an agent starts Logged
    Out, as ``callcenter_config agent add`` makes it (mod_callcenter.c cc_agent_add).
    """

    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint("contact IN ('sip', 'mobile')", name="contact"),
        CheckConstraint("status IN ('Logged Out', 'Available', 'Available (On Demand)', 'On Break')",
                        name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), unique=True)
    #: sip: the account's registrations (``user/101``); mobile: a remote agent, rung on the
    #: account's first mobile number through a gateway.
    contact: Mapped[str] = mapped_column(String(16), default="sip")
    #: The gateway for a remote agent (NULL: the default gateway).
    gateway: Mapped[str | None] = mapped_column(String(NAME))
    status: Mapped[str] = mapped_column(String(32), default="Logged Out")
    max_no_answer: Mapped[int] = mapped_column(Integer, default=3)
    wrap_up_time: Mapped[int] = mapped_column(Integer, default=10)
    reject_delay_time: Mapped[int] = mapped_column(Integer, default=10)
    busy_delay_time: Mapped[int] = mapped_column(Integer, default=60)
    no_answer_delay_time: Mapped[int] = mapped_column(Integer, default=0)
    #: The agent IVR's PIN as a scrypt hash (fsivr.engine.pins; ``fsivr pin agent``); NULL: the
    #: agent cannot log in by phone. Never exported, never kept in a server's memory.
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    #: Why the status is what it is, where mod_callcenter's four statuses cannot say it: ``break``
    #: (agent IVR key 3) and ``not_ready`` (key 4) are both ``On Break`` in mod_callcenter;
    #: ``freeswitch``: mod_callcenter changed it by itself (max-no-answer...). NULL otherwise.
    status_reason: Mapped[str | None] = mapped_column(String(16))
    #: When the agent IVR or mod_callcenter last changed the status (NULL: never).
    status_changed_at: Mapped[datetime | None]

    account: Mapped[AccountRow] = relationship()


# --- import history --------------------------------------------------------------------------


class ImportRow(Base):
    """One ``fsivr import`` (or scenario rollback) that wrote to the database: who, when, what."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The operating-system user who ran the command.
    imported_by: Mapped[str] = mapped_column(String(NAME))
    #: The file as named on the command line, or what a rollback restored.
    filename: Mapped[str] = mapped_column(String(500))
    #: SHA-256 of the file's bytes (hex); NULL for a rollback.
    sha256: Mapped[str | None] = mapped_column(String(64))
    #: The bundle's name (its ``bundle:`` key, else the file name): the owner of what it brings in.
    bundle: Mapped[str] = mapped_column(String(NAME))
    #: ``--force``: directory entries of other bundles were taken over.
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    #: What changed: {"created": ["prompt welcome", ...], "changed": [...]}.
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ScenarioVersionRow(Base):
    """Every version a scenario has had, as its YAML mapping: ``scenario history`` / ``rollback``."""

    __tablename__ = "scenario_versions"
    __table_args__ = (UniqueConstraint("scenario", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: By name, not id: history outlives the scenario row.
    scenario: Mapped[str] = mapped_column(String(NAME))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The import that wrote this version (NULL: it existed before imports were recorded).
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))
    #: The scenario as ``fsivr scenario export`` writes it (fsivr.scenario.persist.scenario_document).
    document: Mapped[dict[str, Any]] = mapped_column()
    #: The single-scenario file it was imported from, comments and all.
    source: Mapped[str | None] = mapped_column(Text)


class DirectoryOwnerRow(Base):
    """Which bundle brought a directory entry in: another bundle changes it only with ``--force``."""

    __tablename__ = "directory_owners"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: account, group, queue, mailbox, prompt, contact, gateway.
    kind: Mapped[str] = mapped_column(String(32))
    #: The entry's key as YAML names it (account user, group name, contact number...).
    name: Mapped[str] = mapped_column(String(NAME))
    bundle: Mapped[str] = mapped_column(String(NAME))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))


# --- call records ----------------------------------------------------------------------------


class CallRow(Base):
    """One socket session of a call: keyed by FreeSWITCH's channel UUID and the session's number on
    that channel (so steps can be bulk-inserted without fetching generated ids back). A channel
    comes back for a second session after an ``exit`` (the dialplan goes on) or a transfer into
    another fsivr number; session N follows session N-1 of the same uuid.

    The row is written when the session starts (status ``in_progress``) and completed when it ends;
    a row a dead process left in progress is marked ``interrupted`` by the next one (callrecords)."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_started_at", "started_at"),
                      # "First call from this number?" (after-call chains, fsivr/store/archive.py).
                      Index("ix_calls_caller", "caller"))

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    session: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    caller: Mapped[str | None] = mapped_column(String(NUMBER))
    number: Mapped[str | None] = mapped_column(String(NUMBER))
    #: By name, not id: records outlive the scenario.
    scenario: Mapped[str | None] = mapped_column(String(NAME))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    #: Who hung up: caller, ivr, callee...
    hangup_by: Mapped[str | None] = mapped_column(String(32))
    #: in_progress, answered, unanswered, interrupted...
    status: Mapped[str] = mapped_column(String(32))
    #: What went wrong with FreeSWITCH or with fsivr itself (a reply that never came, a malformed
    #: frame, a hangup FreeSWITCH never confirmed, the process that died); None when nothing did.
    fault: Mapped[str | None] = mapped_column(String(200))
    #: The fsivr that took the call (host and listen address): after a crash, the one restarted on
    #: the same address knows which rows in progress were its predecessor's.
    server: Mapped[str | None] = mapped_column(String(100))


class CallStepRow(Base):
    """One node visited on a call's path."""

    __tablename__ = "call_steps"
    __table_args__ = (
        ForeignKeyConstraint(["call_uuid", "call_session"], ["calls.uuid", "calls.session"], ondelete="CASCADE"),
    )

    call_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_session: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    node: Mapped[str] = mapped_column(String(NAME))
    node_type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(NAME))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- outbox ----------------------------------------------------------------------------------

#: An outbox row's life: pending -> leased (a worker is sending it) -> sent, or back to pending
#: (failed, retried later), or dead (out of attempts, or a permanent error). See fsivr/store/outbox.py.
OUTBOX_STATES = ("pending", "leased", "sent", "dead")


class OutboxRow(Base):
    """A notification (SMS, e-mail...) waiting for ``fsivr worker``: written by ``serve`` during a call,
    sent, retried and given up on by workers, which may run on several machines."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'leased', 'sent', 'dead')", name="state"),
        # The claim query: due rows of one state, oldest due first.
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    # BIGINT on PostgreSQL (an outbox outlives 2**31 notifications); SQLite's rowid alias must be
    # spelled INTEGER.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    #: Which sender handles it: "email", "sms".
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Given by whoever enqueues (e.g. call uuid + node): enqueueing twice is a no-op, and the far
    #: end sees it (Message-ID, the SMS gateway's idempotency header) so a resend is recognisable.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    #: Attempts started (counted when a worker claims the row, so a row that kills its worker
    #: still runs out of attempts).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The worker sending it (host:pid:random) and until when the row is its own; a row whose
    #: lease has expired is taken again by any worker.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    #: The call that asked for it, if any (no foreign key: call records are purged on their own).
    call_uuid: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


# --- messages and files kept from calls --------------------------------------------------------


class VoicemailRow(Base):
    """A message left in a mailbox (the voicemail node). The audio is a file under the configured
    media directory, named by us (never from caller text)."""

    __tablename__ = "voicemail_messages"
    __table_args__ = (Index("ix_voicemail_messages_box_created_at", "box", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    #: By name, not id: messages outlive a mailbox renamed or removed.
    box: Mapped[str] = mapped_column(String(NAME))
    caller: Mapped[str | None] = mapped_column(String(NUMBER))
    call_uuid: Mapped[str | None] = mapped_column(String(64), index=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    #: Path relative to the media directory.
    file: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallFileRow(Base):
    """A file kept with a call record: a recording (record_call), a received fax (fax_receive).
    No foreign key to ``calls``: the record is written after the call, the file during it."""

    __tablename__ = "call_files"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(64), index=True)
    #: recording, fax
    kind: Mapped[str] = mapped_column(String(32))
    #: Path relative to the media directory.
    file: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the retention clean-up (fsivr worker) deletes it; None: kept.
    expires_at: Mapped[datetime | None]


metadata = Base.metadata


# --- authorize and lookup ----------------------------------------------------------------------


class AuthFailureRow(Base):
    """One failed authorize (wrong PIN, caller ID not listed) by a caller number. Kept in the
    store, not in a server's memory, so the lock-out holds across calls and across ``fsivr serve``
    processes sharing the database: a PIN cannot be brute-forced by redialling."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_caller_failed_at", "caller", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The caller in E.164 (fsivr.store.phone.caller_key).
    caller: Mapped[str] = mapped_column(String(NUMBER))
    failed_at: Mapped[datetime]


class DataTableRow(Base):
    """A data table imported from CSV/XLSX (``fsivr table import``): its key column and columns."""

    __tablename__ = "data_tables"

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    key_column: Mapped[str] = mapped_column(String(NAME))
    columns: Mapped[list[Any]] = mapped_column(default=list)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DataRowRow(Base):
    """One row of a data table, found by (table, key) — the primary key, so a look-up is one
    indexed query. Keys that are phone numbers are kept in E.164."""

    __tablename__ = "data_rows"

    table_name: Mapped[str] = mapped_column(ForeignKey("data_tables.name", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LastAgentRow(Base):
    """Who last answered a caller (the built-in ``last_agent`` table), kept from call records as
    they are written: one row per caller, so routing a caller back costs one primary-key read."""

    __tablename__ = "last_agents"

    #: The caller in E.164 (fsivr.store.phone.caller_key).
    caller: Mapped[str] = mapped_column(String(NUMBER), primary_key=True)
    #: The target that answered, as the scenario writes targets (``sip:101``).
    agent: Mapped[str] = mapped_column(String(NAME))
    #: The account user, when the answering target is an employee's.
    employee: Mapped[str | None] = mapped_column(String(NUMBER))
    answered_at: Mapped[datetime]
    call_uuid: Mapped[str] = mapped_column(String(64))


# --- time-condition overrides -----------------------------------------------------------------


class TimeOverrideRow(Base):
    """A time condition forced open or closed until a moment (the day/night switch): staff set it
    by a feature code or ``fsivr override set``. Past ``until`` it no longer counts; nothing has to
    delete it. One row per switch name (``time_condition``'s ``override`` parameter)."""

    __tablename__ = "time_overrides"
    __table_args__ = (CheckConstraint("state IN ('open', 'closed')", name="state"),)

    name: Mapped[str] = mapped_column(String(NAME), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    until: Mapped[datetime]
    #: Who set it: the caller's number (feature code) or ``shell:<user>``.
    set_by: Mapped[str] = mapped_column(String(NAME))
    set_at: Mapped[datetime]


class TimeOverrideLogRow(Base):
    """Every change of an override, kept: who, when, what (open/closed until when, or clear)."""

    __tablename__ = "time_override_log"
    __table_args__ = (Index("ix_time_override_log_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME))
    #: open | closed | clear
    action: Mapped[str] = mapped_column(String(8))
    until: Mapped[datetime | None]
    who: Mapped[str] = mapped_column(String(NAME))
    at: Mapped[datetime]


CALL_ATTEMPT_STATES = ("placing", "answered", "failed", "unknown")


class CallAttempt(Base):
    """One outbound call placed by the worker for a job (a callback now; a campaign row later):
    what FreeSWITCH answered to the ``bgapi originate`` and how the call ended. ``job_key`` is the
    job's outbox idempotency key, so a campaign row's attempts are found the same way."""

    __tablename__ = "call_attempts"
    __table_args__ = (
        CheckConstraint("state IN ('placing', 'answered', 'failed', 'unknown')", name="state"),
        UniqueConstraint("job_key", "attempt"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    job_key: Mapped[str] = mapped_column(String(200), index=True)
    #: Which try of the job this is (1, 2, ...): one row per try, never two.
    attempt: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(64))
    #: The uuid we gave the call (origination_uuid): the key for reconciling after a lost link.
    call_uuid: Mapped[str] = mapped_column(String(64), unique=True)
    #: placing (sent, no answer yet), answered (+OK), failed (-ERR), unknown (the link was lost and
    #: FreeSWITCH no longer knows the call).
    state: Mapped[str] = mapped_column(String(16), default="placing")
    #: The BACKGROUND_JOB body as FreeSWITCH sent it (``+OK <uuid>`` / ``-ERR <CAUSE>``).
    reply: Mapped[str | None] = mapped_column(Text)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


# --- change counters -------------------------------------------------------------------------


class DataVersionRow(Base):
    """One counter per cached kind of data (``directory``, ``scenarios``), bumped in the same
    transaction as every write to its tables (fsivr/store/versions.py does it for every Session),
    so a running server learns "nothing changed" from one tiny query instead of re-reading the
    tables. The rows are created by the migration that adds the table."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(NUMBER), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class QueueWaitRow(Base):
    """One caller's wait in a queue node (joined → answered or left): the queue's recent history,
    from which the estimated wait is computed (fsivr/store/queuewaits.py)."""

    __tablename__ = "queue_waits"
    __table_args__ = (Index("ix_queue_waits_queue_left_at", "queue", "left_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(NAME))
    #: The caller's place in line when it joined (1 = first): a wait is spread over the members ahead.
    position: Mapped[int] = mapped_column(Integer)
    waited: Mapped[int] = mapped_column(Integer)  # seconds from joining to leaving the line
    #: answered | timeout | exit | no_agents | hangup
    outcome: Mapped[str] = mapped_column(String(32))
    left_at: Mapped[datetime]
    call_uuid: Mapped[str] = mapped_column(String(64))


# --- campaigns (autoinformer) ------------------------------------------------------------------


#: What a campaign row's last attempt came to (issue 13): ``listened`` = the scenario reached its
#: end without the callee hanging up; ``answered`` = answered, but not heard to the end.
CAMPAIGN_RESULTS = ("failed", "busy", "no_answer", "answered", "listened")


class CampaignRow(Base):
    """A list of numbers to call (``fsivr campaign load``), the scenario each answered call runs,
    and how to dial them: pace, concurrency, hours, retries. ``next_slot_at`` is the pacer's state,
    written under the campaign's row lock, so several workers together keep one pace."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("state IN ('loaded', 'running', 'paused', 'done')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    scenario: Mapped[str] = mapped_column(String(NAME))
    state: Mapped[str] = mapped_column(String(16), default="loaded")
    #: The file it was loaded from (its name only) and its header, in order: the export's columns.
    source: Mapped[str] = mapped_column(String(NAME))
    columns: Mapped[list[Any]] = mapped_column(JSON)
    number_column: Mapped[str] = mapped_column(String(NAME))
    #: column -> call variable name (the columns that reach the scenario).
    variables: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: New calls per second, and calls (ringing or answered) at once.
    pace: Mapped[float] = mapped_column(Float, default=1.0)
    concurrency: Mapped[int] = mapped_column(Integer, default=10)
    #: Calls per row at most, which results are tried again, and how long after.
    attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_on: Mapped[list[Any]] = mapped_column(JSON)
    spacing: Mapped[float] = mapped_column(Float, default=600.0)
    allowed_hours: Mapped[list[Any]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    caller_id: Mapped[str | None] = mapped_column(String(NUMBER))
    next_slot_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class CampaignEntryRow(Base):
    """One row of a campaign's file: its cells as loaded, and what calling it came to.

    ``pending`` rows wait for ``next_attempt_at``; ``calling`` ones have an attempt in progress (a
    ``call_attempts`` row keyed ``campaign:<campaign>:<row>``, written before the originate is
    sent); ``done`` ones have their final ``result``; ``skipped`` ones failed validation at load
    (``note`` says why) and are only kept so the export has every original row."""

    __tablename__ = "campaign_rows"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'calling', 'done', 'skipped')", name="state"),
        CheckConstraint("result IS NULL OR result IN ('failed', 'busy', 'no_answer', 'answered', 'listened')",
                        name="result"),
        Index("ix_campaign_rows_campaign_id_state_next_attempt_at", "campaign_id", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    #: The row's line (CSV) or row number (XLSX) in the file, for the validation report and export order.
    line: Mapped[int] = mapped_column(Integer)
    #: E.164 (empty for a row skipped for its number).
    number: Mapped[str] = mapped_column(String(NUMBER))
    #: column -> cell, as loaded.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str | None] = mapped_column(String(NAME))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None]
    #: The worker holding the attempt in progress (host:pid:random).
    owner: Mapped[str | None] = mapped_column(String(200))
    call_uuid: Mapped[str | None] = mapped_column(String(64))
    first_called_at: Mapped[datetime | None]
    last_called_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: Seconds from answer to hangup of the last answered attempt.
    duration: Mapped[float | None] = mapped_column(Float)
