"""Statements by mail: a wholesaler's choice to mail each retailer its monthly statement of account, the months
sent per credit line, and an attachment on a mail.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('wholesalers', sa.Column('statements_by_mail_since', sa.DateTime(timezone=True), nullable=True))
    op.add_column('mail_messages', sa.Column('attachment_name', sa.String(length=200), nullable=True))
    op.add_column('mail_messages', sa.Column('attachment', sa.LargeBinary(), nullable=True))
    op.create_table(
        'statements_sent',
        sa.Column('credit_account_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('recipients', sa.SmallInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['credit_account_id'], ['credit_accounts.id'],
                                name=op.f('fk_statements_sent_credit_account_id_credit_accounts')),
        sa.PrimaryKeyConstraint('credit_account_id', 'period_start', name=op.f('pk_statements_sent')),
    )


def downgrade():
    op.drop_table('statements_sent')
    op.drop_column('mail_messages', 'attachment')
    op.drop_column('mail_messages', 'attachment_name')
    op.drop_column('wholesalers', 'statements_by_mail_since')
