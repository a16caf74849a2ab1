"""A long ledger on another account, so the query plans under test are the ones production gets."""

from sqlalchemy import text


def crowd_ledger(db, account_id: int, entries: int = 20_000) -> None:
    """Give another account a long ledger and fresh statistics, so the planner's choice for one
    account's page is the one it makes in production, not a toss-up on a tiny table."""
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, memo)"
            " SELECT :a, 'ADJUSTMENT', 1.00, g, 'bulk' FROM generate_series(1, :n) g"),
            {"a": account_id, "n": entries})
        conn.execute(text("ANALYZE ledger_entries"))
