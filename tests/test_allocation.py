"""Open items and allocation: payments pay the orders they name, then the oldest due first; what is left is
unapplied credit that pays later charges; a cancelled order's payments go back and pay the others. Every figure
here is computed by hand."""

from datetime import UTC, date, datetime
from decimal import Decimal

import flask_migrate
import pytest
import time_machine
from sqlalchemy import func, select, text

from app.models import Allocation, CreditAccount, LedgerEntry, OpenItem, Role
from app.services import accounts, directory, orders
from app.services.actors import SYSTEM
from app.services.errors import IdempotencyKeyReused, ValidationError
from app.services.ledger_check import find_ledger_problems
from tests.support.actors import acting_retailer
from tests.support.api_client import ApiClient
from tests.support.page_forms import readable, submit


@pytest.fixture
def book(make):
    """An account on 30 days' terms with a 1.00 product, and helpers to order, pay and read what is open."""
    wholesaler = directory.create_wholesaler(SYSTEM, name="Allocating Wholesale")
    product = make.product(wholesaler, unit_price="1.00")
    account = make.account(wholesaler=wholesaler, credit_limit="10000.00", payment_terms_days=30)

    class Book:
        id = account.id

        @staticmethod
        def order(amount: int, on: str = "2027-01-10"):
            with time_machine.travel(datetime.fromisoformat(on + "T12:00:00+00:00"), tick=False):
                return orders.place_order(acting_retailer(account.retailer_id), wholesaler_id=wholesaler.id,
                                          lines=[(product.id, amount)])

        @staticmethod
        def pay(amount: str, on: str = "2027-01-20", **kw):
            with time_machine.travel(datetime.fromisoformat(on + "T12:00:00+00:00"), tick=False):
                return accounts.record_payment(SYSTEM, account.id, amount=amount, reference="Bank transfer", **kw)

        @staticmethod
        def outstanding(placed) -> Decimal:
            return make.db.session.get(OpenItem, placed.credit_ledger_entry_id).open_amount

        @staticmethod
        def unapplied() -> Decimal:
            return make.db.session.scalar(select(func.coalesce(func.sum(OpenItem.open_amount), 0)).where(
                OpenItem.credit_account_id == account.id, OpenItem.side == "CREDIT"))

    return Book


def paid(posted) -> list[tuple[int | None, Decimal]]:
    return [(a.order_id, a.amount) for a in posted.allocations]


def test_a_payment_pays_the_oldest_due_date_first_not_the_oldest_order(book):
    first = book.order(100, on="2027-01-01")                       # due 31 January
    accounts.update_account(SYSTEM, book.id, payment_terms_days=7)
    second = book.order(50, on="2027-01-02")                       # due 9 January: earlier
    payment = book.pay("70.00")
    assert paid(payment) == [(first.order_id, Decimal("20.00")), (second.order_id, Decimal("50.00"))]
    assert (book.outstanding(first), book.outstanding(second)) == (Decimal("80.00"), Decimal("0.00"))
    assert find_ledger_problems() == []


def test_named_orders_are_paid_first_and_the_rest_goes_oldest_first(book):
    older, newer = book.order(100, on="2027-01-01"), book.order(100, on="2027-01-05")
    payment = book.pay("60.00", allocations=[(newer.order_id, "25.00")])
    assert paid(payment) == [(older.order_id, Decimal("35.00")), (newer.order_id, Decimal("25.00"))]
    assert (book.outstanding(older), book.outstanding(newer)) == (Decimal("65.00"), Decimal("75.00"))
    assert find_ledger_problems() == []


def test_an_overpayment_is_unapplied_credit_that_pays_the_next_order(db, book):
    first = book.order(150)
    book.pay("200.00")
    assert (book.outstanding(first), book.unapplied()) == (Decimal("0.00"), Decimal("50.00"))
    assert db.session.get(CreditAccount, book.id).unapplied_credit == Decimal("50.00")
    later = book.order(80, on="2027-02-01")
    assert (book.outstanding(later), book.unapplied()) == (Decimal("30.00"), Decimal("0.00"))
    db.session.expire_all()
    account = db.session.get(CreditAccount, book.id)
    assert (account.balance, account.unapplied_credit) == (Decimal("30.00"), Decimal("0.00"))
    assert find_ledger_problems() == []


def test_cancelling_a_part_paid_order_releases_its_payment_to_the_other_orders(db, book):
    first, second = book.order(100, on="2027-01-01"), book.order(50, on="2027-01-02")
    payment = book.pay("120.00", idempotency_key="pay-1")
    assert paid(payment) == [(first.order_id, Decimal("100.00")), (second.order_id, Decimal("20.00"))]
    with time_machine.travel(datetime(2027, 1, 25, 9, tzinfo=UTC), tick=False):
        cancelled = orders.cancel_order(SYSTEM, first.order_id)
    assert (book.outstanding(first), book.outstanding(second), book.unapplied()) == (
        Decimal("0.00"), Decimal("0.00"), Decimal("70.00"))
    # The append-only rows say how it got there: each names the entry whose write made it, and when.
    history = db.session.execute(select(Allocation.charge_entry_id, Allocation.amount, Allocation.made_by_entry_id,
                                        Allocation.created_at)
                                 .where(Allocation.credit_entry_id == payment.id).order_by(Allocation.id)).all()
    released_at = datetime(2027, 1, 25, 9, tzinfo=UTC)
    assert [row[:3] for row in history] == [
        (first.credit_ledger_entry_id, Decimal("100.00"), payment.id),
        (second.credit_ledger_entry_id, Decimal("20.00"), payment.id),
        (first.credit_ledger_entry_id, Decimal("-100.00"), cancelled.reversal_entry_id),
        (second.credit_ledger_entry_id, Decimal("30.00"), cancelled.reversal_entry_id)]
    assert [row[3] for row in history][2:] == [released_at, released_at]
    # A retried payment still answers what it paid when it was recorded.
    assert paid(book.pay("120.00", idempotency_key="pay-1")) == paid(payment)
    assert find_ledger_problems() == []


def test_adjustments_are_charges_and_credits_like_orders_and_payments(db, book):
    order = book.order(100, on="2027-01-01")
    with time_machine.travel(datetime(2027, 1, 31, 23, 30, tzinfo=UTC), tick=False):
        fee = accounts.post_adjustment(SYSTEM, book.id, amount="15.00", reason="Late delivery fee")
    charge = db.session.get(OpenItem, fee.id)
    assert (charge.side, charge.due_date, charge.open_amount) == ("CHARGE", date(2027, 3, 2), Decimal("15.00"))
    credit_note = accounts.post_adjustment(SYSTEM, book.id, amount="-40.00", reason="Damaged goods")
    assert paid(credit_note) == [(order.order_id, Decimal("40.00"))]
    assert book.outstanding(order) == Decimal("60.00")
    assert find_ledger_problems() == []


@pytest.mark.parametrize(("named", "field", "why"), [
    (lambda o, other, cancelled: [(other, "5.00")], "allocations[0].order_id", "not an order on this account"),
    (lambda o, other, cancelled: [(cancelled, "5.00")], "allocations[0].order_id", "order is cancelled"),
    (lambda o, other, cancelled: [(o, "100.01")], "allocations[0].amount", "more than the 100.00 outstanding"),
    (lambda o, other, cancelled: [(o, "5.00"), (o, "5.00")], "allocations[1].order_id", "given more than once"),
    (lambda o, other, cancelled: [(o, "0.00")], "allocations[0].amount", "must not be zero."),
    (lambda o, other, cancelled: [(True, "1.00")], "allocations[0].order_id", "unknown order"),
])
def test_a_bad_allocation_is_refused_and_writes_nothing(db, make, book, named, field, why):
    order = book.order(100)
    cancelled = book.order(10)
    orders.cancel_order(SYSTEM, cancelled.order_id)
    other = make.account(wholesaler=make.wholesaler())
    stranger = orders.place_order(acting_retailer(other.retailer_id), wholesaler_id=other.wholesaler_id,
                                  lines=[(make.product(other.wholesaler).id, 1)])
    before = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    with pytest.raises(ValidationError) as refused:
        book.pay("50.00", allocations=named(order.order_id, stranger.order_id, cancelled.order_id))
    assert refused.value.field_errors == {field: why}
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == before
    assert book.outstanding(order) == Decimal("100.00")


def test_named_allocations_cannot_add_up_to_more_than_the_payment(book):
    first, second = book.order(100), book.order(100)
    with pytest.raises(ValidationError) as refused:
        book.pay("50.00", allocations=[(first.order_id, "30.00"), (second.order_id, "30.00")])
    assert refused.value.field_errors == {"allocations": "more than the 50.00 received"}
    assert refused.value.message == ("These allocations cannot be made: the amounts named are more than the 50.00 "
                                     "received.")


def test_a_retried_payment_answers_its_allocations_and_a_different_remittance_is_refused(book):
    first, second = book.order(100, on="2027-01-01"), book.order(100, on="2027-01-02")
    made = book.pay("50.00", idempotency_key="remit-7", allocations=[(second.order_id, "50.00")])
    again = book.pay("50.00", idempotency_key="remit-7", allocations=[(second.order_id, "50.00")])
    assert again.replayed and (again.id, paid(again)) == (made.id, [(second.order_id, Decimal("50.00"))])
    with pytest.raises(IdempotencyKeyReused):
        book.pay("50.00", idempotency_key="remit-7", allocations=[(first.order_id, "50.00")])
    assert (book.outstanding(first), book.outstanding(second)) == (Decimal("100.00"), Decimal("50.00"))


def test_verify_ledger_names_an_open_amount_that_disagrees_with_the_allocations(db, book):
    order = book.order(100)
    book.pay("30.00")
    db.session.execute(text("UPDATE open_items SET open_amount = 100 WHERE ledger_entry_id = :id"),
                       {"id": order.credit_ledger_entry_id})
    db.session.execute(text("UPDATE credit_accounts SET oldest_open_due = NULL WHERE id = :id"), {"id": book.id})
    db.session.commit()
    problems = find_ledger_problems()
    assert f"account {book.id}: notes None as its earliest open due date, but it is {order.due_date}" in problems
    assert f"charge {order.credit_ledger_entry_id}: 100.00 outstanding of 100.00, but 30.00 is allocated to it" \
        in problems
    assert f"account {book.id}: balance 70.00 but outstanding less unapplied credit is 100.00" in problems


def test_allocations_are_append_only(db, book):
    book.order(100)
    book.pay("30.00")
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("UPDATE allocations SET amount = 1"))
        db.session.commit()
    db.session.rollback()


def test_the_migration_allocates_existing_payments_oldest_first_as_of_when_they_happened(app, db):
    """Two orders, a payment, a cancellation and an overpayment, written before open items existed."""
    rows = [  # id, type, amount, balance after, order, reverses, written at
        (1, "DEBIT", 100, 100, 1, None, "2026-10-01 10:00+00"),
        (2, "DEBIT", 50, 150, 2, None, "2026-10-02 10:00+00"),
        (3, "CREDIT", 120, 30, None, None, "2026-10-20 10:00+00"),
        (4, "REVERSAL", 100, -70, 1, 1, "2026-10-25 10:00+00"),
        (5, "ADJUSTMENT", 80, 10, None, None, "2026-11-30 23:30+00"),
    ]
    try:
        with app.app_context():
            flask_migrate.downgrade(revision="0005")
            with db.engine.begin() as conn:
                conn.execute(text("INSERT INTO wholesalers (id, name, currency, time_zone) VALUES (1, 'W', 'EUR', "
                                  "'Europe/Berlin')"))
                conn.execute(text("INSERT INTO retailers (id, name) VALUES (1, 'R')"))
                conn.execute(text("INSERT INTO products (id, wholesaler_id, sku, name, unit_price) "
                                  "VALUES (1, 1, 'S', 'P', 50)"))
                conn.execute(text("INSERT INTO credit_accounts (id, retailer_id, wholesaler_id, credit_limit, "
                                  "currency, status, balance, payment_terms_days) VALUES "
                                  "(1, 1, 1, 1000, 'EUR', 'ACTIVE', 10, 14)"))
                for order_id, status, due in ((1, "CANCELLED", "2026-10-15"), (2, "CONFIRMED", "2026-10-16")):
                    conn.execute(text(
                        "INSERT INTO orders (id, retailer_id, wholesaler_id, credit_account_id, status, total_amount,"
                        " currency, due_date, created_at, cancelled_at) VALUES (:id, 1, 1, 1,"
                        " :status, :total, 'EUR', :due, now(), :cancelled_at)"),
                        {"id": order_id, "status": status, "total": 100 if order_id == 1 else 50, "due": due,
                         "cancelled_at": "2026-10-25 10:00+00" if status == "CANCELLED" else None})
                    conn.execute(text("INSERT INTO order_lines (order_id, product_id, quantity, unit_price, line_total)"
                                      " VALUES (:id, 1, :quantity, 50, 50 * :quantity)"),
                                 {"id": order_id, "quantity": 2 if order_id == 1 else 1})
                for id_, type_, amount, after, order_id, reverses, at in rows:
                    conn.execute(text(
                        "INSERT INTO ledger_entries (id, credit_account_id, type, amount, balance_after, order_id,"
                        " reverses_entry_id, memo, created_at) VALUES (:id, 1, :type, :amount, :after, :order_id,"
                        " :reverses, 'm', :at)"),
                        {"id": id_, "type": type_, "amount": amount, "after": after, "order_id": order_id,
                         "reverses": reverses, "at": at})
                conn.execute(text("UPDATE orders SET credit_ledger_entry_id = id"))  # entry i is order i's DEBIT
    finally:
        with app.app_context():
            flask_migrate.upgrade()
    items = {i.ledger_entry_id: (i.side, i.open_amount, i.due_date, i.cancelled_at is not None)
             for i in db.session.scalars(select(OpenItem))}
    assert items == {
        1: ("CHARGE", Decimal("0.00"), date(2026, 10, 15), True),
        2: ("CHARGE", Decimal("0.00"), date(2026, 10, 16), False),
        3: ("CREDIT", Decimal("0.00"), None, False),
        # 30 November 23:30 UTC is already 1 December in Berlin: due 14 days later.
        5: ("CHARGE", Decimal("10.00"), date(2026, 12, 15), False),
    }
    history = db.session.execute(select(Allocation.charge_entry_id, Allocation.amount, Allocation.made_by_entry_id,
                                        Allocation.created_at).order_by(Allocation.id)).all()
    assert [(charge, amount, made_by, at.date().isoformat()) for charge, amount, made_by, at in history] == [
        (1, Decimal("100.00"), 3, "2026-10-20"), (2, Decimal("20.00"), 3, "2026-10-20"),
        (1, Decimal("-100.00"), 4, "2026-10-25"), (2, Decimal("30.00"), 4, "2026-10-25"),
        (5, Decimal("70.00"), 5, "2026-11-30")]
    assert find_ledger_problems() == []


def test_an_order_named_without_an_amount_is_paid_in_full_or_with_what_is_left(book):
    older, newer = book.order(100, on="2027-01-01"), book.order(50, on="2027-01-05")
    payment = book.pay("120.00", allocations=[(newer.order_id, None), (older.order_id, None)])
    assert paid(payment) == [(older.order_id, Decimal("70.00")), (newer.order_id, Decimal("50.00"))]
    assert (book.outstanding(older), book.outstanding(newer)) == (Decimal("30.00"), Decimal("0.00"))


def test_the_api_takes_a_remittance_and_shows_what_each_order_owes(app, db, make, book):
    older, newer = book.order(100, on="2027-01-01"), book.order(50, on="2027-01-05")
    account = db.session.get(CreditAccount, book.id)
    api = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    url = f"/credit-accounts/{book.id}/payments"
    refused = api.post(url, {"amount": "10.00", "reference": "r", "allocations": [{"order_id": newer.order_id,
                                                                                   "amount": "60.00"}]})
    assert refused.status_code == 400
    assert refused.json["field_errors"] == {"allocations[0].amount": "more than the 50.00 outstanding"}
    made = api.post(url, {"amount": "80.00", "reference": "Remittance 12",
                          "allocations": [{"order_id": newer.order_id, "amount": "30.00"}]})
    assert made.status_code == 201
    assert made.json["allocations"] == [
        {"order_id": older.order_id, "charge_entry_id": older.credit_ledger_entry_id, "amount": "50.00"},
        {"order_id": newer.order_id, "charge_entry_id": newer.credit_ledger_entry_id, "amount": "30.00"}]
    shown = api.get(f"/orders/{newer.order_id}").json
    assert (shown["paid_amount"], shown["outstanding_amount"]) == ("30.00", "20.00")
    api.post(url, {"amount": "100.00", "reference": "Overpaid"})
    assert api.get(f"/credit-accounts/{book.id}").json["unapplied_credit"] == "30.00"  # 150 owed, 180 paid
    listed = {o["id"]: o for o in api.get("/orders").json["orders"]}
    assert (listed[older.order_id]["paid_amount"], listed[older.order_id]["outstanding_amount"]) == ("100.00", "0.00")


def test_the_wholesaler_names_orders_on_the_payment_form_and_the_ledger_says_what_is_open(client, auth, db, make, book):
    older, newer = book.order(100, on="2027-01-01"), book.order(50, on="2027-01-05")
    account = db.session.get(CreditAccount, book.id)
    auth.login(make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    url = f"/wholesaler/accounts/{book.id}"
    typo = submit(client, url, {"amount": "60.00", "reference": "Remit 4", "allocations": "12 and 13"},
                  action="/payment", prefix="payment")
    assert typo.status_code == 422 and "“12 and 13” is not an order" in readable(typo)
    too_much = submit(client, url, {"amount": "60.00", "reference": "Remit 4",
                                    "allocations": f"#{newer.order_id}: 55.00"}, action="/payment", prefix="payment")
    assert too_much.status_code == 422
    assert f"order #{newer.order_id}: more than the 50.00 outstanding" in readable(too_much)
    done = submit(client, url, {"amount": "60.00", "reference": "Remit 4", "allocations": f"{newer.order_id}"},
                  action="/payment", prefix="payment", follow_redirects=True)
    page = readable(done)
    assert "Payment of 60.00 EUR recorded" in page
    assert f"Order #{newer.order_id} · due 2027-02-04 · paid" in page
    assert f"Order #{older.order_id} · due 2027-01-31 · 90.00 EUR of it outstanding" in page
    detail = readable(client.get(f"/orders/{older.order_id}"))
    assert "Paid 10.00 EUR" in detail and "Outstanding 90.00 EUR" in detail


def test_the_retailers_statement_shows_what_is_open_what_payments_paid_and_what_to_pay(client, auth, db, make, book):
    older = book.order(100, on="2026-09-01")                      # due 1 October 2026: overdue on any later day
    newer = book.order(50, on="2026-09-20")                       # due 20 October
    book.pay("30.00", on="2026-09-25")                            # pays 30 of the older
    account = db.session.get(CreditAccount, book.id)
    auth.login(make.user(Role.RETAILER, retailer=account.retailer))
    page = readable(client.get(f"/retailer/accounts/{book.id}/statement"))
    assert "Pay 120.00 EUR now to keep ordering" in page
    assert f"Order #{older.order_id} 2026-09-01 2026-10-01 100.00 EUR 70.00 EUR" in page
    assert f"Order #{newer.order_id} 2026-09-20 2026-10-20 50.00 EUR 50.00 EUR" in page
    assert f"2026-09-25 Bank transfer 30.00 EUR #{older.order_id} 30.00 0.00 EUR" in page
    lines = client.get(f"/retailer/accounts/{book.id}/statement.csv").get_data(as_text=True).splitlines()
    assert lines[1].startswith(f"charge,{older.credit_ledger_entry_id},{older.order_id},2026-09-01,2026-10-01,"
                               "100.00,70.00,")
    assert lines[-1].endswith(f",30.00,0.00,,Bank transfer (paid: order {older.order_id} 30.00)")
    other = make.account(wholesaler=make.wholesaler())
    assert client.get(f"/retailer/accounts/{other.id}/statement").status_code == 404
