"""Call records per socket session, written from the session's start: a channel that comes back
(exit, transfer into another fsivr number) gets a second record; a fault and the writing server
are kept (issue 11).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The steps' foreign key names the old primary key: drop it first, rebuild it on (uuid, session).
    with op.batch_alter_table('call_steps') as batch:
        batch.drop_constraint('fk_call_steps_call_uuid_calls', type_='foreignkey')
    with op.batch_alter_table('calls') as batch:
        # Every existing record is its channel's first session.
        batch.add_column(sa.Column('session', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('fault', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('server', sa.String(length=100), nullable=True))
        batch.drop_constraint('pk_calls', type_='primary')
        batch.create_primary_key('pk_calls', ['uuid', 'session'])
    with op.batch_alter_table('calls') as batch:
        batch.alter_column('session', server_default=None)
    with op.batch_alter_table('call_steps') as batch:
        batch.add_column(sa.Column('call_session', sa.Integer(), nullable=False, server_default='1'))
        batch.drop_constraint('pk_call_steps', type_='primary')
        batch.create_primary_key('pk_call_steps', ['call_uuid', 'call_session', 'seq'])
        batch.create_foreign_key('fk_call_steps_call_uuid_call_session_calls', 'calls',
                                 ['call_uuid', 'call_session'], ['uuid', 'session'], ondelete='CASCADE')
    with op.batch_alter_table('call_steps') as batch:
        batch.alter_column('call_session', server_default=None)


def downgrade() -> None:
    # One record per channel again: later sessions cannot be kept under the old key.
    op.execute("DELETE FROM call_steps WHERE call_session > 1")
    op.execute("DELETE FROM calls WHERE session > 1")
    with op.batch_alter_table('call_steps') as batch:
        batch.drop_constraint('fk_call_steps_call_uuid_call_session_calls', type_='foreignkey')
        batch.drop_constraint('pk_call_steps', type_='primary')
        batch.create_primary_key('pk_call_steps', ['call_uuid', 'seq'])
        batch.drop_column('call_session')
    with op.batch_alter_table('calls') as batch:
        batch.drop_constraint('pk_calls', type_='primary')
        batch.create_primary_key('pk_calls', ['uuid'])
        batch.drop_column('server')
        batch.drop_column('fault')
        batch.drop_column('session')
    with op.batch_alter_table('call_steps') as batch:
        batch.create_foreign_key('fk_call_steps_call_uuid_calls', 'calls', ['call_uuid'], ['uuid'],
                                 ondelete='CASCADE')
