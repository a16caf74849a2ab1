"""The statement of account for a period: opening balance, every entry with due dates and what each payment paid,
closing balance, unapplied credit and the ageing as of the period's end, in the wholesaler's time zone, matching
the ledger to the cent."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from app.models import EntryType, LedgerEntry, OverduePolicy, Role
from app.services import accounts, clock, orders, statements
from app.services.actors import SYSTEM
from app.services.errors import ValidationError
from app.statement_pdf import statement_pdf
from tests.support.api_client import ApiClient
from tests.support.pdf import pdf_pages, pdf_text

ZONE = "Pacific/Auckland"  # 13 hours ahead of UTC in summer: a UTC date is often the wrong one


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(ZONE))


@pytest.fixture
def history(db, make):
    """Three months of a retailer's dealings with a wholesaler in Auckland, written at their local times."""
    wholesaler = make.wholesaler()
    wholesaler.time_zone = ZONE
    account = make.account(wholesaler=wholesaler, credit_limit="5000.00", overdue_policy=OverduePolicy.OFF)
    product = make.product(wholesaler, unit_price="12.50")
    buyer = make.user(Role.RETAILER, retailer=account.retailer)
    ids = {}

    def at(moment, operation):
        with time_machine.travel(moment, tick=False):
            return operation()

    def order(quantity):
        return orders.place_order(buyer, wholesaler_id=wholesaler.id, lines=[(product.id, quantity)]).order_id

    ids["jan_first"] = at(local(date(2027, 1, 5), 10), lambda: order(8))                      # 100.00
    ids["jan_late"] = at(local(date(2027, 1, 31), 23, 30), lambda: order(4))                  # 50.00, still January
    ids["feb_first"] = at(local(date(2027, 2, 1), 0, 15), lambda: order(2))                   # 25.00, February
    ids["payment"] = at(local(date(2027, 2, 10), 9), lambda: accounts.record_payment(
        SYSTEM, account.id, amount="130.00", reference="Bank 881", allocations=[(ids["jan_late"], None)]).id)
    at(local(date(2027, 2, 12), 9), lambda: orders.cancel_order(SYSTEM, ids["feb_first"], reason="Not needed"))
    at(local(date(2027, 2, 20), 9), lambda: accounts.post_adjustment(SYSTEM, account.id, amount="7.40",
                                                                      reason="Delivery charge"))
    ids["mar"] = at(local(date(2027, 3, 3), 9), lambda: order(10))                            # 125.00
    at(local(date(2027, 3, 4), 9), lambda: accounts.credit_order(SYSTEM, ids["mar"], lines=[(product.id, 2)],
                                                                 reason="Two damaged"))
    at(local(date(2027, 3, 20), 9), lambda: accounts.record_payment(SYSTEM, account.id, amount="200.00",
                                                                     reference="Bank 902"))
    return account, ids


def month(year, number):
    first = date(year, number, 1)
    return first, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def test_each_month_follows_from_the_last_and_matches_the_ledger_to_the_cent(db, history):
    account, _ = history
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.credit_account_id == account.id)
                                 .order_by(LedgerEntry.id)).all()
    previous_closing = Decimal("0.00")
    with time_machine.travel(datetime(2027, 4, 2, tzinfo=UTC), tick=False):
        for number in (1, 2, 3):
            start, end = month(2027, number)
            shown = statements.statement_of_account(account, start, end)
            # Recomputed from the ledger alone: the entries whose local date falls in the month, and their sum.
            in_month = [e for e in entries if start <= clock.business_date(ZONE, e.created_at) <= end]
            assert [line.entry_id for line in shown.lines] == [e.id for e in in_month]
            assert shown.opening_balance == previous_closing
            assert shown.opening_balance + sum(e.effect for e in in_month) == shown.closing_balance
            assert shown.charged - shown.credited == shown.closing_balance - shown.opening_balance
            assert shown.closing_balance == shown.ageing.total - shown.unapplied_credit
            previous_closing = shown.closing_balance
    assert previous_closing == account.balance


def test_lines_carry_due_dates_what_each_payment_paid_and_the_local_day(db, history):
    account, ids = history
    with time_machine.travel(datetime(2027, 4, 2, tzinfo=UTC), tick=False):
        january = statements.statement_of_account(account, *month(2027, 1))
        february = statements.statement_of_account(account, *month(2027, 2))
    assert [(line.on, line.description, line.due_date, line.amount) for line in january.lines] == [
        (date(2027, 1, 5), f"Order #{ids['jan_first']}", date(2027, 2, 4), Decimal("100.00")),
        (date(2027, 1, 31), f"Order #{ids['jan_late']}", date(2027, 3, 2), Decimal("50.00"))]  # 10:30 UTC
    assert (january.closing_balance, january.ageing.total, january.unapplied_credit) == (
        Decimal("150.00"), Decimal("150.00"), Decimal("0.00"))
    kinds = [(line.type, line.amount) for line in february.lines]
    assert kinds == [(EntryType.DEBIT, Decimal("25.00")), (EntryType.CREDIT, Decimal("-130.00")),
                     (EntryType.REVERSAL, Decimal("-25.00")), (EntryType.ADJUSTMENT, Decimal("7.40"))]
    payment = february.lines[1]
    # The named order in full, the rest to the oldest (listed by charge); the cancelled order was never paid.
    assert payment.paid == ((ids["jan_first"], Decimal("80.00")), (ids["jan_late"], Decimal("50.00")))
    assert payment.description == "Payment Bank 881"
    assert (february.opening_balance, february.closing_balance) == (Decimal("150.00"), Decimal("27.40"))
    assert february.ageing.buckets["1-30"] == Decimal("20.00")  # January's first order, due 4 February


def test_a_past_period_reads_the_same_after_later_payments(db, history):
    account, _ = history
    with time_machine.travel(datetime(2027, 3, 1, tzinfo=UTC), tick=False):
        before = statements.statement_of_account(account, *month(2027, 2))
    with time_machine.travel(datetime(2027, 5, 1, tzinfo=UTC), tick=False):
        accounts.record_payment(SYSTEM, account.id, amount="500.00", reference="Everything")
        after = statements.statement_of_account(account, *month(2027, 2))
    assert before == after


def test_the_period_defaults_to_the_month_so_far_and_refuses_what_is_not_one(db):
    with time_machine.travel(datetime(2027, 2, 28, 12, tzinfo=UTC), tick=False):  # 1 March in Auckland
        assert statements.period(time_zone=ZONE) == (date(2027, 3, 1), date(2027, 3, 1))
        assert statements.period(time_zone="UTC") == (date(2027, 2, 1), date(2027, 2, 28))
        assert statements.period("2026-12-01", "2027-01-31", time_zone="UTC") == (date(2026, 12, 1),
                                                                                   date(2027, 1, 31))
        for start, end, field in [("2027-02-10", "2027-02-01", "to"), (None, "2027-03-01", "to"),
                                  ("2027-02-30", None, "from"), ("1.2.2027", None, "from"), (None, "yesterday", "to"),
                                  ("2025-01-01", "2027-02-01", "from"), ("２０２７-01-01", None, "from")]:
            with pytest.raises(ValidationError) as refused:
                statements.period(start, end, time_zone="UTC")
            assert field in refused.value.field_errors
    assert statements.previous_month(date(2027, 3, 1)) == (date(2027, 2, 1), date(2027, 2, 28))
    assert statements.previous_month(date(2027, 1, 31)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_the_pdf_shows_the_same_figures_and_lines(db, history):
    account, ids = history
    with time_machine.travel(datetime(2027, 4, 2, tzinfo=UTC), tick=False):
        february = statements.statement_of_account(account, *month(2027, 2))
    document = statement_pdf(february)
    assert document.startswith(b"%PDF-")
    shown = pdf_text(document)
    for expected in ("Statement of account", account.retailer.name, "01 February 2027 to 28 February 2027",
                     "Opening balance", "150.00", "Closing balance", "27.40", "Payment Bank 881",
                     f"paid #{ids['jan_first']} 80.00, #{ids['jan_late']} 50.00",
                     f"Cancelled order #{ids['feb_first']}",
                     "Adjustment: Delivery charge", "Page 1 of 1", "Not yet due"):
        assert expected in shown, expected


def test_a_long_statement_runs_over_pages_numbered_of_the_total(db, make):
    account = make.account(credit_limit="100000.00")
    with time_machine.travel(datetime(2027, 6, 10, 9, tzinfo=UTC)):
        for n in range(130):
            accounts.post_adjustment(SYSTEM, account.id, amount="1.25", reason=f"Charge {n}")
        shown = statements.statement_of_account(account, date(2027, 6, 1), date(2027, 6, 10))
    found = pdf_pages(statement_pdf(shown))
    pages = len(found)
    assert pages >= 2
    assert f"Page {pages} of {pages}" in found[-1].extract_text()
    assert all("Charges" in page.extract_text() for page in found)  # the heading on every page
    assert "Charge 129" in found[-1].extract_text() and "162.50" in found[-1].extract_text()


def test_the_page_and_its_pdf_for_each_side_and_no_one_else(client, auth, db, make, history):
    account, ids = history
    other = make.user(Role.WHOLESALER, wholesaler=make.wholesaler())
    with time_machine.travel(datetime(2027, 4, 2, tzinfo=UTC), tick=False):
        for user in (make.user(Role.RETAILER, retailer=account.retailer),
                     make.user(Role.WHOLESALER, wholesaler=account.wholesaler), make.user(Role.ADMIN)):
            auth.login(user)
            page = client.get(f"/statements/{account.id}?from=2027-02-01&to=2027-02-28")
            assert page.status_code == 200
            assert "Payment Bank 881" in page.text and "27.40" in page.text and "Cancelled order" in page.text
            document = client.get(f"/statements/{account.id}.pdf?from=2027-02-01&to=2027-02-28")
            assert document.mimetype == "application/pdf"
            assert "Payment Bank 881" in pdf_text(document.data)
            assert f'filename="statement-{account.id}-20270201-20270228.pdf"' in document.headers["Content-Disposition"]
            refused = client.get(f"/statements/{account.id}.pdf?from=2027-02-30")
            assert refused.status_code == 400 and "Give dates that exist" not in refused.text
            assert "not a valid date" in refused.text.lower()
            late = client.get(f"/statements/{account.id}?to=2027-05-01")
            assert late.status_code == 400 and "days still to come" in late.text
            auth.logout()
        auth.login(other)
        assert client.get(f"/statements/{account.id}").status_code == 404
        assert client.get(f"/statements/{account.id}.pdf").status_code == 404


def test_the_api_answers_json_or_the_pdf(app, db, make, history):
    account, ids = history
    api = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    with time_machine.travel(datetime(2027, 4, 2, tzinfo=UTC), tick=False):
        shown = api.get(f"/credit-accounts/{account.id}/statement?from=2027-02-01&to=2027-02-28").json
        document = api.get(f"/credit-accounts/{account.id}/statement?from=2027-02-01&to=2027-02-28",
                           headers={"Accept": "application/pdf"})
        refused = [api.get(f"/credit-accounts/{account.id}/statement?{query}", check=True)
                   for query in ("to=2027-05-01", "from=2027-03-01&to=2027-02-01", "from=2027-02-30", "month=2")]
        default = api.get(f"/credit-accounts/{account.id}/statement").json  # the month so far: April
    assert (shown["from"], shown["to"], shown["opening_balance"], shown["closing_balance"]) == (
        "2027-02-01", "2027-02-28", "150.00", "27.40")
    assert (shown["charged"], shown["credited"], shown["ageing"]["total"]) == ("32.40", "155.00", "27.40")
    payment = shown["entries"][1]
    assert (payment["type"], payment["amount"], payment["memo"]) == ("CREDIT", "-130.00", "Bank 881")
    assert payment["paid"] == [{"order_id": ids["jan_first"], "amount": "80.00"},
                               {"order_id": ids["jan_late"], "amount": "50.00"}]
    assert shown["entries"][0]["due_date"] == "2027-03-03"
    assert document.mimetype == "application/pdf" and "Payment Bank 881" in pdf_text(document.data)
    assert [r.status_code for r in refused] == [400] * 4
    assert (default["from"], default["to"], default["entries"]) == ("2027-04-01", "2027-04-02", [])
