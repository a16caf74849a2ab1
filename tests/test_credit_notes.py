"""Credit notes: the wholesaler's side credits an order back by line, at the prices ordered, under the row lock;
never more of a line than was ordered and not yet credited. The credit pays the order first; what the order had
paid already pays the account's other charges."""

from decimal import Decimal

import pytest
from sqlalchemy import bindparam, select

from app.models import CreditAccount, EntryType, OpenItem, Order, Role
from app.services import accounts
from app.services.accounts import credit_order, record_payment
from app.services.actors import SYSTEM
from app.services.errors import (
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    OrderCancelled,
    OrderCredited,
    ValidationError,
)
from app.services.ledger_check import find_ledger_problems
from app.services.orders import cancel_order, place_order, ship_order
from tests.support.actors import acting_retailer, acting_wholesaler
from tests.support.api_client import ApiClient
from tests.support.ledger import crowd_ledger
from tests.support.page_forms import readable, submit
from tests.support.plans import generic_plan
from tests.support.table_digest import snapshot

D = Decimal


@pytest.fixture
def trade(make):
    """An account with two products (10.00 and 2.50) and an order of 3 and 4 of them (40.00), shipped."""
    account = make.account(credit_limit="1000.00")
    tea = make.product(account.wholesaler, unit_price="10.00")
    cups = make.product(account.wholesaler, unit_price="2.50")

    class Trade:
        id, retailer_id, wholesaler_id = account.id, account.retailer_id, account.wholesaler_id
        tea_id, cups_id = tea.id, cups.id
        wholesaler = acting_wholesaler(account.wholesaler_id)

        @classmethod
        def order(cls, tea=3, cups=4):
            placed = place_order(acting_retailer(cls.retailer_id), wholesaler_id=cls.wholesaler_id,
                                 lines=[(cls.tea_id, tea), (cls.cups_id, cups)])
            ship_order(cls.wholesaler, placed.order_id)
            return placed.order_id

    return Trade


def balance(db, account_id):
    db.session.expire_all()
    return db.session.get(CreditAccount, account_id).balance


def outstanding(db, order_id):
    db.session.expire_all()
    return db.session.get(Order, order_id).item.open_amount


def test_a_credit_note_credits_lines_at_the_prices_ordered_and_pays_the_order_first(db, trade):
    order_id = trade.order()
    note = credit_order(trade.wholesaler, order_id, lines=[(trade.tea_id, 1), (trade.cups_id, 2)],
                        reason="One tin dented, two cups broken")
    assert (note.type, note.amount, note.order_id) == (EntryType.CREDIT_NOTE, D("15.00"), order_id)
    assert [(a.order_id, a.amount) for a in note.allocations] == [(order_id, D("15.00"))]
    assert balance(db, trade.id) == D("25.00") and outstanding(db, order_id) == D("25.00")
    assert find_ledger_problems() == []


def test_never_more_than_was_ordered_and_not_yet_credited(db, trade):
    order_id = trade.order()
    credit_order(trade.wholesaler, order_id, lines=[(trade.tea_id, 2)], reason="Returned")
    before = snapshot(db)
    with pytest.raises(ValidationError) as refused:
        credit_order(trade.wholesaler, order_id, lines=[(trade.cups_id, 1), (trade.tea_id, 2)], reason="Again")
    assert refused.value.field_errors == {"lines[1].quantity": "only 1 left to credit"}
    credit_order(trade.wholesaler, order_id, lines=[(trade.tea_id, 1)], reason="The last one")
    with pytest.raises(ValidationError) as refused:
        credit_order(trade.wholesaler, order_id, lines=[(trade.tea_id, 1)], reason="One more")
    assert refused.value.field_errors == {"lines[0].quantity": "already credited"}
    assert snapshot(db) != before and find_ledger_problems() == []


@pytest.mark.parametrize(("lines", "field"), [
    ([], "lines"), ([(999999, 1)], "lines[0].product_id"), ([("tea", 0)], "lines[0].quantity"),
    ([("tea", 1), ("tea", 1)], "lines[1].product_id"), ([("cups", True)], "lines[0].quantity")])
def test_bad_lines_are_refused_and_write_nothing(db, trade, lines, field):
    order_id = trade.order()
    named = [({"tea": trade.tea_id, "cups": trade.cups_id}.get(p, p), q) for p, q in lines]
    before = snapshot(db)
    with pytest.raises(ValidationError) as refused:
        credit_order(trade.wholesaler, order_id, lines=named, reason="Returned")
    assert field in refused.value.field_errors and snapshot(db) == before


def test_a_paid_order_credited_pays_the_other_charges_oldest_first(db, trade):
    paid, other = trade.order(), trade.order(tea=1, cups=1)      # 40.00 and 12.50
    record_payment(SYSTEM, trade.id, amount="40.00", reference="Transfer", allocations=[(paid, None)])
    note = credit_order(trade.wholesaler, paid, lines=[(trade.cups_id, 4)], reason="Wrong cups")
    assert [(a.order_id, a.amount) for a in note.allocations] == [(other, D("10.00"))]
    assert outstanding(db, other) == D("2.50") and balance(db, trade.id) == D("2.50")
    db.session.expire_all()
    unapplied = db.session.get(OpenItem, note.id).open_amount
    assert unapplied == D("0.00") and find_ledger_problems() == []


def test_a_credited_order_is_not_cancelled_in_full_and_a_cancelled_one_is_not_credited(db, trade):
    credited, cancelled = trade.order(), trade.order()
    credit_order(trade.wholesaler, credited, lines=[(trade.tea_id, 1)], reason="Returned")
    cancel_order(trade.wholesaler, cancelled)
    before = snapshot(db)
    with pytest.raises(OrderCredited):
        cancel_order(trade.wholesaler, credited)
    with pytest.raises(OrderCancelled):
        credit_order(trade.wholesaler, cancelled, lines=[(trade.tea_id, 1)], reason="Returned")
    assert snapshot(db) == before


def test_only_the_orders_wholesaler_or_an_admin_credits_it(db, make, trade):
    order_id = trade.order()
    with pytest.raises(Forbidden):
        credit_order(acting_retailer(trade.retailer_id), order_id, lines=[(trade.tea_id, 1)], reason="Mine")
    with pytest.raises(NotFound):
        credit_order(acting_wholesaler(make.wholesaler().id), order_id, lines=[(trade.tea_id, 1)], reason="No")


def test_a_retried_credit_note_is_written_once(db, trade):
    order_id = trade.order()
    first = credit_order(trade.wholesaler, order_id, lines=[(trade.tea_id, 1)], reason="Dented",
                         idempotency_key="rma-17")
    again = credit_order(trade.wholesaler, order_id, lines=[(trade.tea_id, 1)], reason="Dented",
                         idempotency_key="rma-17")
    assert again.replayed and again.id == first.id and again.allocations == first.allocations
    with pytest.raises(IdempotencyKeyReused):
        credit_order(trade.wholesaler, order_id, lines=[(trade.tea_id, 2)], reason="Dented", idempotency_key="rma-17")
    assert balance(db, trade.id) == D("30.00")


def test_concurrent_credit_notes_for_the_last_units_credit_them_once(db, trade, in_parallel, slow_flushes):
    order_id, wholesaler_id, tea_id = trade.order(), trade.wholesaler_id, trade.tea_id
    results = in_parallel(lambda i: credit_order(acting_wholesaler(wholesaler_id), order_id, lines=[(tea_id, 2)],
                                                 reason=f"Return {i}"), 2)
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(refused) == 1 and refused[0].field_errors == {"lines[0].quantity": "only 1 left to credit"}
    assert balance(db, trade.id) == D("20.00") and find_ledger_problems() == []


def test_the_api_writes_a_credit_note(app, db, make, trade):
    order_id = trade.order()
    account = db.session.get(CreditAccount, trade.id)
    api = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    body = {"lines": [{"product_id": trade.cups_id, "quantity": 2}], "reason": "Broken in transit"}
    made = api.post(f"/orders/{order_id}/credit-notes", json=body, headers={"Idempotency-Key": "rma-1"})
    assert made.status_code == 201, made.json
    assert (made.json["type"], made.json["amount"], made.json["order_id"]) == ("CREDIT_NOTE", "5.00", order_id)
    debit_id = db.session.get(Order, order_id).credit_ledger_entry_id
    assert made.json["allocations"] == [{"order_id": order_id, "charge_entry_id": debit_id, "amount": "5.00"}]
    again = api.post(f"/orders/{order_id}/credit-notes", json=body, headers={"Idempotency-Key": "rma-1"})
    assert again.status_code == 200 and again.json == made.json
    too_many = api.post(f"/orders/{order_id}/credit-notes",
                        json={"lines": [{"product_id": trade.cups_id, "quantity": 3}], "reason": "More"})
    assert too_many.status_code == 400 and "lines[0].quantity" in too_many.json["field_errors"]
    retailer = ApiClient(app, make.user(Role.RETAILER, retailer=account.retailer))
    assert retailer.post(f"/orders/{order_id}/credit-notes", json=body).status_code == 403
    order = api.get(f"/orders/{order_id}").json
    assert (order["outstanding_amount"], order["credited_amount"]) == ("35.00", "5.00")


def test_the_order_page_issues_a_credit_note_line_by_line(client, auth, db, make, trade):
    order_id = trade.order()
    account = db.session.get(CreditAccount, trade.id)
    auth.login(make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    page = f"/orders/{order_id}/credit-note"
    assert "Credit lines" in readable(client.get(f"/orders/{order_id}"))
    too_many = submit(client, page, {f"quantity_{trade.tea_id}": "4", "reason": "Dented"})
    assert too_many.status_code == 422 and "from 0 to 3" in readable(too_many)
    nothing = submit(client, page, {"reason": "Dented"})
    assert nothing.status_code == 422 and "Name the order's lines to credit" in readable(nothing)
    done = submit(client, page, {f"quantity_{trade.tea_id}": "1", f"quantity_{trade.cups_id}": "4",
                                 "reason": "Dented tin, wrong cups"}, follow_redirects=True)
    text = readable(done)
    assert "Credit note of 20.00 EUR issued" in text and "Dented tin, wrong cups" in text
    assert "Cancel order" not in text and balance(db, trade.id) == D("20.00")
    assert readable(client.get(page)).count("all credited") == 1   # the cups
    submit(client, page, {f"quantity_{trade.tea_id}": "2", "reason": "The rest"})
    assert balance(db, trade.id) == D("0.00")
    assert "Credit lines" not in readable(client.get(f"/orders/{order_id}"))
    auth.logout()
    auth.login(make.user(Role.RETAILER, retailer=account.retailer))
    assert client.get(page).status_code == 403
    assert "Credit notes" in readable(client.get(f"/orders/{order_id}"))


def test_an_orders_credit_notes_are_found_through_indexes_whatever_the_ledger(db, trade):
    order_id = trade.order()
    crowd_ledger(db, trade.id, 20_000)
    notes = generic_plan(db, select(Order.credited_amount).where(Order.id == bindparam("order_id")),
                         {"order_id": order_id})
    assert "ix_ledger_entries_credit_notes" in notes and "Seq Scan" not in notes, notes
    credited = generic_plan(db, accounts._CREDITED_BY_LINE, {"order_id": order_id})
    assert "Seq Scan on ledger_entries" not in credited and "ix_order_lines_order_id" in credited, credited
