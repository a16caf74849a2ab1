"""The database itself refuses writes that would break the books."""

from datetime import date
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.models import CreditAccount, EntryType, LedgerEntry, Order, OrderStatus

#: A due date for orders made here by hand (placing an order computes it).
DUE = date(2027, 1, 31)


def _order_with_debit(db, account, amount="100.00"):
    order = Order(retailer_id=account.retailer_id, wholesaler_id=account.wholesaler_id,
                  credit_account_id=account.id, status=OrderStatus.CONFIRMED,
                  total_amount=Decimal(amount), currency=account.currency, due_date=DUE)
    db.session.add(order)
    db.session.flush()
    debit = LedgerEntry(credit_account_id=account.id, type=EntryType.DEBIT, amount=Decimal(amount),
                        balance_after=Decimal(amount), order_id=order.id)
    db.session.add(debit)
    db.session.commit()
    return order, debit


def _refused(db, sql, **params):
    with pytest.raises(IntegrityError) as caught:
        db.session.execute(text(sql), params)
        db.session.commit()
    db.session.rollback()
    return str(caught.value)


def test_ledger_rows_cannot_be_updated_or_deleted(db, make):
    _, debit = _order_with_debit(db, make.account())
    assert "append-only" in _refused(db, "UPDATE ledger_entries SET amount = 1 WHERE id = :id", id=debit.id)
    assert "append-only" in _refused(db, "DELETE FROM ledger_entries WHERE id = :id", id=debit.id)
    assert db.session.get(LedgerEntry, debit.id).amount == Decimal("100.00")


def test_audit_events_are_append_only(db):
    db.session.execute(text("INSERT INTO audit_events (action, entity_type) VALUES ('x.y', 'x')"))
    db.session.commit()
    assert "append-only" in _refused(db, "UPDATE audit_events SET action = 'rewritten'")
    assert "append-only" in _refused(db, "DELETE FROM audit_events")


def test_an_order_has_at_most_one_debit(db, make):
    account = make.account()
    order, _ = _order_with_debit(db, account)
    message = _refused(db, "INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after,"
                           " order_id) VALUES (:a, 'DEBIT', 5, 105, :o)", a=account.id, o=order.id)
    assert "uq_ledger_one_debit_per_order" in message


def test_a_debit_is_reversed_at_most_once(db, make):
    account = make.account()
    order, debit = _order_with_debit(db, account)
    insert = ("INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, order_id,"
              " reverses_entry_id) VALUES (:a, 'REVERSAL', 100, 0, :o, :d)")
    db.session.execute(text(insert), {"a": account.id, "o": order.id, "d": debit.id})
    db.session.commit()
    assert "uq_ledger_one_reversal_per_entry" in _refused(db, insert, a=account.id, o=order.id, d=debit.id)


@pytest.mark.parametrize("entry_type, amount", [("DEBIT", "-5"), ("CREDIT", "0"), ("REVERSAL", "-1"),
                                                ("ADJUSTMENT", "0")])
def test_amounts_have_the_right_sign(db, make, entry_type, amount):
    account = make.account()
    order, debit = _order_with_debit(db, account)
    message = _refused(
        db, "INSERT INTO ledger_entries (credit_account_id, type, amount, balance_after, order_id,"
            " reverses_entry_id, memo) VALUES (:a, :t, :amount, 0, :o, :r, 'memo')",
        a=account.id, t=entry_type, amount=Decimal(amount), o=order.id,
        r=debit.id if entry_type == "REVERSAL" else None)
    assert "ck_ledger_entries_amount_sign" in message


def test_one_credit_account_per_retailer_and_wholesaler(db, make):
    account = make.account()
    db.session.add(CreditAccount(retailer_id=account.retailer_id, wholesaler_id=account.wholesaler_id,
                                 credit_limit=Decimal("5"), currency="EUR"))
    with pytest.raises(IntegrityError, match="uq_credit_accounts_retailer_id_wholesaler_id"):
        db.session.commit()


def test_idempotency_key_is_unique_per_retailer(db, make):
    account = make.account()
    other = make.account(wholesaler=account.wholesaler)
    for acc in (account, other):  # the same key from two retailers is fine
        db.session.add(Order(retailer_id=acc.retailer_id, wholesaler_id=acc.wholesaler_id,
                             credit_account_id=acc.id, status=OrderStatus.CONFIRMED,
                             total_amount=Decimal("1"), currency="EUR", idempotency_key="k-1", due_date=DUE))
    db.session.commit()
    db.session.add(Order(retailer_id=account.retailer_id, wholesaler_id=account.wholesaler_id,
                         credit_account_id=account.id, status=OrderStatus.CONFIRMED,
                         total_amount=Decimal("1"), currency="EUR", idempotency_key="k-1", due_date=DUE))
    with pytest.raises(IntegrityError, match="uq_orders_retailer_idempotency_key"):
        db.session.commit()


def test_an_orders_debit_entry_is_unique(db, make):
    account = make.account()
    first, debit = _order_with_debit(db, account)
    first.credit_ledger_entry_id = debit.id
    second, _ = _order_with_debit(db, account)
    db.session.commit()
    second.credit_ledger_entry_id = debit.id
    with pytest.raises(IntegrityError, match="uq_orders_credit_ledger_entry_id"):
        db.session.commit()


def test_negative_limits_and_prices_are_refused(db, make):
    wholesaler = make.wholesaler()
    assert "ck_credit_accounts_credit_limit_not_negative" in _refused(
        db, "INSERT INTO credit_accounts (retailer_id, wholesaler_id, credit_limit, currency)"
            " VALUES (:r, :w, -1, 'EUR')", r=make.retailer().id, w=wholesaler.id)
    assert "ck_products_unit_price_positive" in _refused(
        db, "INSERT INTO products (wholesaler_id, sku, name, unit_price) VALUES (:w, 'X', 'X', 0)",
        w=wholesaler.id)


def test_a_blocked_account_names_its_reason(db, make):
    account = make.account()
    assert "ck_credit_accounts_blocked_has_reason" in _refused(
        db, "UPDATE credit_accounts SET status = 'BLOCKED' WHERE id = :id", id=account.id)


def test_models_and_migrations_agree(runner):
    result = runner.invoke(args=["db", "check"])  # exits non-zero when autogenerate finds a difference
    assert result.exit_code == 0, result.output


def test_the_migrations_build_the_schema_the_models_declare(db):
    """Tables, columns, types, indexes and foreign keys (the job queue's own tables are procrastinate's)."""
    def ours(obj, name, type_, reflected, compare_to) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return not (table is not None and table.name.startswith("procrastinate_"))

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": ours})
        assert compare_metadata(context, db.metadata) == []
