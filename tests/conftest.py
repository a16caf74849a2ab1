"""Fixtures: one PostgreSQL server per session, empty tables with real commits for every test."""

import logging
import threading
import time

import flask_migrate
import pytest
from sqlalchemy import event, text

from app import create_app
from app.config import TestConfig
from app.embedded_db import drop_embedded_database
from app.extensions import db as _db
from tests.support.auth import Auth
from tests.support.factory import Factory
from tests.support.isolated_client import IsolatedClient

#: The job queue's tables (migration 0011), which the models do not map.
JOB_QUEUE_TABLES = ["procrastinate_jobs", "procrastinate_events", "procrastinate_periodic_defers",
                    "procrastinate_workers"]


@pytest.fixture(scope="session")
def app():
    """The app on the embedded server, or on TEST_DATABASE_URL; schema built by the migrations."""
    app = create_app(TestConfig)
    app.test_client_class = IsolatedClient
    with app.app_context():
        with _db.engine.begin() as conn:  # start from nothing, whatever an earlier run left
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        flask_migrate.upgrade()
        _db.engine.dispose()
    yield app
    if not app.config["DATABASE_URL"]:  # this run's own database on the embedded server
        with app.app_context():
            _db.engine.dispose()
        drop_embedded_database(app.instance_path, app.config["EMBEDDED_DATABASE_NAME"])


@pytest.fixture(autouse=True)
def db(app):
    """An app context over empty tables; the test's commits are real and seen by every connection."""
    with app.app_context():
        tables = ", ".join([t.name for t in _db.metadata.sorted_tables] + JOB_QUEUE_TABLES)
        with _db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        yield _db
        _db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(db):
    return Factory(db)


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def in_parallel(app):
    """Run ``fn(i)`` for each i in range(n) on its own thread, app context and connection, all
    released at once by a barrier; returns each call's result or the exception it raised."""

    def run(fn, n):
        barrier = threading.Barrier(n)
        results: list = [None] * n

        def worker(i):
            with app.app_context():
                barrier.wait()
                try:
                    results[i] = fn(i)
                except Exception as error:  # the caller asserts on outcomes, errors included
                    results[i] = error
                finally:
                    _db.session.remove()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        return results

    return run


@pytest.fixture
def slow_flushes(app):
    """Every flush waits 50 ms, widening the window between a decision and its write: a check that does
    not hold the account's lock (or look again under it) would now let two concurrent writers overlap."""

    def pause(session, context, instances):
        time.sleep(0.05)

    event.listen(_db.session.registry().__class__, "before_flush", pause)
    yield
    event.remove(_db.session.registry().__class__, "before_flush", pause)


@pytest.fixture
def quiet_credit_log():
    """A JSON line per credit decision would bury the figures: only warnings while these run. Not autouse (the
    observability tests read those lines): the modules that print figures ask for it with ``usefixtures``."""
    logger = logging.getLogger("app.credit")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.fixture(autouse=True)
def rate_limits(app):
    """No sign-in attempt counted by an earlier test: the suite signs in far more than 20 a minute."""
    from app.extensions import limiter

    limiter.reset()


@pytest.fixture
def smtp(app):
    """A real SMTP server on 127.0.0.1 for this test, and the app's mail settings pointed at it."""
    from tests.support.smtp import SmtpServer

    server = SmtpServer().start()
    saved = {name: app.config[name] for name in server.settings()}
    app.config.update(server.settings())
    yield server
    app.config.update(saved)
    server.stop()


@pytest.fixture
def run_jobs(app):
    """Run a real worker until no job is due: ``run_jobs()`` after the writes whose jobs a test wants done. On a
    thread of its own, as the worker has its own event loop (the browser tests' may be running on this one). Its
    periodic jobs are not deferred: whether a quarter hour has just struck must not change what a test sees (a test
    defers one itself to run it)."""
    from app import jobs

    def run():
        failure = []
        periodic, jobs.queue.periodic_registry.periodic_tasks = jobs.queue.periodic_registry.periodic_tasks, {}

        def work():
            try:
                jobs.run_worker(app, concurrency=1, wait=False)
            except BaseException as error:  # re-raised on the test's thread
                failure.append(error)

        thread = threading.Thread(target=work)
        thread.start()
        thread.join(timeout=60)
        jobs.queue.periodic_registry.periodic_tasks = periodic
        assert not thread.is_alive(), "the worker did not finish the due jobs within 60 s"
        if failure:
            raise failure[0]

    return run
