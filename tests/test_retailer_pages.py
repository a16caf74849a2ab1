"""Retailer pages through the real forms: credit lines, ordering on credit, and every refusal."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import AccountStatus, LedgerEntry, Order, Role
from app.services import errors, orders
from tests.support.page_forms import form_on, forms_in, post_with_token, readable, submit


@pytest.fixture
def shop(make, auth):
    """A signed-in retailer with a 1,000.00 EUR credit line at a wholesaler selling two products."""
    wholesaler = make.wholesaler(name="Acme Foods")
    retailer = make.retailer(name="Corner Shop")
    account = make.account(retailer=retailer, wholesaler=wholesaler, credit_limit="1000.00")
    rice = make.product(wholesaler, unit_price="12.40", sku="RICE")
    oil = make.product(wholesaler, unit_price="250.00", sku="OIL")
    user = make.user(Role.RETAILER, retailer=retailer)
    auth.login(user)

    class Shop:
        pass

    shop = Shop()
    shop.__dict__.update(wholesaler=wholesaler, retailer=retailer, account=account, rice=rice, oil=oil,
                         user=user, url=f"/retailer/accounts/{account.id}/order")
    return shop


def quantities(shop, rice=0, oil=0) -> dict:
    return {f"quantity_{shop.rice.id}": str(rice), f"quantity_{shop.oil.id}": str(oil)}


def order_count(db) -> int:
    return db.session.scalar(select(func.count(Order.id)))


def test_the_dashboard_lists_each_credit_line_with_readable_money(client, shop, make, db):
    shop.account.balance = Decimal("1234.50")
    shop.account.credit_limit = Decimal("10000.00")
    db.session.commit()
    page = readable(client.get("/retailer/"))
    assert "Acme Foods" in page
    assert "10,000.00 EUR" in page and "1,234.50 EUR" in page and "8,765.50 EUR" in page
    assert "12%" in page and "Active" in page


def test_a_negative_balance_reads_as_credit_in_the_retailers_favour(client, shop, db):
    shop.account.balance = Decimal("-75.00")
    db.session.commit()
    page = readable(client.get("/retailer/"))
    assert "75.00 EUR credit in your favour" in page
    assert "1,075.00 EUR" in page  # available: the limit plus the credit


def test_without_credit_lines_the_dashboard_says_what_happens_next(client, make, auth):
    auth.login(make.user(Role.RETAILER, retailer=make.retailer()))
    page = readable(client.get("/retailer/"))
    assert "No credit lines yet" in page and "Ask the wholesalers you buy from for credit" in page
    assert "Invite your colleagues" in page


def test_the_order_form_shows_the_catalogue_and_the_available_credit(client, shop):
    page = readable(client.get(shop.url))
    assert "Order from Acme Foods" in page
    assert "12.40 EUR" in page and "250.00 EUR" in page
    assert "Available credit 1,000.00 EUR" in page
    form = form_on(client, shop.url)
    assert len(form.fields["idempotency_key"]) >= 24  # made on the server, one per rendering
    assert form_on(client, shop.url).fields["idempotency_key"] != form.fields["idempotency_key"]


def test_placing_an_order_through_the_form_debits_the_account(client, shop, db):
    response = submit(client, shop.url, quantities(shop, rice=10, oil=2))
    order = db.session.scalars(select(Order)).one()
    assert response.status_code == 302 and response.headers["Location"] == f"/orders/{order.id}"
    assert order.total_amount == Decimal("624.00")  # 10 × 12.40 + 2 × 250.00
    db.session.refresh(shop.account)
    assert shop.account.balance == Decimal("624.00")
    debit = db.session.scalars(select(LedgerEntry)).one()
    assert (debit.type.value, debit.amount, debit.order_id) == ("DEBIT", Decimal("624.00"), order.id)

    page = readable(client.get(response.headers["Location"]))
    assert f"Order #{order.id} placed: 624.00 EUR. Available credit now 376.00 EUR." in page
    assert "376.00 EUR" in readable(client.get("/retailer/"))


def test_a_resubmitted_form_places_one_order(client, shop, db):
    form = form_on(client, shop.url)
    data = {**form.fields, **quantities(shop, rice=1)}
    first = client.post(shop.url, data=data)
    second = client.post(shop.url, data=data)  # a double click, or Back and submit again
    assert first.headers["Location"] == second.headers["Location"]
    assert order_count(db) == 1
    db.session.refresh(shop.account)
    assert shop.account.balance == Decimal("12.40")
    assert "was already placed from this form; it was not placed twice" in readable(
        client.get(second.headers["Location"]))


def test_reusing_a_form_for_other_quantities_asks_to_check_and_gives_a_fresh_key(client, shop, db):
    form = form_on(client, shop.url)
    client.post(shop.url, data={**form.fields, **quantities(shop, rice=1)})
    again = client.post(shop.url, data={**form.fields, **quantities(shop, rice=3)})
    assert again.status_code == 409  # the form conflicts with the order its key already placed
    assert "This form was already used" in readable(again)
    assert order_count(db) == 1
    assert form.fields["idempotency_key"] not in again.get_data(as_text=True)


def test_tampered_price_and_total_fields_change_nothing(client, shop, db):
    form = form_on(client, shop.url)
    tampered = {**form.fields, **quantities(shop, oil=1), f"price_{shop.oil.id}": "0.01",
                "unit_price": "0.01", "total": "0.01", "total_amount": "0.01", "amount": "0.01"}
    client.post(shop.url, data=tampered)
    order = db.session.scalars(select(Order)).one()
    assert order.total_amount == Decimal("250.00")
    assert [line.unit_price for line in order.lines] == [Decimal("250.00")]


def test_another_wholesalers_product_cannot_be_slipped_in(client, shop, make, db):
    foreign = make.product(make.wholesaler(), unit_price="1.00")
    form = form_on(client, shop.url)
    response = client.post(shop.url, data={**form.fields, **quantities(shop, rice=1),
                                           f"quantity_{foreign.id}": "5"})
    assert order_count(db) == 1  # the unknown field is not part of this catalogue's form: ignored
    assert db.session.scalars(select(Order)).one().total_amount == Decimal("12.40")
    assert response.status_code == 302


def test_an_over_limit_order_says_how_much_credit_is_available_and_keeps_the_form(client, shop, db):
    shop.account.balance = Decimal("800.00")
    db.session.commit()
    response = submit(client, shop.url, quantities(shop, rice=3, oil=1))
    page = readable(response)
    assert response.status_code == 422
    assert "Not enough credit for this order" in page
    assert "This order comes to 287.20 EUR, but only 200.00 EUR of credit is available." in page
    assert "Available credit: 200.00 EUR" in page
    assert "INSUFFICIENT_CREDIT" in page
    assert "Lower the quantities" in page
    refilled = _fields(response)
    assert refilled[f"quantity_{shop.rice.id}"] == "3" and refilled[f"quantity_{shop.oil.id}"] == "1"
    assert order_count(db) == 0


def test_a_blocked_account_says_to_contact_the_wholesaler(client, shop, db):
    shop.account.status, shop.account.blocked_reason = AccountStatus.BLOCKED, "Payments overdue"
    db.session.commit()
    response = submit(client, shop.url, quantities(shop, rice=2))
    page = readable(response)
    assert response.status_code == 422
    assert "CREDIT_BLOCKED" in page and "Please contact Acme Foods to have the account unblocked." in page
    assert _fields(response)[f"quantity_{shop.rice.id}"] == "2"
    assert order_count(db) == 0


@pytest.mark.parametrize("error, status, shown", [
    (errors.CreditAccountNotFound(), 422, ["CREDIT_ACCOUNT_NOT_FOUND", "Credit is not set up",
                                           "Ask Acme Foods to set up a credit line for you."]),
    # Busy is not the input's fault: 503 with Retry-After, as the API answers, and the same form to resend.
    (errors.MaxRetriesExceeded(), 503, ["MAX_RETRIES_EXCEEDED", "The account is busy",
                                        "Please press “Place order” again in a moment."]),
])
def test_refusals_the_form_cannot_provoke_still_say_what_to_do(client, shop, db, monkeypatch, error, status, shown):
    # No page can remove a credit account or hold its lock, so the service is made to refuse.
    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(orders, "place_order", refuse)
    response = submit(client, shop.url, quantities(shop, oil=1))
    assert response.status_code == status
    assert all(message in readable(response) for message in shown)
    assert _fields(response)[f"quantity_{shop.oil.id}"] == "1"


def test_a_busy_account_gives_max_retries_exceeded_for_real(app, client, shop, db, monkeypatch):
    """The lock held by another transaction past the deadline: the page asks to retry, nothing written."""
    from sqlalchemy import text as sql

    monkeypatch.setitem(app.config, "CREDIT_LOCK_DEADLINE_SECONDS", 0.2)
    form = form_on(client, shop.url)
    with db.engine.connect() as other:
        other.execute(sql("SELECT 1 FROM credit_accounts WHERE id = :id FOR UPDATE"), {"id": shop.account.id})
        response = client.post(shop.url, data={**form.fields, **quantities(shop, rice=1)})
        other.rollback()
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "MAX_RETRIES_EXCEEDED" in readable(response)
    assert order_count(db) == 0


@pytest.mark.parametrize("value, message", [
    ("-1", "Enter a whole number from 0 to 100,000."),
    ("1.5", "Not a valid integer value."),
    ("100001", "Enter a whole number from 0 to 100,000."),
    # int() reads each of these as a number: other scripts' digits, full-width digits, underscores
    ("١٠", "Enter the number with the digits 0 to 9."),
    ("１２", "Enter the number with the digits 0 to 9."),
    ("1٠", "Enter the number with the digits 0 to 9."),
    ("1_0", "Not a valid integer value."),
])
def test_bad_quantities_are_refused_on_the_form(client, shop, db, value, message):
    response = submit(client, shop.url, {f"quantity_{shop.rice.id}": value})
    assert response.status_code == 422
    assert message in readable(response)
    assert order_count(db) == 0


def test_an_empty_order_is_refused_with_a_message(client, shop, db):
    response = submit(client, shop.url, quantities(shop))
    assert "An order needs at least one product." in readable(response)
    assert order_count(db) == 0


def test_a_product_deactivated_while_the_form_was_open_is_refused_by_name(client, shop, db):
    form = form_on(client, shop.url)
    shop.oil.active = False
    db.session.commit()
    response = client.post(shop.url, data={**form.fields, **quantities(shop, rice=1, oil=1)})
    assert f"No longer available: {shop.oil.name}." in readable(response)
    assert order_count(db) == 0


def test_a_missing_idempotency_key_is_not_ordered_blind(client, shop, db):
    response = post_with_token(client, shop.url, {**quantities(shop, rice=1)})
    assert "The form was incomplete" in readable(response)
    assert order_count(db) == 0


def _fields(response) -> dict:
    """The order form's values as the re-rendered page holds them."""
    return next(f.fields for f in forms_in(response) if "idempotency_key" in f.fields)
