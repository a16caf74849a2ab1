"""Buyer approvals: a retailer user's per-order limit, and holds that are orders waiting for an approver.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('order_limit', sa.Numeric(precision=14, scale=2), nullable=True))
    op.create_check_constraint(op.f('ck_users_order_limit_buyers'), 'users',
                               "order_limit IS NULL OR (order_limit >= 0 AND role = 'retailer')")
    op.add_column('credit_holds', sa.Column('purpose', sa.String(length=16), server_default='CART', nullable=False))
    op.create_check_constraint(op.f('ck_credit_holds_hold_purpose'), 'credit_holds', "purpose IN ('CART', 'APPROVAL')")
    op.add_column('credit_holds', sa.Column('decision_note', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('credit_holds', 'decision_note')
    op.drop_constraint(op.f('ck_credit_holds_hold_purpose'), 'credit_holds', type_='check')
    op.drop_column('credit_holds', 'purpose')
    op.drop_constraint(op.f('ck_users_order_limit_buyers'), 'users', type_='check')
    op.drop_column('users', 'order_limit')
