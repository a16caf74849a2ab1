"""Temporary limit increases: granted until the end of a day in the wholesaler's time zone, counted in every decision
until that moment and not after it (with no job run), ended early once, recounted by the minute's job."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select, text

from app.extensions import db as _db
from app.models import AuditEvent, CreditAccount, LimitIncrease, Role
from app.services import holds, limits
from app.services.errors import Forbidden, InsufficientCredit, NotFound, ValidationError
from app.services.ledger_check import find_ledger_problems
from app.services.orders import place_order
from tests.support.actors import acting_retailer, acting_wholesaler
from tests.support.api_client import ApiClient

# 31 March 2026 ends at 22:00 UTC in Berlin (summer time began on the 29th).
MONTH_END = date(2026, 3, 31)
BERLIN_MIDNIGHT = datetime.fromisoformat("2026-03-31T22:00:00+00:00")


@pytest.fixture
def line(make):
    """A 1,000.00 limit with a Berlin wholesaler and a product at 100.00, as plain ids for worker threads."""
    wholesaler = make.wholesaler()
    wholesaler.time_zone = "Europe/Berlin"
    account = make.account(wholesaler=wholesaler, credit_limit="1000.00")
    product_id = make.product(wholesaler, unit_price="100.00").id

    class Line:
        account_id, wholesaler_id = account.id, wholesaler.id
        retailer = acting_retailer(account.retailer_id)
        manager = acting_wholesaler(wholesaler.id)

        def grant(self, amount="500.00", ends_on=MONTH_END, reason="Easter stock"):
            return limits.grant_increase(self.manager, self.account_id, amount=amount, ends_on=ends_on, reason=reason)

        def order(self, quantity=1):
            return place_order(self.retailer, wholesaler_id=self.wholesaler_id, lines=[(product_id, quantity)])

        def hold(self, quantity=1):
            return holds.place_hold(self.retailer, wholesaler_id=self.wholesaler_id, lines=[(product_id, quantity)],
                                    expires_in_seconds=3600)

        def figures(self):
            _db.session.expire_all()
            account = _db.session.get(CreditAccount, self.account_id)
            return account.temporary_increase_now, account.effective_limit, account.available_credit

    return Line()


def frozen(moment):
    return time_machine.travel(moment, tick=False)


def increases():
    return _db.session.scalar(select(func.count()).select_from(LimitIncrease))


def test_an_increase_lifts_the_limit_orders_are_decided_by_and_is_audited(line):
    with frozen("2026-03-20T10:00:00+00:00"):
        granted = line.grant()
        assert granted.increase.ends_at == BERLIN_MIDNIGHT and granted.account.effective_limit == Decimal("1500.00")
        assert line.figures() == (Decimal("500.00"), Decimal("1500.00"), Decimal("1500.00"))
        line.order(14)
        with pytest.raises(InsufficientCredit):
            line.order(2)
        assert line.figures()[2] == Decimal("100.00")
    event = _db.session.scalars(select(AuditEvent).where(AuditEvent.action == "credit_account.grant_increase")).one()
    assert (event.entity_id, event.after["increase_id"], event.after["amount"], event.after["ends_on"]) == (
        line.account_id, granted.increase.id, "500.00", "2026-03-31")
    assert find_ledger_problems() == []


def test_an_increase_ends_at_the_end_of_its_day_in_the_wholesalers_zone_with_no_job_run(line, app, make):
    with frozen("2026-03-30T09:00:00+00:00"):
        line.grant()
    with frozen(BERLIN_MIDNIGHT - timedelta(seconds=1)):  # 23:59:59 on the 31st in Berlin, 21:59:59 UTC
        assert line.figures() == (Decimal("500.00"), Decimal("1500.00"), Decimal("1500.00"))
    with frozen(BERLIN_MIDNIGHT):  # midnight in Berlin: still the 31st in UTC, the increase is over
        assert line.figures() == (Decimal("0.00"), Decimal("1000.00"), Decimal("1000.00"))
        line.order(10)
        with pytest.raises(InsufficientCredit):
            line.order(1)
        manager = make.user(Role.WHOLESALER, wholesaler=_db.session.get(CreditAccount, line.account_id).wholesaler)
        shown = ApiClient(app, manager).get(f"/credit-accounts/{line.account_id}").json
        assert (shown["temporary_increase"], shown["effective_limit"]) == ("0.00", "1000.00")
    assert find_ledger_problems() == []


def test_across_the_year_end_in_a_zone_behind_utc(make):
    wholesaler = make.wholesaler()
    wholesaler.time_zone = "America/Los_Angeles"
    account = make.account(wholesaler=wholesaler, credit_limit="0.00")
    manager = acting_wholesaler(wholesaler.id)
    with frozen("2027-01-01T07:30:00+00:00"):  # 23:30 on 31 December in Los Angeles: today is still the 31st
        granted = limits.grant_increase(manager, account.id, amount="250.00", ends_on=date(2026, 12, 31),
                                        reason="Year-end stock take")
        assert granted.increase.ends_at == datetime.fromisoformat("2027-01-01T08:00:00+00:00")
        assert granted.account.available_credit == Decimal("250.00")
    with frozen("2027-01-01T08:00:00+00:00"):
        _db.session.expire_all()
        assert _db.session.get(CreditAccount, account.id).available_credit == Decimal("0.00")
        with pytest.raises(ValidationError) as refused:  # the 31st is past in Los Angeles now
            limits.grant_increase(manager, account.id, amount="250.00", ends_on=date(2026, 12, 31), reason="Again")
        assert refused.value.field_errors == {"ends_on": "in the past"}


def test_increases_add_up_and_each_ends_at_its_own_end(line):
    with frozen("2026-03-20T10:00:00+00:00"):
        line.grant("500.00", MONTH_END)
        line.grant("200.00", date(2026, 4, 2))
        assert line.figures()[:2] == (Decimal("700.00"), Decimal("1700.00"))
    with frozen(BERLIN_MIDNIGHT + timedelta(hours=1)):
        assert line.figures()[:2] == (Decimal("200.00"), Decimal("1200.00"))
        assert limits.recount_ended_increases() == 1
        account = _db.session.get(CreditAccount, line.account_id)
        assert (account.temporary_increase, account.increase_until) == (
            Decimal("200.00"), datetime.fromisoformat("2026-04-02T22:00:00+00:00"))
        assert limits.recount_ended_increases() == 0
    with frozen("2026-04-03T00:00:00+00:00"):
        assert limits.recount_ended_increases() == 1
        account = _db.session.get(CreditAccount, line.account_id)
        assert (account.temporary_increase, account.increase_until) == (Decimal("0.00"), None)
    assert find_ledger_problems() == []


def test_ending_early_ends_it_once(line):
    with frozen("2026-03-20T10:00:00+00:00"):
        increase_id = line.grant().increase.id
    with frozen("2026-03-21T08:00:00+00:00"):
        ended = limits.end_increase(line.manager, increase_id)
        assert not ended.repeated and ended.increase.ended_at == datetime.fromisoformat("2026-03-21T08:00:00+00:00")
        assert line.figures()[:2] == (Decimal("0.00"), Decimal("1000.00"))
    with frozen("2026-03-22T08:00:00+00:00"):
        again = limits.end_increase(line.manager, increase_id)
        assert again.repeated and again.increase.ended_at == datetime.fromisoformat("2026-03-21T08:00:00+00:00")
    audited = _db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == line.account_id)).all()
    assert audited.count("credit_account.end_increase") == 1
    assert find_ledger_problems() == []


def test_an_increase_past_its_end_cannot_be_ended_early(line):
    with frozen("2026-03-20T10:00:00+00:00"):
        increase_id = line.grant().increase.id
    with frozen(BERLIN_MIDNIGHT + timedelta(days=1)):
        assert limits.end_increase(line.manager, increase_id).repeated
    assert _db.session.get(LimitIncrease, increase_id).ended_at is None


@pytest.mark.parametrize("given, errors", [
    ({"amount": "0.00"}, {"amount"}), ({"amount": "-5.00"}, {"amount"}), ({"amount": 5.5}, {"amount"}),
    ({"ends_on": date(2026, 3, 19)}, {"ends_on"}), ({"ends_on": date(2027, 3, 22)}, {"ends_on"}),
    ({"ends_on": "2026-03-31"}, {"ends_on"}), ({"reason": "  "}, {"reason"}),
    ({"amount": "999999999999.00"}, {"amount"}),
])
def test_bad_input_is_refused_and_writes_nothing(line, given, errors):
    with frozen("2026-03-20T10:00:00+00:00"), pytest.raises(ValidationError) as refused:
        line.grant(**given)
    assert set(refused.value.field_errors) == errors
    assert increases() == 0 and line.figures()[:2] == (Decimal("0.00"), Decimal("1000.00"))


def test_only_its_wholesaler_and_admins_grant_or_end(line, make):
    with pytest.raises(Forbidden):
        limits.grant_increase(line.retailer, line.account_id, amount="1.00", ends_on=MONTH_END, reason="Mine")
    stranger = acting_wholesaler(make.wholesaler().id)
    with frozen("2026-03-20T10:00:00+00:00"):
        with pytest.raises(NotFound):
            limits.grant_increase(stranger, line.account_id, amount="1.00", ends_on=MONTH_END, reason="Theirs")
        increase_id = line.grant().increase.id
    for actor in (stranger, line.retailer):
        with pytest.raises((NotFound, Forbidden)):
            limits.end_increase(actor, increase_id)
    assert _db.session.get(LimitIncrease, increase_id).ended_at is None


def test_orders_and_holds_racing_never_pass_the_effective_limit(line, in_parallel):
    line.grant(ends_on=date.today() + timedelta(days=2))
    results = in_parallel(lambda i: line.hold() if i % 2 else line.order(), 18)
    assert sum(not isinstance(r, Exception) for r in results) == 15
    _db.session.expire_all()
    account = _db.session.get(CreditAccount, line.account_id)
    assert account.balance + account.held_amount_now == account.effective_limit == Decimal("1500.00")
    assert find_ledger_problems() == []


def test_an_early_end_racing_orders_leaves_them_within_one_limit_or_the_other(line, in_parallel):
    increase_id = line.grant(ends_on=date.today() + timedelta(days=2)).increase.id
    results = in_parallel(lambda i: limits.end_increase(line.manager, increase_id) if i == 0 else line.order(3), 9)
    placed = sum(not isinstance(r, Exception) for r in results[1:])
    refused = [r for r in results[1:] if isinstance(r, Exception)]
    assert placed in (3, 4, 5) and all(isinstance(r, InsufficientCredit) for r in refused)
    assert line.figures()[1] == Decimal("1000.00")
    assert find_ledger_problems() == []


def test_verify_ledger_finds_a_kept_increase_that_disagrees(line):
    line.grant(ends_on=date.today() + timedelta(days=2))
    _db.session.execute(text("UPDATE credit_accounts SET temporary_increase = 900 WHERE id = :id"),
                        {"id": line.account_id})
    _db.session.commit()
    assert find_ledger_problems() == [f"account {line.account_id}: keeps a temporary increase of 900.00 until "
                                      f"{_db.session.get(CreditAccount, line.account_id).increase_until}, but its "
                                      "increases come to 500.00 until "
                                      f"{_db.session.get(CreditAccount, line.account_id).increase_until}"]


# --- The API -------------------------------------------------------------------------------------------------------

def test_the_api_grants_lists_and_ends_increases(line, app, make):
    wholesaler = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=_db.session.get(CreditAccount, line.account_id)
                                          .wholesaler))
    with frozen("2026-03-20T10:00:00+00:00"):
        granted = wholesaler.post(f"/credit-accounts/{line.account_id}/limit-increases",
                                  {"amount": "500.00", "ends_on": "2026-03-31", "reason": "Easter stock"})
        assert granted.status_code == 201
        assert granted.json == {"id": granted.json["id"], "credit_account_id": line.account_id, "status": "ACTIVE",
                                "amount": "500.00", "ends_on": "2026-03-31", "ends_at": "2026-03-31T22:00:00Z",
                                "reason": "Easter stock", "created_at": "2026-03-20T10:00:00Z", "ended_at": None,
                                "effective_limit": "1500.00"}
        account = wholesaler.get(f"/credit-accounts/{line.account_id}").json
        assert (account["temporary_increase"], account["effective_limit"], account["available_credit"]) == (
            "500.00", "1500.00", "1500.00")
    with frozen("2026-03-25T10:00:00+00:00"):
        ended = wholesaler.post(f"/limit-increases/{granted.json['id']}/end", {})
        assert ended.status_code == 200 and ended.json["status"] == "ENDED"
        assert ended.json["ended_at"] == "2026-03-25T10:00:00Z" and ended.json["effective_limit"] == "1000.00"
        retailer = ApiClient(app, make.user(Role.RETAILER, retailer=_db.session.get(CreditAccount, line.account_id)
                                            .retailer))
        listed = retailer.get(f"/credit-accounts/{line.account_id}/limit-increases")
        assert [i["id"] for i in listed.json["limit_increases"]] == [granted.json["id"]]
        assert listed.json["next_cursor"] is None
        assert retailer.post(f"/limit-increases/{granted.json['id']}/end", {}).status_code == 403


def test_the_api_lists_an_accounts_increases_in_keyset_pages(line, app, make):
    wholesaler = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=_db.session.get(CreditAccount, line.account_id)
                                          .wholesaler))
    with frozen("2026-03-20T10:00:00+00:00"):
        ids = [wholesaler.post(f"/credit-accounts/{line.account_id}/limit-increases",
                               {"amount": f"{n}.00", "ends_on": "2026-03-31", "reason": f"Week {n}"}).json["id"]
               for n in range(1, 6)]
        url = f"/credit-accounts/{line.account_id}/limit-increases?limit=2"
        pages, cursor = [], None
        while True:
            page = wholesaler.get(url + (f"&after={cursor}" if cursor else "")).json
            pages.append([i["id"] for i in page["limit_increases"]])
            if (cursor := page["next_cursor"]) is None:
                break
        assert pages == [ids[:2:-1], ids[2:0:-1], ids[:1]]
        assert wholesaler.get(url + "&after=0").status_code == 400


def test_the_api_refuses_bad_increases_by_field_and_writes_nothing(line, app, make):
    wholesaler = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=_db.session.get(CreditAccount, line.account_id)
                                          .wholesaler))
    with frozen("2026-03-20T10:00:00+00:00"):
        for body, field in [({"amount": "5.00", "ends_on": "2026-03-19", "reason": "Late"}, "ends_on"),
                            ({"amount": "5.00", "ends_on": "2026-02-30", "reason": "No such day"}, "ends_on"),
                            ({"amount": 5, "ends_on": "2026-03-30", "reason": "A number"}, "amount"),
                            ({"amount": "5.00", "ends_on": "2026-03-30"}, "reason")]:
            refused = wholesaler.post(f"/credit-accounts/{line.account_id}/limit-increases", body)
            assert refused.status_code == 400 and field in refused.json["field_errors"], body
        other = make.account()
        assert wholesaler.post(f"/credit-accounts/{other.id}/limit-increases",
                               {"amount": "5.00", "ends_on": "2026-03-30", "reason": "Not mine"}).status_code == 404
    assert increases() == 0
