"""time-condition overrides: the day/night switch and the log of its changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('time_overrides',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('set_by', sa.String(length=200), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'closed')", name=op.f('ck_time_overrides_state')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_time_overrides'))
    )
    op.create_table('time_override_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('who', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_override_log'))
    )
    with op.batch_alter_table('time_override_log', schema=None) as batch_op:
        batch_op.create_index('ix_time_override_log_name_at', ['name', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('time_override_log', schema=None) as batch_op:
        batch_op.drop_index('ix_time_override_log_name_at')
    op.drop_table('time_override_log')
    op.drop_table('time_overrides')
