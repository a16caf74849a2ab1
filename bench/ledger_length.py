"""2. Order latency on accounts that already hold 0 … 1M ledger entries and up to 10,000 open items (under the
overdue hold, which reads them in every decision), beside the seed's SUM-of-entries balance."""

import time

from sqlalchemy import text

from app.extensions import db
from app.services.orders import place_order
from bench.common import QUICK, make_accounts, median, reset
from tests.support.actors import acting_retailer
from tests.support.ledger import crowd_ledger

SIZES = [0, 10_000, 100_000] if QUICK else [0, 10_000, 100_000, 1_000_000]
ORDERS = 30 if QUICK else 200
SUM_QUERIES = 5 if QUICK else 20
#: Charges still open on a loaded account (the rest are settled): the overdue check reads only these.
OPEN_ITEMS = 10_000


def _sum_balance_ms(account_id: int) -> float:
    """The seed's design: the balance is never stored, so every check sums the account's entries."""
    timings = []
    with db.engine.connect() as conn:
        for _ in range(SUM_QUERIES):
            started = time.perf_counter()
            conn.execute(text(
                "SELECT COALESCE(SUM(CASE WHEN type IN ('DEBIT', 'ADJUSTMENT') THEN amount ELSE -amount END), 0)"
                " FROM ledger_entries WHERE credit_account_id = :a"), {"a": account_id}).scalar()
            timings.append((time.perf_counter() - started) * 1000)
    return median(timings)


def run(app) -> dict:
    reset(app)
    targets = make_accounts(app, len(SIZES))
    results = {}
    with app.app_context():
        for size, target in zip(SIZES, targets, strict=True):
            crowd_ledger(db, target["account_id"], size, open_items=OPEN_ITEMS)
        for size, target in zip(SIZES, targets, strict=True):
            timings = []
            for _ in range(ORDERS):
                started = time.perf_counter()
                place_order(acting_retailer(target["retailer_id"]), wholesaler_id=target["wholesaler_id"],
                            lines=[(target["product_id"], 1)])
                timings.append((time.perf_counter() - started) * 1000)
                db.session.remove()
            results[size] = {"order_ms_median": median(timings), "sum_balance_ms_median":
                             _sum_balance_ms(target["account_id"]), "orders": ORDERS,
                             "open_items": min(size, OPEN_ITEMS)}
    base = results[0]["order_ms_median"]
    for figures in results.values():
        figures["ratio_to_empty"] = figures["order_ms_median"] / base
    return results
