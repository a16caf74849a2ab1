"""1. The credit reservation through the service against the same statements hand-written in psycopg."""

import random

import psycopg
from sqlalchemy.engine import make_url

from app.extensions import db
from app.services.orders import place_order
from bench.common import QUICK, make_accounts, median, reset, run_for
from tests.support.actors import acting_retailer

THREADS = 8
SECONDS = 2.0 if QUICK else 5.0
RUNS = 1 if QUICK else 3

_LOCK_NOWAIT = ("SELECT id, credit_limit, balance, status FROM credit_accounts"
                " WHERE retailer_id = %s AND wholesaler_id = %s FOR NO KEY UPDATE NOWAIT")
_LOCK_WAIT = ("SELECT id, credit_limit, balance, status FROM credit_accounts"
              " WHERE retailer_id = %s AND wholesaler_id = %s FOR NO KEY UPDATE")


def raw_order(conn: psycopg.Connection, target: dict) -> None:
    """Price, lock, check, insert order + line + DEBIT, update the balance, commit: by hand."""
    price = conn.execute("SELECT unit_price FROM products WHERE id = %s AND wholesaler_id = %s AND active",
                         (target["product_id"], target["wholesaler_id"])).fetchone()[0]
    try:
        account = conn.execute(_LOCK_NOWAIT, (target["retailer_id"], target["wholesaler_id"])).fetchone()
    except psycopg.errors.LockNotAvailable:
        conn.rollback()
        conn.execute("SET LOCAL lock_timeout = 2000")
        account = conn.execute(_LOCK_WAIT, (target["retailer_id"], target["wholesaler_id"])).fetchone()
    account_id, limit, balance, status = account
    if status != "ACTIVE" or balance + price > limit:
        raise RuntimeError("refused")
    order_id = conn.execute(
        "INSERT INTO orders (retailer_id, wholesaler_id, credit_account_id, status, total_amount, currency, due_date)"
        " VALUES (%s, %s, %s, 'CONFIRMED', %s, 'EUR', CURRENT_DATE + 30) RETURNING id",
        (target["retailer_id"], target["wholesaler_id"], account_id, price)).fetchone()[0]
    conn.execute("INSERT INTO order_lines (order_id, product_id, quantity, unit_price, line_total)"
                 " VALUES (%s, %s, 1, %s, %s)", (order_id, target["product_id"], price, price))
    new_balance = conn.execute("UPDATE credit_accounts SET balance = balance + %s WHERE id = %s RETURNING balance",
                               (price, account_id)).fetchone()[0]
    entry_id = conn.execute(
        "INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, order_id)"
        " VALUES (%s, 'DEBIT', %s, %s, %s) RETURNING id", (account_id, price, new_balance, order_id)).fetchone()[0]
    conn.execute("UPDATE orders SET credit_ledger_entry_id = %s WHERE id = %s", (entry_id, order_id))
    conn.commit()


def _throughput(app, targets: list[dict], via: str) -> float:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)

    def make_worker(i):
        rng = random.Random(i)
        if via == "sql":
            conn = psycopg.connect(dsn)
            return lambda: raw_order(conn, rng.choice(targets))
        context = app.app_context()
        context.push()  # one app context (and so one session) per thread, kept for the whole run

        def service_order():
            target = rng.choice(targets)
            place_order(acting_retailer(target["retailer_id"]), wholesaler_id=target["wholesaler_id"],
                        lines=[(target["product_id"], 1)])
            db.session.remove()  # as at the end of a request
        return service_order

    return run_for(SECONDS, THREADS, make_worker) / SECONDS


def run(app) -> dict:
    results = {}
    for name, accounts in (("1,000 accounts", 1000), ("1 hot account", 1)):
        reset(app)
        targets = make_accounts(app, accounts)
        sql = [_throughput(app, targets, "sql") for _ in range(RUNS)]
        service = [_throughput(app, targets, "service") for _ in range(RUNS)]
        results[name] = {"sql_orders_per_s": median(sql), "service_orders_per_s": median(service),
                         "ratio": median(service) / median(sql), "runs": RUNS, "threads": THREADS,
                         "seconds": SECONDS}
    return results
