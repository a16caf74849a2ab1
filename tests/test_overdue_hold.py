"""The overdue hold, decided under the row lock: an order is refused while more than the account's minimum is
past its due date plus grace, in the wholesaler's time zone, and goes through again the moment a payment brings
that down. The clock is moved by hand; every figure is computed by hand."""

import itertools
from datetime import date, datetime
from decimal import Decimal

import flask_migrate
import pytest
import time_machine
from sqlalchemy import event, text

from app.models import CreditAccount, OverduePolicy, Role
from app.services import accounts, allocation, directory, orders, receivables
from app.services.actors import SYSTEM
from app.services.errors import CreditOverdue, ValidationError
from app.services.ledger_check import find_ledger_problems
from tests.support.actors import acting_retailer
from tests.support.api_client import ApiClient
from tests.support.ledger import crowd_ledger
from tests.support.page_forms import form_on, readable, submit
from tests.support.plans import generic_plan


def at(moment: str):
    return time_machine.travel(datetime.fromisoformat(moment), tick=False)


@pytest.fixture
def shop(make):
    """An account on 30 days' terms with the hold policy, at a wholesaler in ``time_zone``; ``order(n)`` orders
    n units of a 1.00 product, ``pay(amount)`` records a payment, both at the clock's time."""

    shops = itertools.count(1)

    def open_shop(time_zone="UTC", **policy):
        wholesaler = directory.create_wholesaler(SYSTEM, name=f"Wholesale {next(shops)} in {time_zone}",
                                                 time_zone=time_zone)
        product = make.product(wholesaler, unit_price="1.00")
        account = accounts.open_account(SYSTEM, retailer_id=make.retailer().id, wholesaler_id=wholesaler.id,
                                        credit_limit="10000.00")
        if policy:
            accounts.update_account(SYSTEM, account.id, **policy)
        # Plain ids: an ORM object read on a worker thread would use this thread's session.
        account_id, retailer_id, wholesaler_id, product_id = account.id, account.retailer_id, wholesaler.id, product.id

        class Shop:
            id = account_id

            @staticmethod
            def order(units: int = 1):
                return orders.place_order(acting_retailer(retailer_id), wholesaler_id=wholesaler_id,
                                          lines=[(product_id, units)])

            @staticmethod
            def pay(amount: str):
                return accounts.record_payment(SYSTEM, account_id, amount=amount, reference="Transfer")

        return Shop

    return open_shop


def test_new_accounts_hold_and_an_order_a_day_past_due_is_refused_with_what_to_pay(db, shop):
    book = shop()
    assert db.session.get(CreditAccount, book.id).overdue_policy == OverduePolicy.HOLD
    with at("2027-01-10T12:00:00+00:00"):
        first = book.order(100)                                   # due 9 February
    with at("2027-02-09T23:59:00+00:00"):
        book.order(5)                                             # the due date itself: not yet overdue
    with at("2027-02-10T00:01:00+00:00"), pytest.raises(CreditOverdue) as refused:
        book.order(1)
    error = refused.value
    assert (error.overdue_amount, error.oldest_due_date, error.to_lift) == (
        Decimal("100.00"), date(2027, 2, 9), Decimal("100.00"))
    assert error.message == ("100.00 EUR of this account is overdue, the oldest since 2027-02-09. "
                             "Pay at least 100.00 EUR to order again.")
    assert error.details()["overdue_amount"] == "100.00" and error.details()["oldest_due_date"] == "2027-02-09"
    with at("2027-02-10T09:00:00+00:00"):
        book.pay("99.99")                                         # a cent short: still held
        with pytest.raises(CreditOverdue):
            book.order(1)
        book.pay("0.01")                                          # paid: the hold lifts itself
        assert book.order(1).order_id > first.order_id
    assert find_ledger_problems() == []


def test_grace_days_and_a_minimum_let_small_or_recent_arrears_through(db, shop):
    book = shop(overdue_grace_days=3, overdue_min_amount="10.00")
    with at("2027-03-01T12:00:00+00:00"):
        book.order(50)                                            # due 31 March
    with at("2027-04-03T12:00:00+00:00"):
        book.order(1)                                             # 3 days late: within grace
    with at("2027-04-04T12:00:00+00:00"):
        with pytest.raises(CreditOverdue) as refused:
            book.order(1)
        assert (refused.value.overdue_amount, refused.value.to_lift) == (Decimal("50.00"), Decimal("40.00"))
        book.pay("40.00")                                         # 10.00 left overdue: not more than the minimum
        book.order(1)


def test_the_business_day_is_the_wholesalers(shop):
    """23:30 UTC on 9 February is already 10 February in Helsinki: the order placed then is held."""
    book = shop("Europe/Helsinki")
    with at("2027-01-10T10:00:00+00:00"):
        book.order(10)                                            # Helsinki's 10 January: due 9 February
    with at("2027-02-09T21:30:00+00:00"):                         # 23:30 in Helsinki, still the 9th
        book.order(1)
    with at("2027-02-09T22:30:00+00:00"), pytest.raises(CreditOverdue):  # 00:30 on the 10th in Helsinki
        book.order(1)


def test_the_off_policy_never_holds_and_payments_and_cancels_always_go_through(shop):
    book = shop(overdue_policy="off")
    with at("2027-01-10T12:00:00+00:00"):
        late = book.order(20)
    with at("2027-06-01T12:00:00+00:00"):
        book.order(1)                                             # months overdue, policy off
        accounts.update_account(SYSTEM, book.id, overdue_policy="hold")
        with pytest.raises(CreditOverdue):
            book.order(1)
        orders.cancel_order(SYSTEM, late.order_id)                # cancelling the late order lifts the hold
        book.order(1)


def test_accounts_that_existed_before_the_hold_get_the_off_policy(app, db):
    try:
        with app.app_context():
            flask_migrate.downgrade(revision="0006")
            with db.engine.begin() as conn:
                conn.execute(text("INSERT INTO wholesalers (id, name) VALUES (1, 'W')"))
                conn.execute(text("INSERT INTO retailers (id, name) VALUES (1, 'R')"))
                conn.execute(text("INSERT INTO credit_accounts (id, retailer_id, wholesaler_id, credit_limit, "
                                  "currency) VALUES (1, 1, 1, 100, 'EUR')"))
    finally:
        with app.app_context():
            flask_migrate.upgrade()
    account = db.session.get(CreditAccount, 1)
    assert (account.overdue_policy, account.overdue_grace_days, account.overdue_min_amount) == (
        OverduePolicy.OFF, 0, Decimal("0.00"))
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO retailers (id, name) VALUES (2, 'New')"))
        conn.execute(text("INSERT INTO credit_accounts (id, retailer_id, wholesaler_id, credit_limit, currency) "
                          "VALUES (2, 2, 1, 100, 'EUR')"))
    assert db.session.execute(text("SELECT overdue_policy FROM credit_accounts WHERE retailer_id = 2")).scalar() \
        == "hold"


@pytest.mark.parametrize(("change", "field"), [
    ({"overdue_policy": "sometimes"}, "overdue_policy"),
    ({"overdue_grace_days": 366}, "overdue_grace_days"),
    ({"overdue_grace_days": True}, "overdue_grace_days"),
    ({"overdue_min_amount": "-1.00"}, "overdue_min_amount"),
])
def test_a_bad_overdue_setting_is_refused_and_changes_nothing(db, shop, change, field):
    book = shop()
    with pytest.raises(ValidationError) as refused:
        accounts.update_account(SYSTEM, book.id, **{"payment_terms_days": 14} | change)
    assert field in refused.value.field_errors
    db.session.expire_all()
    assert db.session.get(CreditAccount, book.id).payment_terms_days == 30  # nothing else changed either


def test_a_payment_and_an_order_racing_on_an_overdue_account_serialise(db, shop, in_parallel, slow_flushes):
    """The order sees the account either before the payment (refused) or after it (confirmed), never a mix."""
    books = [shop() for _ in range(4)]
    with at("2027-01-10T12:00:00+00:00"):
        for book in books:
            book.order(100)
    with at("2027-03-01T12:00:00+00:00"):
        for book in books:
            paid, order = in_parallel(lambda i, book=book: book.pay("100.00") if i == 0 else book.order(1), 2)
            balance = db.session.scalar(text("SELECT balance FROM credit_accounts WHERE id = :id"), {"id": book.id})
            assert paid.balance_after in (Decimal("0.00"), Decimal("1.00"))
            if isinstance(order, CreditOverdue):  # before the payment: all of it overdue, and nothing ordered
                assert (order.overdue_amount, balance) == (Decimal("100.00"), Decimal("0.00"))
            else:                                 # after it: nothing overdue, the order on top
                assert (order.available_credit, balance) == (Decimal("9999.00"), Decimal("1.00"))
    assert find_ledger_problems() == []


def test_the_account_document_and_page_show_the_hold(app, client, auth, db, make, shop):
    book = shop()
    with at("2027-01-10T12:00:00+00:00"):
        book.order(100)
    account = db.session.get(CreditAccount, book.id)
    api = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    with at("2027-02-15T12:00:00+00:00"):
        shown = api.get(f"/credit-accounts/{book.id}").json
        assert {k: shown[k] for k in ("overdue_policy", "overdue_grace_days", "overdue_min_amount", "overdue_amount",
                                      "on_overdue_hold")} == {
            "overdue_policy": "hold", "overdue_grace_days": 0, "overdue_min_amount": "0.00",
            "overdue_amount": "100.00", "on_overdue_hold": True}
        changed = api.patch(f"/credit-accounts/{book.id}", {"overdue_min_amount": "150.00"})
        assert changed.status_code == 200 and changed.json["on_overdue_hold"] is False
        assert receivables.overdue(db.session.get(CreditAccount, book.id)).amount == Decimal("100.00")


def test_the_pages_say_who_is_held_and_what_lifts_it(client, auth, db, make, shop):
    book = shop()
    with at("2027-01-10T12:00:00+00:00"):
        book.order(100)
    account = db.session.get(CreditAccount, book.id)
    retailer = make.user(Role.RETAILER, retailer=account.retailer)
    wholesaler = make.user(Role.WHOLESALER, wholesaler=account.wholesaler)
    url = f"/wholesaler/accounts/{book.id}"
    with at("2027-02-20T12:00:00+00:00"):
        auth.login(wholesaler)
        page = readable(client.get(url))
        assert "On overdue hold" in page and "A payment of 100.00 EUR lifts the hold" in page
        assert "On overdue hold" in readable(client.get("/wholesaler/"))
        saved = submit(client, url, {"overdue_grace_days": "15", "overdue_min_amount": ""}, action="/terms",
                       prefix="terms", follow_redirects=True)
        assert "held when more than 0.00 EUR is 15 days past due" in readable(saved)
        assert "On overdue hold" not in readable(saved)   # 9 February + 15 days of grace is not yet past
        bad = submit(client, url, {"overdue_min_amount": "-5"}, action="/terms", prefix="terms")
        assert bad.status_code == 422 and "Must not be negative." in readable(bad)
        auth.logout()
    with at("2027-03-01T12:00:00+00:00"):
        auth.login(retailer)
        assert "Pay 100.00 EUR to order again" in readable(client.get("/retailer/"))
        order_page = f"/retailer/accounts/{book.id}/order"
        form = form_on(client, order_page)
        quantity = next(name for name in form.fields if name.startswith("qty-") or "quantity" in name)
        refused = client.post(form.action, data=dict(form.fields) | {quantity: "1"})
        assert refused.status_code == 422
        text_ = readable(refused)
        assert "A payment is overdue" in text_ and "Pay at least 100.00 EUR to" in text_


def test_the_overdue_check_reads_only_the_accounts_open_charges(db, shop):
    # The driver prepares a statement it runs often and PostgreSQL then keeps one plan for any values: a
    # partial index's predicate sent as bind parameters is not proved there, and each order read every charge
    # the account ever had.
    book = shop()
    crowd_ledger(db, book.id, 20_000, open_items=50)
    for name, statement, params in [
            ("overdue", receivables._OVERDUE, {"account_id": book.id, "due_before": date(2027, 1, 1)}),
            ("open charges", allocation._OPEN_CHARGES, {"account_id": book.id}),
            ("open credits", allocation._OPEN_CREDITS, {"account_id": book.id})]:
        assert "ix_open_items_open_c" in generic_plan(db, statement, params), name




def test_the_account_row_keeps_its_earliest_open_due_date_through_every_write(db, shop):
    book = shop(payment_terms_days=30)

    def oldest():
        db.session.expire_all()
        return db.session.get(CreditAccount, book.id).oldest_open_due

    assert oldest() is None
    with at("2027-01-10T12:00:00+00:00"):
        first = book.order(100)                                    # due 9 February
    with at("2027-01-20T12:00:00+00:00"):
        second = book.order(40)                                    # due 19 February
    assert oldest() == date(2027, 2, 9)
    with at("2027-01-25T12:00:00+00:00"):
        book.pay("100.00")                                         # the first paid off
    assert oldest() == date(2027, 2, 19)
    with at("2027-01-26T12:00:00+00:00"):
        accounts.update_account(SYSTEM, book.id, payment_terms_days=0)
        accounts.post_adjustment(SYSTEM, book.id, amount="5.00", reason="Delivery charge")  # due today
    assert oldest() == date(2027, 1, 26)
    with at("2027-01-27T12:00:00+00:00"):
        orders.cancel_order(SYSTEM, first.order_id)                # its 100.00 released: pays the other two
    assert oldest() is None
    with at("2027-01-28T12:00:00+00:00"):
        book.order(80)                                             # 55.00 of credit left pays part of it
    assert oldest() == date(2027, 1, 28)
    assert second.due_date == date(2027, 2, 19) and find_ledger_problems() == []


def test_an_order_in_good_standing_reads_no_open_items(db, shop):
    # The locked row says when the earliest open charge is due: until that is past, nothing else is read.
    book = shop()
    read = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "open_items" in statement:
            read.append(statement)

    with at("2027-01-10T12:00:00+00:00"):
        book.order(100)                                            # due 9 February
    event.listen(db.engine, "before_cursor_execute", watch)
    try:
        with at("2027-02-09T12:00:00+00:00"):
            book.order(1)
        assert read == []
        with at("2027-02-10T12:00:00+00:00"), pytest.raises(CreditOverdue):
            book.order(1)
        assert len(read) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)
