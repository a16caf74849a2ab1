"""Shared set-up: an app on its own database, accounts made with SQL, threads, percentiles."""

import os
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import flask_migrate
from sqlalchemy import text

from app import create_app
from app.config import Config
from app.extensions import db
from app.services.actors import SYSTEM

QUICK = os.environ.get("BENCH_QUICK") == "1"


class BenchConfig(Config):
    DATABASE_URL = os.environ.get("BENCH_DATABASE_URL")
    EMBEDDED_DATABASE_NAME = "credit_bench"
    SQLALCHEMY_ENGINE_OPTIONS = Config.SQLALCHEMY_ENGINE_OPTIONS | {"pool_size": 64, "max_overflow": 0,
                                                                     "pool_timeout": 60}


def bench_app():
    """The app on a fresh bench database (embedded, or BENCH_DATABASE_URL), schema from the migrations."""
    app = create_app(BenchConfig)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        flask_migrate.upgrade()
    return app


def reset(app) -> None:
    with app.app_context():
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def make_accounts(app, count: int, credit_limit: Decimal = Decimal("1000000000.00")) -> list[dict]:
    """``count`` retailers with one account each at one wholesaler, and a 1.00 product; returned as ids."""
    with app.app_context(), db.engine.begin() as conn:
        wholesaler_id = conn.execute(text(
            "INSERT INTO wholesalers (name) VALUES ('Bench wholesaler') RETURNING id")).scalar()
        product_id = conn.execute(text(
            "INSERT INTO products (wholesaler_id, sku, name, unit_price) VALUES (:w, 'B-1', 'Bench item', 1.00)"
            " RETURNING id"), {"w": wholesaler_id}).scalar()
        conn.execute(text(
            "INSERT INTO retailers (name) SELECT 'Bench retailer ' || g FROM generate_series(1, :n) g"),
            {"n": count})
        conn.execute(text(
            "INSERT INTO credit_accounts (retailer_id, wholesaler_id, credit_limit, currency, balance)"
            " SELECT id, :w, :limit, 'EUR', 0 FROM retailers ORDER BY id"),
            {"w": wholesaler_id, "limit": credit_limit})
        rows = conn.execute(text("SELECT id, retailer_id FROM credit_accounts ORDER BY id")).all()
    return [{"account_id": a, "retailer_id": r, "wholesaler_id": wholesaler_id, "product_id": product_id}
            for a, r in rows]


def run_for(seconds: float, threads: int, make_worker: Callable[[int], Callable[[], None]]) -> int:
    """Run each thread's worker in a loop for ``seconds``; return how many calls finished."""
    stop = time.monotonic() + seconds
    counts = [0] * threads
    barrier = threading.Barrier(threads)

    def loop(i):
        worker = make_worker(i)
        barrier.wait()
        while time.monotonic() < stop:
            worker()
            counts[i] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def make_api_tokens(app, targets: list[dict]) -> list[str]:
    """A retailer user for each target's retailer with one API token each, in the targets' order.

    The first token comes from the token service; the rest are made the same way (format, SHA-256
    digest) in one INSERT, since the service's one transaction per token takes ~10 s for 1,000.
    """
    from app.services import tokens as token_service

    with app.app_context():
        with db.engine.begin() as conn:
            # Nobody signs in as these users: the password hash is a placeholder that never verifies.
            users = dict(conn.execute(text(
                "INSERT INTO users (email, password_hash, role, retailer_id)"
                " SELECT 'bench-retailer-' || r || '@bench.example', '!', 'retailer', r"
                " FROM unnest(CAST(:retailers AS integer[])) r RETURNING retailer_id, id"),
                {"retailers": [t["retailer_id"] for t in targets]}).all())
        user_ids = [users[t["retailer_id"]] for t in targets]
        secrets_ = [token_service.issue_token(SYSTEM, user_id=user_ids[0], name="bench").secret]
        secrets_ += [token_service.TOKEN_MARK + secrets.token_urlsafe(32) for _ in user_ids[1:]]
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO api_tokens (user_id, prefix, token_digest, name)"
                " SELECT u, p, d, 'bench' FROM unnest(CAST(:users AS integer[]), CAST(:prefixes AS text[]),"
                " CAST(:digests AS text[])) AS t(u, p, d)"),
                {"users": user_ids[1:], "prefixes": [s[:token_service.PREFIX_LENGTH] for s in secrets_[1:]],
                 "digests": [token_service._digest(s) for s in secrets_[1:]]})
        for secret, user_id in ((secrets_[0], user_ids[0]), (secrets_[-1], user_ids[-1])):
            user = token_service.user_for_token(secret)
            if user is None or user.id != user_id:
                raise RuntimeError("a bench token does not authenticate its user")
        db.session.commit()
        db.session.remove()
    return secrets_


def wholesaler_client(app, wholesaler_id: int):
    """A test client signed in as a new user of the wholesaler, and the headers that carry its API token."""
    from app.models import User
    from app.services.tokens import issue_token

    with app.app_context():
        with db.engine.begin() as conn:
            user_id = conn.execute(text(
                "INSERT INTO users (email, password_hash, role, wholesaler_id)"
                " VALUES ('bench-wholesaler-' || :w || '@bench.example', '!', 'wholesaler', :w) RETURNING id"),
                {"w": wholesaler_id}).scalar()
        secret = issue_token(SYSTEM, user_id=user_id, name="bench").secret
        session_id = db.session.get(User, user_id).get_id()  # names the user and its session version
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:  # signed in as the wholesaler, as Flask-Login keeps it
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client, {"Authorization": f"Bearer {secret}"}


def timed_rounds(client, cases: dict, rounds: int, warm_up: int = 2) -> tuple[dict, dict]:
    """GET each case's ``(url, headers)`` round-robin (noise falls on all alike), ``warm_up`` rounds uncounted;
    returns each case's timings in ms and body size. The per-request log lines are silenced."""
    import contextlib

    timings: dict[str, list[float]] = {name: [] for name in cases}
    sizes: dict[str, int] = {}
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        for round_ in range(rounds + warm_up):
            for name, (url, headers) in cases.items():
                begun = time.perf_counter()
                response = client.get(url, headers=headers)
                body = response.get_data()
                elapsed = (time.perf_counter() - begun) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {url} answered {response.status_code}")
                sizes[name] = len(body)
                if round_ >= warm_up:
                    timings[name].append(elapsed)
    return timings, sizes
