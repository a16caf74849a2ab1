"""Shipped orders: a SHIPPED status with when and by whom; a retailer can no longer cancel an order once shipped.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('shipped_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_orders_shipped_by_users'), 'users', ['shipped_by'], ['id'])
        batch_op.drop_constraint(op.f('ck_orders_order_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_orders_order_status'),
                                         "status IN ('CONFIRMED', 'SHIPPED', 'CANCELLED')")
        batch_op.create_check_constraint(op.f('ck_orders_shipped_has_time'),
                                         "status <> 'SHIPPED' OR shipped_at IS NOT NULL")


def downgrade():
    op.execute("UPDATE orders SET status = 'CONFIRMED' WHERE status = 'SHIPPED'")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_shipped_has_time'), type_='check')
        batch_op.drop_constraint(op.f('ck_orders_order_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_orders_order_status'), "status IN ('CONFIRMED', 'CANCELLED')")
        batch_op.drop_constraint(op.f('fk_orders_shipped_by_users'), type_='foreignkey')
        batch_op.drop_column('shipped_by')
        batch_op.drop_column('shipped_at')
