"""7. The wholesaler's book aged: 10,000 accounts with 200,000 open items, the service, the HTML page and the API,
against a plain SQL aggregate over the same rows that knows nothing of past dates.

Measured in-process with the Flask test client, like section 5: server time, no network, round-robin.
"""

import time
from datetime import timedelta

from sqlalchemy import text

from app.extensions import db
from app.services import ageing, clock
from bench.common import QUICK, make_accounts, median, percentile, reset, timed_rounds, wholesaler_client
from bench.report_serving import _met
from tests.support.actors import acting_wholesaler

ACCOUNTS = 1_000 if QUICK else 10_000
ITEMS_PER_ACCOUNT = 20
REQUESTS = 5 if QUICK else 20
GOAL_MS = 500
#: What the plain aggregate does: bucket every open charge by today's days past due, then the page of the 50
#: largest totals. It cannot answer for a past date (no allocations, no cancellations looked at).
PLAIN_SQL = text("""
    SELECT credit_account_id,
           SUM(open_amount) FILTER (WHERE due_date >= :today) AS "current",
           SUM(open_amount) FILTER (WHERE :today - due_date BETWEEN 1 AND 30) AS "1-30",
           SUM(open_amount) FILTER (WHERE :today - due_date BETWEEN 31 AND 60) AS "31-60",
           SUM(open_amount) FILTER (WHERE :today - due_date BETWEEN 61 AND 90) AS "61-90",
           SUM(open_amount) FILTER (WHERE :today - due_date > 90) AS "90+",
           SUM(open_amount) AS total, SUM(SUM(open_amount)) OVER () AS book_total
    FROM open_items WHERE side = 'CHARGE' AND open_amount > 0
    GROUP BY credit_account_id ORDER BY total DESC, credit_account_id DESC LIMIT 50""")


def _load(wholesaler_id: int) -> None:
    """ITEMS_PER_ACCOUNT charges per account, one a week back over five months, 30 days' terms, every fourth
    half paid: every bucket holds some. Each charge is a ledger entry; balances match the items."""
    with db.engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, memo, created_at)
            SELECT c.id, 'ADJUSTMENT', 10 + (c.id * 7 + g * 13) % 190, 0, 'bulk', now() - g * interval '7 days'
            FROM credit_accounts c CROSS JOIN generate_series(1, :n) g WHERE c.wholesaler_id = :w"""),
            {"w": wholesaler_id, "n": ITEMS_PER_ACCOUNT})
        conn.execute(text("""
            INSERT INTO open_items (ledger_entry_id, credit_account_id, side, amount, open_amount, due_date, created_at)
            SELECT id, credit_account_id, 'CHARGE', amount, CASE WHEN id % 4 = 0 THEN amount / 2 ELSE amount END,
                   (created_at AT TIME ZONE 'UTC')::date + 30, created_at
            FROM ledger_entries WHERE memo = 'bulk'"""))
        conn.execute(text("""
            UPDATE credit_accounts c SET balance = i.owed, oldest_open_due = i.oldest
            FROM (SELECT credit_account_id, SUM(open_amount) AS owed, MIN(due_date) AS oldest FROM open_items
                  GROUP BY 1) i
            WHERE i.credit_account_id = c.id"""))
        conn.execute(text("ANALYZE"))


def run(app) -> dict:
    reset(app)
    targets = make_accounts(app, ACCOUNTS)
    wholesaler_id = targets[0]["wholesaler_id"]
    started = time.monotonic()
    with app.app_context():
        _load(wholesaler_id)
        items = db.session.execute(text("SELECT count(*) FROM open_items")).scalar()
        db.session.remove()
    load_seconds = time.monotonic() - started
    today = clock.business_date("UTC")
    past = today - timedelta(days=60)
    client, api_headers = wholesaler_client(app, wholesaler_id)
    cases = {"HTML page, today": ("/wholesaler/ageing?sort=-total", None),
             "API, today": ("/api/v1/ageing?sort=-total", api_headers),
             "API, 60 days ago": (f"/api/v1/ageing?sort=-total&as_of={past.isoformat()}", api_headers)}
    timings, sizes = timed_rounds(client, cases, REQUESTS)
    actor = acting_wholesaler(wholesaler_id)
    in_process = {"service, today": lambda: ageing.book_ageing(actor, today, sort="-total"),
                  "plain SQL aggregate, today": lambda: db.session.execute(PLAIN_SQL, {"today": today}).all()}
    with app.app_context():
        for name, call in in_process.items():
            timings[name] = []
            for round_ in range(REQUESTS + 2):
                begun = time.perf_counter()
                call()
                if round_ >= 2:
                    timings[name].append((time.perf_counter() - begun) * 1000)
            db.session.remove()
    baseline = median(timings["plain SQL aggregate, today"])
    results = {name: {"median_ms": median(t), "p90_ms": percentile(t, 90), "requests": len(t),
                      "ratio_to_plain_sql": median(t) / baseline, "bytes": sizes.get(name)}
               for name, t in timings.items()}
    return {"accounts": ACCOUNTS, "open_items": items, "load_seconds": load_seconds, "goal_ms": GOAL_MS,
            "cases": results, "measured": "in-process, Flask test client"}


def section(book: dict) -> list[str]:
    """Section 7 of BENCHMARKS.md."""
    lines = ["## 7. The book's ageing", "",
             f"One wholesaler with {book['accounts']:,} accounts and {book['open_items']:,} open charges (a week "
             "apart over five months, 30 days' terms, every fourth half paid), the page of the 50 largest totals "
             "with the book's totals. Server time measured in-process, from the request entering the app to the "
             "whole body built. The baseline is a plain SQL aggregate of the same open items by today's days past "
             "due; ours also answers as of a past date (what existed by then, less only what was paid by then). "
             f"Goal: median ≤ {book['goal_ms']} ms.", "",
             "| case | median ms | p90 ms | ratio to plain SQL | goal | body bytes | runs |",
             "|---|---|---|---|---|---|---|"]
    for name, case in book["cases"].items():
        verdict = "baseline" if name.startswith("plain") else _met(case["median_ms"] <= book["goal_ms"])
        size = f"{case['bytes']:,}" if case["bytes"] else "–"
        lines.append(f"| {name} | {case['median_ms']:.1f} | {case['p90_ms']:.1f} | {case['ratio_to_plain_sql']:.2f} "
                     f"| {verdict} | {size} | {case['requests']} |")
    return lines + [""]
