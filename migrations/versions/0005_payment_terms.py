"""Payment terms and due dates: a time zone and default terms per wholesaler, terms per account, a due date
per order.

Existing accounts get 30 days; existing orders are due 30 days after their business date in the wholesaler's
time zone (UTC for every existing wholesaler), so every order has a due date before the column is required.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('wholesalers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False))
        batch_op.add_column(sa.Column('default_payment_terms_days', sa.Integer(), server_default=sa.text('30'),
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_wholesalers_default_terms_in_range'), 'default_payment_terms_days BETWEEN 0 AND 365')
    with op.batch_alter_table('credit_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_terms_days', sa.Integer(), server_default=sa.text('30'),
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_credit_accounts_terms_in_range'), 'payment_terms_days BETWEEN 0 AND 365')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_date', sa.Date(), nullable=True))
    op.execute("""
        UPDATE orders o SET due_date = (o.created_at AT TIME ZONE w.time_zone)::date + a.payment_terms_days
        FROM credit_accounts a, wholesalers w
        WHERE a.id = o.credit_account_id AND w.id = o.wholesaler_id
    """)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('due_date', nullable=False)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('due_date')
    with op.batch_alter_table('credit_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_credit_accounts_terms_in_range'), type_='check')
        batch_op.drop_column('payment_terms_days')
    with op.batch_alter_table('wholesalers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_wholesalers_default_terms_in_range'), type_='check')
        batch_op.drop_column('default_payment_terms_days')
        batch_op.drop_column('time_zone')
