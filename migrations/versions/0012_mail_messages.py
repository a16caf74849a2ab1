"""E-mail: the messages the app sends, each user's muted notification kinds, the credit-use line last told of.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mail_messages',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('to_address', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('text_body', sa.Text(), nullable=False),
        sa.Column('html_body', sa.Text(), nullable=False),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('dedupe_key', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivery', sa.String(length=8), nullable=True),
        sa.Column('failed_attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.CheckConstraint("delivery IN ('smtp', 'kept')", name=op.f('ck_mail_messages_delivery_known')),
        sa.CheckConstraint('(sent_at IS NULL) = (delivery IS NULL)', name=op.f('ck_mail_messages_sent_has_delivery')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mail_messages_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_messages')),
        sa.UniqueConstraint('dedupe_key', name=op.f('uq_mail_messages_dedupe_key')),
        sa.UniqueConstraint('message_id', name=op.f('uq_mail_messages_message_id')),
    )
    op.create_index(op.f('ix_mail_messages_user_id'), 'mail_messages', ['user_id'])
    op.create_index('ix_mail_messages_unsent', 'mail_messages', ['created_at'],
                    postgresql_where=sa.text('sent_at IS NULL'))
    op.add_column('users', sa.Column('muted_notifications', postgresql.ARRAY(sa.String(length=32)),
                                     server_default='{}', nullable=False))
    op.add_column('credit_accounts', sa.Column('usage_alert_percent', sa.SmallInteger(),
                                               server_default=sa.text('0'), nullable=False))
    op.create_check_constraint(op.f('ck_credit_accounts_usage_alert_percent_known'), 'credit_accounts',
                               'usage_alert_percent IN (0, 80, 100)')
    # Accounts already past a line have crossed it before there was anyone to tell: no notice for the past.
    op.execute("UPDATE credit_accounts SET usage_alert_percent = CASE WHEN balance <= 0 THEN 0 "
               "WHEN credit_limit <= 0 OR balance >= credit_limit THEN 100 "
               "WHEN balance * 100 >= credit_limit * 80 THEN 80 ELSE 0 END")


def downgrade():
    op.drop_constraint(op.f('ck_credit_accounts_usage_alert_percent_known'), 'credit_accounts', type_='check')
    op.drop_column('credit_accounts', 'usage_alert_percent')
    op.drop_column('users', 'muted_notifications')
    op.drop_index('ix_mail_messages_unsent', table_name='mail_messages')
    op.drop_index(op.f('ix_mail_messages_user_id'), table_name='mail_messages')
    op.drop_table('mail_messages')
