"""A long ledger on an account, so the query plans under test are the ones production gets."""

from sqlalchemy import text


def crowd_ledger(db, account_id: int, entries: int = 20_000, *, open_items: int = 0) -> None:
    """Give an account ``entries`` ADJUSTMENTs of +1.00 (a correct balance_after chain and the matching
    balance), each a charge: the last ``open_items`` still open and not yet due, the others settled long ago.
    Fresh statistics, so the planner's choice is the one it makes in production, not a toss-up on a tiny table."""
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, memo)"
            " SELECT :a, 'ADJUSTMENT', 1.00, g, 'bulk' FROM generate_series(1, :n) g"),
            {"a": account_id, "n": entries})
        conn.execute(text("""
            INSERT INTO open_items (ledger_entry_id, credit_account_id, side, amount, open_amount, due_date, created_at)
            SELECT id, credit_account_id, 'CHARGE', amount, CASE WHEN rank <= :open THEN amount ELSE 0 END,
                   CASE WHEN rank <= :open THEN current_date + 30 ELSE current_date - 400 END, created_at
            FROM (SELECT e.*, row_number() OVER (ORDER BY id DESC) AS rank FROM ledger_entries e
                  WHERE credit_account_id = :a AND memo = 'bulk') loaded"""), {"a": account_id, "open": open_items})
        conn.execute(text("""
            UPDATE credit_accounts SET balance = balance + :n, oldest_open_due = (
                SELECT MIN(due_date) FROM open_items
                WHERE credit_account_id = :a AND side = 'CHARGE' AND open_amount > 0)
            WHERE id = :a"""), {"a": account_id, "n": entries})
        conn.execute(text("ANALYZE ledger_entries"))
        conn.execute(text("ANALYZE open_items"))
