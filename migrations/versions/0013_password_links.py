"""Password links: invitations and password resets, each a single-use link with an expiry.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'password_links',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('token_digest', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('invitation', 'reset')", name=op.f('ck_password_links_purpose_known')),
        sa.CheckConstraint("token_digest ~ '^[0-9a-f]{64}$'", name=op.f('ck_password_links_digest_is_sha256_hex')),
        sa.CheckConstraint('expires_at > created_at', name=op.f('ck_password_links_expires_after_created')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_password_links_created_by_users')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_links_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_password_links')),
        sa.UniqueConstraint('token_digest', name=op.f('uq_password_links_token_digest')),
    )
    op.create_index(op.f('ix_password_links_user_id'), 'password_links', ['user_id'])


def downgrade():
    op.drop_index(op.f('ix_password_links_user_id'), table_name='password_links')
    op.drop_table('password_links')
