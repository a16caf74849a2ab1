"""5. Ledger pages on an account with 1M entries: the wholesaler's HTML page and the API, first and deep pages.

Measured in-process with the Flask test client (no network, no gunicorn): the time from the request
entering the app to the whole body built — the server's time, what a proxy in front would add to.
The cases run round-robin, so noise from other processes falls on all of them alike.
"""

import contextlib
import os
import time

from sqlalchemy import text

from app.extensions import db
from app.models import User
from app.services.actors import SYSTEM
from app.services.tokens import issue_token
from bench.common import QUICK, make_accounts, median, percentile, reset
from bench.ledger_length import _bulk_load

ENTRIES = 100_000 if QUICK else 1_000_000
REQUESTS = 10 if QUICK else 50
#: The filter case reads the whole ledger each time: a few requests show it.
FILTERED, FILTERED_REQUESTS = "HTML, filtered by a type no entry has", 3 if QUICK else 5
GOAL_MS = 50
PAGE = 50  # both pages' default size


def _wholesaler(app, wholesaler_id: int) -> tuple[int, str]:
    with app.app_context():
        with db.engine.begin() as conn:
            user_id = conn.execute(text(
                "INSERT INTO users (email, password_hash, role, wholesaler_id)"
                " VALUES ('bench-wholesaler@bench.example', '!', 'wholesaler', :w) RETURNING id"),
                {"w": wholesaler_id}).scalar()
        secret = issue_token(SYSTEM, user_id=user_id, name="bench").secret
        db.session.remove()
    return user_id, secret


def _cases(app, account_id: int, token: str, deep_cursor: int) -> dict:
    api = f"/api/v1/credit-accounts/{account_id}/ledger"
    cases = {"API, first page": (api, True), "API, deep page": (f"{api}?after={deep_cursor}", True)}
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    if "wholesalers.account" in endpoints:
        page = f"/wholesaler/accounts/{account_id}"
        cases |= {"HTML, first page": (page, False), "HTML, deep page": (f"{page}?after={deep_cursor}", False),
                  # not a goal, and slow: a filter no entry matches reads the whole ledger (see the report)
                  FILTERED: (f"{page}?type=CREDIT", False)}
    return cases


def run(app) -> dict:
    reset(app)
    target = make_accounts(app, 1)[0]
    account_id = target["account_id"]
    started = time.monotonic()
    with app.app_context():
        _bulk_load(account_id, ENTRIES)
        oldest = db.session.execute(text("SELECT min(id) FROM ledger_entries WHERE credit_account_id = :a"),
                                    {"a": account_id}).scalar()
        db.session.remove()
    load_seconds = time.monotonic() - started
    user_id, token = _wholesaler(app, target["wholesaler_id"])
    deep_cursor = oldest + PAGE + 1  # the page of the 50 oldest entries, the last one
    cases = _cases(app, account_id, token, deep_cursor)

    client = app.test_client()
    with app.app_context():  # the session cookie names the user and its session version (User.get_id)
        session_id = db.session.get(User, user_id).get_id()
    with client.session_transaction() as session:  # signed in as the wholesaler, as Flask-Login keeps it
        session["_user_id"] = session_id
        session["_fresh"] = True
    headers = {"Authorization": f"Bearer {token}"}
    timings: dict[str, list[float]] = {name: [] for name in cases}
    sizes: dict[str, int] = {}
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):  # the per-request log lines
        for round_ in range(REQUESTS + 2):  # the first two rounds warm up caches and are not counted
            for name, (url, is_api) in cases.items():
                if name == FILTERED and round_ >= FILTERED_REQUESTS + 2:
                    continue
                begun = time.perf_counter()
                response = client.get(url, headers=headers if is_api else None)
                body = response.get_data()
                elapsed = (time.perf_counter() - begun) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {url} answered {response.status_code}")
                sizes[name] = len(body)
                if round_ >= 2:
                    timings[name].append(elapsed)
    results = {name: {"median_ms": median(t), "p90_ms": percentile(t, 90), "requests": len(t),
                      "bytes": sizes[name], "goal": name != FILTERED}
               for name, t in timings.items()}
    return {"entries": ENTRIES, "load_seconds": load_seconds, "deep_cursor": deep_cursor, "goal_ms": GOAL_MS,
            "html_page": any(name.startswith("HTML") for name in results), "cases": results,
            "measured": "in-process, Flask test client"}
