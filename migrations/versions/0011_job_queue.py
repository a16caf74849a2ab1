"""The job queue's tables and functions (procrastinate), in the app's own database.

The schema is the one shipped with the pinned procrastinate release. Upgrading procrastinate means a new
migration that runs the release's own SQL migrations (procrastinate/sql/migrations) between the two versions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""
from alembic import op
from procrastinate.schema import SchemaManager

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # On the driver's connection: the schema is many statements, with % and :: that a bound text() would parse.
    op.get_bind().connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade():
    op.execute("DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
               "procrastinate_workers CASCADE")
    op.execute("""
        DO $$
        DECLARE f regprocedure;
        BEGIN
          FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
            EXECUTE 'DROP FUNCTION ' || f;
          END LOOP;
        END $$""")
    op.execute("DROP TYPE procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status")
