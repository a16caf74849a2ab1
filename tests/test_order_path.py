"""The order path's idempotency under the lock: a twin that commits after the first look-up is replayed."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db as _db
from app.models import CreditAccount, LedgerEntry, Order, OrderLine
from app.services import orders
from app.services.errors import IdempotencyKeyReused
from app.services.transactions import credit_call_finished
from tests.support.actors import acting_retailer


@pytest.fixture
def late_twin(monkeypatch):
    """Call it, and the next look-up (the one before the lock) misses the key, as when the twin
    commits just after it: only the insert under the lock can notice the twin."""
    real = orders._find_by_key
    misses = []

    def find_by_key(retailer_id, key):
        return None if misses and misses.pop() else real(retailer_id, key)

    monkeypatch.setattr(orders, "_find_by_key", find_by_key)
    return lambda: misses.append(True)


@pytest.fixture
def outcomes(app):
    seen = []

    def record(sender, *, stats):
        seen.append(stats.outcome)

    credit_call_finished.connect(record, sender=app)
    yield seen
    credit_call_finished.disconnect(record, sender=app)


def count(model) -> int:
    return _db.session.scalar(select(func.count()).select_from(model))


def balance_of(account_id: int) -> Decimal:
    _db.session.expire_all()
    return _db.session.get(CreditAccount, account_id).balance


def place(account, product, quantity=1, key="po-1"):
    return orders.place_order(acting_retailer(account.retailer_id), wholesaler_id=account.wholesaler_id,
                              lines=[(product.id, quantity)], idempotency_key=key)


def test_a_twin_found_by_the_insert_is_replayed_and_nothing_is_written_twice(make, late_twin, outcomes):
    account = make.account(credit_limit="100.00")
    product = make.product(account.wholesaler, unit_price="10.00")
    first = place(account, product)
    late_twin()
    again = place(account, product)
    assert again.replayed and again.order_id == first.order_id
    assert again.credit_ledger_entry_id == first.credit_ledger_entry_id
    assert again.available_credit == Decimal("90.00")
    assert (count(Order), count(OrderLine), count(LedgerEntry)) == (1, 1, 1)
    assert balance_of(account.id) == Decimal("10.00")
    assert outcomes == ["OK", "OK"]  # the replay is no SYSTEM_ERROR


def test_a_twin_that_spent_the_credit_is_replayed_rather_than_refused(make, late_twin, outcomes):
    account = make.account(credit_limit="10.00")
    product = make.product(account.wholesaler, unit_price="10.00")
    first = place(account, product)
    late_twin()
    again = place(account, product)  # would not fit beside the first: it is the first
    assert again.replayed and again.order_id == first.order_id
    assert count(Order) == 1 and balance_of(account.id) == Decimal("10.00")
    assert outcomes == ["OK", "OK"]


def test_a_twin_through_another_wholesaler_refuses_the_key_and_writes_nothing(make, late_twin, outcomes):
    account = make.account()
    other = make.account(retailer=account.retailer)
    first = place(account, make.product(account.wholesaler))
    late_twin()
    with pytest.raises(IdempotencyKeyReused):
        place(other, make.product(other.wholesaler))
    assert count(Order) == 1 and count(LedgerEntry) == 1
    assert _db.session.get(Order, first.order_id).wholesaler_id == account.wholesaler_id
    assert balance_of(other.id) == Decimal("0.00")
    assert outcomes == ["OK", "IDEMPOTENCY_KEY_REUSED"]


def test_orders_without_a_key_never_conflict(make):
    account = make.account()
    product = make.product(account.wholesaler)
    placed = [place(account, product, key=None) for _ in range(2)]
    assert len({p.order_id for p in placed}) == 2 and not any(p.replayed for p in placed)
    assert balance_of(account.id) == Decimal("20.00")
