"""Limit requests: a retailer asks for a higher limit on a credit line, its wholesaler approves or declines.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'limit_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credit_account_id', sa.Integer(), nullable=False),
        sa.Column('retailer_id', sa.Integer(), nullable=False),
        sa.Column('wholesaler_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('OPEN', 'APPROVED', 'DECLINED', 'WITHDRAWN', name='limit_request_status',
                                    native_enum=False, create_constraint=True, length=16), nullable=False),
        sa.Column('requested_limit', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('requested_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_by', sa.Integer(), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.Column('granted_limit', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('granted_ends_on', sa.Date(), nullable=True),
        sa.Column('increase_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('requested_limit > 0', name=op.f('ck_limit_requests_requested_limit_positive')),
        sa.CheckConstraint("(status = 'OPEN') = (closed_at IS NULL)", name=op.f('ck_limit_requests_closed_unless_open')),
        sa.CheckConstraint("(status = 'APPROVED') = (granted_limit IS NOT NULL)",
                           name=op.f('ck_limit_requests_granted_when_approved')),
        sa.CheckConstraint('(increase_id IS NOT NULL) = (granted_ends_on IS NOT NULL)',
                           name=op.f('ck_limit_requests_increase_when_temporary')),
        sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'],
                                name=op.f('fk_limit_requests_credit_account_id_credit_accounts')),
        sa.ForeignKeyConstraint(['retailer_id'], ['retailers.id'], name=op.f('fk_limit_requests_retailer_id_retailers')),
        sa.ForeignKeyConstraint(['wholesaler_id'], ['wholesalers.id'],
                                name=op.f('fk_limit_requests_wholesaler_id_wholesalers')),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_limit_requests_requested_by_users')),
        sa.ForeignKeyConstraint(['closed_by'], ['users.id'], name=op.f('fk_limit_requests_closed_by_users')),
        sa.ForeignKeyConstraint(['increase_id'], ['limit_increases.id'],
                                name=op.f('fk_limit_requests_increase_id_limit_increases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_limit_requests')),
        sa.UniqueConstraint('increase_id', name=op.f('uq_limit_requests_increase_id')),
    )
    op.create_index('uq_limit_requests_one_open', 'limit_requests', ['credit_account_id'], unique=True,
                    postgresql_where=sa.text("status = 'OPEN'"))
    op.create_index('ix_limit_requests_credit_account_id', 'limit_requests', ['credit_account_id', sa.text('id DESC')])
    op.create_index('ix_limit_requests_retailer_id', 'limit_requests', ['retailer_id', sa.text('id DESC')])
    op.create_index('ix_limit_requests_wholesaler_id', 'limit_requests', ['wholesaler_id', sa.text('id DESC')])


def downgrade():
    op.drop_table('limit_requests')
