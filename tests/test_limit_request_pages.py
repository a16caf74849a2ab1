"""Limit requests through the real pages: asked from a credit line, seen on the wholesaler's account page and list,
approved (as asked, another limit, for good or for a while) or declined with a note, withdrawn by the retailer."""

from datetime import datetime
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from app.models import CreditAccount, LimitIncrease, LimitRequest, LimitRequestStatus, Role
from tests.support.page_forms import form_on, readable, submit

ASKED = datetime.fromisoformat("2026-03-20T10:00:00+00:00")


@pytest.fixture
def line(make):
    """A Berlin wholesaler's 1,000.00 EUR account for Corner Shop, and a user on each side."""
    wholesaler = make.wholesaler(name="Acme Foods")
    wholesaler.time_zone = "Europe/Berlin"
    account = make.account(retailer=make.retailer(name="Corner Shop"), wholesaler=wholesaler, credit_limit="1000.00")
    shop, desk = make.user(Role.RETAILER, retailer=account.retailer), make.user(Role.WHOLESALER, wholesaler=wholesaler)
    make.db.session.commit()
    return {"account": account, "shop": shop, "desk": desk, "ask": f"/limit-requests/ask/{account.id}"}


def ask(client, line, limit="2500.00", ends_on="", note="A second shop opens in April", **kwargs):
    return submit(client, line["ask"], {"requested_limit": limit, "ends_on": ends_on, "note": note}, **kwargs)


def the_request(db) -> LimitRequest:
    db.session.expire_all()
    return db.session.scalars(select(LimitRequest)).one()


def limits(db, line) -> tuple[Decimal, Decimal]:
    db.session.expire_all()
    account = db.session.get(CreditAccount, line["account"].id)
    return account.credit_limit, account.effective_limit


def test_a_request_asked_from_a_credit_line_is_approved_by_the_wholesaler(client, line, db, auth):
    with time_machine.travel(ASKED, tick=False):
        auth.login(line["shop"])
        assert line["ask"] in client.get("/retailer/").get_data(as_text=True)  # the line's "More credit" button
        page = readable(ask(client, line, follow_redirects=True))
        request = the_request(db)
        assert (f"Request #{request.id} sent: a limit of 2,500.00 EUR. Acme Foods will approve or decline it; you "
                "will get a mail when they do.") in page
        assert "Waiting for a decision" in page and "Withdraw the request" in page and "Send the request" not in page
        auth.logout()
        auth.login(line["desk"])
        account_page = readable(client.get(f"/wholesaler/accounts/{line['account'].id}"))
        assert "Corner Shop asks for a limit of 2,500.00 EUR: “A second shop opens in April” Decide" in account_page
        listed = readable(client.get("/limit-requests/?status=OPEN"))
        assert f"#{request.id} Corner Shop" in listed and "Waiting Decide" in listed
        detail = f"/limit-requests/{request.id}"
        approve = form_on(client, detail, action="/approve")
        assert (approve.fields["approve-limit"], approve.fields["approve-ends_on"]) == ("2500.00", "")
        page = readable(client.post(approve.action, data=approve.fields, follow_redirects=True))
        assert "Approved: Corner Shop's limit is 2,500.00 EUR." in page and "Approved" in page
        assert limits(db, line) == (Decimal("2500.00"), Decimal("2500.00"))
        auth.logout()
        auth.login(line["shop"])
        history = readable(client.get(line["ask"]))
        assert "Approved 2,500.00 EUR for good" in history and "Send the request" in history
        assert "2,500.00 EUR" in readable(client.get("/retailer/"))


def test_a_request_for_a_while_is_approved_for_a_while_or_another_limit_for_good(client, line, db, auth):
    with time_machine.travel(ASKED, tick=False):
        auth.login(line["shop"])
        ask(client, line, ends_on="2026-04-30")
        auth.logout()
        auth.login(line["desk"])
        detail = f"/limit-requests/{the_request(db).id}"
        assert form_on(client, detail, action="/approve").fields["approve-ends_on"] == "2026-04-30"
        response = submit(client, detail, {"limit": "1800.00", "ends_on": "2026-03-31", "note": "Easter only"},
                          action="/approve", prefix="approve", follow_redirects=True)
        assert "Approved: Corner Shop's limit is 1,800.00 EUR until the end of 2026-03-31." in readable(response)
        assert limits(db, line) == (Decimal("1000.00"), Decimal("1800.00"))
        assert db.session.scalar(select(LimitIncrease.amount)) == Decimal("800.00")
        assert "temporarily +800.00 EUR until 2026-03-31" in readable(client.get(detail))


def test_a_decline_needs_a_note_and_the_retailer_reads_it(client, line, db, auth):
    with time_machine.travel(ASKED, tick=False):
        auth.login(line["shop"])
        ask(client, line)
        auth.logout()
        auth.login(line["desk"])
        detail = f"/limit-requests/{the_request(db).id}"
        refused = submit(client, detail, {"note": "  "}, action="/decline", prefix="decline")
        assert refused.status_code == 422 and "Say why: the retailer reads it." in readable(refused)
        assert the_request(db).status == LimitRequestStatus.OPEN
        page = readable(submit(client, detail, {"note": "Once the March invoices are paid"}, action="/decline",
                               prefix="decline", follow_redirects=True))
        assert "Declined; Corner Shop is told why." in page
        assert limits(db, line) == (Decimal("1000.00"), Decimal("1000.00"))
        auth.logout()
        auth.login(line["shop"])
        assert "Declined “Once the March invoices are paid”" in readable(client.get(line["ask"]))


def test_a_retailer_withdraws_its_request_and_may_ask_again(client, line, db, auth):
    with time_machine.travel(ASKED, tick=False):
        auth.login(line["shop"])
        ask(client, line)
        withdraw = form_on(client, line["ask"], action="/withdraw")
        page = readable(client.post(withdraw.action, data=withdraw.fields, follow_redirects=True))
        assert f"Request #{the_request(db).id} withdrawn." in page and "Withdrawn" in page
        assert ask(client, line, limit="3000.00").status_code == 302
        assert db.session.scalar(select(func.count()).select_from(LimitRequest)) == 2


@pytest.mark.parametrize("values, message", [
    ({"limit": "1000.00"}, "Ask for more than the limit you have now, 1,000.00 EUR."),
    ({"limit": "2,500"}, "Enter a number such as 1234.50"),
    ({"ends_on": "2026-03-19"}, "A temporary limit ends today (20 March 2026) at the earliest and within a year."),
    ({"note": ""}, "Say why: the wholesaler reads it."),
])
def test_a_bad_request_is_refused_on_the_form_and_writes_nothing(client, line, db, auth, values, message):
    with time_machine.travel(ASKED, tick=False):
        auth.login(line["shop"])
        response = ask(client, line, **values)
    assert response.status_code == 422 and message in readable(response)
    assert db.session.scalar(select(func.count()).select_from(LimitRequest)) == 0


def test_a_second_request_while_one_waits_is_refused(client, line, db, auth):
    with time_machine.travel(ASKED, tick=False):
        auth.login(line["shop"])
        form = form_on(client, line["ask"])
        ask(client, line)
        response = client.post(form.action, data=form.fields | {"requested_limit": "3000.00", "note": "Again"})
    assert response.status_code == 409 and "is waiting for a decision; withdraw it" in readable(response)
    assert db.session.scalar(select(func.count()).select_from(LimitRequest)) == 1
