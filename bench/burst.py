"""3. Bursts of concurrent orders that all fit on one account: our lock policy beside the seed's."""

import threading
import time

import psycopg
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import CreditAccount
from app.services import orders
from app.services.errors import CreditAccountNotFound, MaxRetriesExceeded
from app.services.transactions import locked_transaction
from bench.common import QUICK, make_accounts, median, percentile, reset
from tests.support.actors import acting_retailer

SIZES = [10, 50] if QUICK else [10, 50, 200]
RUNS = 1 if QUICK else 3


def seed_locked_transaction(operation, work, *, attempts: int = 3, first_pause: float = 0.05, **account_key):
    """The seed's policy, for comparison only: NOWAIT, 3 attempts, pauses of 50 ms then 100 ms."""
    session = db.session
    query = (select(CreditAccount).filter_by(**account_key).with_for_update(nowait=True, key_share=True)
             .execution_options(populate_existing=True))
    for attempt in range(attempts):
        try:
            account = session.scalars(query).one_or_none()
        except OperationalError as error:
            session.rollback()
            if not isinstance(error.orig, psycopg.errors.LockNotAvailable) or attempt == attempts - 1:
                raise MaxRetriesExceeded() from None
            time.sleep(first_pause * 2 ** attempt)
            continue
        if account is None:
            raise CreditAccountNotFound()
        try:
            result = work(account)
            session.commit()
            return result
        except BaseException:
            session.rollback()
            raise
    raise MaxRetriesExceeded()


def _burst(app, target: dict, size: int) -> dict:
    barrier = threading.Barrier(size)
    outcomes: list[tuple[str, float]] = []

    def one():
        with app.app_context():
            barrier.wait()
            started = time.perf_counter()
            try:
                orders.place_order(acting_retailer(target["retailer_id"]), wholesaler_id=target["wholesaler_id"],
                                   lines=[(target["product_id"], 1)])
                outcome = "OK"
            except MaxRetriesExceeded:
                outcome = "MAX_RETRIES_EXCEEDED"
            outcomes.append((outcome, (time.perf_counter() - started) * 1000))
            db.session.remove()

    threads = [threading.Thread(target=one) for _ in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies = [ms for _, ms in outcomes]
    return {"rejected": sum(o != "OK" for o, _ in outcomes), "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99)}


def run(app) -> dict:
    results = {}
    for policy, locker in (("ours", locked_transaction), ("seed: 3 attempts", seed_locked_transaction)):
        orders.locked_transaction = locker  # the same order code, only the lock policy differs
        try:
            for size in SIZES:
                runs = []
                for _ in range(RUNS):
                    reset(app)
                    runs.append(_burst(app, make_accounts(app, 1)[0], size))
                results[f"{policy}, {size}"] = {
                    "policy": policy, "orders": size, "runs": RUNS,
                    "rejected_median": median([r["rejected"] for r in runs]),
                    "p50_ms": median([r["p50_ms"] for r in runs]), "p99_ms": median([r["p99_ms"] for r in runs])}
        finally:
            orders.locked_transaction = locked_transaction
    return results
