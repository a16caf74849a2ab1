"""Session versions: signing out and deactivation end every earlier session of a user.

Existing session cookies carry no version, so everyone signs in once more after this migration.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default=sa.text('1'), nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
