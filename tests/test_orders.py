"""Placing and cancelling orders under the credit row lock, alone and concurrently."""

from decimal import Decimal

import pytest
from sqlalchemy import event, select, text

from app.extensions import db as _db
from app.models import AccountStatus, CreditAccount, EntryType, LedgerEntry, Order, OrderLine, OrderStatus
from app.services.actors import SYSTEM
from app.services.errors import (
    CreditAccountNotFound,
    CreditBlocked,
    IdempotencyKeyReused,
    InsufficientCredit,
    MaxRetriesExceeded,
    NotFound,
    ValidationError,
)
from app.services.ledger_check import find_ledger_problems
from app.services.orders import cancel_order, place_order
from tests.support.actors import acting_retailer


@pytest.fixture
def shop(make):
    """An account with a 100,000.00 limit and products priced to make the seed's scenarios."""
    account = make.account(credit_limit="100000.00")
    w = account.wholesaler
    products = {price: make.product(w, unit_price=price) for price in
                ("75000.00", "40000.00", "25000.00", "10.00", "12.34")}

    class Shop:
        pass

    shop = Shop()
    shop.account, shop.products = account, products
    # Plain values: worker threads must not touch this session's objects.
    retailer_id, wholesaler_id = account.retailer_id, account.wholesaler_id
    product_ids = {price: p.id for price, p in products.items()}

    def order(price, quantity=1, **kw):
        return place_order(acting_retailer(retailer_id), wholesaler_id=wholesaler_id,
                           lines=[(product_ids[price], quantity)], **kw)

    shop.order = order
    return shop


def balance_of(account_id):
    _db.session.expire_all()
    return _db.session.get(CreditAccount, account_id).balance


def count(model):
    return _db.session.scalar(select(_db.func.count()).select_from(model))


# --- The seed's scenarios -------------------------------------------------------------------------

def test_an_order_within_the_limit_is_confirmed_with_its_debit(shop):
    placed = shop.order("25000.00", quantity=2)
    assert placed.total_amount == Decimal("50000.00") and not placed.replayed
    assert placed.available_credit == Decimal("50000.00")
    order = _db.session.get(Order, placed.order_id)
    assert order.status == OrderStatus.CONFIRMED
    debit = _db.session.get(LedgerEntry, order.credit_ledger_entry_id)
    assert (debit.type, debit.amount, debit.balance_after, debit.order_id) == \
        (EntryType.DEBIT, Decimal("50000.00"), Decimal("50000.00"), order.id)
    assert [(line.quantity, line.unit_price, line.line_total) for line in order.lines] == \
        [(2, Decimal("25000.00"), Decimal("50000.00"))]
    assert balance_of(shop.account.id) == Decimal("50000.00")


def test_an_order_over_the_limit_is_refused_with_the_available_amount(shop):
    shop.order("75000.00")
    with pytest.raises(InsufficientCredit) as refused:
        shop.order("40000.00")
    assert refused.value.code == "INSUFFICIENT_CREDIT"
    assert refused.value.available_credit == Decimal("25000.00")
    assert "25,000.00 EUR" in refused.value.message
    assert count(Order) == 1 and count(LedgerEntry) == 1
    assert balance_of(shop.account.id) == Decimal("75000.00")


def test_an_order_of_exactly_the_available_credit_is_confirmed(shop):
    shop.order("75000.00")
    placed = shop.order("25000.00")
    assert placed.available_credit == Decimal("0.00")
    with pytest.raises(InsufficientCredit):
        shop.order("10.00")


def test_two_concurrent_orders_cannot_spend_the_same_credit(shop, in_parallel, slow_flushes):
    results = in_parallel(lambda i: shop.order(["75000.00", "40000.00"][i]), 2)
    confirmed = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, InsufficientCredit)]
    assert len(confirmed) == 1 and len(refused) == 1, results
    assert balance_of(shop.account.id) in (Decimal("75000.00"), Decimal("40000.00"))
    assert balance_of(shop.account.id) == confirmed[0].total_amount
    assert find_ledger_problems() == []


def test_a_blocked_account_refuses_orders_and_writes_nothing(shop, db):
    shop.account.status, shop.account.blocked_reason = AccountStatus.BLOCKED, "Overdue"
    db.session.commit()
    with pytest.raises(CreditBlocked) as refused:
        shop.order("10.00")
    assert refused.value.code == "CREDIT_BLOCKED" and "contact the wholesaler" in refused.value.message
    assert count(Order) == 0 and count(LedgerEntry) == 0


def test_no_credit_account_means_no_order(make):
    wholesaler = make.wholesaler()
    product = make.product(wholesaler)
    with pytest.raises(CreditAccountNotFound) as refused:
        place_order(acting_retailer(make.retailer().id), wholesaler_id=wholesaler.id, lines=[(product.id, 1)])
    assert refused.value.code == "CREDIT_ACCOUNT_NOT_FOUND"
    assert count(Order) == 0


def test_a_lock_held_past_the_deadline_gives_max_retries_exceeded(shop, app):
    app.config["CREDIT_LOCK_DEADLINE_SECONDS"] = 0.3
    try:
        with _db.engine.connect() as other:  # another transaction sits on the credit row
            other.execute(text("SELECT 1 FROM credit_accounts WHERE id = :id FOR UPDATE"),
                          {"id": shop.account.id})
            with pytest.raises(MaxRetriesExceeded) as refused:
                shop.order("10.00")
            other.rollback()
    finally:
        app.config["CREDIT_LOCK_DEADLINE_SECONDS"] = 2.0
    assert refused.value.code == "MAX_RETRIES_EXCEEDED" and "retry" in refused.value.message
    assert count(Order) == 0 and count(LedgerEntry) == 0
    assert shop.order("10.00").total_amount == Decimal("10.00")  # the lock is free again


def test_cancelling_restores_the_credit(shop):
    placed = shop.order("75000.00")
    cancelled = cancel_order(SYSTEM, placed.order_id, reason="Changed my mind")
    assert not cancelled.already_cancelled and cancelled.available_credit == Decimal("100000.00")
    reversal = _db.session.get(LedgerEntry, cancelled.reversal_entry_id)
    assert (reversal.type, reversal.amount, reversal.reverses_entry_id, reversal.balance_after) == \
        (EntryType.REVERSAL, Decimal("75000.00"), placed.credit_ledger_entry_id, Decimal("0.00"))
    order = _db.session.get(Order, placed.order_id)
    assert order.status == OrderStatus.CANCELLED and order.cancel_reason == "Changed my mind"
    assert shop.order("75000.00").available_credit == Decimal("25000.00")


def test_cancelling_twice_writes_one_reversal(shop):
    placed = shop.order("10.00")
    first = cancel_order(SYSTEM, placed.order_id)
    second = cancel_order(SYSTEM, placed.order_id)
    assert second.already_cancelled and second.reversal_entry_id == first.reversal_entry_id
    assert count(LedgerEntry) == 2 and balance_of(shop.account.id) == Decimal("0.00")


def test_ten_concurrent_cancels_write_one_reversal(shop, in_parallel):
    order_id = shop.order("40000.00").order_id
    results = in_parallel(lambda i: cancel_order(SYSTEM, order_id), 10)
    assert not any(isinstance(r, Exception) for r in results), results
    assert len({r.reversal_entry_id for r in results}) == 1
    assert sum(not r.already_cancelled for r in results) == 1
    assert _db.session.scalar(select(_db.func.count()).where(LedgerEntry.type == EntryType.REVERSAL)) == 1
    assert balance_of(shop.account.id) == Decimal("0.00")
    assert find_ledger_problems() == []


def test_cancelling_an_unknown_order_is_not_found(db):
    with pytest.raises(NotFound):
        cancel_order(SYSTEM, 12345)


def test_ten_concurrent_orders_that_fit_are_all_confirmed(shop, in_parallel):
    results = in_parallel(lambda i: shop.order("10.00", quantity=i + 1), 10)
    assert not any(isinstance(r, Exception) for r in results), results
    assert balance_of(shop.account.id) == Decimal("550.00")  # 10 × (1 + … + 10)
    assert find_ledger_problems() == []


def test_ten_concurrent_orders_that_do_not_all_fit(shop, in_parallel):
    results = in_parallel(lambda i: shop.order("25000.00"), 10)
    confirmed = [r for r in results if not isinstance(r, Exception)]
    assert len(confirmed) == 4
    assert all(isinstance(r, InsufficientCredit) for r in results if isinstance(r, Exception)), results
    balance = balance_of(shop.account.id)
    assert balance == Decimal("100000.00") <= shop.account.credit_limit
    assert find_ledger_problems() == []


# --- Beyond the seed ------------------------------------------------------------------------------

def test_a_burst_of_fifty_orders_on_one_account_has_no_spurious_retry_failures(shop, in_parallel):
    results = in_parallel(lambda i: shop.order("10.00"), 50)
    failures = [r for r in results if isinstance(r, Exception)]
    assert failures == []
    assert balance_of(shop.account.id) == Decimal("500.00")
    assert find_ledger_problems() == []


def test_the_same_idempotency_key_returns_the_first_order(shop):
    first = shop.order("12.34", quantity=3, idempotency_key="cart-7")
    again = shop.order("12.34", quantity=3, idempotency_key="cart-7")
    assert again.replayed and again.order_id == first.order_id
    assert again.credit_ledger_entry_id == first.credit_ledger_entry_id
    assert count(Order) == 1 and count(LedgerEntry) == 1


def test_the_same_key_with_other_lines_is_refused(shop):
    shop.order("12.34", quantity=3, idempotency_key="cart-7")
    with pytest.raises(IdempotencyKeyReused) as refused:
        shop.order("12.34", quantity=4, idempotency_key="cart-7")
    assert refused.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert count(Order) == 1


def test_concurrent_replays_of_one_key_place_one_order(shop, in_parallel, slow_flushes):
    results = in_parallel(lambda i: shop.order("10.00", idempotency_key="double-click"), 8)
    assert not any(isinstance(r, Exception) for r in results), results
    assert len({r.order_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert count(Order) == 1 and balance_of(shop.account.id) == Decimal("10.00")


def test_a_failure_after_the_debit_insert_leaves_no_trace(shop, db):
    def explode(conn, cursor, statement, parameters, context, executemany):
        if "INSERT INTO ledger_entries" in statement:
            raise RuntimeError("injected failure after the DEBIT insert")

    event.listen(db.engine, "after_cursor_execute", explode)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            shop.order("75000.00")
    finally:
        event.remove(db.engine, "after_cursor_execute", explode)
    assert count(Order) == 0 and count(OrderLine) == 0 and count(LedgerEntry) == 0
    assert balance_of(shop.account.id) == Decimal("0.00")
    assert shop.order("75000.00").available_credit == Decimal("25000.00")


def test_prices_come_from_the_catalogue_at_the_time_of_the_order(shop, db):
    product = shop.products["10.00"]
    first = shop.order("10.00", quantity=2)
    product.unit_price = Decimal("11.00")
    db.session.commit()
    second = shop.order("10.00", quantity=2)
    assert (first.total_amount, second.total_amount) == (Decimal("20.00"), Decimal("22.00"))


def test_repeated_products_are_merged_into_one_line(shop):
    pid = shop.products["10.00"].id
    placed = place_order(acting_retailer(shop.account.retailer_id), wholesaler_id=shop.account.wholesaler_id,
                         lines=[(pid, 2), (pid, 3)])
    order = _db.session.get(Order, placed.order_id)
    assert [(line.product_id, line.quantity) for line in order.lines] == [(pid, 5)]


@pytest.mark.parametrize("lines, message", [
    ([], "at least one product"),
    ([("P", 0)], "at least 1"),
    ([("P", -3)], "at least 1"),
    ([("P", 10**9)], "at most"),
    ([("P", 1.5)], "whole number"),
    ([("P", True)], "whole number"),
    ([(999999, 1)], "not in this wholesaler's catalogue"),
    ([("OTHER", 1)], "not in this wholesaler's catalogue"),
    ([("INACTIVE", 1)], "No longer available"),
])
def test_invalid_orders_are_refused_and_write_nothing(shop, make, lines, message):
    products = {"P": shop.products["10.00"].id,
                "OTHER": make.product(make.wholesaler()).id,
                "INACTIVE": make.product(shop.account.wholesaler, active=False).id}
    lines = [(products.get(pid, pid), quantity) for pid, quantity in lines]
    with pytest.raises(ValidationError, match=message):
        place_order(acting_retailer(shop.account.retailer_id), wholesaler_id=shop.account.wholesaler_id, lines=lines)
    assert count(Order) == 0 and count(LedgerEntry) == 0


def test_decisions_refuse_to_run_outside_read_committed(shop, db):
    db.session.close()
    db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    with pytest.raises(RuntimeError, match="READ COMMITTED"):
        shop.order("10.00")
    assert count(Order) == 0


@pytest.mark.parametrize("reason", ["oops\x00", "x" * 501])
def test_a_cancel_reason_that_cannot_be_stored_is_refused_and_the_order_stands(shop, reason):
    placed = shop.order("10.00")
    with pytest.raises(ValidationError, match="reason"):
        cancel_order(SYSTEM, placed.order_id, reason=reason)
    _db.session.expire_all()
    assert _db.session.get(Order, placed.order_id).status == OrderStatus.CONFIRMED
    assert cancel_order(SYSTEM, placed.order_id, reason="   ").reversal_entry_id  # blank: no reason, cancelled


def test_waiting_for_a_pooled_connection_does_not_use_up_the_lock_deadline(shop, app):
    """The deadline is for a busy account; the pool's wait has its own timeout (DB_POOL_TIMEOUT_SECONDS).

    A pool of one connection, held by someone else for 1 s; the account's row held for 1.5 s; a 1 s
    deadline. Counted from the call, the deadline would be gone when the connection came; counted from
    the connection, 0.5 s of it is left when the row is freed.
    """
    import threading

    from app import create_app
    from app.config import TestConfig
    from app.extensions import limiter
    from app.services.accounts import record_payment

    config = type("OneConnection", (TestConfig,), {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "SQLALCHEMY_ENGINE_OPTIONS": TestConfig.SQLALCHEMY_ENGINE_OPTIONS | {"pool_size": 1, "max_overflow": 0},
        "CREDIT_LOCK_DEADLINE_SECONDS": 1.0})
    small = create_app(config)
    limiter.init_app(app)  # one limiter object: it counts for the session's app again
    row = _db.engine.connect()  # the session app's pool: outside the small one
    row.execute(text("SELECT 1 FROM credit_accounts WHERE id = :id FOR UPDATE"), {"id": shop.account.id})
    try:
        with small.app_context():
            pooled = _db.engine.connect()  # the small pool's only connection
            timers = [threading.Timer(1.0, pooled.close), threading.Timer(1.5, row.rollback)]
            for timer in timers:
                timer.start()
            amount = record_payment(SYSTEM, shop.account.id, amount="5.00", reference="pool wait").amount
            for timer in timers:
                timer.join()
            _db.session.remove()
            _db.engine.dispose()
    finally:
        row.close()
    assert amount == Decimal("5.00")
