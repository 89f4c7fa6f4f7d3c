"""Queues on mod_callcenter: the queue parameters the bundle sets, and agents (issue 8).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUEUE_COLUMNS = (
    ('max_wait_no_agent', sa.Integer(), '0'),
    ('max_wait_no_agent_reached', sa.Integer(), '5'),
    ('tier_rule_wait_second', sa.Integer(), '0'),
    ('tier_rule_wait_multiply_level', sa.Boolean(), sa.false()),
    ('tier_rule_no_agent_no_wait', sa.Boolean(), sa.true()),
    ('discard_abandoned_after', sa.Integer(), '60'),
    ('abandoned_resume_allowed', sa.Boolean(), sa.false()),
)


def upgrade() -> None:
    # Existing queues get mod_callcenter's defaults (server_default), then the column keeps no
    # server default: the ORM supplies it, as for every other column.
    with op.batch_alter_table('queues') as batch:
        for name, kind, default in _QUEUE_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default=default))
    with op.batch_alter_table('queues') as batch:
        for name, _, _ in _QUEUE_COLUMNS:
            batch.alter_column(name, server_default=None)
    op.create_table(
        'agents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('contact', sa.String(length=16), nullable=False),
        sa.Column('gateway', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('max_no_answer', sa.Integer(), nullable=False),
        sa.Column('wrap_up_time', sa.Integer(), nullable=False),
        sa.Column('reject_delay_time', sa.Integer(), nullable=False),
        sa.Column('busy_delay_time', sa.Integer(), nullable=False),
        sa.Column('no_answer_delay_time', sa.Integer(), nullable=False),
        sa.CheckConstraint("contact IN ('sip', 'mobile')", name=op.f('ck_agents_contact')),
        sa.CheckConstraint("status IN ('Logged Out', 'Available', 'Available (On Demand)', 'On Break')",
                           name=op.f('ck_agents_status')),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_agents_account_id_accounts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
        sa.UniqueConstraint('account_id', name=op.f('uq_agents_account_id')),
    )
    # Accounts already serving a queue become agents with the defaults (what a new bundle gets).
    op.execute(
        "INSERT INTO agents (account_id, contact, status, max_no_answer, wrap_up_time, reject_delay_time, "
        "busy_delay_time, no_answer_delay_time) "
        "SELECT DISTINCT account_id, 'sip', 'Logged Out', 3, 10, 10, 60, 0 FROM queue_agents")


def downgrade() -> None:
    op.drop_table('agents')
    with op.batch_alter_table('queues') as batch:
        for name, _, _ in reversed(_QUEUE_COLUMNS):
            batch.drop_column(name)
