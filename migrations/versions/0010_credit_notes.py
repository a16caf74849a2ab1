"""Credit notes: CREDIT_NOTE ledger entries that credit an order back by line, and the lines they credit.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TYPES = ('DEBIT', 'CREDIT', 'ADJUSTMENT', 'REVERSAL')


def _types(types):
    return "type IN (" + ", ".join(f"'{t}'" for t in types) + ")"


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_entry_type'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_entry_type'), _types(TYPES + ('CREDIT_NOTE',)))
        batch_op.drop_constraint(op.f('ck_ledger_entries_order_entries_name_order'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_order_entries_name_order'),
                                         "type NOT IN ('DEBIT', 'REVERSAL', 'CREDIT_NOTE') OR order_id IS NOT NULL")
    op.create_index('ix_ledger_entries_credit_notes', 'ledger_entries', ['order_id'],
                    postgresql_where=sa.text("type = 'CREDIT_NOTE'"))
    op.create_table(
        'credit_note_lines',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('ledger_entry_id', sa.BigInteger(), nullable=False),
        sa.Column('order_line_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_credit_note_lines_quantity_positive')),
        sa.CheckConstraint('amount > 0', name=op.f('ck_credit_note_lines_amount_positive')),
        sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'],
                                name=op.f('fk_credit_note_lines_ledger_entry_id_ledger_entries')),
        sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'],
                                name=op.f('fk_credit_note_lines_order_line_id_order_lines')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_note_lines')),
    )
    op.create_index(op.f('ix_credit_note_lines_ledger_entry_id'), 'credit_note_lines', ['ledger_entry_id'])
    op.create_index(op.f('ix_credit_note_lines_order_line_id'), 'credit_note_lines', ['order_line_id'])
    op.execute("""
        CREATE TRIGGER credit_note_lines_append_only BEFORE UPDATE OR DELETE ON credit_note_lines
        FOR EACH ROW EXECUTE FUNCTION forbid_update_delete()""")


def downgrade():
    op.drop_table('credit_note_lines')
    op.drop_index('ix_ledger_entries_credit_notes', table_name='ledger_entries')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entries_order_entries_name_order'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_order_entries_name_order'),
                                         "type NOT IN ('DEBIT', 'REVERSAL') OR order_id IS NOT NULL")
        batch_op.drop_constraint(op.f('ck_ledger_entries_entry_type'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_entries_entry_type'), _types(TYPES))
