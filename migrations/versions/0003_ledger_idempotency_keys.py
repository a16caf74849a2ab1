"""Idempotency keys on payments and adjustments: a key and request fingerprint per ledger entry, unique per account.

Both columns are nullable, so existing entries stay as they are and the append-only trigger (which
refuses UPDATE) is never fired: adding a column with no default rewrites no row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('request_fingerprint', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_ledger_entries_account_idempotency_key', ['credit_account_id', 'idempotency_key'],
                              unique=True, postgresql_where=sa.text('idempotency_key IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_entries_account_idempotency_key',
                            postgresql_where=sa.text('idempotency_key IS NOT NULL'))
        batch_op.drop_column('request_fingerprint')
        batch_op.drop_column('idempotency_key')
