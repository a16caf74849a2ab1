"""Limit requests: a retailer asks for a higher limit on a credit line, for good or until a day; the wholesaler
approves it as asked, approves another limit (for good, or for a while as a temporary increase) or declines it
with a note. One open request per credit line; each decided once, under the account's row lock."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select, text

from app.extensions import db as _db
from app.models import (
    AuditEvent,
    CreditAccount,
    LimitIncrease,
    LimitRequest,
    LimitRequestStatus,
    MailMessage,
    Role,
    User,
    WebhookEvent,
)
from app.services import limit_requests, webhooks
from app.services.errors import Forbidden, LimitRequestClosed, LimitRequestOpen, NotFound, ValidationError
from app.services.ledger_check import find_ledger_problems
from tests.support.actors import acting_retailer, acting_wholesaler
from tests.support.api_client import ApiClient

# 31 March 2026 ends at 22:00 UTC in Berlin (summer time began on the 29th).
ASKED = datetime.fromisoformat("2026-03-20T10:00:00+00:00")
MONTH_END = date(2026, 3, 31)
BERLIN_MIDNIGHT = datetime.fromisoformat("2026-03-31T22:00:00+00:00")


@pytest.fixture
def line(make):
    """A 1,000.00 limit at a Berlin wholesaler, a user on each side, as plain ids for worker threads."""
    wholesaler = make.wholesaler(name="Acme Foods")
    wholesaler.time_zone = "Europe/Berlin"
    account = make.account(retailer=make.retailer(name="Corner Shop"), wholesaler=wholesaler, credit_limit="1000.00")
    shop = make.user(Role.RETAILER, retailer=account.retailer)
    desk = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    webhooks.register_endpoint(desk, url="http://127.0.0.1:9/hook", events=["limit_request.decided"])
    _db.session.commit()

    class Line:
        account_id, shop_id, desk_id = account.id, shop.id, desk.id
        retailer = acting_retailer(account.retailer_id, shop.id)
        manager = acting_wholesaler(wholesaler.id, desk.id)

        def ask(self, limit="2500.00", ends_on=None, note="Christmas stock"):
            return limit_requests.request_limit(self.retailer, self.account_id, requested_limit=limit, ends_on=ends_on,
                                                note=note).request

        def decide(self, request_id, **decision):
            return limit_requests.decide_request(self.manager, request_id, **decision)

        def limits(self):
            _db.session.expire_all()
            account = _db.session.get(CreditAccount, self.account_id)
            return account.credit_limit, account.effective_limit

    return Line()


def frozen(moment):
    return time_machine.travel(moment, tick=False)


def mails_to(user_id: int) -> list[str]:
    return _db.session.scalars(select(MailMessage.subject).where(MailMessage.user_id == user_id)
                               .order_by(MailMessage.id)).all()


def test_a_request_approved_as_asked_for_good_raises_the_credit_limit(line):
    request = line.ask()
    assert (request.status, request.requested_limit, request.ends_on) == (LimitRequestStatus.OPEN,
                                                                          Decimal("2500.00"), None)
    assert mails_to(line.desk_id) == ["Corner Shop asks for a credit limit of 2,500.00 EUR"]
    decided = line.decide(request.id, approve=True)
    assert (decided.request.status, decided.request.granted_limit, decided.request.increase_id) == (
        LimitRequestStatus.APPROVED, Decimal("2500.00"), None)
    assert line.limits() == (Decimal("2500.00"), Decimal("2500.00"))
    assert mails_to(line.shop_id) == ["New credit limit with Acme Foods",
                                      "Your limit request to Acme Foods is approved"]
    actions = _db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-3:] == ["limit_request.create", "credit_account.set_limit", "limit_request.approved"]
    event = _db.session.scalars(select(WebhookEvent).where(WebhookEvent.type == "limit_request.decided")).one()
    assert event.data | {"limit_request_id": 0} == {
        "limit_request_id": 0, "status": "APPROVED", "requested_limit": "2500.00", "ends_on": None,
        "granted_limit": "2500.00", "granted_ends_on": None, "decision_note": None, "credit_limit": "2500.00",
        "effective_limit": "2500.00", "currency": "EUR", "credit_account_id": line.account_id,
        "retailer_id": event.data["retailer_id"], "wholesaler_id": event.data["wholesaler_id"]}
    assert find_ledger_problems() == []


def test_a_request_for_a_while_approved_as_asked_is_an_increase_until_the_end_of_its_day(line):
    with frozen(ASKED):
        request = line.ask(ends_on=MONTH_END)
        decided = line.decide(request.id, approve=True, note="Happy Easter")
        increase = _db.session.get(LimitIncrease, decided.request.increase_id)
        assert (increase.amount, increase.ends_at, increase.reason) == (
            Decimal("1500.00"), BERLIN_MIDNIGHT, f"Limit request #{request.id}: Happy Easter")
        assert decided.request.granted_ends_on == MONTH_END
        assert line.limits() == (Decimal("1000.00"), Decimal("2500.00"))
    with frozen(BERLIN_MIDNIGHT - timedelta(seconds=1)):
        assert line.limits()[1] == Decimal("2500.00")
    with frozen(BERLIN_MIDNIGHT):
        assert line.limits()[1] == Decimal("1000.00")  # no job has run
    assert find_ledger_problems() == []


@pytest.mark.parametrize("decision, limits, until", [
    ({"limit": "1800.00"}, (Decimal("1800.00"), Decimal("1800.00")), None),  # another limit, for good
    ({"limit": "1800.00", "ends_on": MONTH_END}, (Decimal("1000.00"), Decimal("1800.00")), MONTH_END),
    ({"ends_on": date(2026, 3, 25)}, (Decimal("1000.00"), Decimal("2500.00")), date(2026, 3, 25)),  # asked, shorter
])
def test_the_wholesaler_may_approve_another_limit_for_good_or_for_a_while(line, decision, limits, until):
    with frozen(ASKED):
        request = line.ask(ends_on=date(2026, 4, 30))
        decided = line.decide(request.id, approve=True, **decision)
        assert line.limits() == limits
        assert (decided.request.granted_limit, decided.request.granted_ends_on) == (limits[1], until)


def test_a_temporary_approval_lifts_the_effective_limit_to_what_was_approved(line):
    """With a temporary increase already running, the approval adds what takes the effective limit to it."""
    with frozen(ASKED):
        line.decide(line.ask(ends_on=MONTH_END, limit="1200.00").id, approve=True)
        decided = line.decide(line.ask(ends_on=MONTH_END, limit="2000.00").id, approve=True)
        assert _db.session.get(LimitIncrease, decided.request.increase_id).amount == Decimal("800.00")
        assert line.limits() == (Decimal("1000.00"), Decimal("2000.00"))


def test_a_declined_request_changes_no_limit_and_says_why(line):
    request = line.ask()
    with pytest.raises(ValidationError) as refused:
        line.decide(request.id, approve=False)
    assert refused.value.field_errors == {"note": "required"}
    with pytest.raises(ValidationError) as refused:
        line.decide(request.id, approve=False, limit="2000.00", note="No")
    assert refused.value.field_errors == {"limit": "not with a decline"}
    decided = line.decide(request.id, approve=False, note="Pay the March invoices first.")
    assert (decided.request.status, decided.request.decision_note, decided.request.granted_limit) == (
        LimitRequestStatus.DECLINED, "Pay the March invoices first.", None)
    assert line.limits() == (Decimal("1000.00"), Decimal("1000.00"))
    assert mails_to(line.shop_id) == ["Your limit request to Acme Foods is declined"]
    with pytest.raises(LimitRequestClosed) as closed:
        line.decide(request.id, approve=True)
    assert closed.value.details() == {"status": "DECLINED"}


def test_one_open_request_per_credit_line(line):
    first = line.ask()
    with pytest.raises(LimitRequestOpen):
        line.ask(limit="3000.00")
    limit_requests.withdraw_request(line.retailer, first.id)
    with pytest.raises(LimitRequestClosed):
        limit_requests.withdraw_request(line.retailer, first.id)
    second = line.ask(limit="3000.00")
    assert second.status == LimitRequestStatus.OPEN
    assert _db.session.get(LimitRequest, first.id).status == LimitRequestStatus.WITHDRAWN


@pytest.mark.parametrize("asked, field", [
    ({"limit": "1000.00"}, "requested_limit"),  # not above the limit now
    ({"limit": "0"}, "requested_limit"),
    ({"limit": "12.345"}, "requested_limit"),
    ({"ends_on": date(2026, 3, 19)}, "ends_on"),  # yesterday in Berlin
    ({"ends_on": date(2027, 3, 22)}, "ends_on"),  # over a year ahead (366 days: 21 March)
    ({"ends_on": "2026-03-31"}, "ends_on"),  # not a date
    ({"note": "  "}, "note"),
])
def test_a_bad_request_is_refused_by_field_and_writes_nothing(line, asked, field):
    with frozen(ASKED), pytest.raises(ValidationError) as refused:
        line.ask(**asked)
    assert field in refused.value.field_errors
    assert _db.session.scalar(select(func.count()).select_from(LimitRequest)) == 0


@pytest.mark.parametrize("decision, field", [
    ({"limit": "900.00"}, "limit"),  # for good, below the credit limit
    ({"limit": "1000.00", "ends_on": MONTH_END}, "limit"),  # for a while, not above the limit now
    ({"ends_on": date(2026, 3, 19)}, "ends_on"),
    ({"approve": "yes"}, "approve"),
])
def test_a_bad_decision_is_refused_by_field_and_leaves_the_request_open(line, decision, field):
    with frozen(ASKED):
        request = line.ask()
        with pytest.raises(ValidationError) as refused:
            line.decide(request.id, **{"approve": True} | decision)
    assert field in refused.value.field_errors
    _db.session.expire_all()
    assert _db.session.get(LimitRequest, request.id).status == LimitRequestStatus.OPEN
    assert line.limits() == (Decimal("1000.00"), Decimal("1000.00"))


def test_only_its_own_sides_may_ask_decide_or_withdraw(line, make):
    request = line.ask()
    with pytest.raises(Forbidden):
        limit_requests.decide_request(line.retailer, request.id, approve=True)
    with pytest.raises(Forbidden):
        limit_requests.withdraw_request(line.manager, request.id)
    with pytest.raises(Forbidden):
        limit_requests.request_limit(line.manager, line.account_id, requested_limit="5000.00", note="Mine")
    other = make.account()
    with pytest.raises(NotFound):
        limit_requests.decide_request(acting_wholesaler(other.wholesaler_id), request.id, approve=True)
    with pytest.raises(NotFound):
        limit_requests.withdraw_request(acting_retailer(other.retailer_id), request.id)
    with pytest.raises(NotFound):
        limit_requests.request_limit(acting_retailer(other.retailer_id), line.account_id, requested_limit="5000.00",
                                     note="Not mine")


def test_concurrent_requests_make_one_and_concurrent_decisions_decide_once(line, in_parallel):
    asked = in_parallel(lambda i: line.ask(limit=f"{2000 + i}.00").id, 6)
    made = [r for r in asked if isinstance(r, int)]
    assert len(made) == 1 and all(isinstance(r, LimitRequestOpen) for r in asked if r not in made)
    decided = in_parallel(lambda i: line.decide(made[0], approve=i % 2 == 0, note=f"Decision {i}").request.status, 6)
    assert sum(isinstance(r, LimitRequestStatus) for r in decided) == 1
    assert all(isinstance(r, LimitRequestClosed) for r in decided if not isinstance(r, LimitRequestStatus))
    assert _db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action.in_(["limit_request.approved", "limit_request.declined"]))) == 1
    assert find_ledger_problems() == []


# --- The API -------------------------------------------------------------------------------------------------------

def test_the_api_asks_lists_decides_and_withdraws_requests(line, app):
    shop = ApiClient(app, _db.session.get(User, line.shop_id))
    desk = ApiClient(app, _db.session.get(User, line.desk_id))
    with frozen(ASKED):
        asked = shop.post(f"/credit-accounts/{line.account_id}/limit-requests",
                          {"requested_limit": "2500.00", "ends_on": "2026-04-30", "note": "Easter"})
        assert asked.status_code == 201 and asked.headers["Location"].endswith(f"/limit-requests/{asked.json['id']}")
        assert asked.json | {"id": 0, "created_at": ""} == {
            "id": 0, "credit_account_id": line.account_id, "retailer_id": asked.json["retailer_id"],
            "wholesaler_id": asked.json["wholesaler_id"], "status": "OPEN", "requested_limit": "2500.00",
            "ends_on": "2026-04-30", "note": "Easter", "created_at": "", "closed_at": None, "decision_note": None,
            "granted_limit": None, "granted_ends_on": None, "limit_increase_id": None}
        again = shop.post(f"/credit-accounts/{line.account_id}/limit-requests",
                          {"requested_limit": "3000.00", "note": "More"})
        assert again.status_code == 409 and again.json["error"] == "LIMIT_REQUEST_OPEN"
        assert [r["id"] for r in desk.get("/limit-requests?status=OPEN").json["limit_requests"]] == [asked.json["id"]]
        assert desk.get("/limit-requests?status=DECLINED").json["limit_requests"] == []
        decided = desk.post(f"/limit-requests/{asked.json['id']}/decision",
                            {"approve": True, "limit": "2000.00", "ends_on": "2026-03-31", "note": "Until April"})
        assert decided.status_code == 200, decided.json
        assert (decided.json["status"], decided.json["granted_limit"], decided.json["granted_ends_on"]) == (
            "APPROVED", "2000.00", "2026-03-31")
        increase = desk.get(f"/credit-accounts/{line.account_id}/limit-increases").json["limit_increases"][0]
        assert (increase["id"], increase["amount"]) == (decided.json["limit_increase_id"], "1000.00")
        closed = desk.post(f"/limit-requests/{asked.json['id']}/decision", {"approve": False, "note": "No"})
        assert closed.status_code == 409 and closed.json["error"] == "LIMIT_REQUEST_CLOSED"
        assert closed.json["status"] == "APPROVED"
        second = shop.post(f"/credit-accounts/{line.account_id}/limit-requests",
                           {"requested_limit": "3000.00", "note": "For good"}).json
        withdrawn = shop.post(f"/limit-requests/{second['id']}/withdraw", {})
        assert withdrawn.status_code == 200 and withdrawn.json["status"] == "WITHDRAWN"
        listed = shop.get(f"/credit-accounts/{line.account_id}/limit-requests").json
        assert [r["status"] for r in listed["limit_requests"]] == ["WITHDRAWN", "APPROVED"]
        assert shop.post(f"/limit-requests/{second['id']}/decision", {"approve": True}).status_code == 403


def test_verify_ledger_finds_a_request_whose_increase_disagrees(line):
    with frozen(ASKED):
        decided = line.decide(line.ask(ends_on=MONTH_END).id, approve=True)
    _db.session.execute(text("UPDATE limit_requests SET granted_ends_on = '2026-03-30' WHERE id = :id"),
                        {"id": decided.request.id})
    _db.session.commit()
    assert find_ledger_problems() == [f"limit request {decided.request.id}: granted until 2026-03-30, but its increase "
                                      f"is on account {line.account_id} until 2026-03-31"]
