"""5. Ledger pages on an account with 1M entries: the wholesaler's HTML page and the API, first and deep pages.

Measured in-process with the Flask test client (no network, no gunicorn): the time from the request
entering the app to the whole body built — the server's time, what a proxy in front would add to.
The cases run round-robin, so noise from other processes falls on all of them alike.
"""

import time

from sqlalchemy import text

from app.extensions import db
from bench.common import QUICK, make_accounts, median, percentile, reset, timed_rounds, wholesaler_client
from tests.support.ledger import crowd_ledger

ENTRIES = 100_000 if QUICK else 1_000_000
REQUESTS = 10 if QUICK else 50
#: The filter case reads the whole ledger each time: a few requests show it.
FILTERED, FILTERED_REQUESTS = "HTML, filtered by a type no entry has", 3 if QUICK else 5
GOAL_MS = 50
PAGE = 50  # both pages' default size


def _cases(app, account_id: int, api_headers: dict, deep_cursor: int) -> tuple[dict, dict]:
    """The goal's cases, and the filtered one (run apart, fewer times)."""
    api = f"/api/v1/credit-accounts/{account_id}/ledger"
    cases = {"API, first page": (api, api_headers), "API, deep page": (f"{api}?after={deep_cursor}", api_headers)}
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    if "wholesalers.account" not in endpoints:
        return cases, {}
    page = f"/wholesaler/accounts/{account_id}"
    cases |= {"HTML, first page": (page, None), "HTML, deep page": (f"{page}?after={deep_cursor}", None)}
    # not a goal, and slow: a filter no entry matches reads the whole ledger (see the report)
    return cases, {FILTERED: (f"{page}?type=CREDIT", None)}


def run(app) -> dict:
    reset(app)
    target = make_accounts(app, 1)[0]
    account_id = target["account_id"]
    started = time.monotonic()
    with app.app_context():
        crowd_ledger(db, account_id, ENTRIES)
        oldest = db.session.execute(text("SELECT min(id) FROM ledger_entries WHERE credit_account_id = :a"),
                                    {"a": account_id}).scalar()
        db.session.remove()
    load_seconds = time.monotonic() - started
    client, api_headers = wholesaler_client(app, target["wholesaler_id"])
    deep_cursor = oldest + PAGE + 1  # the page of the 50 oldest entries, the last one
    cases, filtered = _cases(app, account_id, api_headers, deep_cursor)
    timings, sizes = timed_rounds(client, cases, REQUESTS)
    if filtered:
        more_timings, more_sizes = timed_rounds(client, filtered, FILTERED_REQUESTS)
        timings, sizes = timings | more_timings, sizes | more_sizes
    results = {name: {"median_ms": median(t), "p90_ms": percentile(t, 90), "requests": len(t),
                      "bytes": sizes[name], "goal": name != FILTERED}
               for name, t in timings.items()}
    return {"entries": ENTRIES, "load_seconds": load_seconds, "deep_cursor": deep_cursor, "goal_ms": GOAL_MS,
            "html_page": any(name.startswith("HTML") for name in results), "cases": results,
            "measured": "in-process, Flask test client"}
