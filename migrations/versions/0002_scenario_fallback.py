"""Scenario fallback: where a node's unhandled error goes (spec section 3).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('scenarios') as batch:
        batch.add_column(sa.Column('fallback', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scenarios') as batch:
        batch.drop_column('fallback')
