"""Ageing as of any date: each item counted only if it existed by the end of that day in the wholesaler's time
zone and was not cancelled by then, with only what was paid of it by then. Figures computed by hand."""

import itertools
from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine

from app.models import Role, Wholesaler
from app.services import accounts, ageing, directory, orders
from app.services.actors import SYSTEM
from app.services.errors import ValidationError
from tests.support.actors import acting_retailer, acting_wholesaler
from tests.support.api_client import ApiClient
from tests.support.page_forms import readable

D = Decimal


def at(moment: str):
    return time_machine.travel(datetime.fromisoformat(moment), tick=False)


def buckets(current="0", d30="0", d60="0", d90="0", older="0") -> dict[str, Decimal]:
    return {"current": D(current), "1-30": D(d30), "31-60": D(d60), "61-90": D(d90), "90+": D(older)}


@pytest.fixture
def trade(make):
    """``trade(time_zone)`` opens a 30-day account at a new wholesaler; ``order``/``pay``/``cancel`` at a moment."""
    numbers = itertools.count(1)

    def open_trade(time_zone="UTC", wholesaler=None):
        wholesaler = wholesaler or directory.create_wholesaler(SYSTEM, name=f"Ageing {next(numbers)}",
                                                               time_zone=time_zone)
        product = make.product(wholesaler, unit_price="1.00")
        account = accounts.open_account(SYSTEM, retailer_id=make.retailer(name=f"Shop {next(numbers)}").id,
                                        wholesaler_id=wholesaler.id, credit_limit="100000.00")
        accounts.update_account(SYSTEM, account.id, overdue_policy="off")
        ids = (account.id, account.retailer_id, wholesaler.id, product.id)

        class Trade:
            id, wholesaler_id = ids[0], ids[2]

            @staticmethod
            def order(units: int, moment: str):
                with at(moment):
                    return orders.place_order(acting_retailer(ids[1]), wholesaler_id=ids[2], lines=[(ids[3], units)])

            @staticmethod
            def pay(amount: str, moment: str, allocations=()):
                with at(moment):
                    return accounts.record_payment(SYSTEM, ids[0], amount=amount, reference="Transfer",
                                                   allocations=allocations)

            @staticmethod
            def cancel(placed, moment: str):
                with at(moment):
                    return orders.cancel_order(SYSTEM, placed.order_id)

        return Trade

    return open_trade


def test_an_accounts_ageing_as_of_each_date_sees_only_what_had_happened_by_then(db, trade):
    shop = trade()
    a = shop.order(100, "2027-01-05T10:00:00+00:00")   # due 4 February
    b = shop.order(50, "2027-02-10T10:00:00+00:00")    # due 12 March
    shop.pay("60.00", "2027-03-01T10:00:00+00:00")     # pays 60 of A
    shop.order(30, "2027-03-20T10:00:00+00:00")        # C, due 19 April
    shop.cancel(b, "2027-03-25T10:00:00+00:00")
    shop.pay("40.00", "2027-04-10T10:00:00+00:00")     # the rest of A
    assert a.due_date == date(2027, 2, 4)
    expected = {
        date(2027, 1, 4): ageing.Ageing(buckets(), D("0.00")),
        date(2027, 2, 28): ageing.Ageing(buckets(current="50", d30="100"), D("150.00")),   # A 24 days late
        date(2027, 3, 15): ageing.Ageing(buckets(d30="50", d60="40"), D("90.00")),         # B 3, A 39 days late
        date(2027, 3, 31): ageing.Ageing(buckets(current="30", d60="40"), D("70.00")),     # B cancelled
        date(2027, 4, 30): ageing.Ageing(buckets(d30="30"), D("30.00")),                   # A paid, C 11 late
        date(2027, 8, 1): ageing.Ageing(buckets(older="30"), D("30.00")),                  # C 104 days late
    }
    for as_of, figures in expected.items():
        assert ageing.account_ageing(shop.id, as_of) == figures, as_of


def test_a_part_paid_order_cancelled_later_owed_what_was_left_until_then(trade):
    shop = trade()
    a = shop.order(100, "2027-01-05T10:00:00+00:00")   # due 4 February
    b = shop.order(50, "2027-01-10T10:00:00+00:00")    # due 9 February
    shop.pay("30.00", "2027-02-01T10:00:00+00:00", allocations=[(b.order_id, "30.00")])
    shop.cancel(b, "2027-03-01T10:00:00+00:00")        # its 30.00 released, and applied to A
    shop.pay("70.00", "2027-04-01T10:00:00+00:00")
    assert a.due_date == date(2027, 2, 4)
    expected = {
        date(2027, 1, 31): ageing.Ageing(buckets(current="150"), D("150.00")),   # before the payment
        date(2027, 2, 28): ageing.Ageing(buckets(d30="120"), D("120.00")),   # A 24 days late, B's 20 19 days
        date(2027, 3, 1): ageing.Ageing(buckets(d30="70"), D("70.00")),      # B cancelled, A paid 30 by it
        date(2027, 3, 15): ageing.Ageing(buckets(d60="70"), D("70.00")),
        date(2027, 4, 1): ageing.Ageing(buckets(), D("0.00")),
    }
    for as_of, figures in expected.items():
        assert ageing.account_ageing(shop.id, as_of) == figures, as_of


def test_the_day_ends_in_the_wholesalers_time_zone(trade):
    """11:30 UTC on 31 January is already 1 February in Auckland: as of 31 January the order did not exist."""
    shop = trade("Pacific/Auckland")
    shop.order(10, "2027-01-31T11:30:00+00:00")
    assert ageing.account_ageing(shop.id, date(2027, 1, 31)).total == D("0.00")
    assert ageing.account_ageing(shop.id, date(2027, 2, 1)).buckets["current"] == D("10.00")
    # A payment made at 23:00 on 2 March in Auckland (10:00 UTC) counts as of 2 March, not before; the order is
    # due 3 March (1 February + 30 days), so it is still current.
    shop.pay("4.00", "2027-03-02T10:00:00+00:00")
    assert ageing.account_ageing(shop.id, date(2027, 3, 1)).total == D("10.00")
    assert ageing.account_ageing(shop.id, date(2027, 3, 2)) == ageing.Ageing(buckets(current="6"), D("6.00"))
    assert ageing.account_ageing(shop.id, date(2027, 3, 4)).buckets["1-30"] == D("6.00")


def test_the_book_pages_sorts_and_totals_every_account_that_owes(db, trade):
    first = trade()
    owner = db.session.get(Wholesaler, first.wholesaler_id)
    second, third, settled = trade(wholesaler=owner), trade(wholesaler=owner), trade(wholesaler=owner)
    first.order(100, "2027-01-05T10:00:00+00:00")      # 90+ as of 1 June
    second.order(40, "2027-04-20T10:00:00+00:00")      # 1-30
    third.order(70, "2027-05-25T10:00:00+00:00")       # current
    settled.order(20, "2027-01-05T10:00:00+00:00")
    settled.pay("20.00", "2027-01-06T10:00:00+00:00")
    stranger = trade()
    stranger.order(999, "2027-01-05T10:00:00+00:00")   # another wholesaler's book
    actor = acting_wholesaler(owner.id)
    as_of = date(2027, 6, 1)
    page = ageing.book_ageing(actor, as_of, sort="-total", size=2)
    assert [(r.credit_account_id, r.ageing.total) for r in page.rows] == [(first.id, D("100.00")),
                                                                           (third.id, D("70.00"))]
    assert page.totals == ageing.Ageing(buckets(current="70", d30="40", older="100"), D("210.00"))
    rest = ageing.book_ageing(actor, as_of, sort="-total", size=2, after=page.next_cursor)
    assert [r.credit_account_id for r in rest.rows] == [second.id] and rest.next_cursor is None
    assert rest.totals == page.totals
    by_bucket = ageing.book_ageing(actor, as_of, sort="-1-30")
    assert by_bucket.rows[0].credit_account_id == second.id
    assert settled.id not in {r.credit_account_id for r in by_bucket.rows}  # owes nothing: not in the book
    by_name = ageing.book_ageing(actor, as_of)
    assert [r.retailer_name for r in by_name.rows] == sorted(r.retailer_name for r in by_name.rows)
    assert ageing.book_ageing(acting_retailer(1), as_of).rows == []
    with pytest.raises(ValidationError):
        ageing.book_ageing(actor, as_of, sort="balance")
    with pytest.raises(ValidationError):
        ageing.book_ageing(actor, as_of, sort="-total", after="x|y")
    for sort in ("retailer", "-retailer", "1-30", "-1-30", "90+", "-total"):  # every page by every sort, zeros too
        seen, cursor = [], None
        while True:
            one = ageing.book_ageing(actor, as_of, sort=sort, size=1, after=cursor)
            seen += [r.credit_account_id for r in one.rows]
            if (cursor := one.next_cursor) is None:
                break
        assert sorted(seen) == sorted([first.id, second.id, third.id]), sort


def test_the_api_answers_an_accounts_ageing_and_the_book(app, db, make, trade):
    shop = trade()
    shop.order(100, "2027-01-05T10:00:00+00:00")
    shop.pay("25.00", "2027-03-01T10:00:00+00:00")
    owner = db.session.get(Wholesaler, shop.wholesaler_id)
    api = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=owner))
    before = api.get(f"/credit-accounts/{shop.id}/ageing?as_of=2027-02-28").json
    assert before == {"as_of": "2027-02-28", "total": "100.00", "buckets": {
        "current": "0.00", "1-30": "100.00", "31-60": "0.00", "61-90": "0.00", "90+": "0.00"}}
    assert api.get(f"/credit-accounts/{shop.id}/ageing?as_of=2027-03-10").json["buckets"]["31-60"] == "75.00"
    with at("2027-03-10T23:30:00+00:00"):  # as_of defaults to today
        today = api.get(f"/credit-accounts/{shop.id}/ageing").json
    assert (today["as_of"], today["total"]) == ("2027-03-10", "75.00")
    for bad in ("2027-02-30", "28.02.2027", "2027-2-28", "yesterday"):
        refused = api.get(f"/credit-accounts/{shop.id}/ageing?as_of={bad}")
        assert refused.status_code == 400 and "as_of" in refused.json["field_errors"], bad
    book = api.get("/ageing?as_of=2027-03-10&sort=-total").json
    assert book["accounts"] == [{"credit_account_id": shop.id, "retailer_id": book["accounts"][0]["retailer_id"],
                                 "total": "75.00", "buckets": book["totals"]["buckets"]}]
    assert book["totals"]["total"] == "75.00" and book["next_cursor"] is None
    assert api.get("/ageing?sort=balance").status_code == 400
    retailer = ApiClient(app, make.user(Role.RETAILER, retailer=make.retailer()))
    assert retailer.get("/ageing").status_code == 403
    assert retailer.get(f"/credit-accounts/{shop.id}/ageing").status_code == 404


def test_the_wholesaler_reads_the_book_on_a_page_and_as_csv(client, auth, db, make, trade):
    first = trade()
    owner = db.session.get(Wholesaler, first.wholesaler_id)
    second = trade(wholesaler=owner)
    first.order(100, "2027-01-05T10:00:00+00:00")
    second.order(40, "2027-04-20T10:00:00+00:00")
    user = make.user(Role.WHOLESALER, wholesaler=owner)
    auth.login(user)
    page = readable(client.get("/wholesaler/ageing?as_of=2027-06-01&sort=-total"))
    assert "as of 2027-06-01" in page
    assert page.index("100.00 100.00") < page.index("0.00 40.00 Whole")  # the largest total first
    assert "Whole book 0.00 40.00 0.00 0.00 100.00 140.00" in page
    assert "Nothing outstanding" in readable(client.get("/wholesaler/ageing?as_of=2027-01-01"))
    mangled = client.get("/wholesaler/ageing?as_of=2027-13-01&after=nonsense&sort=drop")
    assert mangled.status_code == 200 and "Not a valid date value." in readable(mangled)
    exported = client.get("/wholesaler/ageing.csv?as_of=2027-06-01&sort=-total")
    lines = exported.get_data(as_text=True).splitlines()
    assert exported.headers["Content-Disposition"] == 'attachment; filename="ageing-20270601.csv"'
    assert lines[0] == "credit_account_id,retailer,current,1-30,31-60,61-90,90+,total,as_of"
    assert lines[1].startswith(f"{first.id},") and lines[1].endswith(",0.00,0.00,0.00,0.00,100.00,100.00,2027-06-01")
    assert lines[-1] == ",Total,0.00,40.00,0.00,0.00,100.00,140.00,2027-06-01"
    with at("2027-06-01T09:00:00+00:00"):  # the account page's strip is as of today
        auth.login(user)
        account_page = readable(client.get(f"/wholesaler/accounts/{first.id}"))
    assert "90+ days late 100.00 EUR" in account_page
