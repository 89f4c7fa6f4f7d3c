"""Campaigns (autoinformer): the lists of numbers to call and each row's result (issue 13).

Revision ID: 0016
Revises: 0017
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scenario', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('number_column', sa.String(length=200), nullable=False),
    sa.Column('variables', sa.JSON(), nullable=False),
    sa.Column('pace', sa.Float(), nullable=False),
    sa.Column('concurrency', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('retry_on', sa.JSON(), nullable=False),
    sa.Column('spacing', sa.Float(), nullable=False),
    sa.Column('allowed_hours', sa.JSON(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('caller_id', sa.String(length=64), nullable=True),
    sa.Column('next_slot_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('loaded', 'running', 'paused', 'done')", name=op.f('ck_campaigns_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('name', name=op.f('uq_campaigns_name')),
    )
    op.create_table('campaign_rows',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('hangup_cause', sa.String(length=64), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('call_uuid', sa.String(length=64), nullable=True),
    sa.Column('first_called_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_called_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration', sa.Float(), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'calling', 'done', 'skipped')", name=op.f('ck_campaign_rows_state')),
    sa.CheckConstraint("result IS NULL OR result IN ('failed', 'busy', 'no_answer', 'answered', 'listened')",
                       name=op.f('ck_campaign_rows_result')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_rows_campaign_id_campaigns'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_rows')),
    )
    with op.batch_alter_table('campaign_rows', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_rows_campaign_id_state_next_attempt_at',
                              ['campaign_id', 'state', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('campaign_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_rows_campaign_id_state_next_attempt_at')
    op.drop_table('campaign_rows')
    op.drop_table('campaigns')
