"""Voicemail messages and files kept with call records (recordings, received faxes); calls by
caller (after-call chains ask "first call from this number?") (issue 9).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('voicemail_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('box', sa.String(length=200), nullable=False),
    sa.Column('caller', sa.String(length=64), nullable=True),
    sa.Column('call_uuid', sa.String(length=64), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('file', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voicemail_messages'))
    )
    with op.batch_alter_table('voicemail_messages', schema=None) as batch_op:
        batch_op.create_index('ix_voicemail_messages_box_created_at', ['box', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_voicemail_messages_call_uuid'), ['call_uuid'], unique=False)
    op.create_table('call_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('call_uuid', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('file', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_files'))
    )
    with op.batch_alter_table('call_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_files_call_uuid'), ['call_uuid'], unique=False)
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_caller', ['caller'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_caller')
    with op.batch_alter_table('call_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_files_call_uuid'))
    op.drop_table('call_files')
    with op.batch_alter_table('voicemail_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voicemail_messages_call_uuid'))
        batch_op.drop_index('ix_voicemail_messages_box_created_at')
    op.drop_table('voicemail_messages')
