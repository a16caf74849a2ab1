"""10. Order latency on an account with 1,000 live credit holds beside one with none, and with 1,000 holds of which
some have expired unrecorded (each decision then sums the live ones), orders alternated between them."""

import time

from sqlalchemy import text

from app.extensions import db
from app.services import clock
from app.services.orders import place_order
from bench.common import QUICK, make_accounts, median, reset
from bench.report_serving import _met
from tests.support.actors import acting_retailer

HOLDS = 1_000
ORDERS = 60 if QUICK else 400
GOAL_RATIO = 1.2
CASES = ("none", "live", "some expired")


def _load_holds(conn, target: dict, *, expired: int) -> None:
    """``HOLDS`` ACTIVE holds of 1.00 on the account, the first ``expired`` of them past their expiry, and the
    account's kept figures as the hold operations keep them."""
    now = clock.now()
    conn.execute(text("""
        INSERT INTO credit_holds (credit_account_id, retailer_id, wholesaler_id, status, amount, currency, expires_at,
                                  created_at)
        SELECT :a, :r, :w, 'ACTIVE', 1.00, 'EUR',
               CASE WHEN g <= :expired THEN :now - interval '1 minute' ELSE :now + interval '1 day' END,
               :now - interval '1 hour'
        FROM generate_series(1, :n) g"""), {"a": target["account_id"], "r": target["retailer_id"],
                                           "w": target["wholesaler_id"], "n": HOLDS, "expired": expired, "now": now})
    conn.execute(text("""
        UPDATE credit_accounts SET held_amount = h.amount, held_until = h.until
        FROM (SELECT sum(amount) AS amount, min(expires_at) AS until FROM credit_holds
              WHERE credit_account_id = :a AND status = 'ACTIVE') h WHERE id = :a"""), {"a": target["account_id"]})


def run(app) -> dict:
    reset(app)
    targets = dict(zip(CASES, make_accounts(app, len(CASES)), strict=True))
    with app.app_context(), db.engine.begin() as conn:
        _load_holds(conn, targets["live"], expired=0)
        _load_holds(conn, targets["some expired"], expired=HOLDS // 10)
    timings: dict[str, list[float]] = {case: [] for case in CASES}
    with app.app_context():
        for _ in range(ORDERS):
            for case in CASES:  # alternated, so drift on the machine falls on every case alike
                target = targets[case]
                started = time.perf_counter()
                place_order(acting_retailer(target["retailer_id"]), wholesaler_id=target["wholesaler_id"],
                            lines=[(target["product_id"], 1)])
                timings[case].append((time.perf_counter() - started) * 1000)
                db.session.remove()
    base = median(timings["none"])
    return {"holds": HOLDS, "orders": ORDERS, "goal_ratio": GOAL_RATIO,
            "cases": {case: {"order_ms_median": median(t), "ratio": median(t) / base} for case, t in timings.items()}}


def section(held: dict) -> list[str]:
    """Section 10 of BENCHMARKS.md."""
    cases = held["cases"]
    met = cases["live"]["ratio"] <= held["goal_ratio"]
    return ["## 10. Orders beside 1,000 credit holds", "",
            f"Median latency of placing an order on an account with {held['holds']:,} live holds, beside one with "
            "none, orders alternated between them. The account keeps its held amount and earliest expiry under its "
            "lock, so while no hold has expired an order reads no hold at all; once one has expired and the expiry "
            "job (every minute) has not yet recorded it, each decision sums the live holds through their index "
            "(the last row). Goal: live / none ≤ "
            f"{held['goal_ratio']}.", "",
            "| holds on the account | order ms (median) | ratio to none | goal |", "|---|---|---|---|",
            f"| none | {cases['none']['order_ms_median']:.2f} | 1.00 | |",
            f"| {held['holds']:,} live | {cases['live']['order_ms_median']:.2f} | {cases['live']['ratio']:.2f} | "
            f"{_met(met)} |",
            f"| {held['holds']:,}, a tenth expired unrecorded | {cases['some expired']['order_ms_median']:.2f} | "
            f"{cases['some expired']['ratio']:.2f} | |", ""]
