"""Open items and allocations: what each charge still owes, what each credit paid.

Every existing entry gets its open item (a DEBIT or positive adjustment a charge, a CREDIT or negative adjustment
a credit; a positive adjustment is due after the account's terms from its business date). Then each account's
entries are replayed in the order they were written, allocating as the app does from now on: a credit pays the
charges oldest due date first, a new charge takes unapplied credit oldest first, a cancellation releases what
paid its order and applies it again. Each allocation names and is dated by the entry that made it, so an ageing
as of a past date sees what was paid by then.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from collections import defaultdict
from decimal import Decimal

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'open_items',
        sa.Column('ledger_entry_id', sa.BigInteger(), nullable=False),
        sa.Column('credit_account_id', sa.Integer(), nullable=False),
        sa.Column('side', sa.Enum('CHARGE', 'CREDIT', name='item_side', native_enum=False, create_constraint=True,
                                  length=16), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('open_amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('amount > 0', name=op.f('ck_open_items_amount_positive')),
        sa.CheckConstraint('open_amount >= 0 AND open_amount <= amount', name=op.f('ck_open_items_open_within_amount')),
        sa.CheckConstraint("(side = 'CHARGE') = (due_date IS NOT NULL)",
                           name=op.f('ck_open_items_charges_have_due_dates')),
        sa.CheckConstraint("cancelled_at IS NULL OR (side = 'CHARGE' AND open_amount = 0)",
                           name=op.f('ck_open_items_cancelled_is_closed')),
        sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'],
                                name=op.f('fk_open_items_credit_account_id_credit_accounts')),
        sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'],
                                name=op.f('fk_open_items_ledger_entry_id_ledger_entries')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_open_items_order_id_orders')),
        sa.PrimaryKeyConstraint('ledger_entry_id', name=op.f('pk_open_items')),
        sa.UniqueConstraint('order_id', name=op.f('uq_open_items_order_id')),
    )
    op.create_index('ix_open_items_open_charges', 'open_items', ['credit_account_id', 'due_date', 'ledger_entry_id'],
                    postgresql_where=sa.text("side = 'CHARGE' AND open_amount > 0"))
    op.create_index('ix_open_items_open_credits', 'open_items', ['credit_account_id', 'ledger_entry_id'],
                    postgresql_where=sa.text("side = 'CREDIT' AND open_amount > 0"))
    op.create_index('ix_open_items_cancelled_at', 'open_items', ['cancelled_at'],
                    postgresql_where=sa.text("cancelled_at IS NOT NULL"))
    op.create_table(
        'allocations',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('credit_account_id', sa.Integer(), nullable=False),
        sa.Column('charge_entry_id', sa.BigInteger(), nullable=False),
        sa.Column('credit_entry_id', sa.BigInteger(), nullable=False),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('made_by_entry_id', sa.BigInteger(), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('amount <> 0', name=op.f('ck_allocations_amount_not_zero')),
        sa.ForeignKeyConstraint(['charge_entry_id'], ['open_items.ledger_entry_id'],
                                name=op.f('fk_allocations_charge_entry_id_open_items')),
        sa.ForeignKeyConstraint(['credit_entry_id'], ['open_items.ledger_entry_id'],
                                name=op.f('fk_allocations_credit_entry_id_open_items')),
        sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'],
                                name=op.f('fk_allocations_credit_account_id_credit_accounts')),
        sa.ForeignKeyConstraint(['made_by_entry_id'], ['ledger_entries.id'],
                                name=op.f('fk_allocations_made_by_entry_id_ledger_entries')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_allocations_created_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_allocations')),
    )
    op.create_index(op.f('ix_allocations_charge_entry_id'), 'allocations', ['charge_entry_id'])
    op.create_index(op.f('ix_allocations_credit_entry_id'), 'allocations', ['credit_entry_id'])
    op.create_index(op.f('ix_allocations_made_by_entry_id'), 'allocations', ['made_by_entry_id'])
    op.create_index('ix_allocations_created_at', 'allocations', ['created_at'])
    op.execute("""
        CREATE TRIGGER allocations_append_only BEFORE UPDATE OR DELETE ON allocations
        FOR EACH ROW EXECUTE FUNCTION forbid_update_delete()
    """)
    _backfill(op.get_bind())


def _backfill(conn):
    entries = conn.execute(sa.text("""
        SELECT e.id, e.credit_account_id, e.type, e.amount, e.order_id, e.reverses_entry_id, e.created_at,
               COALESCE(o.due_date, (e.created_at AT TIME ZONE w.time_zone)::date + a.payment_terms_days) AS due
        FROM ledger_entries e
        JOIN credit_accounts a ON a.id = e.credit_account_id JOIN wholesalers w ON w.id = a.wholesaler_id
        LEFT JOIN orders o ON o.id = e.order_id AND e.type = 'DEBIT'
        ORDER BY e.credit_account_id, e.id""")).all()
    by_account = defaultdict(list)
    for entry in entries:
        by_account[entry.credit_account_id].append(entry)
    items, allocations = [], []
    for account_entries in by_account.values():
        account_items, account_allocations = _replay(account_entries)
        items.extend(account_items.values())
        allocations.extend(account_allocations)
    if items:
        conn.execute(sa.text("""
            INSERT INTO open_items (ledger_entry_id, credit_account_id, side, order_id, amount, open_amount, due_date,
                                    created_at, cancelled_at)
            VALUES (:ledger_entry_id, :credit_account_id, :side, :order_id, :amount, :open_amount, :due_date,
                    :created_at, :cancelled_at)"""), items)
    if allocations:
        conn.execute(sa.text("""
            INSERT INTO allocations (credit_account_id, charge_entry_id, credit_entry_id, amount, made_by_entry_id,
                                     created_at)
            VALUES (:credit_account_id, :charge_entry_id, :credit_entry_id, :amount, :made_by_entry_id,
                    :created_at)"""), allocations)


def _replay(entries):
    """One account's open items and allocations, from its entries in the order they were written."""
    items, allocations = {}, []
    paid = defaultdict(Decimal)  # (charge, credit) -> amount allocated

    def allocate(charge, credit, amount, cause):
        charge['open_amount'] -= amount
        credit['open_amount'] -= amount
        paid[charge['ledger_entry_id'], credit['ledger_entry_id']] += amount
        allocations.append({'credit_account_id': charge['credit_account_id'], 'amount': amount,
                            'charge_entry_id': charge['ledger_entry_id'], 'credit_entry_id': credit['ledger_entry_id'],
                            'made_by_entry_id': cause.id, 'created_at': cause.created_at})

    def settle(cause):
        charges = sorted((i for i in items.values() if i['side'] == 'CHARGE' and i['open_amount'] > 0),
                         key=lambda i: (i['due_date'], i['ledger_entry_id']))
        credits = [i for i in items.values() if i['side'] == 'CREDIT' and i['open_amount'] > 0]
        for credit in credits:
            for charge in charges:
                if credit['open_amount'] == 0:
                    break
                if charge['open_amount'] > 0:
                    allocate(charge, credit, min(charge['open_amount'], credit['open_amount']), cause)

    for e in entries:
        if e.type == 'REVERSAL':
            charge = items[e.reverses_entry_id]
            for (charge_id, credit_id), amount in list(paid.items()):
                if charge_id == charge['ledger_entry_id'] and amount > 0:
                    allocate(charge, items[credit_id], -amount, e)
            charge['open_amount'], charge['cancelled_at'] = Decimal('0'), e.created_at
        else:
            charge = e.type == 'DEBIT' or (e.type == 'ADJUSTMENT' and e.amount > 0)
            items[e.id] = {'ledger_entry_id': e.id, 'credit_account_id': e.credit_account_id,
                           'side': 'CHARGE' if charge else 'CREDIT', 'order_id': e.order_id,
                           'amount': abs(e.amount), 'open_amount': abs(e.amount),
                           'due_date': e.due if charge else None, 'created_at': e.created_at, 'cancelled_at': None}
        settle(e)
    return items, allocations


def downgrade():
    op.drop_table('allocations')
    op.drop_index('ix_open_items_cancelled_at', table_name='open_items')
    op.drop_index('ix_open_items_open_credits', table_name='open_items')
    op.drop_index('ix_open_items_open_charges', table_name='open_items')
    op.drop_table('open_items')
