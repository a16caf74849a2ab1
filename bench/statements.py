"""9. A statement of account of 10,000 entries: read from the ledger, and rendered as a PDF, each in a fresh process
(so its peak memory is the statement's, not the other sections'). Goal: ≤ 5 s and ≤ 300 MB for the PDF, from
nothing to bytes.

The month's entries are bulk-loaded: three charges of 10.00 then a payment of 30.00 that paid them, over and over,
so a quarter of the lines carry what they paid.
"""

import io
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date

from pypdf import PdfReader
from sqlalchemy import text

from app import create_app
from app.extensions import db
from bench.common import QUICK, BenchConfig, make_accounts, median, reset
from bench.report_serving import _met

ENTRIES = 2_000 if QUICK else 10_000
RUNS = 1 if QUICK else 3
GOAL_SECONDS, GOAL_MB = 5.0, 300
PERIOD = (date(2026, 11, 1), date(2026, 11, 30))


def _load(account_id: int) -> None:
    """ENTRIES entries in November 2026, with their open items and allocations."""
    with db.engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, memo, created_at)
            SELECT :a, CASE WHEN n % 4 = 0 THEN 'CREDIT' ELSE 'ADJUSTMENT' END,
                   CASE WHEN n % 4 = 0 THEN 30 ELSE 10 END, 10 * (n % 4),
                   CASE WHEN n % 4 = 0 THEN 'Transfer ' || n ELSE 'Delivery ' || n END,
                   timestamptz '2026-11-01 08:00+00' + (n * interval '1 second') * (2500000 / :entries)
            FROM generate_series(1, :entries) n"""), {"a": account_id, "entries": ENTRIES})
        conn.execute(text("""
            INSERT INTO open_items (ledger_entry_id, credit_account_id, side, amount, open_amount, due_date,
                                    created_at)
            SELECT id, credit_account_id, CASE WHEN type = 'CREDIT' THEN 'CREDIT' ELSE 'CHARGE' END,
                   amount, 0, CASE WHEN type = 'CREDIT' THEN NULL ELSE (created_at + interval '30 days')::date END,
                   created_at
            FROM ledger_entries WHERE credit_account_id = :a"""), {"a": account_id})
        conn.execute(text("""
            INSERT INTO allocations (credit_account_id, charge_entry_id, credit_entry_id, amount, made_by_entry_id,
                                     created_at)
            SELECT c.credit_account_id, c.id, p.id, 10, p.id, p.created_at
            FROM ledger_entries p JOIN ledger_entries c ON c.credit_account_id = p.credit_account_id
                 AND c.id BETWEEN p.id - 3 AND p.id - 1
            WHERE p.credit_account_id = :a AND p.type = 'CREDIT'"""), {"a": account_id})
        conn.execute(text("ANALYZE"))


def run(app) -> dict:
    started = time.monotonic()
    reset(app)
    [target] = make_accounts(app, 1)
    with app.app_context():
        _load(target["account_id"])
        url = db.engine.url.render_as_string(hide_password=False)
        db.session.remove()
    runs = {what: [_child(url, target["account_id"], what) for _ in range(RUNS)] for what in ("read", "pdf")}
    result = {what: {"seconds_median": median([r["seconds"] for r in found]),
                     "peak_mb_max": max(r["peak_mb"] for r in found), "runs": len(found)}
              for what, found in runs.items()}
    result["pdf"] |= {"pages": runs["pdf"][0]["pages"], "bytes": runs["pdf"][0]["bytes"]}
    return {"entries": ENTRIES, "goal_seconds": GOAL_SECONDS, "goal_mb": GOAL_MB, **result,
            "seconds": time.monotonic() - started}


def _child(url: str, account_id: int, what: str) -> dict:
    answer = subprocess.run([sys.executable, "-m", "bench.statements", str(account_id), what], check=True,
                            capture_output=True, text=True, env=os.environ | {"BENCH_DATABASE_URL": url})
    return json.loads(answer.stdout.strip().splitlines()[-1])


def _measure(account_id: int, what: str) -> dict:
    """In this fresh process: the statement read (and drawn, for "pdf"); time from the app being up."""
    app = create_app(BenchConfig)
    with app.app_context():
        from app.models import CreditAccount
        from app.services import statements
        from app.statement_pdf import statement_pdf

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        shown = statements.statement_of_account(db.session.get(CreditAccount, account_id), *PERIOD)
        document = statement_pdf(shown) if what == "pdf" else b""
        seconds = time.perf_counter() - started
        if len(shown.lines) != ENTRIES:
            raise RuntimeError(f"the statement has {len(shown.lines)} lines, not {ENTRIES}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pages = len(PdfReader(io.BytesIO(document)).pages) if document else 0
    return {"seconds": seconds, "peak_mb": peak / 1024, "app_mb": before / 1024, "bytes": len(document),
            "pages": pages}


def section(shown: dict) -> list[str]:
    """Section 9 of BENCHMARKS.md."""
    pdf = shown["pdf"]
    met = pdf["seconds_median"] <= shown["goal_seconds"] and pdf["peak_mb_max"] <= shown["goal_mb"]
    return ["## 9. A statement of account of 10,000 entries", "",
            f"One month of {shown['entries']:,} entries on one account (three charges, then the payment that paid "
            "them), read and drawn in a fresh process each run; seconds from the app being up to the PDF's bytes, "
            "and the process's peak resident memory (the app's own included). Goal: ≤ "
            f"{shown['goal_seconds']:.0f} s and ≤ {shown['goal_mb']} MB for the PDF.", "",
            "| what | seconds (median) | peak MB | goal |", "|---|---|---|---|",
            f"| read the statement | {shown['read']['seconds_median']:.2f} | {shown['read']['peak_mb_max']:.0f} | |",
            f"| read it and draw the PDF ({pdf['pages']:,} pages, {pdf['bytes']:,} bytes) | "
            f"{pdf['seconds_median']:.2f} | {pdf['peak_mb_max']:.0f} | {_met(met)} |", ""]


if __name__ == "__main__":
    print(json.dumps(_measure(int(sys.argv[1]), sys.argv[2])))
