"""8. The wholesaler's accounts page at 200 and at 50,000 accounts: the first page by name and by balance, a page
deep in the list, a search and the overdue-hold filter, each with the book's summary cards.

Measured in-process with the Flask test client, like section 5: server time, no network, round-robin.
"""

import re
import time

from sqlalchemy import text

from app.extensions import db
from bench.common import QUICK, make_accounts, median, percentile, reset, timed_rounds, wholesaler_client
from bench.report_serving import _met

SIZES = [200, 5_000] if QUICK else [200, 50_000]
REQUESTS = 5 if QUICK else 20
GOAL_MS, GOAL_RATIO = 100, 1.5


def _load(wholesaler_id: int) -> None:
    """Balances spread over the limits; every tenth account owes a charge 45 days past due (the hold's work)."""
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE credit_accounts SET credit_limit = 1000 + (id * 37) % 9000, "
                          "balance = (id * 53) % 1200 WHERE wholesaler_id = :w"), {"w": wholesaler_id})
        conn.execute(text("""
            INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, memo, created_at)
            SELECT id, 'ADJUSTMENT', balance, balance, 'bulk', now() - interval '75 days'
            FROM credit_accounts WHERE wholesaler_id = :w AND balance > 0"""), {"w": wholesaler_id})
        conn.execute(text("""
            INSERT INTO open_items (ledger_entry_id, credit_account_id, side, amount, open_amount, due_date, created_at)
            SELECT e.id, e.credit_account_id, 'CHARGE', e.amount, e.amount,
                   CASE WHEN e.credit_account_id % 10 = 0 THEN current_date - 45 ELSE current_date + 10 END,
                   e.created_at
            FROM ledger_entries e WHERE e.memo = 'bulk'"""))
        conn.execute(text("""
            UPDATE credit_accounts c SET oldest_open_due = i.due_date FROM open_items i
            WHERE i.credit_account_id = c.id"""))
        conn.execute(text("ANALYZE"))


def run(app) -> dict:
    results, started = {}, time.monotonic()
    for size in SIZES:
        reset(app)
        targets = make_accounts(app, size)
        wholesaler_id = targets[0]["wholesaler_id"]
        with app.app_context():
            _load(wholesaler_id)
            db.session.remove()
        client, _ = wholesaler_client(app, wholesaler_id)
        first = client.get("/wholesaler/?sort=-balance").get_data(as_text=True)
        deep = re.search(r'<a class="older" href="([^"]+)"', first)
        cases = {"first page, by name": ("/wholesaler/", None),
                 "first page, by balance": ("/wholesaler/?sort=-balance", None),
                 "second page, by balance": (deep.group(1).replace("&amp;", "&") if deep else "/wholesaler/", None),
                 "search a name": (f"/wholesaler/?q=retailer+{size // 2}", None),
                 "on overdue hold": ("/wholesaler/?show=on_hold", None)}
        timings, sizes = timed_rounds(client, cases, REQUESTS)
        results[size] = {name: {"median_ms": median(t), "p90_ms": percentile(t, 90), "bytes": sizes[name],
                                "requests": len(t)} for name, t in timings.items()}
    small, large = (results[s] for s in SIZES)
    for name, case in large.items():
        case["ratio_to_small"] = case["median_ms"] / small[name]["median_ms"]
    return {"sizes": SIZES, "goal_ms": GOAL_MS, "goal_ratio": GOAL_RATIO, "cases": results,
            "measured": "in-process, Flask test client", "seconds": time.monotonic() - started}


def section(listing: dict) -> list[str]:
    """Section 8 of BENCHMARKS.md."""
    small, large = listing["sizes"]
    lines = ["## 8. The accounts page at any book size", "",
             f"The wholesaler's accounts page with {small:,} and with {large:,} accounts (balances spread over the "
             "limits, every tenth account with a charge 45 days past due), 50 a page, keyset-paged by the sorted "
             "column and the id, with the summary cards from one aggregate query. Server time measured in-process. "
             f"Goals at {large:,}: median ≤ {listing['goal_ms']} ms and ≤ {listing['goal_ratio']} × the same page "
             f"at {small:,}.", "",
             f"| case | median ms at {small:,} | median ms at {large:,} | p90 ms at {large:,} | ratio | goal | "
             "body bytes |", "|---|---|---|---|---|---|---|"]
    for name, case in listing["cases"][large].items():
        met = case["median_ms"] <= listing["goal_ms"] and case["ratio_to_small"] <= listing["goal_ratio"]
        lines.append(f"| {name} | {listing['cases'][small][name]['median_ms']:.1f} | {case['median_ms']:.1f} | "
                     f"{case['p90_ms']:.1f} | {case['ratio_to_small']:.2f} | {_met(met)} | {case['bytes']:,} |")
    return lines + [""]
