"""Initial schema: organisations, users, catalogues, credit accounts, ledger, orders, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("ledger_entries", "audit_events")


def upgrade():
    op.create_table('retailers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retailers')),
    sa.UniqueConstraint('name', name=op.f('uq_retailers_name'))
    )
    op.create_table('wholesalers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='EUR', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_wholesalers_currency_iso')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wholesalers')),
    sa.UniqueConstraint('name', name=op.f('uq_wholesalers_name'))
    )
    op.create_table('credit_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retailer_id', sa.Integer(), nullable=False),
    sa.Column('wholesaler_id', sa.Integer(), nullable=False),
    sa.Column('credit_limit', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.Enum('ACTIVE', 'BLOCKED', name='account_status', native_enum=False, create_constraint=True, length=16), server_default='ACTIVE', nullable=False),
    sa.Column('blocked_reason', sa.Text(), nullable=True),
    sa.Column('balance', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'BLOCKED') = (blocked_reason IS NOT NULL)", name=op.f('ck_credit_accounts_blocked_has_reason')),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f('ck_credit_accounts_currency_iso')),
    sa.CheckConstraint('credit_limit >= 0', name=op.f('ck_credit_accounts_credit_limit_not_negative')),
    sa.ForeignKeyConstraint(['retailer_id'], ['retailers.id'], name=op.f('fk_credit_accounts_retailer_id_retailers')),
    sa.ForeignKeyConstraint(['wholesaler_id'], ['wholesalers.id'], name=op.f('fk_credit_accounts_wholesaler_id_wholesalers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_accounts')),
    sa.UniqueConstraint('retailer_id', 'wholesaler_id', name=op.f('uq_credit_accounts_retailer_id_wholesaler_id'))
    )
    with op.batch_alter_table('credit_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_accounts_wholesaler_id'), ['wholesaler_id'], unique=False)

    op.create_table('products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wholesaler_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('unit_price > 0', name=op.f('ck_products_unit_price_positive')),
    sa.ForeignKeyConstraint(['wholesaler_id'], ['wholesalers.id'], name=op.f('fk_products_wholesaler_id_wholesalers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('wholesaler_id', 'sku', name=op.f('uq_products_wholesaler_id_sku'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_products_wholesaler_id'), ['wholesaler_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('retailer', 'wholesaler', 'admin', name='user_role', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('retailer_id', sa.Integer(), nullable=True),
    sa.Column('wholesaler_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(role = 'retailer' AND retailer_id IS NOT NULL AND wholesaler_id IS NULL) OR (role = 'wholesaler' AND wholesaler_id IS NOT NULL AND retailer_id IS NULL) OR (role = 'admin' AND retailer_id IS NULL AND wholesaler_id IS NULL)", name=op.f('ck_users_role_matches_organisation')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_users_email_lowercase')),
    sa.ForeignKeyConstraint(['retailer_id'], ['retailers.id'], name=op.f('fk_users_retailer_id_retailers')),
    sa.ForeignKeyConstraint(['wholesaler_id'], ['wholesalers.id'], name=op.f('fk_users_wholesaler_id_wholesalers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_events_entity', ['entity_type', 'entity_id'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('retailer_id', sa.Integer(), nullable=False),
    sa.Column('wholesaler_id', sa.Integer(), nullable=False),
    sa.Column('credit_account_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('CONFIRMED', 'CANCELLED', name='order_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('total_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('credit_ledger_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=100), nullable=True),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('placed_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.Integer(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("(status = 'CANCELLED') = (cancelled_at IS NOT NULL)", name=op.f('ck_orders_cancelled_has_time')),
    sa.CheckConstraint('total_amount > 0', name=op.f('ck_orders_total_positive')),
    sa.ForeignKeyConstraint(['cancelled_by'], ['users.id'], name=op.f('fk_orders_cancelled_by_users')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'], name=op.f('fk_orders_credit_account_id_credit_accounts')),
    sa.ForeignKeyConstraint(['placed_by'], ['users.id'], name=op.f('fk_orders_placed_by_users')),
    sa.ForeignKeyConstraint(['retailer_id'], ['retailers.id'], name=op.f('fk_orders_retailer_id_retailers')),
    sa.ForeignKeyConstraint(['wholesaler_id'], ['wholesalers.id'], name=op.f('fk_orders_wholesaler_id_wholesalers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('credit_ledger_entry_id', name=op.f('uq_orders_credit_ledger_entry_id')),
    sa.UniqueConstraint('retailer_id', 'idempotency_key', name='uq_orders_retailer_idempotency_key')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_credit_account_id'), ['credit_account_id'], unique=False)
        batch_op.create_index('ix_orders_retailer_id', ['retailer_id', sa.literal_column('id DESC')], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_wholesaler_id'), ['wholesaler_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('credit_account_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('DEBIT', 'CREDIT', 'ADJUSTMENT', 'REVERSAL', name='entry_type', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('balance_after', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('reverses_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('memo', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(type = 'ADJUSTMENT' AND amount <> 0) OR (type <> 'ADJUSTMENT' AND amount > 0)", name=op.f('ck_ledger_entries_amount_sign')),
    sa.CheckConstraint("(type = 'REVERSAL') = (reverses_entry_id IS NOT NULL)", name=op.f('ck_ledger_entries_reversal_names_entry')),
    sa.CheckConstraint("type <> 'ADJUSTMENT' OR memo IS NOT NULL", name=op.f('ck_ledger_entries_adjustment_has_reason')),
    sa.CheckConstraint("type NOT IN ('DEBIT', 'REVERSAL') OR order_id IS NOT NULL", name=op.f('ck_ledger_entries_order_entries_name_order')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_ledger_entries_created_by_users')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'], name=op.f('fk_ledger_entries_credit_account_id_credit_accounts')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_entries_order_id_orders')),
    sa.ForeignKeyConstraint(['reverses_entry_id'], ['ledger_entries.id'], name=op.f('fk_ledger_entries_reverses_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_account_id', ['credit_account_id', sa.literal_column('id DESC')], unique=False)
        batch_op.create_index('uq_ledger_one_debit_per_order', ['order_id'], unique=True, postgresql_where=sa.text("type = 'DEBIT'"))
        batch_op.create_index('uq_ledger_one_reversal_per_entry', ['reverses_entry_id'], unique=True)

    # orders and ledger_entries point at each other; this side is added once both exist.
    op.create_foreign_key('fk_orders_credit_ledger_entry', 'orders', 'ledger_entries',
                          ['credit_ledger_entry_id'], ['id'])

    op.create_table('order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('line_total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('line_total = unit_price * quantity', name=op.f('ck_order_lines_line_total_matches')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.CheckConstraint('unit_price > 0', name=op.f('ck_order_lines_unit_price_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_order_lines_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines')),
    sa.UniqueConstraint('order_id', 'product_id', name=op.f('uq_order_lines_order_id_product_id'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_lines_order_id'), ['order_id'], unique=False)

    # The ledger and the audit log are append-only: the database refuses to rewrite history.
    op.execute("""
        CREATE FUNCTION forbid_update_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'restrict_violation';
        END;
        $$
    """)
    for table in APPEND_ONLY_TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION forbid_update_delete()
        """)


def downgrade():
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP FUNCTION forbid_update_delete()")
    op.drop_constraint('fk_orders_credit_ledger_entry', 'orders', type_='foreignkey')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_lines_order_id'))

    op.drop_table('order_lines')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_one_reversal_per_entry')
        batch_op.drop_index('uq_ledger_one_debit_per_order', postgresql_where=sa.text("type = 'DEBIT'"))
        batch_op.drop_index('ix_ledger_entries_account_id')

    op.drop_table('ledger_entries')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_wholesaler_id'))
        batch_op.drop_index('ix_orders_retailer_id')
        batch_op.drop_index(batch_op.f('ix_orders_credit_account_id'))

    op.drop_table('orders')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_entity')
        batch_op.drop_index(batch_op.f('ix_audit_events_actor_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))

    op.drop_table('audit_events')
    op.drop_table('users')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_wholesaler_id'))

    op.drop_table('products')
    with op.batch_alter_table('credit_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_accounts_wholesaler_id'))

    op.drop_table('credit_accounts')
    op.drop_table('wholesalers')
    op.drop_table('retailers')
