"""SIP passwords as a1-hash, mailbox PINs as scrypt hashes (issue 11, point 7).

Adds ``accounts.a1_hash`` and widens ``mailboxes.pin`` to hold an scrypt hash. Existing plain
passwords and PINs are not converted here: an a1-hash needs the SIP realm, which is configuration
the migration does not see. ``fsivr db hash-secrets`` converts them (``fsivr db upgrade`` says so
while any are left); until then render-conf renders the a1-hash computed from the plain row.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('a1_hash', sa.String(length=300), nullable=True))
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.alter_column('pin', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)


def downgrade() -> None:
    # Going back cannot bring back the passwords and PINs the hashes replaced; a hash longer than
    # the old column is dropped rather than truncated into something that looks like a PIN.
    op.execute(sa.text("UPDATE mailboxes SET pin = NULL WHERE length(pin) > 64"))
    with op.batch_alter_table('mailboxes', schema=None) as batch_op:
        batch_op.alter_column('pin', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('a1_hash')
