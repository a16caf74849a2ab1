"""Background jobs on the app's own PostgreSQL (procrastinate): deferred inside the write's transaction, run by
``flask worker``.

A job is deferred on the connection of the SQLAlchemy session that is writing, so it is part of that
transaction: a rolled-back write leaves no job, and a committed one leaves its job even if the process dies right
after COMMIT. The insert's trigger NOTIFYs the workers, which PostgreSQL delivers only on commit.
"""

import asyncio
import functools
import logging
import os
from collections.abc import Callable
from typing import Any

import procrastinate
from flask import Flask
from procrastinate.manager import JobManager
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger(__name__)

#: The tasks and the worker's connector: ``run_worker`` gives it a pool of its own.
queue = procrastinate.App(connector=procrastinate.PsycopgConnector(),
                          import_paths=["app.services.mail", "app.services.dunning", "app.services.webhooks",
                                        "app.services.statement_mail", "app.services.holds",
                                        "app.services.limits"])
#: Defers, in the web processes and in jobs alike, run on the writer's own (synchronous) connection, never on the
#: worker's asynchronous pool: a manager over a connector that is never opened.
_deferrer = JobManager(procrastinate.SyncPsycopgConnector())

#: A worker whose heartbeat is older than this is taken for dead, and the jobs it held run again (at least once:
#: a job it was in the middle of runs a second time). Workers beat three times as often. Read at import, as the
#: check's schedule is (WORKER_STALLED_SECONDS, from the environment).
STALLED_WORKER_SECONDS = max(1, int(os.environ.get("WORKER_STALLED_SECONDS", "30")))

#: The Flask app the running worker's jobs work in, each in its own app context (and so its own session).
_worker_app: Flask | None = None


def in_app_context(function: Callable) -> Callable:
    """Run a job's function in a fresh app context of the worker's app: its own session, removed afterwards."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        if _worker_app is None:
            raise RuntimeError("jobs run only in a worker started by app.jobs.run_worker")
        with _worker_app.app_context():
            try:
                return function(*args, **kwargs)
            finally:
                db.session.remove()

    return run


def defer(task: procrastinate.tasks.Task, **arguments: Any) -> None:
    """Defer ``task`` in the current transaction: it exists if, and once, the transaction commits."""
    connection = db.session.connection().connection.driver_connection
    _deferrer.defer_job(job=task.configure().make_new_job(**arguments), connection=connection)


def conninfo(app: Flask) -> str:
    """The libpq connection string of the app's database (the worker's own pool and LISTEN connection)."""
    with app.app_context():
        return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def run_worker(app: Flask, *, concurrency: int | None = None, wait: bool = True, **options: Any) -> None:
    """Run jobs until stopped (SIGINT or SIGTERM: the jobs in hand finish first); with ``wait=False``, until
    none is left that is due now (tests and one-off runs)."""
    global _worker_app
    _worker_app = app
    concurrency = concurrency or app.config["WORKER_CONCURRENCY"]

    async def work() -> None:
        with queue.replace_connector(procrastinate.PsycopgConnector(conninfo=conninfo(app))):
            async with queue.open_async():
                # Finished jobs are deleted: what they did is recorded in the app's own tables (a mail's sent_at).
                await queue.run_worker_async(concurrency=concurrency, wait=wait, delete_jobs="successful",
                                             install_signal_handlers=wait,
                                             update_heartbeat_interval=STALLED_WORKER_SECONDS / 3,
                                             stalled_worker_timeout=STALLED_WORKER_SECONDS, **options)

    asyncio.run(work())


#: Queue figures for /healthz and /metrics, in one query. A job's age is counted from when it became due: its
#: schedule (a retry's), or else its "deferred" event.
_FIGURES = text("""
    SELECT count(*) FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())) AS due,
           count(*) FILTER (WHERE status = 'todo' AND scheduled_at > now()) AS scheduled,
           count(*) FILTER (WHERE status = 'doing') AS running,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           coalesce(extract(epoch FROM now() - min(coalesce(scheduled_at, (
               SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id AND e.type = 'deferred')))
             FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now()))), 0)
             AS oldest_due_seconds
    FROM procrastinate_jobs j WHERE status IN ('todo', 'doing', 'failed')
""")
_MAIL_FIGURES = text("SELECT count(*) AS unsent, coalesce(sum(failed_attempts), 0) AS failed_attempts "
                     "FROM mail_messages WHERE sent_at IS NULL")


def queue_figures(connection) -> dict[str, float]:
    """Jobs due and waiting, scheduled for later (retries), running and failed for good, how long the oldest due
    job has waited (a worker that is down shows as a growing age), and the mails not yet sent with their failed
    attempts (an SMTP server that is down shows as a growing count)."""
    row, mail = connection.execute(_FIGURES).one(), connection.execute(_MAIL_FIGURES).one()
    return {"due": row.due, "scheduled": row.scheduled, "running": row.running, "failed": row.failed,
            "oldest_due_seconds": round(float(row.oldest_due_seconds), 3),
            "mail_unsent": mail.unsent, "mail_failed_attempts": int(mail.failed_attempts)}


@queue.periodic(cron=f"* * * * * */{min(STALLED_WORKER_SECONDS, 59)}")  # the sixth field: seconds
@queue.task(name="retry_stalled_jobs", queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Jobs left "doing" by a worker that died (killed, its machine lost) go back to the queue: looked for as often
    as a worker must beat to count as alive."""
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_WORKER_SECONDS):
        log.warning("job %s (%s) of a stalled worker runs again", job.id, job.task_name)
        await manager.retry_job(job)
