"""Departments: a three-digit id on queues and groups, what an agent keys after ``*2`` in a call
to transfer the caller there (issue 8 point 5, spec §5). Unique across both tables — the bundle
check and the import enforce that; each column has its own unique index (NULLs never collide).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department', sa.String(length=3), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_queues_department'), ['department'])
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department', sa.String(length=3), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_groups_department'), ['department'])


def downgrade() -> None:
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_groups_department'), type_='unique')
        batch_op.drop_column('department')
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_queues_department'), type_='unique')
        batch_op.drop_column('department')
