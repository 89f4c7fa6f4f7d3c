"""Initial schema: scenarios, numbers, prompts, directory (accounts, groups, queues, mailboxes,
contacts, gateways) and call records.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calls',
    sa.Column('uuid', sa.String(length=64), nullable=False),
    sa.Column('caller', sa.String(length=64), nullable=True),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('scenario', sa.String(length=200), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hangup_cause', sa.String(length=64), nullable=True),
    sa.Column('hangup_by', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('uuid', name=op.f('pk_calls'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_started_at', ['started_at'], unique=False)

    op.create_table('gateways',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('proxy', sa.String(length=255), nullable=True),
    sa.Column('realm', sa.String(length=255), nullable=True),
    sa.Column('username', sa.String(length=200), nullable=True),
    sa.Column('password', sa.String(length=200), nullable=True),
    sa.Column('register', sa.Boolean(), nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=True),
    sa.Column('caller_id', sa.String(length=64), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateways')),
    sa.UniqueConstraint('name', name=op.f('uq_gateways_name'))
    )
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('strategy', sa.String(length=32), nullable=False),
    sa.Column('ring_timeout', sa.Integer(), nullable=False),
    sa.CheckConstraint("strategy IN ('simultaneous', 'sequential', 'random_weighted')", name=op.f('ck_groups_strategy')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_groups_name'))
    )
    op.create_table('mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('box', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('pin', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailboxes')),
    sa.UniqueConstraint('box', name=op.f('uq_mailboxes_box'))
    )
    op.create_table('prompts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('file', sa.String(length=500), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=32), nullable=True),
    sa.Column('voice', sa.String(length=100), nullable=True),
    sa.CheckConstraint('file IS NOT NULL OR text IS NOT NULL', name=op.f('ck_prompts_file_or_text')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prompts')),
    sa.UniqueConstraint('name', name=op.f('uq_prompts_name'))
    )
    op.create_table('queues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('strategy', sa.String(length=64), nullable=False),
    sa.Column('music', sa.String(length=500), nullable=True),
    sa.Column('max_wait', sa.Integer(), nullable=False),
    sa.Column('tier_rules_apply', sa.Boolean(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queues')),
    sa.UniqueConstraint('name', name=op.f('uq_queues_name'))
    )
    op.create_table('scenarios',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('start', sa.String(length=200), nullable=False),
    sa.Column('after_call', sa.String(length=200), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scenarios')),
    sa.UniqueConstraint('name', name=op.f('uq_scenarios_name'))
    )
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sip_user', sa.String(length=64), nullable=False),
    sa.Column('password', sa.String(length=200), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('caller_id', sa.String(length=64), nullable=True),
    sa.Column('extension', sa.String(length=64), nullable=True),
    sa.Column('mobile', sa.JSON(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], name=op.f('fk_accounts_mailbox_id_mailboxes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('extension', name=op.f('uq_accounts_extension')),
    sa.UniqueConstraint('sip_user', name=op.f('uq_accounts_sip_user'))
    )
    op.create_table('call_steps',
    sa.Column('call_uuid', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('node', sa.String(length=200), nullable=False),
    sa.Column('node_type', sa.String(length=100), nullable=False),
    sa.Column('outcome', sa.String(length=200), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['call_uuid'], ['calls.uuid'], name=op.f('fk_call_steps_call_uuid_calls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('call_uuid', 'seq', name=op.f('pk_call_steps'))
    )
    op.create_table('numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('scenario_id', sa.Integer(), nullable=False),
    sa.Column('exit_destination', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['scenario_id'], ['scenarios.id'], name=op.f('fk_numbers_scenario_id_scenarios'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_numbers')),
    sa.UniqueConstraint('number', name=op.f('uq_numbers_number'))
    )
    with op.batch_alter_table('numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_numbers_scenario_id'), ['scenario_id'], unique=False)

    op.create_table('scenario_nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scenario_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['scenario_id'], ['scenarios.id'], name=op.f('fk_scenario_nodes_scenario_id_scenarios'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scenario_nodes')),
    sa.UniqueConstraint('scenario_id', 'key', name=op.f('uq_scenario_nodes_scenario_id_key'))
    )
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('backup_owner_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['backup_owner_id'], ['accounts.id'], name=op.f('fk_contacts_backup_owner_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['accounts.id'], name=op.f('fk_contacts_owner_id_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('number', name=op.f('uq_contacts_number'))
    )
    op.create_table('group_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('ring_timeout', sa.Integer(), nullable=True),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.CheckConstraint('weight >= 0', name=op.f('ck_group_members_weight')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_group_members_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_members_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_members')),
    sa.UniqueConstraint('group_id', 'account_id', name=op.f('uq_group_members_group_id_account_id'))
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_members_account_id'), ['account_id'], unique=False)

    op.create_table('queue_agents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_queue_agents_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_queue_agents_queue_id_queues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_agents')),
    sa.UniqueConstraint('queue_id', 'account_id', name=op.f('uq_queue_agents_queue_id_account_id'))
    )
    with op.batch_alter_table('queue_agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queue_agents_account_id'), ['account_id'], unique=False)

    op.create_table('scenario_edges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scenario_id', sa.Integer(), nullable=False),
    sa.Column('from_node', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=200), nullable=False),
    sa.Column('to_node', sa.String(length=200), nullable=False),
    sa.Column('is_option', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['scenario_id', 'from_node'], ['scenario_nodes.scenario_id', 'scenario_nodes.key'], name='fk_scenario_edges_from_node', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scenario_id', 'to_node'], ['scenario_nodes.scenario_id', 'scenario_nodes.key'], name='fk_scenario_edges_to_node', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scenario_id'], ['scenarios.id'], name=op.f('fk_scenario_edges_scenario_id_scenarios'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scenario_edges')),
    sa.UniqueConstraint('scenario_id', 'from_node', 'outcome', 'is_option', name=op.f('uq_scenario_edges_scenario_id_from_node_outcome_is_option'))
    )


def downgrade() -> None:
    op.drop_table('scenario_edges')
    with op.batch_alter_table('queue_agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queue_agents_account_id'))

    op.drop_table('queue_agents')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_members_account_id'))

    op.drop_table('group_members')
    op.drop_table('contacts')
    op.drop_table('scenario_nodes')
    with op.batch_alter_table('numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_numbers_scenario_id'))

    op.drop_table('numbers')
    op.drop_table('call_steps')
    op.drop_table('accounts')
    op.drop_table('scenarios')
    op.drop_table('queues')
    op.drop_table('prompts')
    op.drop_table('mailboxes')
    op.drop_table('groups')
    op.drop_table('gateways')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_started_at')

    op.drop_table('calls')
