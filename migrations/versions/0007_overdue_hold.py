"""The overdue hold: a policy, grace days and a minimum overdue amount per credit account.

Accounts that exist now get the policy "off", so no retailer is stopped by a rule nobody chose; accounts opened
from now on start with "hold".

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credit_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overdue_policy', sa.Enum('off', 'hold', name='overdue_policy', native_enum=False,
                                                                create_constraint=True, length=16),
                                      server_default='off', nullable=False))
        batch_op.add_column(sa.Column('overdue_grace_days', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('overdue_min_amount', sa.Numeric(precision=14, scale=2), server_default='0',
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_credit_accounts_grace_in_range'), 'overdue_grace_days BETWEEN 0 AND 365')
        batch_op.create_check_constraint(op.f('ck_credit_accounts_overdue_min_not_negative'), 'overdue_min_amount >= 0')
    # Existing rows took "off" above; new ones take "hold".
    op.alter_column('credit_accounts', 'overdue_policy', server_default='hold')


def downgrade():
    with op.batch_alter_table('credit_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_credit_accounts_overdue_min_not_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_credit_accounts_grace_in_range'), type_='check')
        batch_op.drop_column('overdue_min_amount')
        batch_op.drop_column('overdue_grace_days')
        batch_op.drop_column('overdue_policy')
