"""Notifications: each change a user wants to hear of is mailed once, with its figures, to the right side."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from app.models import MailMessage, Role
from app.services import accounts, notifications, orders
from app.services.actors import SYSTEM
from app.services.errors import InsufficientCredit, ValidationError
from tests.support.auth import csrf_token


@pytest.fixture
def shop(make):
    """An account with a 100.00 limit, a product at 10.00, a retailer user and a wholesaler user."""
    account = make.account(credit_limit="100.00")
    product = make.product(account.wholesaler, unit_price="10.00")
    buyer = make.user(Role.RETAILER, retailer=account.retailer, email="buyer@shop.example")
    seller = make.user(Role.WHOLESALER, wholesaler=account.wholesaler, email="credit@wholesale.example")
    return account, product, buyer, seller


def mails(db, kind=None):
    query = select(MailMessage).order_by(MailMessage.id)
    if kind:
        query = query.where(MailMessage.kind == kind)
    return db.session.scalars(query).all()


def order(buyer, account, product, quantity):
    return orders.place_order(buyer, wholesaler_id=account.wholesaler_id, lines=[(product.id, quantity)])


def test_credit_use_is_told_once_per_crossing_to_both_sides(db, shop):
    account, product, buyer, seller = shop
    order(buyer, account, product, 5)                      # 50 %
    assert mails(db) == []
    order(buyer, account, product, 3)                      # 80 %: the line is crossed
    crossed = mails(db, "credit_use")
    assert sorted(m.to_address for m in crossed) == [buyer.email, seller.email]
    assert "80 % of the credit limit in use" in crossed[0].subject
    assert "80.00 EUR" in crossed[0].text_body and "20.00 EUR" in crossed[0].text_body  # balance and available
    order(buyer, account, product, 1)                      # 90 %: still past the same line, nothing new
    assert len(mails(db, "credit_use")) == 2
    order(buyer, account, product, 1)                      # 100 %
    reached = mails(db, "credit_use")[2:]
    assert len(reached) == 2 and all("Credit limit reached" in m.subject for m in reached)
    accounts.record_payment(SYSTEM, account.id, amount="90.00", reference="Transfer 1")  # back to 10 %
    order(buyer, account, product, 8)                      # 90 %: the 80 % line is crossed again
    assert len(mails(db, "credit_use")) == 6
    assert db.session.scalar(text("SELECT usage_alert_percent FROM credit_accounts")) == 80


def test_a_refused_order_tells_no_one_and_defers_nothing(db, shop):
    account, product, buyer, _ = shop
    with pytest.raises(InsufficientCredit):
        order(buyer, account, product, 11)
    assert mails(db) == []
    assert db.session.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == 0


def test_each_mail_defers_one_delivery_job_in_the_same_transaction(db, shop):
    account, product, buyer, _ = shop
    order(buyer, account, product, 8)
    jobs = db.session.execute(text("SELECT task_name, args FROM procrastinate_jobs ORDER BY id")).all()
    assert [(name, args["message_id"]) for name, args in jobs] == [("deliver_mail", m.id) for m in mails(db)]


def test_blocking_and_unblocking_tell_both_sides_with_the_reason(db, shop):
    account, _, buyer, seller = shop
    accounts.block_account(SYSTEM, account.id, reason="Cheque returned unpaid")
    blocked = mails(db, "account_status")
    assert sorted(m.to_address for m in blocked) == [buyer.email, seller.email]
    assert all("Cheque returned unpaid" in m.text_body and "Cheque returned unpaid" in m.html_body for m in blocked)
    accounts.block_account(SYSTEM, account.id, reason="Also: no reply to calls")  # already blocked: no news
    assert len(mails(db, "account_status")) == 2
    accounts.unblock_account(SYSTEM, account.id)
    reopened = mails(db, "account_status")[2:]
    assert len(reopened) == 2 and all(m.subject.startswith("Credit account open again") for m in reopened)


def test_a_payment_sends_the_retailer_a_receipt_of_what_it_paid(db, shop):
    account, product, buyer, seller = shop
    placed = order(buyer, account, product, 3)
    accounts.record_payment(seller, account.id, amount="50.00", reference="SEPA 2291")
    [receipt] = mails(db, "payment")
    assert receipt.to_address == buyer.email
    assert receipt.subject == f"Payment received by {account.wholesaler.name}: SEPA 2291"
    assert f"Order #{placed.order_id}: 30.00 EUR" in receipt.text_body
    assert "Balance now:   -20.00 EUR" in receipt.text_body


def test_a_limit_change_tells_the_retailer_from_what_to_what(db, shop):
    account, _, buyer, seller = shop
    accounts.update_account(seller, account.id, credit_limit="250.00")
    [changed] = mails(db, "credit_limit")
    assert changed.to_address == buyer.email
    assert "from 100.00 EUR to 250.00 EUR" in changed.text_body
    accounts.update_account(seller, account.id, payment_terms_days=14)  # not the limit: no mail
    assert len(mails(db, "credit_limit")) == 1


def test_lowering_the_limit_below_the_balance_tells_of_the_crossing(db, shop):
    account, product, buyer, seller = shop
    order(buyer, account, product, 5)
    accounts.update_account(seller, account.id, credit_limit="40.00")
    assert {m.kind for m in mails(db)} == {"credit_limit", "credit_use"}
    assert all("Credit limit reached" in m.subject for m in mails(db, "credit_use"))


def test_a_muted_kind_and_a_deactivated_user_get_nothing(db, make, shop):
    account, product, buyer, seller = shop
    notifications.set_muted(buyer, muted=["account_status"])
    colleague = make.user(Role.RETAILER, retailer=account.retailer, email="gone@shop.example")
    colleague.active = False
    db.session.commit()
    accounts.block_account(SYSTEM, account.id, reason="Audit")
    assert [m.to_address for m in mails(db)] == [seller.email]


def test_an_unknown_kind_is_refused_and_changes_nothing(db, shop):
    _, _, buyer, _ = shop
    with pytest.raises(ValidationError):
        notifications.set_muted(buyer, muted=["payment", "password_reset"])
    assert db.session.scalar(text("SELECT muted_notifications FROM users WHERE id = :id"), {"id": buyer.id}) == []


def test_the_settings_page_switches_kinds_off_and_on(client, auth, db, shop):
    _, _, buyer, _ = shop
    auth.login(buyer)
    page = client.get("/settings/notifications")
    assert page.status_code == 200
    assert page.text.count("checked") == len(notifications.KINDS_FOR[Role.RETAILER])  # all wanted at first
    answer = client.post("/settings/notifications", data={
        "csrf_token": csrf_token(client, "/settings/notifications"), "wanted": ["payment", "credit_limit"]})
    assert answer.status_code == 302
    muted = db.session.scalar(text("SELECT muted_notifications FROM users WHERE id = :id"), {"id": buyer.id})
    assert muted == sorted(set(notifications.KINDS_FOR[Role.RETAILER]) - {"payment", "credit_limit"})
    assert "credit_use" in muted
    again = client.get("/settings/notifications").text
    assert again.count("checked") == 2


def test_a_retailer_cannot_switch_on_a_kind_it_is_not_offered(client, auth, db, shop):
    _, _, _, seller = shop
    auth.login(seller)
    answer = client.post("/settings/notifications", data={
        "csrf_token": csrf_token(client, "/settings/notifications"), "wanted": ["payment"]})
    assert answer.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(MailMessage)) == 0
    assert db.session.scalar(text("SELECT muted_notifications FROM users WHERE id = :id"), {"id": seller.id}) == []


def test_amounts_in_mails_are_the_ledger_s_to_the_cent(db, make):
    account = make.account(credit_limit="1000.00")
    product = make.product(account.wholesaler, unit_price="333.33")
    buyer = make.user(Role.RETAILER, retailer=account.retailer)
    orders.place_order(buyer, wholesaler_id=account.wholesaler_id, lines=[(product.id, 3)])  # 999.99: past 80 %
    [told] = mails(db, "credit_use")
    assert "999.99 EUR" in told.text_body and "0.01 EUR" in told.text_body
    assert Decimal("999.99") == db.session.scalar(text("SELECT balance FROM credit_accounts"))
