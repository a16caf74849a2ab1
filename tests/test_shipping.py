"""Shipping: the wholesaler marks an order shipped under the row lock; from then on the retailer can no longer
cancel it (a paid order cancelled would turn the payment into credit to spend again), and only the
wholesaler's side can reverse it."""

import pytest

from app.models import Order, OrderStatus, Role
from app.services.actors import SYSTEM
from app.services.errors import Forbidden, NotFound, OrderCancelled, OrderShipped
from app.services.ledger_check import find_ledger_problems
from app.services.orders import cancel_order, place_order, ship_order
from tests.support.actors import acting_retailer, acting_wholesaler
from tests.support.api_client import ApiClient
from tests.support.auth import csrf_token
from tests.support.page_forms import form_on, readable
from tests.support.table_digest import snapshot


@pytest.fixture
def trade(make):
    """An account, a retailer and a wholesaler acting on it, and one confirmed order of 100.00."""
    account = make.account(credit_limit="1000.00")
    product = make.product(account.wholesaler, unit_price="100.00")
    retailer, wholesaler = acting_retailer(account.retailer_id), acting_wholesaler(account.wholesaler_id)
    order = place_order(retailer, wholesaler_id=account.wholesaler_id, lines=[(product.id, 1)])

    class Trade:
        pass

    trade = Trade()
    trade.account, trade.retailer, trade.wholesaler, trade.order_id = account, retailer, wholesaler, order.order_id
    trade.account_id, trade.retailer_id, trade.wholesaler_id = account.id, account.retailer_id, account.wholesaler_id
    return trade


def order_of(db, order_id):
    db.session.expire_all()
    return db.session.get(Order, order_id)


def test_once_shipped_the_retailer_cannot_cancel_and_nothing_is_written(db, trade):
    shipped = ship_order(trade.wholesaler, trade.order_id)
    order = order_of(db, trade.order_id)
    assert order.status == OrderStatus.SHIPPED and order.shipped_at == shipped.shipped_at
    before = snapshot(db)
    with pytest.raises(OrderShipped) as refused:
        cancel_order(trade.retailer, trade.order_id, reason="changed my mind")
    assert refused.value.status == 409 and "only" in str(refused.value)
    assert snapshot(db) == before


def test_the_wholesaler_can_still_reverse_a_shipped_order_in_full(db, trade):
    ship_order(trade.wholesaler, trade.order_id)
    cancelled = cancel_order(trade.wholesaler, trade.order_id, reason="returned unopened")
    order = order_of(db, trade.order_id)
    assert order.status == OrderStatus.CANCELLED and order.shipped_at is not None
    assert cancelled.available_credit == 1000 and find_ledger_problems() == []


def test_shipping_twice_answers_the_same_and_a_cancelled_order_cannot_ship(db, trade):
    first = ship_order(trade.wholesaler, trade.order_id)
    before = snapshot(db)
    again = ship_order(SYSTEM, trade.order_id)
    assert (again.shipped_at, again.already_shipped) == (first.shipped_at, True) and snapshot(db) == before
    other = place_order(trade.retailer, wholesaler_id=trade.wholesaler_id,
                        lines=[(order_of(db, trade.order_id).lines[0].product_id, 1)])
    cancel_order(trade.retailer, other.order_id)
    before = snapshot(db)
    with pytest.raises(OrderCancelled):
        ship_order(trade.wholesaler, other.order_id)
    assert snapshot(db) == before


def test_only_the_orders_wholesaler_or_an_admin_ships_it(db, make, trade):
    with pytest.raises(Forbidden):
        ship_order(trade.retailer, trade.order_id)
    with pytest.raises(NotFound):
        ship_order(acting_wholesaler(make.wholesaler().id), trade.order_id)
    assert order_of(db, trade.order_id).status == OrderStatus.CONFIRMED


def test_a_shipment_and_the_retailers_cancel_racing_take_turns(db, trade, in_parallel, slow_flushes):
    retailer_id, wholesaler_id, order_id = trade.retailer_id, trade.wholesaler_id, trade.order_id
    results = in_parallel(lambda i: ship_order(acting_wholesaler(wholesaler_id), order_id) if i == 0
                          else cancel_order(acting_retailer(retailer_id), order_id), 2)
    shipped, cancelled = results
    order = order_of(db, order_id)
    if order.status == OrderStatus.SHIPPED:      # the shipment went first: the cancel was refused
        assert isinstance(cancelled, OrderShipped) and not isinstance(shipped, Exception)
    else:                                        # the cancel went first: nothing left to ship
        assert order.status == OrderStatus.CANCELLED and order.shipped_at is None
        assert isinstance(shipped, OrderCancelled) and not isinstance(cancelled, Exception)
    assert find_ledger_problems() == []


def test_the_api_ships_and_refuses_the_retailers_cancel(app, db, make, trade):
    account = trade.account
    wholesaler = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    retailer = ApiClient(app, make.user(Role.RETAILER, retailer=account.retailer))
    assert retailer.post(f"/orders/{trade.order_id}/ship", json={}).status_code == 403
    shipped = wholesaler.post(f"/orders/{trade.order_id}/ship", json={})
    assert shipped.status_code == 200 and shipped.json["status"] == "SHIPPED" and shipped.json["shipped_at"]
    assert wholesaler.post(f"/orders/{trade.order_id}/ship").json == shipped.json  # again, no body: the same
    refused = retailer.post(f"/orders/{trade.order_id}/cancel", json={})
    assert refused.status_code == 409 and refused.json["error"] == "ORDER_SHIPPED"
    assert retailer.get(f"/orders/{trade.order_id}").json["status"] == "SHIPPED"


def test_the_order_page_ships_and_then_tells_the_retailer_who_can_reverse_it(client, auth, db, make, trade):
    account = trade.account
    page = f"/orders/{trade.order_id}"
    auth.login(make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    form = form_on(client, page, action=f"{page}/ship")
    done = client.post(form.action, data=form.fields, follow_redirects=True)
    assert "marked shipped" in readable(done) and "Mark shipped" not in readable(done)
    assert "Cancel order" in readable(done)  # the wholesaler may still reverse it
    auth.logout()
    auth.login(make.user(Role.RETAILER, retailer=account.retailer))
    text = readable(client.get(page))
    assert "only" in text and account.wholesaler.name in text and "Cancel order" not in text
    cancel_page = readable(client.get(f"{page}/cancel"))
    assert "has been shipped" in cancel_page and "Yes, cancel the order" not in cancel_page
    before = snapshot(db)
    assert client.post(f"{page}/ship", data={"csrf_token": csrf_token(client, "/")}).status_code == 403
    assert snapshot(db) == before
