"""Credit holds: credit reserved for a while at today's prices (carts, quotes), their lines, and the held amount
and earliest expiry kept on each credit account.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('credit_accounts', sa.Column('held_amount', sa.Numeric(precision=14, scale=2), server_default='0',
                                               nullable=False))
    op.add_column('credit_accounts', sa.Column('held_until', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f('ck_credit_accounts_held_has_expiry'), 'credit_accounts',
                               'held_amount >= 0 AND (held_until IS NULL) = (held_amount = 0)')
    op.create_table(
        'credit_holds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credit_account_id', sa.Integer(), nullable=False),
        sa.Column('retailer_id', sa.Integer(), nullable=False),
        sa.Column('wholesaler_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('ACTIVE', 'CAPTURED', 'RELEASED', 'EXPIRED', name='hold_status',
                                    native_enum=False, create_constraint=True, length=16), nullable=False),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('idempotency_key', sa.String(length=100), nullable=True),
        sa.Column('request_fingerprint', sa.String(length=64), nullable=True),
        sa.Column('placed_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_by', sa.Integer(), nullable=True),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.CheckConstraint('amount > 0', name=op.f('ck_credit_holds_amount_positive')),
        sa.CheckConstraint('expires_at > created_at', name=op.f('ck_credit_holds_expires_after_placed')),
        sa.CheckConstraint("(status = 'ACTIVE') = (closed_at IS NULL)", name=op.f('ck_credit_holds_closed_unless_active')),
        sa.CheckConstraint("order_id IS NULL OR status = 'CAPTURED'", name=op.f('ck_credit_holds_order_only_when_captured')),
        sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'],
                                name=op.f('fk_credit_holds_credit_account_id_credit_accounts')),
        sa.ForeignKeyConstraint(['retailer_id'], ['retailers.id'], name=op.f('fk_credit_holds_retailer_id_retailers')),
        sa.ForeignKeyConstraint(['wholesaler_id'], ['wholesalers.id'],
                                name=op.f('fk_credit_holds_wholesaler_id_wholesalers')),
        sa.ForeignKeyConstraint(['placed_by'], ['users.id'], name=op.f('fk_credit_holds_placed_by_users')),
        sa.ForeignKeyConstraint(['closed_by'], ['users.id'], name=op.f('fk_credit_holds_closed_by_users')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_credit_holds_order_id_orders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_holds')),
        sa.UniqueConstraint('order_id', name=op.f('uq_credit_holds_order_id')),
        sa.UniqueConstraint('retailer_id', 'idempotency_key', name='uq_credit_holds_retailer_idempotency_key'),
    )
    op.create_index(op.f('ix_credit_holds_wholesaler_id'), 'credit_holds', ['wholesaler_id'])
    op.create_index('ix_credit_holds_active', 'credit_holds', ['credit_account_id', 'expires_at'],
                    postgresql_where=sa.text("status = 'ACTIVE'"))
    op.create_index('ix_credit_holds_expiring', 'credit_holds', ['expires_at'],
                    postgresql_where=sa.text("status = 'ACTIVE'"))
    op.create_index('ix_credit_holds_retailer_id', 'credit_holds', ['retailer_id', sa.text('id DESC')])
    op.create_table(
        'credit_hold_lines',
        sa.Column('hold_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_credit_hold_lines_quantity_positive')),
        sa.CheckConstraint('unit_price > 0', name=op.f('ck_credit_hold_lines_unit_price_positive')),
        sa.ForeignKeyConstraint(['hold_id'], ['credit_holds.id'], name=op.f('fk_credit_hold_lines_hold_id_credit_holds')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'],
                                name=op.f('fk_credit_hold_lines_product_id_products')),
        sa.PrimaryKeyConstraint('hold_id', 'product_id', name=op.f('pk_credit_hold_lines')),
    )


def downgrade():
    op.drop_table('credit_hold_lines')
    op.drop_index('ix_credit_holds_retailer_id', table_name='credit_holds')
    op.drop_index('ix_credit_holds_expiring', table_name='credit_holds')
    op.drop_index('ix_credit_holds_active', table_name='credit_holds')
    op.drop_index(op.f('ix_credit_holds_wholesaler_id'), table_name='credit_holds')
    op.drop_table('credit_holds')
    op.drop_constraint(op.f('ck_credit_accounts_held_has_expiry'), 'credit_accounts', type_='check')
    op.drop_column('credit_accounts', 'held_until')
    op.drop_column('credit_accounts', 'held_amount')
