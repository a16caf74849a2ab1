"""Temporary limit increases, and the sum of the live ones and the earliest of their ends kept on each credit
account.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('credit_accounts', sa.Column('temporary_increase', sa.Numeric(precision=14, scale=2),
                                               server_default='0', nullable=False))
    op.add_column('credit_accounts', sa.Column('increase_until', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f('ck_credit_accounts_increase_has_end'), 'credit_accounts',
                               'temporary_increase >= 0 AND (increase_until IS NULL) = (temporary_increase = 0)')
    op.create_index('ix_credit_accounts_increase_until', 'credit_accounts', ['increase_until'],
                    postgresql_where=sa.text('increase_until IS NOT NULL'))
    op.create_table(
        'limit_increases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credit_account_id', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('granted_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_by', sa.Integer(), nullable=True),
        sa.CheckConstraint('amount > 0', name=op.f('ck_limit_increases_amount_positive')),
        sa.CheckConstraint('ends_at > created_at', name=op.f('ck_limit_increases_ends_after_granted')),
        sa.CheckConstraint('ended_at IS NULL OR ended_at < ends_at', name=op.f('ck_limit_increases_ended_early_only')),
        sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'],
                                name=op.f('fk_limit_increases_credit_account_id_credit_accounts')),
        sa.ForeignKeyConstraint(['granted_by'], ['users.id'], name=op.f('fk_limit_increases_granted_by_users')),
        sa.ForeignKeyConstraint(['ended_by'], ['users.id'], name=op.f('fk_limit_increases_ended_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_limit_increases')),
    )
    op.create_index('ix_limit_increases_credit_account_id', 'limit_increases',
                    ['credit_account_id', sa.text('id DESC')])


def downgrade():
    op.drop_table('limit_increases')
    op.drop_index('ix_credit_accounts_increase_until', table_name='credit_accounts')
    op.drop_constraint(op.f('ck_credit_accounts_increase_has_end'), 'credit_accounts', type_='check')
    op.drop_column('credit_accounts', 'increase_until')
    op.drop_column('credit_accounts', 'temporary_increase')
