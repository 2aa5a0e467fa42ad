"""The schema: units, documents, tasks, obligations, workflow, audit.

The partial index ix_assignment_open_by_unit serves every overdue question: the open
obligations of one unit in effective-deadline order.

Revision ID: 590c5601205e
Revises: 
Create Date: 2026-11-22 15:55:40.352088
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '590c5601205e'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('actor_unit_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('before', JSON, nullable=True),
    sa.Column('after', JSON, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_task_id_id', ['task_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_unit_id_id', ['unit_id', 'id'], unique=False)

    op.create_table('idempotencyrecord',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('headers', JSON, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotencyrecord')),
    sa.UniqueConstraint('scope', 'key', name=op.f('uq_idempotencyrecord_scope_key'))
    )
    op.create_table('jurisdiction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['jurisdiction.id'], name=op.f('fk_jurisdiction_parent_id_jurisdiction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jurisdiction')),
    sa.UniqueConstraint('name', name=op.f('uq_jurisdiction_name'))
    )
    op.create_table('reportingperiod',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('due_day', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_reportingperiod'))
    )
    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=True),
    sa.Column('issuer', sa.String(length=256), nullable=True),
    sa.Column('doc_number', sa.String(length=128), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('period_start', sa.Integer(), nullable=True),
    sa.Column('period_end', sa.Integer(), nullable=True),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('encoding', sa.String(length=16), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('meta', JSON, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdiction.id'], name=op.f('fk_document_jurisdiction_id_jurisdiction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('key', name=op.f('uq_document_key'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_content_hash'), ['content_hash'], unique=False)

    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('short_name', sa.String(length=128), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('is_group', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdiction.id'], name=op.f('fk_unit_jurisdiction_id_jurisdiction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit')),
    sa.UniqueConstraint('name', name=op.f('uq_unit_name'))
    )
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_jurisdiction_id'), ['jurisdiction_id'], unique=False)

    op.create_table('apitoken',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.Enum('admin', 'unit', 'reader', name='tokenrole', native_enum=False, length=24), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_apitoken_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apitoken')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_apitoken_token_hash'))
    )
    op.create_table('groupmember',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['unit.id'], name=op.f('fk_groupmember_group_id_unit')),
    sa.ForeignKeyConstraint(['member_id'], ['unit.id'], name=op.f('fk_groupmember_member_id_unit')),
    sa.PrimaryKeyConstraint('group_id', 'member_id', name=op.f('pk_groupmember'))
    )
    with op.batch_alter_table('groupmember', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_groupmember_member_id'), ['member_id'], unique=False)

    op.create_table('indicator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=64), nullable=True),
    sa.Column('standard', sa.Text(), nullable=True),
    sa.Column('baseline', sa.Text(), nullable=True),
    sa.Column('baseline_year', sa.Integer(), nullable=True),
    sa.Column('targets', JSON, nullable=True),
    sa.Column('attribute', sa.String(length=16), nullable=True),
    sa.Column('detail', JSON, nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_indicator_document_id_document')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator'))
    )
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_document_id'), ['document_id'], unique=False)

    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('section_path', JSON, nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('deadline_text', sa.String(length=64), nullable=True),
    sa.Column('deadline_source', sa.String(length=16), nullable=False),
    sa.Column('ongoing', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', 'withdrawn', name='taskstatus', native_enum=False, length=24), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', JSON, nullable=True),
    sa.Column('detail', JSON, nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_task_document_id_document')),
    sa.ForeignKeyConstraint(['parent_id'], ['task.id'], name=op.f('fk_task_parent_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task')),
    sa.UniqueConstraint('document_id', 'ordinal', name=op.f('uq_task_document_id_ordinal'))
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_parent_id'), ['parent_id'], unique=False)

    op.create_table('unitalias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unitalias_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unitalias')),
    sa.UniqueConstraint('scope', 'alias', name=op.f('uq_unitalias_scope_alias'))
    )
    with op.batch_alter_table('unitalias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unitalias_alias'), ['alias'], unique=False)
        batch_op.create_index(batch_op.f('ix_unitalias_unit_id'), ['unit_id'], unique=False)

    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('lead', 'responsible', 'cooperating', name='role', native_enum=False, length=24), nullable=False),
    sa.Column('via_group_id', sa.Integer(), nullable=True),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('own_deadline', sa.Date(), nullable=True),
    sa.Column('extended_to', sa.Date(), nullable=True),
    sa.Column('task_deadline', sa.Date(), nullable=True),
    sa.Column('effective_deadline', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('assigned', 'accepted', 'in_progress', 'completion_requested', 'returned', 'closed', 'removed', 'group', name='assignmentstatus', native_enum=False, length=24), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=True),
    sa.Column('last_period', sa.String(length=7), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_assignment_task_id_task')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_assignment_unit_id_unit')),
    sa.ForeignKeyConstraint(['via_group_id'], ['unit.id'], name=op.f('fk_assignment_via_group_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment')),
    sa.UniqueConstraint('task_id', 'unit_id', name=op.f('uq_assignment_task_id_unit_id'))
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_open_by_unit', ['unit_id', 'effective_deadline', 'task_id'], unique=False, postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'))
        batch_op.create_index(batch_op.f('ix_assignment_task_id'), ['task_id'], unique=False)
        batch_op.create_index('ix_assignment_unit_id_task_id', ['unit_id', 'task_id'], unique=False)

    op.create_table('milestone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('due', sa.Date(), nullable=True),
    sa.Column('due_text', sa.String(length=64), nullable=True),
    sa.Column('metric', sa.Text(), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('target_stretch', sa.String(length=128), nullable=True),
    sa.Column('optional', sa.Boolean(), nullable=False),
    sa.Column('source', JSON, nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_milestone_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone'))
    )
    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_milestone_task_id'), ['task_id'], unique=False)

    op.create_table('completionrequest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'returned', name='requeststatus', native_enum=False, length=24), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_completionrequest_assignment_id_assignment')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_completionrequest_task_id_task')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_completionrequest_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_completionrequest'))
    )
    with op.batch_alter_table('completionrequest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_completionrequest_task_id'), ['task_id'], unique=False)

    op.create_table('extensionrequest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('requested_deadline', sa.Date(), nullable=False),
    sa.Column('previous_deadline', sa.Date(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'returned', name='requeststatus', native_enum=False, length=24), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_extensionrequest_assignment_id_assignment')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_extensionrequest_task_id_task')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_extensionrequest_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extensionrequest'))
    )
    with op.batch_alter_table('extensionrequest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extensionrequest_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extensionrequest_task_id'), ['task_id'], unique=False)

    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('milestone_values', JSON, nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_report_assignment_id_assignment')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_report_task_id_task')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_report_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report')),
    sa.UniqueConstraint('assignment_id', 'period', name=op.f('uq_report_assignment_id_period'))
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index('ix_report_task_id_period', ['task_id', 'period'], unique=False)
        batch_op.create_index('ix_report_unit_id_period', ['unit_id', 'period'], unique=False)

    op.create_table('responsibilitychange',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('replacement_unit_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'returned', name='requeststatus', native_enum=False, length=24), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_responsibilitychange_assignment_id_assignment')),
    sa.ForeignKeyConstraint(['replacement_unit_id'], ['unit.id'], name=op.f('fk_responsibilitychange_replacement_unit_id_unit')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_responsibilitychange_task_id_task')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_responsibilitychange_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responsibilitychange'))
    )
    with op.batch_alter_table('responsibilitychange', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_responsibilitychange_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_responsibilitychange_task_id'), ['task_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('responsibilitychange', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responsibilitychange_task_id'))
        batch_op.drop_index(batch_op.f('ix_responsibilitychange_assignment_id'))

    op.drop_table('responsibilitychange')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index('ix_report_unit_id_period')
        batch_op.drop_index('ix_report_task_id_period')

    op.drop_table('report')
    with op.batch_alter_table('extensionrequest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extensionrequest_task_id'))
        batch_op.drop_index(batch_op.f('ix_extensionrequest_assignment_id'))

    op.drop_table('extensionrequest')
    with op.batch_alter_table('completionrequest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_completionrequest_task_id'))

    op.drop_table('completionrequest')
    with op.batch_alter_table('milestone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_milestone_task_id'))

    op.drop_table('milestone')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_unit_id_task_id')
        batch_op.drop_index(batch_op.f('ix_assignment_task_id'))
        batch_op.drop_index('ix_assignment_open_by_unit', postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'))

    op.drop_table('assignment')
    with op.batch_alter_table('unitalias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unitalias_unit_id'))
        batch_op.drop_index(batch_op.f('ix_unitalias_alias'))

    op.drop_table('unitalias')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_parent_id'))

    op.drop_table('task')
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_document_id'))

    op.drop_table('indicator')
    with op.batch_alter_table('groupmember', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_groupmember_member_id'))

    op.drop_table('groupmember')
    op.drop_table('apitoken')
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_jurisdiction_id'))

    op.drop_table('unit')
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_content_hash'))

    op.drop_table('document')
    op.drop_table('reportingperiod')
    op.drop_table('jurisdiction')
    op.drop_table('idempotencyrecord')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_unit_id_id')
        batch_op.drop_index('ix_audit_log_task_id_id')

    op.drop_table('audit_log')
