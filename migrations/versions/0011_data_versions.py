"""data_versions: change counters for the directory and the scenarios (issue 14).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table('data_versions',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_data_versions'))
    )
    # The rows exist from the start: writers only ever UPDATE them (a row lock on PostgreSQL,
    # the write lock on SQLite), never race to INSERT them.
    op.bulk_insert(table, [{'name': 'directory', 'version': 1}, {'name': 'scenarios', 'version': 1}])


def downgrade() -> None:
    op.drop_table('data_versions')
