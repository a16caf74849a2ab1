"""The hot path, POST /api/v1/orders, profiled in-process with pyinstrument, and its database round trips.

The Flask test client drives the whole request (token check, body, place_order, logs, metrics), one
request after another, so the profile is one worker's view. Written to bench/results/: the call tree
and the flat self-time list as text. Also counted, per request, with SQLAlchemy events: statements,
pool check-outs (each one a pre-ping ``SELECT 1`` round trip), commits and rollbacks.
"""

import contextlib
import json
import os
import random
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

from pyinstrument import Profiler
from sqlalchemy import event, text

from app.extensions import db
from app.services.tokens import _digest
from bench import statement_costs
from bench.common import QUICK, make_accounts, make_api_tokens, reset

ACCOUNTS = 100
REQUESTS = 100 if QUICK else 500
#: Inclusive time of these functions, as a share of the whole request (they nest: shares overlap).
KEY_FUNCTIONS = {
    "authenticate": "token check (app/api/auth.py authenticate)",
    "user_for_token": "  of which the token lookup (services/tokens.py user_for_token)",
    "_note_use": "  of which last_used_at (services/tokens.py _note_use)",
    "json_body": "request body (api/bodies.py json_body)",
    "place_order": "place_order (services/orders.py), lock to commit included",
    "_priced_lines": "  of which pricing (_priced_lines)",
    "locked_transaction": "  of which the locked transaction (services/transactions.py)",
    "_find_by_key": "  of which the idempotency look-up (_find_by_key)",
    "_assert_read_committed": "  of which the isolation check",
    "finish_request": "request log line and HTTP metrics (observability/request_log.py)",
    "log_credit_call": "credit decision log line (observability/logs.py)",
    "record_credit_call": "credit metrics (observability/metrics.py)",
    "do_ping": "pool pre-ping (SELECT 1 on every check-out)",
}
_STDLIB = sysconfig.get_paths()["stdlib"]


def _bucket(path: str | None) -> str:
    """Which library a frame's file belongs to."""
    if not path:
        return "other"
    if "site-packages" in path:
        return path.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if path.startswith(str(Path(__file__).resolve().parent.parent / "app")):
        return "app (our code)"
    if path.startswith(_STDLIB):
        parts = path[len(_STDLIB):].strip("/").split("/")
        return "stdlib " + parts[0].removesuffix(".py")
    return "other"


def _shown(path: Path) -> str:
    root = Path(__file__).resolve().parent.parent
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _walk(frame, stack=()):
    yield frame, stack
    for child in frame.children:
        yield from _walk(child, (*stack, frame.function))


def summarise(root) -> dict:
    """Self time by library, and inclusive time of the key functions (outermost call only)."""
    total = root.time
    by_library: Counter = Counter()
    inclusive: Counter = Counter()
    for frame, stack in _walk(root):
        if frame.is_synthetic:
            continue  # pyinstrument's own "[self]" and similar markers: their time is in the parent's
        self_time = frame.time - sum(c.time for c in frame.children if not c.is_synthetic)
        by_library[_bucket(frame.file_path)] += self_time
        if frame.function in KEY_FUNCTIONS and frame.function not in stack:
            inclusive[frame.function] += frame.time
    return {"total_s": total,
            "by_library": [(name, t / total) for name, t in by_library.most_common(12)],
            "key_functions": [(KEY_FUNCTIONS[name], inclusive[name] / total) for name in KEY_FUNCTIONS
                              if inclusive[name]]}


def _count_round_trips(engine, post, requests: int = 10) -> tuple[dict, list[str]]:
    """Per request: statements, commits, rollbacks, pool check-outs (each one a pre-ping round trip)."""
    counts: Counter = Counter()
    statements: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        counts["statements"] += 1
        statements.append(" ".join(statement.split())[:100])

    listeners = [(engine, "before_cursor_execute", on_execute),
                 (engine, "commit", lambda conn: counts.update(["commits"])),
                 (engine, "rollback", lambda conn: counts.update(["rollbacks"])),
                 (engine.pool, "checkout", lambda *a: counts.update(["pool check-outs (each pre-pings)"]))]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        post(0)
        one_request = list(statements)
        for i in range(1, requests):
            post(i)
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)
    return {name: n / requests for name, n in sorted(counts.items())}, one_request


def run(app, results_dir: Path) -> dict:
    reset(app)
    targets = make_accounts(app, ACCOUNTS)
    tokens = make_api_tokens(app, targets)
    with app.app_context(), db.engine.begin() as conn:  # steady state: tokens used within the minute
        conn.execute(text("UPDATE api_tokens SET last_used_at = now()"))
    body = json.dumps({"wholesaler_id": targets[0]["wholesaler_id"],
                       "lines": [{"product_id": targets[0]["product_id"], "quantity": 1}]})
    client = app.test_client()
    rng = random.Random(0)

    def post(key: str):
        response = client.post("/api/v1/orders", data=body, content_type="application/json",
                               headers={"Authorization": f"Bearer {rng.choice(tokens)}",
                                        "Idempotency-Key": f"profile-{key}"})
        if response.status_code != 201:
            raise RuntimeError(f"POST /api/v1/orders answered {response.status_code}: {response.get_data()[:200]}")

    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):  # the per-request log lines
        for i in range(20):  # warm-up: imports, pool, statement caches
            post(f"warm-{i}")
        with app.app_context():  # left before the requests: each must push (and pop) its own context
            engine = db.engine
        per_request, one_request = _count_round_trips(engine, lambda i: post(f"count-{i}"))
        started, cpu = time.perf_counter(), time.process_time()  # first without the profiler's overhead
        for i in range(REQUESTS):
            post(f"plain-{i}")
        plain_wall, plain_cpu = time.perf_counter() - started, time.process_time() - cpu
        profiler = Profiler(interval=0.001)
        started = time.perf_counter()
        profiler.start()
        for i in range(REQUESTS):
            post(str(i))
        profiler.stop()
        wall = time.perf_counter() - started
    session = profiler.last_session
    tree = profiler.output_text(show_all=False, unicode=False, color=False)
    flat = profiler.output_text(flat=True, unicode=False, color=False)
    path = results_dir / "profile_orders.txt"
    path.write_text(f"POST /api/v1/orders, {REQUESTS} requests in-process ({wall:.1f} s with the profiler, "
                    f"{plain_wall:.1f} s without)\n\n== Flat: self time\n"
                    f"{flat}\n\n== Call tree\n{tree}")
    summary = summarise(session.root_frame())
    return {"requests": REQUESTS, "wall_s": wall, "ms_per_request_profiled": 1000 * wall / REQUESTS,
            "ms_per_request": 1000 * plain_wall / REQUESTS, "cpu_ms_per_request": 1000 * plain_cpu / REQUESTS,
            "per_request": per_request, "statements_of_one_request": one_request, "summary": summary,
            "profile_file": _shown(path),
            "statement_costs": statement_costs.run(app, targets[0], _digest(tokens[0])),
            "python": sys.version.split()[0]}
