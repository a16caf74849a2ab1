"""The shared order pages: list, detail, and cancelling with a confirmation step."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import CreditAccount, EntryType, LedgerEntry, Order, OrderStatus, Role
from app.services import orders
from app.services.actors import SYSTEM
from tests.support.actors import acting_retailer
from tests.support.page_forms import form_on, readable, submit


@pytest.fixture
def placed(make):
    """An order of 3 × 20.00 EUR placed by Corner Shop at Acme Foods, on a 500.00 EUR credit line."""
    wholesaler = make.wholesaler(name="Acme Foods")
    retailer = make.retailer(name="Corner Shop")
    account = make.account(retailer=retailer, wholesaler=wholesaler, credit_limit="500.00")
    product = make.product(wholesaler, unit_price="20.00", sku="TEA")
    result = orders.place_order(acting_retailer(retailer.id), wholesaler_id=wholesaler.id, lines=[(product.id, 3)])
    return {"order_id": result.order_id, "account": account, "retailer": retailer, "wholesaler": wholesaler,
            "product": product}


def balance(db, account) -> Decimal:
    return db.session.scalar(select(CreditAccount.balance).where(CreditAccount.id == account.id))


def test_the_order_list_and_detail_show_the_lines_and_money(client, auth, make, placed):
    auth.login(make.user(Role.RETAILER, retailer=placed["retailer"]))
    listing = readable(client.get("/orders/"))
    assert f"#{placed['order_id']}" in listing and "60.00 EUR" in listing and "Confirmed" in listing
    detail = readable(client.get(f"/orders/{placed['order_id']}"))
    assert "Acme Foods" in detail and placed["product"].name in detail
    assert "3 20.00 EUR 60.00 EUR" in detail  # quantity, unit price, line total
    assert "Cancel order" in detail


def test_the_order_list_has_an_empty_state(client, auth, make):
    auth.login(make.user(Role.RETAILER, retailer=make.retailer()))
    assert "No orders yet" in readable(client.get("/orders/"))


def test_cancelling_asks_first_and_a_get_changes_nothing(client, auth, make, placed, db):
    auth.login(make.user(Role.RETAILER, retailer=placed["retailer"]))
    confirm = readable(client.get(f"/orders/{placed['order_id']}/cancel"))
    assert f"Cancel order #{placed['order_id']}?" in confirm and "60.00 EUR will be cancelled" in confirm
    assert "Yes, cancel the order" in confirm
    assert db.session.scalar(select(Order.status)) == OrderStatus.CONFIRMED
    assert balance(db, placed["account"]) == Decimal("60.00")


def test_cancelling_restores_the_credit_and_twice_is_harmless(client, auth, make, placed, db):
    auth.login(make.user(Role.RETAILER, retailer=placed["retailer"]))
    url = f"/orders/{placed['order_id']}/cancel"
    form = form_on(client, url)
    first = client.post(url, data={**form.fields, "reason": "ordered by mistake"}, follow_redirects=True)
    assert f"Order #{placed['order_id']} cancelled: 60.00 EUR returned to the credit line." in readable(first)
    assert "Available credit now 500.00 EUR" in readable(first)
    second = client.post(url, data=form.fields, follow_redirects=True)  # the same form sent again
    assert "was already cancelled; nothing changed" in readable(second)

    assert balance(db, placed["account"]) == Decimal("0.00")
    reversals = db.session.scalar(select(func.count()).where(LedgerEntry.type == EntryType.REVERSAL))
    assert reversals == 1
    assert "is already cancelled" in readable(client.get(url))  # no second confirmation offered


def test_the_wholesaler_can_cancel_an_order_it_received(client, auth, make, placed, db):
    auth.login(make.user(Role.WHOLESALER, wholesaler=placed["wholesaler"]))
    assert "Corner Shop" in readable(client.get("/orders/"))
    response = submit(client, f"/orders/{placed['order_id']}/cancel")
    assert response.status_code == 302
    assert balance(db, placed["account"]) == Decimal("0.00")


def test_the_list_filters_by_status_and_pages_by_id(client, auth, make, placed, app, monkeypatch):
    from app.orders import routes

    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    for _ in range(3):
        orders.place_order(acting_retailer(placed["retailer"].id), wholesaler_id=placed["wholesaler"].id,
                           lines=[(placed["product"].id, 1)])
    orders.cancel_order(SYSTEM, placed["order_id"])
    auth.login(make.user(Role.ADMIN))
    first = readable(client.get("/orders/"))
    assert "#4" in first and "#3" in first and "#2" not in first and "Older" in first
    second = readable(client.get("/orders/?after=3"))
    assert "#2" in second and "#1" in second and "Newer" in second
    cancelled = readable(client.get("/orders/?status=CANCELLED"))
    assert f"#{placed['order_id']}" in cancelled and "#4" not in cancelled
