"""authorize and lookup: failed authorizations (the lock-out), data tables, last agent per caller.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auth_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('caller', sa.String(length=64), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_failures'))
    )
    with op.batch_alter_table('auth_failures', schema=None) as batch_op:
        batch_op.create_index('ix_auth_failures_caller_failed_at', ['caller', 'failed_at'], unique=False)

    op.create_table('data_tables',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_column', sa.String(length=200), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_data_tables'))
    )
    op.create_table('data_rows',
    sa.Column('table_name', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['table_name'], ['data_tables.name'],
                            name=op.f('fk_data_rows_table_name_data_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('table_name', 'key', name=op.f('pk_data_rows'))
    )
    op.create_table('last_agents',
    sa.Column('caller', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=200), nullable=False),
    sa.Column('employee', sa.String(length=64), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('call_uuid', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('caller', name=op.f('pk_last_agents'))
    )


def downgrade() -> None:
    op.drop_table('last_agents')
    op.drop_table('data_rows')
    op.drop_table('data_tables')
    with op.batch_alter_table('auth_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_auth_failures_caller_failed_at')
    op.drop_table('auth_failures')
