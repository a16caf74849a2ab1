"""Recompute every account from its ledger and its open items, and name each place the books disagree."""

from sqlalchemy import text

from app.extensions import db
from app.models import EntryType

# Signed effect of an entry ``e`` on the balance, in SQL, from the one rule (EntryType.raises_balance).
_RAISING = ", ".join(f"'{t.value}'" for t in EntryType if t.raises_balance)
_EFFECT = f"CASE WHEN e.type IN ({_RAISING}) THEN e.amount ELSE -e.amount END"

# Each check is one query returning the rows that break a rule, and a sentence naming the break.
_CHECKS: list[tuple[str, str]] = [
    (f"""SELECT a.id, a.balance, COALESCE(SUM({_EFFECT}), 0) AS total
         FROM credit_accounts a LEFT JOIN ledger_entries e ON e.credit_account_id = a.id
         GROUP BY a.id HAVING a.balance <> COALESCE(SUM({_EFFECT}), 0) ORDER BY a.id""",
     "account {0}: balance {1} but its entries sum to {2}"),
    (f"""SELECT id, credit_account_id, balance_after, running FROM (
           SELECT e.id, e.credit_account_id, e.balance_after,
                  SUM({_EFFECT}) OVER (PARTITION BY e.credit_account_id ORDER BY e.id) AS running
           FROM ledger_entries e) chain
         WHERE balance_after <> running ORDER BY id""",
     "entry {0} on account {1}: balance_after {2} but the entries up to it sum to {3}"),
    ("""SELECT o.id, COUNT(e.id) FROM orders o
        LEFT JOIN ledger_entries e ON e.order_id = o.id AND e.type = 'DEBIT'
        GROUP BY o.id HAVING COUNT(e.id) <> 1 ORDER BY o.id""",
     "order {0}: {1} DEBIT entries instead of exactly one"),
    ("""SELECT o.id, o.credit_ledger_entry_id FROM orders o
        LEFT JOIN ledger_entries e ON e.id = o.credit_ledger_entry_id
        WHERE e.id IS NULL OR e.type <> 'DEBIT' OR e.order_id <> o.id OR e.amount <> o.total_amount
           OR e.credit_account_id <> o.credit_account_id ORDER BY o.id""",
     "order {0}: credit_ledger_entry_id {1} is not a DEBIT of this order's total on its account"),
    ("""SELECT d.id, COUNT(r.id) FROM ledger_entries d
        JOIN ledger_entries r ON r.reverses_entry_id = d.id
        GROUP BY d.id HAVING COUNT(r.id) > 1 ORDER BY d.id""",
     "entry {0}: reversed {1} times"),
    ("""SELECT r.id, r.reverses_entry_id FROM ledger_entries r
        JOIN ledger_entries d ON d.id = r.reverses_entry_id
        WHERE d.type <> 'DEBIT' OR r.amount <> d.amount OR r.order_id <> d.order_id
           OR r.credit_account_id <> d.credit_account_id ORDER BY r.id""",
     "reversal {0}: does not undo DEBIT {1} exactly"),
    ("""SELECT o.id, o.status, COUNT(r.id) FROM orders o
        LEFT JOIN ledger_entries r ON r.order_id = o.id AND r.type = 'REVERSAL'
        GROUP BY o.id, o.status
        HAVING COUNT(r.id) <> CASE WHEN o.status = 'CANCELLED' THEN 1 ELSE 0 END ORDER BY o.id""",
     "order {0}: {1} with {2} REVERSAL entries"),
    ("""SELECT o.id, o.total_amount, COALESCE(SUM(l.line_total), 0) FROM orders o
        LEFT JOIN order_lines l ON l.order_id = o.id
        GROUP BY o.id HAVING o.total_amount <> COALESCE(SUM(l.line_total), 0) ORDER BY o.id""",
     "order {0}: total {1} but its lines add up to {2}"),
    # Open items and allocations (app/services/allocation.py).
    (f"""SELECT e.id, e.type, i.side FROM ledger_entries e LEFT JOIN open_items i ON i.ledger_entry_id = e.id
         WHERE i.side IS DISTINCT FROM CASE WHEN e.type = 'REVERSAL' THEN NULL
                                            WHEN {_EFFECT} > 0 THEN 'CHARGE' ELSE 'CREDIT' END
            OR i.amount <> abs(e.amount) OR i.credit_account_id <> e.credit_account_id
            OR i.order_id IS DISTINCT FROM CASE WHEN e.type = 'DEBIT' THEN e.order_id END ORDER BY e.id""",
     "entry {0} ({1}): its open item ({2}) does not match it"),
    ("""SELECT i.ledger_entry_id, i.open_amount, i.amount, COALESCE(SUM(a.amount), 0) FROM open_items i
        LEFT JOIN allocations a ON a.charge_entry_id = i.ledger_entry_id WHERE i.side = 'CHARGE'
        GROUP BY i.ledger_entry_id
        HAVING i.open_amount <> CASE WHEN i.cancelled_at IS NULL THEN i.amount - COALESCE(SUM(a.amount), 0) ELSE 0 END
            OR (i.cancelled_at IS NOT NULL AND COALESCE(SUM(a.amount), 0) <> 0) ORDER BY i.ledger_entry_id""",
     "charge {0}: {1} outstanding of {2}, but {3} is allocated to it"),
    ("""SELECT i.ledger_entry_id, i.open_amount, i.amount, COALESCE(SUM(a.amount), 0) FROM open_items i
        LEFT JOIN allocations a ON a.credit_entry_id = i.ledger_entry_id WHERE i.side = 'CREDIT'
        GROUP BY i.ledger_entry_id HAVING i.open_amount <> i.amount - COALESCE(SUM(a.amount), 0)
        ORDER BY i.ledger_entry_id""",
     "credit {0}: {1} unapplied of {2}, but {3} of it is allocated"),
    ("""SELECT i.ledger_entry_id, o.id, o.status FROM open_items i JOIN orders o ON o.id = i.order_id
        WHERE (o.status = 'CANCELLED') <> (i.cancelled_at IS NOT NULL) ORDER BY i.ledger_entry_id""",
     "charge {0}: order {1} is {2} but the charge says otherwise"),
    ("""SELECT a.id, a.charge_entry_id, a.credit_entry_id FROM allocations a
        JOIN open_items c ON c.ledger_entry_id = a.charge_entry_id
        JOIN open_items k ON k.ledger_entry_id = a.credit_entry_id
        WHERE c.side <> 'CHARGE' OR k.side <> 'CREDIT'
           OR c.credit_account_id <> a.credit_account_id OR k.credit_account_id <> a.credit_account_id ORDER BY a.id""",
     "allocation {0}: does not apply a credit of its account ({2}) to a charge of it ({1})"),
    ("""SELECT charge_entry_id, credit_entry_id, SUM(amount) FROM allocations
        GROUP BY charge_entry_id, credit_entry_id HAVING SUM(amount) < 0 ORDER BY charge_entry_id, credit_entry_id""",
     "charge {0}: credit {1} released more than it paid ({2})"),
    ("""SELECT a.id, a.balance, COALESCE(SUM(CASE WHEN i.side = 'CHARGE' THEN i.open_amount ELSE -i.open_amount END), 0)
        FROM credit_accounts a LEFT JOIN open_items i ON i.credit_account_id = a.id GROUP BY a.id
        HAVING a.balance <> COALESCE(SUM(CASE WHEN i.side = 'CHARGE' THEN i.open_amount ELSE -i.open_amount END), 0)
        ORDER BY a.id""",
     "account {0}: balance {1} but outstanding less unapplied credit is {2}"),
    ("""SELECT credit_account_id FROM open_items WHERE open_amount > 0 GROUP BY credit_account_id
        HAVING COUNT(DISTINCT side) > 1 ORDER BY credit_account_id""",
     "account {0}: unapplied credit beside outstanding charges"),
    # Credit notes (app/services/accounts.py credit_order).
    ("""SELECT e.id, e.amount, COALESCE(SUM(n.amount), 0) FROM ledger_entries e
        LEFT JOIN credit_note_lines n ON n.ledger_entry_id = e.id WHERE e.type = 'CREDIT_NOTE'
        GROUP BY e.id HAVING e.amount <> COALESCE(SUM(n.amount), 0) ORDER BY e.id""",
     "credit note {0}: {1} but its lines add up to {2}"),
    ("""SELECT n.id, n.ledger_entry_id FROM credit_note_lines n
        JOIN ledger_entries e ON e.id = n.ledger_entry_id JOIN order_lines l ON l.id = n.order_line_id
        WHERE e.type <> 'CREDIT_NOTE' OR l.order_id <> e.order_id OR n.amount <> l.unit_price * n.quantity
        ORDER BY n.id""",
     "credit note line {0}: not a line of entry {1}'s order at the price ordered"),
    ("""SELECT l.id, l.quantity, SUM(n.quantity) FROM order_lines l JOIN credit_note_lines n ON n.order_line_id = l.id
        GROUP BY l.id HAVING SUM(n.quantity) > l.quantity ORDER BY l.id""",
     "order line {0}: {1} ordered but {2} credited"),
    ("""SELECT o.id FROM orders o JOIN ledger_entries e ON e.order_id = o.id AND e.type = 'CREDIT_NOTE'
        WHERE o.status = 'CANCELLED' GROUP BY o.id ORDER BY o.id""",
     "order {0}: cancelled, yet it has credit notes"),
    ("""SELECT a.id, a.oldest_open_due, MIN(i.due_date) FROM credit_accounts a
        LEFT JOIN open_items i ON i.credit_account_id = a.id AND i.side = 'CHARGE' AND i.open_amount > 0
        GROUP BY a.id HAVING a.oldest_open_due IS DISTINCT FROM MIN(i.due_date) ORDER BY a.id""",
     "account {0}: notes {1} as its earliest open due date, but it is {2}"),
    # Credit holds (app/services/holds.py).
    ("""SELECT a.id, a.held_amount, COALESCE(SUM(h.amount), 0), a.held_until, MIN(h.expires_at) FROM credit_accounts a
        LEFT JOIN credit_holds h ON h.credit_account_id = a.id AND h.status = 'ACTIVE' GROUP BY a.id
        HAVING a.held_amount <> COALESCE(SUM(h.amount), 0) OR a.held_until IS DISTINCT FROM MIN(h.expires_at)
        ORDER BY a.id""",
     "account {0}: keeps {1} held until {3}, but its active holds come to {2} until {4}"),
    ("""SELECT h.id, h.order_id FROM credit_holds h LEFT JOIN orders o ON o.id = h.order_id
        WHERE h.status = 'CAPTURED' AND (o.id IS NULL OR o.credit_account_id <> h.credit_account_id
                                         OR o.total_amount > h.amount OR o.created_at <> h.closed_at)
        ORDER BY h.id""",
     "hold {0}: captured, but order {1} is not one of at most its amount on its account, made as it closed"),
    ("""SELECT h.id, l.product_id, l.quantity, ol.quantity FROM credit_holds h
        JOIN order_lines ol ON ol.order_id = h.order_id
        LEFT JOIN credit_hold_lines l ON l.hold_id = h.id AND l.product_id = ol.product_id
        WHERE l.hold_id IS NULL OR ol.quantity > l.quantity OR ol.unit_price <> l.unit_price ORDER BY h.id""",
     "hold {0}: its order has more of product {1} than it held ({3} of {2}), or another price"),
    ("""SELECT h.id, h.amount, COALESCE(SUM(l.unit_price * l.quantity), 0) FROM credit_holds h
        LEFT JOIN credit_hold_lines l ON l.hold_id = h.id GROUP BY h.id
        HAVING h.amount <> COALESCE(SUM(l.unit_price * l.quantity), 0) ORDER BY h.id""",
     "hold {0}: {1} held but its lines come to {2}"),
    ("""SELECT id, status FROM credit_holds WHERE status = 'EXPIRED' AND closed_at <> expires_at ORDER BY id""",
     "hold {0}: {1} at another moment than its expiry"),
    # Temporary limit increases (app/services/limits.py): each recount keeps those not ended early and not yet at
    # their end, and the earliest of their ends; so what it keeps is exactly those ending at that moment or later.
    ("""SELECT a.id, a.temporary_increase, COALESCE(SUM(i.amount), 0), a.increase_until, MIN(i.ends_at)
        FROM credit_accounts a LEFT JOIN limit_increases i ON i.credit_account_id = a.id AND i.ended_at IS NULL
                                                             AND i.ends_at >= a.increase_until
        GROUP BY a.id HAVING a.temporary_increase <> COALESCE(SUM(i.amount), 0)
                             OR a.increase_until IS DISTINCT FROM MIN(i.ends_at) ORDER BY a.id""",
     "account {0}: keeps a temporary increase of {1} until {3}, but its increases come to {2} until {4}"),
    # Limit requests (app/services/limit_requests.py): one approved for a while made an increase on its own line,
    # until the day it granted; its parties are its account's.
    ("""SELECT r.id, r.granted_ends_on, i.credit_account_id, i.ends_on FROM limit_requests r
        JOIN limit_increases i ON i.id = r.increase_id
        WHERE i.credit_account_id <> r.credit_account_id OR i.ends_on <> r.granted_ends_on ORDER BY r.id""",
     "limit request {0}: granted until {1}, but its increase is on account {2} until {3}"),
    ("""SELECT r.id, r.credit_account_id FROM limit_requests r JOIN credit_accounts a ON a.id = r.credit_account_id
        WHERE a.retailer_id <> r.retailer_id OR a.wholesaler_id <> r.wholesaler_id ORDER BY r.id""",
     "limit request {0}: its retailer or wholesaler is not account {1}'s"),
]


def find_ledger_problems() -> list[str]:
    """Every mismatch between balances, entries and orders, one sentence each; empty when the books agree."""
    problems: list[str] = []
    with db.engine.connect() as connection:
        for query, sentence in _CHECKS:
            problems.extend(sentence.format(*row) for row in connection.execute(text(query)))
    return problems
