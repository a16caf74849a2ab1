"""The earliest open due date on each credit account, so an order's overdue check reads nothing while it is not past.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('credit_accounts', sa.Column('oldest_open_due', sa.Date(), nullable=True))
    op.execute("""
        UPDATE credit_accounts c SET oldest_open_due = i.due
        FROM (SELECT credit_account_id, MIN(due_date) AS due FROM open_items
              WHERE side = 'CHARGE' AND open_amount > 0 GROUP BY credit_account_id) i
        WHERE i.credit_account_id = c.id""")


def downgrade():
    op.drop_column('credit_accounts', 'oldest_open_due')
