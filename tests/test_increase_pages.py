"""Temporary limit increases through the real pages: granted from the account page, shown as "temporarily +X until
D" wherever the limit is shown, ended early with a button, gone by themselves at the end of their last day."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from app.models import AuditEvent, CreditAccount, LimitIncrease, Role
from tests.support.page_forms import forms_on, post_with_token, readable, submit

# 30 June 2026 ends at 22:00 UTC in Berlin (summer time); the desk grants on the 29th at noon, Berlin time.
GRANTED = datetime.fromisoformat("2026-06-29T10:00:00+00:00")
BERLIN_JULY = datetime.fromisoformat("2026-06-30T22:00:00+00:00")


@pytest.fixture
def desk(make, auth):
    """A Berlin wholesaler's signed-in user, with one retailer's 1,000.00 EUR account and that retailer's user."""
    wholesaler = make.wholesaler(name="Acme Foods")
    wholesaler.time_zone = "Europe/Berlin"
    account = make.account(retailer=make.retailer(name="Corner Shop"), wholesaler=wholesaler, credit_limit="1000.00")
    make.product(wholesaler, unit_price="100.00", sku="CASE")
    shop = make.user(Role.RETAILER, retailer=account.retailer)
    user = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    make.db.session.commit()
    return {"account": account, "user": user, "shop": shop, "url": f"/wholesaler/accounts/{account.id}"}


def grant(client, desk, amount="500.00", ends_on="2026-06-30", reason="Summer stock", **kwargs):
    return submit(client, desk["url"], {"amount": amount, "ends_on": ends_on, "reason": reason}, action="/increase",
                  prefix="increase", **kwargs)


def test_an_increase_granted_on_the_account_page_shows_wherever_the_limit_does(client, desk, db, auth):
    with time_machine.travel(GRANTED, tick=False):
        auth.login(desk["user"])  # a session is not valid before it was made
        response = grant(client, desk, follow_redirects=True)
        page = readable(response)
        assert "Limit raised by 500.00 EUR until the end of 2026-06-30: 1,500.00 EUR in all until then." in page
        assert "1,500.00 EUR temporarily +500.00 EUR until 2026-06-30" in page
        assert "+500.00 EUR until 2026-06-30 · Summer stock" in page and "Counting" in page
        dashboard = readable(client.get("/wholesaler/"))
        assert "1,500.00 EUR temporarily +500.00 EUR until 2026-06-30" in dashboard
        assert "Credit extended 1,500.00 EUR" in dashboard
        auth.logout()
        auth.login(desk["shop"])
        assert "1,500.00 EUR temporarily +500.00 EUR until 2026-06-30" in readable(client.get("/retailer/"))
        order_page = readable(client.get(f"/retailer/accounts/{desk['account'].id}/order"))
        assert "Available credit 1,500.00 EUR" in order_page
        assert "Credit limit 1,500.00 EUR temporarily +500.00 EUR until 2026-06-30" in order_page
    increase = db.session.scalars(select(LimitIncrease)).one()
    assert (increase.amount, increase.ends_at, increase.reason) == (Decimal("500.00"), BERLIN_JULY, "Summer stock")
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) \
        == "credit_account.grant_increase"


def test_an_increase_is_gone_at_the_end_of_its_last_day_in_the_wholesalers_zone_with_no_job(client, desk, auth):
    with time_machine.travel(GRANTED, tick=False):
        auth.login(desk["user"])
        grant(client, desk)
    with time_machine.travel(BERLIN_JULY - timedelta(seconds=1), tick=False):
        assert "1,500.00 EUR temporarily +500.00 EUR" in readable(client.get(desk["url"]))
    with time_machine.travel(BERLIN_JULY, tick=False):  # still 30 June in UTC
        page = readable(client.get(desk["url"]))
        assert "temporarily" not in page and "Credit limit 1,000.00 EUR" in page
        assert "Summer stock Ended" in page and "End now" not in page


OUT_OF_RANGE = "A temporary limit ends today (29 June 2026) at the earliest and within a year."


@pytest.mark.parametrize("values, field, message", [
    ({"ends_on": "2026-06-28"}, "ends_on", OUT_OF_RANGE),
    ({"ends_on": "2027-07-01"}, "ends_on", OUT_OF_RANGE),
    ({"ends_on": ""}, "ends_on", "Give the increase's last day."),
    ({"ends_on": "30/06/2026"}, "ends_on", "Not a valid date value."),
    ({"amount": "0"}, "amount", "Must not be zero."),
    ({"amount": "-5.00"}, "amount", "Must be more than zero."),
    ({"amount": "1,500"}, "amount", "Enter a number such as 1234.50"),
    ({"reason": "  "}, "reason", "Give a reason: it is recorded with the change."),
])
def test_a_bad_increase_is_refused_under_its_field_and_changes_nothing(client, desk, db, auth, values, field,
                                                                          message):
    with time_machine.travel(GRANTED, tick=False):
        auth.login(desk["user"])
        response = grant(client, desk, **values)
    assert response.status_code == 422
    assert f'id="increase-{field}-error-1">{message}' in response.get_data(as_text=True).replace("&#39;", "'")
    assert db.session.scalar(select(LimitIncrease.id)) is None
    db.session.expire_all()
    assert db.session.get(CreditAccount, desk["account"].id).temporary_increase == 0


def test_ending_an_increase_early_from_its_button(client, desk, db, auth):
    with time_machine.travel(GRANTED, tick=False):
        auth.login(desk["user"])
        grant(client, desk)
        grant(client, desk, amount="200.00", ends_on="2026-07-15", reason="Trade fair")
        page = readable(client.get(desk["url"]))
        assert "1,700.00 EUR temporarily +700.00 EUR until 2026-06-30" in page  # the first end is the next change
        first = db.session.scalars(select(LimitIncrease).order_by(LimitIncrease.id)).first()
        end = next(f for f in _end_buttons(client, desk) if f.action.endswith(f"/increases/{first.id}/end"))
        response = client.post(end.action, data=end.fields, follow_redirects=True)
        page = readable(response)
        assert "Increase ended: the limit is now 1,200.00 EUR." in page
        assert "1,200.00 EUR temporarily +200.00 EUR until 2026-07-15" in page
        assert "Summer stock Ended early, 2026-06-29 10:00 UTC" in page
        again = readable(client.post(end.action, data=end.fields, follow_redirects=True))
        assert "This increase had already ended." in again
    db.session.expire_all()
    assert db.session.get(LimitIncrease, first.id).ended_by == desk["user"].id


def test_another_wholesalers_increase_cannot_be_ended(client, desk, make, auth):
    with time_machine.travel(GRANTED, tick=False):
        auth.login(desk["user"])
        grant(client, desk)
        end = _end_buttons(client, desk)[0]
        auth.logout()
        auth.login(make.user(Role.WHOLESALER, wholesaler=make.wholesaler(name="Other Foods")))
        assert post_with_token(client, end.action, page="/wholesaler/").status_code == 404


def _end_buttons(client, desk):
    return [f for f in forms_on(client, desk["url"]) if f.action.endswith("/end")]
