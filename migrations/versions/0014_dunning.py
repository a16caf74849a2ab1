"""Dunning: each wholesaler's reminder levels (3 days before the due date, then 1, 7 and 14 days after), the
reminders sent (one per open item and level), and whether an account's users know it is on overdue hold.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

#: The schedule every wholesaler starts with, as app/services/dunning.py had it when this ran (kept here: a
#: migration does not change when the code does).
DEFAULT_LEVELS = [
    (-3, "A friendly note: the items below fall due in a few days. If you have paid already, thank you."),
    (1, "The items below were due yesterday and we have not yet received payment. Please pay them now, or tell "
        "us if something is wrong with them."),
    (7, "The items below are a week overdue. Please pay them now: new orders stop while items stay overdue."),
    (14, "The items below are two weeks overdue. Please pay them today, or call us to agree how you will: new "
         "orders stay stopped until they are paid."),
]


def upgrade():
    op.create_table(
        'reminder_levels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wholesaler_id', sa.Integer(), nullable=False),
        sa.Column('days_after_due', sa.SmallInteger(), nullable=False),
        sa.Column('wording', sa.Text(), nullable=False),
        sa.CheckConstraint('days_after_due BETWEEN -60 AND 365', name=op.f('ck_reminder_levels_days_in_range')),
        sa.CheckConstraint('length(wording) BETWEEN 1 AND 2000', name=op.f('ck_reminder_levels_wording_length')),
        sa.ForeignKeyConstraint(['wholesaler_id'], ['wholesalers.id'],
                                name=op.f('fk_reminder_levels_wholesaler_id_wholesalers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_levels')),
        sa.UniqueConstraint('wholesaler_id', 'days_after_due',
                            name=op.f('uq_reminder_levels_wholesaler_id_days_after_due')),
    )
    op.create_table(
        'reminders_sent',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('open_item_id', sa.BigInteger(), nullable=False),
        sa.Column('credit_account_id', sa.Integer(), nullable=False),
        sa.Column('days_after_due', sa.SmallInteger(), nullable=False),
        sa.Column('open_amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('sent_on', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'],
                                name=op.f('fk_reminders_sent_credit_account_id_credit_accounts')),
        sa.ForeignKeyConstraint(['open_item_id'], ['open_items.ledger_entry_id'],
                                name=op.f('fk_reminders_sent_open_item_id_open_items')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders_sent')),
        sa.UniqueConstraint('open_item_id', 'days_after_due',
                            name=op.f('uq_reminders_sent_open_item_id_days_after_due')),
    )
    op.create_index('ix_reminders_sent_account', 'reminders_sent', ['credit_account_id', 'id'])
    op.add_column('credit_accounts', sa.Column('overdue_hold_notified', sa.Boolean(),
                                               server_default=sa.text('false'), nullable=False))
    levels = sa.table('reminder_levels', sa.column('wholesaler_id', sa.Integer),
                      sa.column('days_after_due', sa.SmallInteger), sa.column('wording', sa.Text))
    for days, wording in DEFAULT_LEVELS:  # every wholesaler there is starts with the default schedule
        op.execute(levels.insert().from_select(
            ['wholesaler_id', 'days_after_due', 'wording'],
            sa.select(sa.column('id'), sa.literal(days), sa.literal(wording)).select_from(sa.table('wholesalers'))))


def downgrade():
    op.drop_column('credit_accounts', 'overdue_hold_notified')
    op.drop_index('ix_reminders_sent_account', table_name='reminders_sent')
    op.drop_table('reminders_sent')
    op.drop_table('reminder_levels')
