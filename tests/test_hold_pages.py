"""Credit holds through the real pages: held from the order form, listed with the time left, ordered in full or in
part, released; the wholesaler's side sees what is held on its accounts."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from app.models import CreditAccount, CreditHold, HoldStatus, Order, OrderLine, Role
from tests.support.page_forms import form_on, readable, submit

START = datetime.fromisoformat("2026-05-31T21:30:00+00:00")


@pytest.fixture
def shop(make, auth):
    """A signed-in retailer with a 1,000.00 EUR credit line at a wholesaler selling rice and oil."""
    wholesaler = make.wholesaler(name="Acme Foods")
    account = make.account(retailer=make.retailer(name="Corner Shop"), wholesaler=wholesaler, credit_limit="1000.00")
    rice = make.product(wholesaler, unit_price="12.40", sku="RICE")
    oil = make.product(wholesaler, unit_price="250.00", sku="OIL")
    user = make.user(Role.RETAILER, retailer=account.retailer)
    desk = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    auth.login(user)

    class Shop:
        pass

    shop = Shop()
    shop.__dict__.update(account=account, rice=rice, oil=oil, user=user, desk=desk,
                         url=f"/retailer/accounts/{account.id}/order")
    return shop


def hold_from_the_order_form(client, shop, rice=10, oil=2, hold_for="86400"):
    """Fill in the order form and press "Hold credit" rather than "Place order"."""
    form = form_on(client, shop.url)
    return client.post(form.action, data=form.fields | {
        f"quantity_{shop.rice.id}": str(rice), f"quantity_{shop.oil.id}": str(oil), "hold_for": hold_for,
        "hold": "Hold credit"})


def test_the_order_form_holds_the_lines_instead_of_ordering_them(client, shop, db, auth):
    with time_machine.travel(START, tick=False):
        auth.login(shop.user)  # a session is not valid before it was made
        response = hold_from_the_order_form(client, shop)
        hold = db.session.scalars(select(CreditHold)).one()
        assert response.status_code == 302 and response.headers["Location"] == f"/holds/{hold.id}"
        assert (hold.amount, hold.expires_at) == (Decimal("624.00"), START + timedelta(days=1))
        assert db.session.scalar(select(Order.id)) is None
        page = readable(client.get(response.headers["Location"]))
        assert f"Hold #{hold.id}: 624.00 EUR of credit and today's prices are held until 01 June 2026, 21:30 UTC." \
               in page and "Available credit now 376.00 EUR." in page
        assert "held for you for 1 day more" in page
        credit_lines = readable(client.get("/retailer/"))
        assert "376.00 EUR 624.00 EUR held" in credit_lines
        assert "0.00 EUR" in credit_lines  # nothing owed: a hold is no debt


def test_a_hold_the_credit_cannot_cover_is_refused_on_the_order_page(client, shop, db):
    response = hold_from_the_order_form(client, shop, oil=5)
    assert response.status_code == 422
    assert "Not enough credit for this order" in readable(response)
    assert db.session.scalar(select(CreditHold.id)) is None


def test_the_list_shows_each_hold_with_its_time_left_and_its_status_as_it_stands(client, shop, db, auth):
    with time_machine.travel(START, tick=False):
        auth.login(shop.user)  # a session is not valid before it was made
        hold_from_the_order_form(client, shop, rice=1, oil=0, hold_for="3600")
        hold_from_the_order_form(client, shop, rice=2, oil=0, hold_for="604800")
    with time_machine.travel(START + timedelta(minutes=45), tick=False):
        page = readable(client.get("/holds/"))
        assert "in 15 min" in page and "in 6 days 23 h" in page
    with time_machine.travel(START + timedelta(hours=2), tick=False):
        page = readable(client.get("/holds/"))
        assert "Expired" in page and "Holding" in page  # the first expired: nothing needed to write so
        active = readable(client.get("/holds/?status=ACTIVE"))
        assert "24.80 EUR" in active and "12.40 EUR" not in active


def test_ordering_part_of_a_hold_at_the_held_prices_releases_the_rest(client, shop, db, auth):
    with time_machine.travel(START, tick=False):
        auth.login(shop.user)  # a session is not valid before it was made
        hold_from_the_order_form(client, shop, rice=10, oil=2)
        hold = db.session.scalars(select(CreditHold)).one()
        shop.oil.unit_price = Decimal("300.00")  # the catalogue moves; the hold's price does not
        db.session.commit()
        url = f"/holds/{hold.id}"
        response = submit(client, url, {f"quantity_{shop.rice.id}": "4", f"quantity_{shop.oil.id}": "1"},
                          action="/capture")
        order = db.session.scalars(select(Order)).one()
        assert response.status_code == 302 and response.headers["Location"] == f"/orders/{order.id}"
        assert order.total_amount == Decimal("299.60")  # 4 × 12.40 + 1 × 250.00
        assert {(line.product_id, line.quantity) for line in db.session.scalars(select(OrderLine))} == {
            (shop.rice.id, 4), (shop.oil.id, 1)}
        assert f"Order #{order.id} placed from hold #{hold.id}: 299.60 EUR. Available credit now 700.40 EUR." in \
               readable(client.get(response.headers["Location"]))
        assert "Captured" in readable(client.get(url)) and f"Order #{order.id}" in readable(client.get(url))


def test_ordering_more_than_was_held_is_refused_under_the_line(client, shop, db):
    hold_from_the_order_form(client, shop, rice=10, oil=0)
    hold = db.session.scalars(select(CreditHold)).one()
    response = submit(client, f"/holds/{hold.id}", {f"quantity_{shop.rice.id}": "11"}, action="/capture")
    assert response.status_code == 422 and "Enter a whole number from 0 to 10." in readable(response)
    assert db.session.scalar(select(Order.id)) is None


def test_a_hold_that_expired_while_its_page_was_open_cannot_be_ordered(client, shop, db, auth):
    with time_machine.travel(START, tick=False):
        auth.login(shop.user)  # a session is not valid before it was made
        hold_from_the_order_form(client, shop, hold_for="3600")
        hold = db.session.scalars(select(CreditHold)).one()
        form = form_on(client, f"/holds/{hold.id}", "/capture")
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        response = client.post(form.action, data=form.fields)
        assert response.status_code == 409 and "This hold expired at 22:30:00 UTC on 31 May 2026" in readable(response)
        assert db.session.scalar(select(Order.id)) is None


def test_the_wholesaler_sees_what_is_held_and_may_release_it(client, shop, db, auth):
    hold_from_the_order_form(client, shop)
    hold = db.session.scalars(select(CreditHold)).one()
    auth.logout()
    auth.login(shop.desk)
    assert "624.00 EUR held" in readable(client.get("/wholesaler/"))
    account_page = readable(client.get(f"/wholesaler/accounts/{shop.account.id}"))
    assert "Available 376.00 EUR 624.00 EUR held" in account_page
    assert "Corner Shop" in readable(client.get("/holds/"))
    response = submit(client, f"/holds/{hold.id}", action="/release", follow_redirects=True)
    assert f"Hold #{hold.id} released: 624.00 EUR of credit is free again. Available credit now 1,000.00 EUR." in \
           readable(response)
    db.session.expire_all()
    assert db.session.get(CreditHold, hold.id).status == HoldStatus.RELEASED
    assert db.session.get(CreditAccount, shop.account.id).held_amount == 0
    assert "/release" not in client.get(f"/holds/{hold.id}").get_data(as_text=True)  # nothing left to release


def test_without_holds_the_list_says_how_to_make_one(client, shop):
    assert "choose Hold credit" in readable(client.get("/holds/"))
