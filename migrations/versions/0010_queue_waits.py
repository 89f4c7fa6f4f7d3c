"""queue node: each caller's wait in a queue (the recent history behind the estimated wait).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('queue_waits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('queue', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('waited', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('call_uuid', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_waits'))
    )
    with op.batch_alter_table('queue_waits', schema=None) as batch_op:
        batch_op.create_index('ix_queue_waits_queue_left_at', ['queue', 'left_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('queue_waits', schema=None) as batch_op:
        batch_op.drop_index('ix_queue_waits_queue_left_at')
    op.drop_table('queue_waits')
