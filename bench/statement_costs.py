"""What the profile's fixes bought, statement by statement: the hot path's look-ups as the code ran
them before (a statement built per call, executed through the ORM session) beside how it runs them
now (built once at import; Core on the session's connection), in this process, same database, same rows.

CPU time of this process per call, so the database's share and the network are left out: they are
the same for both ways, since both send the same SQL.
"""

import time

from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, CreditAccount, Order, User
from app.services import orders, sql, tokens, transactions
from bench.common import QUICK, median

CALLS = 200 if QUICK else 1000
RUNS = 3 if QUICK else 5


def _cpu_us_per_call(call) -> float:
    """Median over RUNS of CPU microseconds per call, in one transaction each (rolled back)."""
    runs = []
    for _ in range(RUNS):
        call()  # the first call of a run also begins the transaction
        started = time.process_time()
        for _ in range(CALLS):
            call()
        runs.append(1e6 * (time.process_time() - started) / CALLS)
        db.session.rollback()
    return median(runs)


def run(app, target: dict, digest: str) -> dict:
    """``target`` names an account (retailer, wholesaler); ``digest`` is one of its user's token digests."""
    retailer_id, wholesaler_id = target["retailer_id"], target["wholesaler_id"]
    parties = {"retailer_id": retailer_id, "wholesaler_id": wholesaler_id}
    pairs = {
        "lock the account (FOR NO KEY UPDATE NOWAIT)": (
            lambda: db.session.scalars(
                select(CreditAccount).where(CreditAccount.retailer_id == retailer_id,
                                            CreditAccount.wholesaler_id == wholesaler_id)
                .execution_options(populate_existing=True)
                .with_for_update(nowait=True, key_share=True)).one_or_none(),
            lambda: db.session.scalars(transactions._LOCK_BY_PARTIES[0], parties).one_or_none()),
        "idempotency key look-up (a miss)": (
            lambda: db.session.scalars(select(Order).where(Order.retailer_id == retailer_id,
                                                           Order.idempotency_key == "absent")).one_or_none(),
            lambda: sql.execute(orders._ORDER_BY_KEY,
                                       {"retailer_id": retailer_id, "key": "absent"}).one_or_none()),
        "token check (token and its user)": (
            lambda: db.session.execute(
                select(ApiToken.id, ApiToken.last_used_at, User).join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_digest == digest, ApiToken.revoked_at.is_(None), User.active)).one_or_none(),
            lambda: sql.execute(tokens._TOKEN_USER, {"digest": digest}).one_or_none()),
    }
    results = {}
    with app.app_context():
        for name, (before, now) in pairs.items():
            if before() is None and "key" not in name:
                raise RuntimeError(f"{name}: the bench rows are missing")
            db.session.rollback()
            was, now_us = _cpu_us_per_call(before), _cpu_us_per_call(now)
            results[name] = {"before_us": was, "now_us": now_us, "ratio": now_us / was}
    return {"calls": CALLS, "runs": RUNS, "statements": results}
