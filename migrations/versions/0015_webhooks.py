"""Webhooks: endpoints of wholesalers and retailers, the events written for them, one delivery per event and
endpoint.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wholesaler_id', sa.Integer(), nullable=True),
        sa.Column('retailer_id', sa.Integer(), nullable=True),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('events', postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('previous_secret', sa.String(length=100), nullable=True),
        sa.Column('previous_secret_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('(wholesaler_id IS NULL) <> (retailer_id IS NULL)',
                           name=op.f('ck_webhook_endpoints_one_owner')),
        sa.CheckConstraint("url ~ '^https?://'", name=op.f('ck_webhook_endpoints_http_url')),
        sa.CheckConstraint('cardinality(events) > 0', name=op.f('ck_webhook_endpoints_some_events')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_webhook_endpoints_created_by_users')),
        sa.ForeignKeyConstraint(['retailer_id'], ['retailers.id'],
                                name=op.f('fk_webhook_endpoints_retailer_id_retailers')),
        sa.ForeignKeyConstraint(['wholesaler_id'], ['wholesalers.id'],
                                name=op.f('fk_webhook_endpoints_wholesaler_id_wholesalers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    )
    op.create_index(op.f('ix_webhook_endpoints_retailer_id'), 'webhook_endpoints', ['retailer_id'])
    op.create_index(op.f('ix_webhook_endpoints_wholesaler_id'), 'webhook_endpoints', ['wholesaler_id'])
    op.create_table(
        'webhook_events',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('event_id', sa.String(length=40), nullable=False),
        sa.Column('endpoint_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_latency_ms', sa.Integer(), nullable=True),
        sa.Column('last_response', sa.Text(), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('given_up_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'],
                                name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints')),
        sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'],
                                name=op.f('fk_webhook_deliveries_event_id_webhook_events')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint('event_id', 'endpoint_id', name=op.f('uq_webhook_deliveries_event_id_endpoint_id')),
    )
    op.create_index('ix_webhook_deliveries_endpoint', 'webhook_deliveries', ['endpoint_id', 'id'])


def downgrade():
    op.drop_index('ix_webhook_deliveries_endpoint', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_events')
    op.drop_index(op.f('ix_webhook_endpoints_wholesaler_id'), table_name='webhook_endpoints')
    op.drop_index(op.f('ix_webhook_endpoints_retailer_id'), table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')
