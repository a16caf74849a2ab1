"""Fixtures: one PostgreSQL server per session, empty tables with real commits for every test."""

import functools
import re
import threading
import time
from decimal import Decimal

import flask_migrate
import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, text

from app import create_app
from app.auth.passwords import hash_password
from app.config import TestConfig
from app.embedded_db import drop_embedded_database
from app.extensions import db as _db
from app.models import CreditAccount, Product, Retailer, Role, User, Wholesaler

PASSWORD = "correct horse battery"


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
        tables = ", ".join(t.name for t in _db.metadata.sorted_tables)
        with _db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        yield _db
        _db.session.remove()


class IsolatedClient(FlaskClient):
    """Each request in an app context of its own, as in production: no ``g`` (and so no signed-in
    user) or database session is shared with the test or with other clients. Objects the test
    holds are not refreshed by a request: re-read them (``db.session.expire_all()``)."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            kwargs.setdefault("buffered", True)  # read streamed bodies while the context is open
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@functools.cache
def _password_hash(password: str) -> str:
    """Argon2id is slow on purpose; one hash per password serves the whole run."""
    return hash_password(password)


class Factory:
    """Builds committed rows with sensible defaults; keyword arguments override them."""

    def __init__(self, db):
        self.db = db
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def _save(self, obj):
        self.db.session.add(obj)
        self.db.session.commit()
        return obj

    def wholesaler(self, name=None, currency="EUR"):
        return self._save(Wholesaler(name=name or f"Wholesaler {self._next()}", currency=currency))

    def retailer(self, name=None):
        return self._save(Retailer(name=name or f"Retailer {self._next()}"))

    def product(self, wholesaler, unit_price="10.00", sku=None, active=True):
        n = self._next()
        return self._save(Product(wholesaler=wholesaler, sku=sku or f"SKU-{n}", name=f"Product {n}",
                                  unit_price=Decimal(unit_price), active=active))

    def account(self, retailer=None, wholesaler=None, credit_limit="1000.00", balance="0.00", **kw):
        wholesaler = wholesaler or self.wholesaler()
        return self._save(CreditAccount(
            retailer=retailer or self.retailer(), wholesaler=wholesaler,
            credit_limit=Decimal(credit_limit), balance=Decimal(balance),
            currency=wholesaler.currency, **kw))

    def user(self, role=Role.ADMIN, retailer=None, wholesaler=None, email=None, password=PASSWORD):
        return self._save(User(email=email or f"user{self._next()}@example.com",
                               password_hash=_password_hash(password), role=role,
                               retailer=retailer, wholesaler=wholesaler))


@pytest.fixture
def make(db):
    return Factory(db)


def csrf_token(client, url="/login") -> str:
    """The CSRF token a real browser would find in the page's form."""
    page = client.get(url, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', page).group(1)


class Auth:
    """Signs a test client in and out through the real forms, CSRF tokens included."""

    def __init__(self, client):
        self.client = client

    def login(self, user, password=PASSWORD):
        return self.client.post("/login", data={"email": user.email, "password": password,
                                                "csrf_token": csrf_token(self.client)})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")},
                                follow_redirects=False)


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


@pytest.fixture(autouse=True)
def rate_limits(app):
    """No sign-in attempt counted by an earlier test: the suite signs in far more than 20 a minute."""
    from app.extensions import limiter

    limiter.reset()


def crowd_ledger(db, account_id: int, entries: int = 20_000) -> None:
    """Give another account a long ledger and fresh statistics, so the planner's choice for one
    account's page is the one it makes in production, not a toss-up on a tiny table."""
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, memo)"
            " SELECT :a, 'ADJUSTMENT', 1.00, g, 'bulk' FROM generate_series(1, :n) g"),
            {"a": account_id, "n": entries})
        conn.execute(text("ANALYZE ledger_entries"))
