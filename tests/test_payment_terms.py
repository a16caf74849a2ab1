"""Payment terms and due dates: an order is due its business date in the wholesaler's time zone plus the
account's terms in force when it was placed, read from the one clock, which these tests freeze and move."""

from datetime import UTC, date, datetime

import flask_migrate
import pytest
import time_machine
from sqlalchemy import text

from app.models import AuditEvent, CreditAccount, Order, Role
from app.services import accounts, directory, orders, reports
from app.services.actors import SYSTEM
from app.services.errors import ValidationError
from tests.support.actors import acting_retailer
from tests.support.api_client import ApiClient


@pytest.fixture
def shop(make):
    """A function making a wholesaler in ``time_zone`` with one product, and a retailer's account on ``terms``."""

    def open_shop(time_zone="UTC", terms=30):
        wholesaler = directory.create_wholesaler(SYSTEM, name=f"Wholesaler in {time_zone}", time_zone=time_zone)
        product = make.product(wholesaler, unit_price="10.00")
        account = make.account(wholesaler=wholesaler, credit_limit="1000.00", payment_terms_days=terms)

        def order():
            return orders.place_order(acting_retailer(account.retailer_id), wholesaler_id=wholesaler.id,
                                      lines=[(product.id, 1)])

        return account, order

    return open_shop


def instant(text_: str) -> datetime:
    return datetime.fromisoformat(text_).astimezone(UTC)


@pytest.mark.parametrize(("placed_at", "time_zone", "terms", "due"), [
    # Half past eleven on New Year's Eve in UTC is already New Year's Day in Auckland (UTC+13 in summer).
    ("2026-12-31T11:30:00+00:00", "UTC", 30, date(2027, 1, 30)),
    ("2026-12-31T11:30:00+00:00", "Pacific/Auckland", 30, date(2027, 1, 31)),
    # Late evening in Los Angeles is tomorrow in UTC: the business day there is still the 30th.
    ("2027-01-01T05:00:00+00:00", "America/Los_Angeles", 30, date(2027, 1, 30)),
    # Across a month end into a February without a 29th, and cash terms.
    ("2027-01-31T12:00:00+00:00", "Europe/Berlin", 30, date(2027, 3, 2)),
    ("2027-02-28T23:30:00+00:00", "Europe/Berlin", 0, date(2027, 3, 1)),
    ("2028-01-30T10:00:00+00:00", "UTC", 30, date(2028, 2, 29)),  # a leap year's 29th
])
def test_an_order_is_due_its_business_date_plus_the_terms(db, shop, placed_at, time_zone, terms, due):
    account, order = shop(time_zone, terms)
    with time_machine.travel(instant(placed_at), tick=False):
        placed = order()
    stored = db.session.get(Order, placed.order_id)
    assert placed.due_date == stored.due_date == due
    assert stored.created_at == instant(placed_at)  # the app's clock, not the database's, dates the order


def test_new_terms_apply_to_later_orders_only(db, shop):
    account, order = shop("Europe/Berlin", 30)
    with time_machine.travel(instant("2027-03-10T09:00:00+00:00"), tick=False):
        first = order()
        accounts.update_account(SYSTEM, account.id, payment_terms_days=7)
        second = order()
    assert (first.due_date, second.due_date) == (date(2027, 4, 9), date(2027, 3, 17))
    db.session.expire_all()
    assert db.session.get(Order, first.order_id).due_date == date(2027, 4, 9)
    event = db.session.query(AuditEvent).filter_by(action="credit_account.set_terms").one()
    assert (event.before["payment_terms_days"], event.after["payment_terms_days"]) == (30, 7)


def test_a_new_account_starts_with_its_wholesalers_default_terms(db, make):
    wholesaler = directory.create_wholesaler(SYSTEM, name="Slow Payers Ltd", default_payment_terms_days=60)
    account = accounts.open_account(SYSTEM, retailer_id=make.retailer().id, wholesaler_id=wholesaler.id,
                                    credit_limit="100.00")
    assert account.payment_terms_days == 60
    assert directory.create_wholesaler(SYSTEM, name="Default Terms Ltd").default_payment_terms_days == 30


@pytest.mark.parametrize(("fields", "field"), [
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"time_zone": ""}, "time_zone"),
    ({"default_payment_terms_days": 366}, "default_payment_terms_days"),
    ({"default_payment_terms_days": -1}, "default_payment_terms_days"),
    ({"default_payment_terms_days": True}, "default_payment_terms_days"),
])
def test_a_bad_time_zone_or_default_terms_is_refused(db, fields, field):
    with pytest.raises(ValidationError) as refused:
        directory.create_wholesaler(SYSTEM, name="Nowhere Ltd", **fields)
    assert field in refused.value.field_errors


@pytest.mark.parametrize("terms", [366, -1, 2.5, "30", None])
def test_bad_terms_change_nothing(db, make, terms):
    account = make.account(payment_terms_days=30)
    with pytest.raises(ValidationError):
        accounts.update_account(SYSTEM, account.id, payment_terms_days=terms)
    db.session.expire_all()
    assert db.session.get(CreditAccount, account.id).payment_terms_days == 30


def test_the_api_shows_and_changes_terms_and_due_dates(app, db, make, shop):
    account, order = shop("UTC", 30)
    seller = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    url = f"/credit-accounts/{account.id}"
    assert seller.get(url).json["payment_terms_days"] == 30
    changed = seller.patch(url, {"payment_terms_days": 45})
    assert changed.status_code == 200 and changed.json["payment_terms_days"] == 45
    assert changed.json["credit_limit"] == "1000.00"  # a PATCH changes only what it names
    for bad in (True, 1.5, "45", 400):
        refused = seller.patch(url, {"payment_terms_days": bad})
        assert refused.status_code == 400 and "payment_terms_days" in refused.json["field_errors"]
    with time_machine.travel(instant("2027-05-01T08:00:00+00:00"), tick=False):
        placed = order()
    assert seller.get(f"/orders/{placed.order_id}").json["due_date"] == "2027-06-15"


def test_the_wholesaler_sets_terms_on_the_account_page_and_sees_due_dates(client, auth, db, make, shop):
    account, order = shop("UTC", 30)
    auth.login(make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    url = f"/wholesaler/accounts/{account.id}"
    page = client.get(url).get_data(as_text=True)
    token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    refused = client.post(f"{url}/terms", data={"csrf_token": token, "terms-payment_terms_days": "400"})
    assert refused.status_code == 422 and "Number must be between 0 and 365" in refused.get_data(as_text=True)
    done = client.post(f"{url}/terms", data={"csrf_token": token, "terms-payment_terms_days": "14"},
                       follow_redirects=True)
    assert "Payment terms set to 14 days" in done.get_data(as_text=True)
    with time_machine.travel(instant("2027-02-20T10:00:00+00:00"), tick=False):
        placed = order()
    assert f"Order #{placed.order_id}" in (ledger := client.get(url).get_data(as_text=True))
    assert "due 2027-03-06" in ledger and "14 days" in ledger


def test_existing_orders_get_due_dates_from_the_migration(app, db):
    """Orders placed before terms existed are due 30 days after their UTC business date."""
    try:
        with app.app_context():
            flask_migrate.downgrade(revision="0004")
            with db.engine.begin() as conn:
                conn.execute(text("INSERT INTO wholesalers (id, name, currency) VALUES (1, 'W', 'EUR')"))
                conn.execute(text("INSERT INTO retailers (id, name) VALUES (1, 'R')"))
                conn.execute(text("INSERT INTO credit_accounts (id, retailer_id, wholesaler_id, credit_limit, "
                                  "currency, status, balance) VALUES (1, 1, 1, 100, 'EUR', 'ACTIVE', 0)"))
                conn.execute(text("INSERT INTO orders (id, retailer_id, wholesaler_id, credit_account_id, status, "
                                  "total_amount, currency, created_at) VALUES "
                                  "(1, 1, 1, 1, 'CONFIRMED', 5, 'EUR', '2026-11-30 23:30:00+00')"))
    finally:
        with app.app_context():
            flask_migrate.upgrade()
    assert db.session.get(Order, 1).due_date == date(2026, 12, 30)
    assert db.session.get(CreditAccount, 1).payment_terms_days == 30


def test_the_ledgers_date_filter_counts_days_in_the_wholesalers_time_zone(db, shop):
    """Half past midnight in Helsinki on 5 March is still 4 March in UTC: the filter follows Helsinki."""
    account, order = shop("Europe/Helsinki", 30)
    with time_machine.travel(instant("2027-03-04T22:30:00+00:00"), tick=False):
        placed = order()
    query = reports.ledger_query(account.id, since=date(2027, 3, 5), until=date(2027, 3, 5),
                                 time_zone="Europe/Helsinki")
    assert [entry.order_id for entry in db.session.scalars(query)] == [placed.order_id]
    assert db.session.scalars(reports.ledger_query(account.id, since=date(2027, 3, 5))).all() == []  # UTC


def test_audit_times_come_from_the_same_clock(db, make):
    account = make.account()
    with time_machine.travel(instant("2027-06-30T23:59:00+00:00"), tick=False):
        accounts.update_account(SYSTEM, account.id, credit_limit="50.00")
    event = db.session.query(AuditEvent).filter_by(action="credit_account.set_limit").one()
    assert event.created_at == instant("2027-06-30T23:59:00+00:00")


def test_an_admin_creates_a_wholesaler_with_its_time_zone_and_terms_through_the_api(app, db, make):
    admin = ApiClient(app, make.user(Role.ADMIN))
    made = admin.post("/wholesalers", {"name": "Kiwi Fresh", "time_zone": "Pacific/Auckland",
                                       "default_payment_terms_days": 14})
    assert made.status_code == 201
    assert (made.json["time_zone"], made.json["default_payment_terms_days"]) == ("Pacific/Auckland", 14)
    refused = admin.post("/wholesalers", {"name": "Nowhere", "time_zone": "Mars/Olympus"})
    assert refused.status_code == 400 and refused.json["field_errors"] == {"time_zone": "unknown time zone"}
