"""Buyer approvals: an approver gives a buyer a per-order limit; a larger order waits for an approver as a hold of
its credit for three days, ordered or declined by an approver (or declined by its expiry); a buyer without a limit
orders as before. Through the service, the pages and the API."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from app.extensions import db as _db
from app.models import AuditEvent, CreditAccount, CreditHold, HoldPurpose, HoldStatus, Order, Role, User
from app.services import approvals, holds
from app.services.errors import Forbidden, HoldExpired, InsufficientCredit, NotFound, ValidationError
from app.services.holds import HoldResult
from app.services.ledger_check import find_ledger_problems
from app.services.orders import PlacedOrder
from tests.support.actors import acting_retailer
from tests.support.api_client import ApiClient
from tests.support.page_forms import form_on, readable, submit

MONDAY = datetime.fromisoformat("2026-03-02T09:00:00+00:00")


@pytest.fixture
def shop(make):
    """Corner Shop's approver (no limit) and buyer (250.00 an order) on a 1,000.00 EUR line; a case costs 100.00."""
    account = make.account(retailer=make.retailer(name="Corner Shop"), credit_limit="1000.00")
    product = make.product(account.wholesaler, unit_price="100.00", sku="CASE")
    owner = make.user(Role.RETAILER, retailer=account.retailer, email="owner@corner.example")
    buyer = make.user(Role.RETAILER, retailer=account.retailer, email="buyer@corner.example")
    approvals.set_order_limit(owner, buyer.id, limit="250.00")

    class Shop:
        account_id, wholesaler_id, product_id = account.id, account.wholesaler_id, product.id
        owner_id, buyer_id = owner.id, buyer.id

        def user(self, user_id):
            _db.session.expire_all()
            return _db.session.get(User, user_id)

        def order(self, user_id, cases, key=None):
            return approvals.place(self.user(user_id), wholesaler_id=self.wholesaler_id,
                                   lines=[(self.product_id, cases)], idempotency_key=key)

        def figures(self):
            _db.session.expire_all()
            account = _db.session.get(CreditAccount, self.account_id)
            return account.balance, account.held_amount_now, account.available_credit

    return Shop()


def test_an_order_within_the_buyers_limit_is_placed_and_one_above_waits_holding_its_credit(shop):
    assert isinstance(shop.order(shop.buyer_id, 2), PlacedOrder)
    waiting = shop.order(shop.buyer_id, 3)
    assert isinstance(waiting, HoldResult) and waiting.hold.purpose == HoldPurpose.APPROVAL
    assert waiting.hold.expires_at - waiting.hold.created_at == timedelta(days=3)
    assert shop.figures() == (Decimal("200.00"), Decimal("300.00"), Decimal("500.00"))
    assert isinstance(shop.order(shop.owner_id, 5), PlacedOrder)  # the approver has no limit
    with pytest.raises(InsufficientCredit):  # the waiting order's credit is held: refused as any hold would be
        shop.order(shop.owner_id, 1)


def test_an_approver_approves_the_order_at_the_held_prices(shop):
    waiting = shop.order(shop.buyer_id, 3).hold
    with pytest.raises(Forbidden):  # the buyer cannot order it itself
        holds.capture_hold(shop.user(shop.buyer_id), waiting.id)
    with pytest.raises(Forbidden):
        approvals.approve(shop.user(shop.buyer_id), waiting.id)
    approved = approvals.approve(shop.user(shop.owner_id), waiting.id, note="Go ahead")
    order = _db.session.get(Order, approved.order.order_id)
    assert (order.total_amount, order.placed_by) == (Decimal("300.00"), shop.buyer_id)  # the buyer's order
    hold = _db.session.get(CreditHold, waiting.id)
    assert (hold.status, hold.decision_note, hold.closed_by) == (HoldStatus.CAPTURED, "Go ahead", shop.owner_id)
    assert shop.figures() == (Decimal("300.00"), Decimal("0.00"), Decimal("700.00"))
    assert approvals.approve(shop.user(shop.owner_id), waiting.id).repeated
    assert find_ledger_problems() == []


def test_an_approver_declines_with_a_note_and_the_credit_is_free_again(shop):
    waiting = shop.order(shop.buyer_id, 3).hold
    with pytest.raises(ValidationError):
        approvals.decline(shop.user(shop.owner_id), waiting.id, note="  ")
    declined = approvals.decline(shop.user(shop.owner_id), waiting.id, note="Enough stock until May")
    assert (declined.hold.status, declined.hold.decision_note) == (HoldStatus.RELEASED, "Enough stock until May")
    assert shop.figures() == (Decimal("0.00"), Decimal("0.00"), Decimal("1000.00"))


def test_three_days_without_a_decision_decline_it_with_no_job_run(shop):
    with time_machine.travel(MONDAY, tick=False):
        waiting = shop.order(shop.buyer_id, 3).hold
    with time_machine.travel(MONDAY + timedelta(days=3, seconds=-1), tick=False):
        assert shop.figures()[1] == Decimal("300.00")
    with time_machine.travel(MONDAY + timedelta(days=3), tick=False):
        assert shop.figures()[1] == Decimal("0.00")
        with pytest.raises(HoldExpired):
            approvals.approve(shop.user(shop.owner_id), waiting.id)


def test_a_buyer_with_a_limit_cannot_order_a_bigger_cart_from_a_hold(shop):
    cart = holds.place_hold(shop.user(shop.buyer_id), wholesaler_id=shop.wholesaler_id, lines=[(shop.product_id, 4)],
                            expires_in_seconds=3600).hold
    with pytest.raises(Forbidden, match="above your order limit of 250.00"):
        holds.capture_hold(shop.user(shop.buyer_id), cart.id)
    assert holds.capture_hold(shop.user(shop.buyer_id), cart.id, lines=[(shop.product_id, 2)]).order.total_amount \
        == Decimal("200.00")


def test_only_an_approver_sets_limits_and_one_always_remains(shop, make):
    with pytest.raises(Forbidden):
        approvals.set_order_limit(shop.user(shop.buyer_id), shop.owner_id, limit="10.00")
    with pytest.raises(ValidationError) as refused:
        approvals.set_order_limit(shop.user(shop.owner_id), shop.owner_id, limit="10.00")
    assert refused.value.field_errors == {"order_limit": "last approver"}
    with pytest.raises(NotFound):
        approvals.set_order_limit(make.user(Role.RETAILER, retailer=make.retailer()), shop.buyer_id, limit="10.00")
    assert approvals.set_order_limit(shop.user(shop.owner_id), shop.buyer_id, limit=None).order_limit is None
    assert isinstance(shop.order(shop.buyer_id, 5), PlacedOrder)  # no limit: orders as before
    assert _db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "user.set_order_limit")) == 2


def test_concurrent_approvals_make_one_order(shop, in_parallel):
    hold_id = shop.order(shop.buyer_id, 3).hold.id
    results = in_parallel(lambda i: approvals.approve(shop.user(shop.owner_id), hold_id).order.order_id, 6)
    assert len(set(results)) == 1 and all(isinstance(r, int) for r in results)
    assert _db.session.scalar(select(func.count()).select_from(Order)) == 1


# --- The pages and the API ---------------------------------------------------------------------------------------

def test_the_order_page_sends_a_big_order_for_approval_and_an_approver_decides_it_on_its_page(client, shop, auth):
    auth.login(shop.user(shop.buyer_id))
    url = f"/retailer/accounts/{shop.account_id}/order"
    response = submit(client, url, {f"quantity_{shop.product_id}": "3"}, follow_redirects=True)
    page = readable(response)
    assert ("This order of 300.00 EUR is above your order limit of 250.00 EUR, so it waits for an approver."
            in page) and "Awaiting approval" in page and "Withdraw the order" in page and "Approve" not in page
    hold_url = response.request.path
    auth.logout()
    auth.login(shop.user(shop.owner_id))
    assert "1 order above a buyer's limit waits for your approval" in readable(client.get("/retailer/"))
    assert hold_url in client.get("/holds/?status=AWAITING_APPROVAL").get_data(as_text=True)
    refused = submit(client, hold_url, {"note": ""}, action="/decline", prefix="decline")
    assert refused.status_code == 422 and "Say why: the buyer reads it." in readable(refused)
    approved = submit(client, hold_url, {"note": "Fine"}, action="/approve", prefix="approve", follow_redirects=True)
    assert "Approved: order #" in readable(approved)
    assert shop.figures()[0] == Decimal("300.00")


def test_the_team_page_sets_a_buyers_limit(client, shop, auth):
    auth.login(shop.user(shop.owner_id))
    form = form_on(client, "/team/", action=f"/team/{shop.buyer_id}/order-limit")
    assert form.fields[f"limit-{shop.buyer_id}-order_limit"] == "250.00"
    bad = client.post(form.action, data=form.fields | {f"limit-{shop.buyer_id}-order_limit": "12,50"})
    assert bad.status_code == 422 and "Enter a number such as 1234.50" in readable(bad)
    done = client.post(form.action, data=form.fields | {f"limit-{shop.buyer_id}-order_limit": "400.00"},
                       follow_redirects=True)
    assert "buyer@corner.example may order up to 400.00 per order" in readable(done)
    assert shop.user(shop.buyer_id).order_limit == Decimal("400.00")
    auth.logout()
    auth.login(shop.user(shop.buyer_id))
    assert f"/team/{shop.owner_id}/order-limit" not in client.get("/team/").get_data(as_text=True)


def test_the_api_answers_202_with_the_hold_and_an_approver_approves_it(app, shop):
    buyer, owner = ApiClient(app, shop.user(shop.buyer_id)), ApiClient(app, shop.user(shop.owner_id))
    body = {"wholesaler_id": shop.wholesaler_id, "lines": [{"product_id": shop.product_id, "quantity": 3}]}
    waiting = buyer.post("/orders", body, headers={"Idempotency-Key": "po-77"})
    assert waiting.status_code == 202 and waiting.json["purpose"] == "APPROVAL" and waiting.json["status"] == "ACTIVE"
    assert buyer.post("/orders", body, headers={"Idempotency-Key": "po-77"}).status_code == 200  # the same hold
    assert buyer.post(f"/holds/{waiting.json['id']}/approve", {}).status_code == 403
    approved = owner.post(f"/holds/{waiting.json['id']}/approve", {"note": "Fine"})
    assert approved.status_code == 201 and approved.json["total_amount"] == "300.00"
    assert owner.get(f"/holds/{waiting.json['id']}").json["decision_note"] == "Fine"


def test_a_retried_key_answers_what_the_first_request_made_whatever_the_limit_is_now(shop):
    first = shop.order(shop.buyer_id, 3, key="po-9")
    approvals.set_order_limit(shop.user(shop.owner_id), shop.buyer_id, limit="5000.00")
    again = shop.order(shop.buyer_id, 3, key="po-9")
    assert isinstance(again, HoldResult) and again.repeated and again.hold.id == first.hold.id
    placed = shop.order(shop.buyer_id, 1, key="po-10")
    approvals.set_order_limit(shop.user(shop.owner_id), shop.buyer_id, limit="50.00")
    replayed = shop.order(shop.buyer_id, 1, key="po-10")
    assert isinstance(replayed, PlacedOrder) and replayed.replayed and replayed.order_id == placed.order_id
    assert _db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_only_its_buyer_withdraws_a_waiting_order_and_an_approver_declines_it(shop, make):
    waiting = shop.order(shop.buyer_id, 3).hold
    colleague = make.user(Role.RETAILER, retailer=shop.user(shop.buyer_id).retailer, email="temp@corner.example")
    approvals.set_order_limit(shop.user(shop.owner_id), colleague.id, limit="10.00")
    for user_id in (colleague.id, shop.owner_id):
        with pytest.raises(Forbidden):
            holds.release_hold(shop.user(user_id), waiting.id)
    assert holds.release_hold(shop.user(shop.buyer_id), waiting.id).hold.status == HoldStatus.RELEASED


def test_an_approver_limited_meanwhile_sets_no_limit(shop, make):
    """Two approvers limiting each other at once: the second reads the first's write under the lock."""
    second = make.user(Role.RETAILER, retailer=shop.user(shop.owner_id).retailer, email="second@corner.example")
    stale = acting_retailer(second.retailer_id, second.id)  # as its request read it: no limit
    approvals.set_order_limit(shop.user(shop.owner_id), second.id, limit="100.00")
    with pytest.raises(Forbidden):
        approvals.set_order_limit(stale, shop.owner_id, limit="100.00")
    assert shop.user(shop.owner_id).order_limit is None
