"""Wholesaler pages through the real forms: accounts, the ledger and its export, payments, adjustments,
limits and the catalogue."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from sqlalchemy import func, select, text

from app.models import AuditEvent, CreditAccount, EntryType, LedgerEntry, Product, Role
from app.services import accounts, orders, reports
from app.services.actors import SYSTEM
from app.wholesalers import routes as wholesaler_routes
from tests.support.actors import acting_retailer
from tests.support.ledger import crowd_ledger
from tests.support.page_forms import form_on, forms_in, post_with_token, readable, submit


@pytest.fixture
def desk(make, auth):
    """A signed-in wholesaler with one retailer's 1,000.00 EUR account, 300.00 of it owed."""
    wholesaler = make.wholesaler(name="Acme Foods")
    retailer = make.retailer(name="Corner Shop")
    account = make.account(retailer=retailer, wholesaler=wholesaler, credit_limit="1000.00")
    product = make.product(wholesaler, unit_price="100.00", sku="CASE")
    orders.place_order(acting_retailer(retailer.id), wholesaler_id=wholesaler.id, lines=[(product.id, 3)])
    user = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    auth.login(user)
    return {"wholesaler": wholesaler, "retailer": retailer, "account": account, "product": product,
            "url": f"/wholesaler/accounts/{account.id}", "user": user}


def fresh(db, account) -> CreditAccount:
    db.session.expire_all()
    return db.session.get(CreditAccount, account.id)


def entry_count(db) -> int:
    return db.session.scalar(select(func.count(LedgerEntry.id)))


# --- Dashboard ------------------------------------------------------------------------------------

def test_the_dashboard_lists_accounts_and_sorts_by_a_whitelisted_column(client, desk, make):
    for name, limit in [("Alpha Deli", "5000.00"), ("Zeta Market", "250.00")]:
        make.account(retailer=make.retailer(name=name), wholesaler=desk["wholesaler"], credit_limit=limit)

    def names(query=""):
        page = client.get(f"/wholesaler/{query}").get_data(as_text=True)
        return re.findall(r"<strong>([^<]+)</strong></a>", page)

    assert names() == ["Alpha Deli", "Corner Shop", "Zeta Market"]
    assert names("?sort=-limit") == ["Alpha Deli", "Corner Shop", "Zeta Market"]
    assert names("?sort=limit") == ["Zeta Market", "Corner Shop", "Alpha Deli"]
    assert names("?sort=-balance")[0] == "Corner Shop"
    assert names("?sort=-utilisation")[0] == "Corner Shop"
    # Anything off the whitelist, SQL included, sorts by retailer name and never reaches the database.
    assert names("?sort=balance;DROP TABLE orders") == names()
    assert names("?sort=id") == names()
    page = readable(client.get("/wholesaler/"))
    assert "Total owed to you 300.00 EUR" in page and "Credit extended 6,250.00 EUR" in page


def test_the_dashboard_pages_by_every_sort_and_searches_and_filters(client, desk, make, db):
    wholesaler = desk["wholesaler"]
    for i in range(7):
        make.account(retailer=make.retailer(name=f"Shop {i:02d}"), wholesaler=wholesaler,
                     credit_limit=f"{(i % 3 + 1) * 100}.00")
    blocked = make.account(retailer=make.retailer(name="Closed Kiosk"), wholesaler=wholesaler, credit_limit="50.00")
    accounts.block_account(SYSTEM, blocked.id, reason="Payments overdue")
    everyone = {"Corner Shop", "Closed Kiosk", *(f"Shop {i:02d}" for i in range(7))}

    def walk(query=""):
        seen, url = [], f"/wholesaler/?{query}"
        while url:
            page = client.get(url).get_data(as_text=True)
            seen += re.findall(r"<strong>([^<]+)</strong></a>", page)
            found = re.search(r'<a class="older" href="([^"]+)"', page)
            url = found.group(1).replace("&amp;", "&") if found else None
        return seen

    for sort in ("retailer", "-retailer", "limit", "-limit", "balance", "-available", "utilisation", "-status"):
        with patch.object(wholesaler_routes, "DASHBOARD_PAGE_SIZE", 2):
            seen = walk(f"sort={sort}")
        assert sorted(seen) == sorted(everyone) and len(seen) == len(everyone), sort
    assert walk("q=shop+0") == [f"Shop {i:02d}" for i in range(7)]
    assert walk("q=100%25") == []  # a % is searched for, not a wildcard
    assert walk("show=blocked") == ["Closed Kiosk"]
    assert walk("show=nearly_full") == []  # Corner Shop uses 30 %
    assert walk("show=on_hold") == []
    assert walk("after=not-a-cursor") == walk()  # a mangled link shows the first page
    page = readable(client.get("/wholesaler/?q=zzz"))
    assert "No account matches" in page and "Accounts 9" in page and "Blocked · on overdue hold 1 · 0" in page


def test_a_new_wholesaler_sees_its_first_steps_marked_as_it_takes_them(client, make, auth):
    wholesaler = make.wholesaler()
    auth.login(make.user(Role.WHOLESALER, wholesaler=wholesaler))
    page = client.get("/wholesaler/").get_data(as_text=True)
    assert "Getting started" in page and page.count('class="done"') == 0
    assert "Retailers order from your catalogue" in readable(client.get("/wholesaler/"))
    make.product(wholesaler)
    make.product(wholesaler)
    make.db.session.commit()
    page = client.get("/wholesaler/").get_data(as_text=True)
    assert page.count('class="done"') == 1 and "2 products in your catalogue." in readable(client.get("/wholesaler/"))
    make.account(wholesaler=wholesaler)
    make.db.session.commit()
    assert "Getting started" not in client.get("/wholesaler/").get_data(as_text=True)


# --- The account page -----------------------------------------------------------------------------

def test_the_account_page_shows_figures_chart_and_ledger(client, desk):
    response = client.get(desk["url"])
    page = readable(response)
    assert "Corner Shop" in page
    assert "Credit limit 1,000.00 EUR" in page and "Balance owed 300.00 EUR" in page
    assert "Available 700.00 EUR" in page and "30%" in page
    assert "DEBIT" in page and "Order #1" in page and "+300.00 EUR" in page
    html = response.get_data(as_text=True)
    assert '<svg class="chart"' in html and 'class="balance"' in html and 'class="limit"' in html
    assert "<script" not in html  # the chart is drawn on the server


def test_an_account_without_entries_says_so(client, desk, make):
    account = make.account(retailer=make.retailer(), wholesaler=desk["wholesaler"])
    page = readable(client.get(f"/wholesaler/accounts/{account.id}"))
    assert "No ledger entries yet" in page and "the chart starts with the first order" in page


def test_the_chart_follows_the_limit_through_its_changes(client, desk, db):
    accounts.update_account(SYSTEM, desk["account"].id, credit_limit="2000.00")
    balances, limits = reports.balance_history(fresh(db, desk["account"]))
    assert [b for _, b in balances] == [Decimal("300.00")]
    assert [v for _, v in limits] == [Decimal("1000.00"), Decimal("2000.00")]


def test_recording_a_payment_through_the_form(client, desk, db):
    response = submit(client, desk["url"], {"amount": "120.50", "reference": "Transfer 118"},
                      action="/payment", prefix="payment", follow_redirects=True)
    assert "Payment of 120.50 EUR recorded. Balance now 179.50 EUR." in readable(response)
    assert fresh(db, desk["account"]).balance == Decimal("179.50")
    entry = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert (entry.type, entry.amount, entry.memo) == (EntryType.CREDIT, Decimal("120.50"), "Transfer 118")


def test_an_overpayment_reads_as_credit_in_the_retailers_favour(client, desk, db):
    submit(client, desk["url"], {"amount": "450.00", "reference": "Prepaid"}, action="/payment", prefix="payment")
    page = readable(client.get(desk["url"]))
    assert "150.00 EUR credit in the retailer's favour" in page
    assert "-150.00 EUR in credit" in page  # the ledger's balance after the payment
    assert "150.00 EUR credit in the retailer's favour" in readable(client.get("/wholesaler/"))


@pytest.mark.parametrize("amount, message", [
    ("-5.00", "Must be more than zero."),
    ("0", "Must not be zero."),
    ("1,000", "Enter a number such as 1234.50 (digits and one decimal point only)."),
    ("12.345", "Use at most two decimal places."),
    ("", "Enter a number such as 1234.50 (digits and one decimal point only)."),
    ("NaN", "Enter a number such as 1234.50 (digits and one decimal point only)."),
    ("1e3", "Enter a number such as 1234.50 (digits and one decimal point only)."),
    # Digits of other scripts, which str.isdigit() and Decimal take for numbers: Arabic-Indic, full-width, Devanagari
    ("١٠٠", "Type the amount with the digits 0 to 9, such as 1234.50."),
    ("１２.００", "Type the amount with the digits 0 to 9, such as 1234.50."),
    ("1٠.50", "Type the amount with the digits 0 to 9, such as 1234.50."),
    ("१२", "Type the amount with the digits 0 to 9, such as 1234.50."),
    ("²", "Type the amount with the digits 0 to 9, such as 1234.50."),
])
def test_bad_payment_amounts_get_a_clear_message_and_change_nothing(client, desk, db, amount, message):
    before = entry_count(db)
    response = submit(client, desk["url"], {"amount": amount, "reference": "x"}, action="/payment",
                      prefix="payment")
    assert response.status_code == 422
    assert message in readable(response)
    assert _value(response, "payment-amount") == amount  # the form comes back as it was sent
    assert entry_count(db) == before and fresh(db, desk["account"]).balance == Decimal("300.00")


def test_a_payment_needs_a_reference(client, desk, db):
    response = submit(client, desk["url"], {"amount": "10.00", "reference": "   "}, action="/payment",
                      prefix="payment")
    assert "Give the payment's reference" in readable(response)
    assert entry_count(db) == 1


def test_adjustments_are_signed_and_need_a_reason(client, desk, db):
    submit(client, desk["url"], {"amount": "-50.00", "reason": "Damaged goods"}, action="/adjustment",
           prefix="adjustment")
    assert fresh(db, desk["account"]).balance == Decimal("250.00")
    response = submit(client, desk["url"], {"amount": "25.00", "reason": " "}, action="/adjustment",
                      prefix="adjustment")
    assert "Give a reason: it is recorded with the change." in readable(response)
    assert fresh(db, desk["account"]).balance == Decimal("250.00")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "credit_account.adjustment")).one()
    assert event.after["memo"] == "Damaged goods"


@pytest.mark.parametrize(("name", "values", "balance", "message"), [
    ("payment", {"amount": "120.50", "reference": "Transfer 118"}, "179.50",
     "This payment of 120.50 EUR was already recorded from this form; it was not recorded twice."),
    ("adjustment", {"amount": "-50.00", "reason": "Damaged goods"}, "250.00",
     "This adjustment of -50.00 EUR was already posted from this form; it was not posted twice."),
])
def test_a_double_submitted_entry_form_records_one_entry(client, desk, db, name, values, balance, message):
    form = form_on(client, desk["url"], f"/{name}")
    assert len(form.fields[f"{name}-idempotency_key"]) >= 24  # made on the server, one per rendering
    assert form_on(client, desk["url"], f"/{name}").fields[f"{name}-idempotency_key"] != \
        form.fields[f"{name}-idempotency_key"]
    data = form.fields | {f"{name}-{field}": value for field, value in values.items()}
    first = client.post(form.action, data=data)
    second = client.post(form.action, data=data)  # a double click, or Back and submit again
    assert (first.status_code, second.status_code) == (302, 302)
    assert entry_count(db) == 2 and fresh(db, desk["account"]).balance == Decimal(balance)  # the order, then one
    assert message in readable(client.get(second.headers["Location"]))
    assert len(db.session.scalars(select(AuditEvent)).all()) == (1 if name == "adjustment" else 0)


def test_reusing_a_payment_form_for_another_amount_asks_to_check_and_gives_a_fresh_key(client, desk, db):
    form = form_on(client, desk["url"], "/payment")
    client.post(form.action, data=form.fields | {"payment-amount": "10.00", "payment-reference": "Cash"})
    again = client.post(form.action, data=form.fields | {"payment-amount": "20.00", "payment-reference": "Cash"})
    assert again.status_code == 409  # the form conflicts with the payment its key already recorded
    assert "This form was already used for an entry with other details" in readable(again)
    assert entry_count(db) == 2 and fresh(db, desk["account"]).balance == Decimal("290.00")
    fresh_key = _value(again, "payment-idempotency_key")
    assert fresh_key != form.fields["payment-idempotency_key"]
    assert _value(again, "payment-amount") == "20.00"  # submitting what the form shows now records it
    resent = client.post(form.action, data=form.fields | {"payment-amount": "20.00", "payment-reference": "Cash",
                                                          "payment-idempotency_key": fresh_key})
    assert resent.status_code == 302 and fresh(db, desk["account"]).balance == Decimal("270.00")


@pytest.mark.parametrize("key", [None, "", "x" * 101, "tab\tkey"], ids=["missing", "empty", "too long", "unprintable"])
def test_an_entry_form_without_a_usable_key_records_nothing_and_gets_a_fresh_key(client, desk, db, key):
    form = form_on(client, desk["url"], "/payment")
    data = form.fields | {"payment-amount": "10.00", "payment-reference": "Cash"}
    if key is None:
        del data["payment-idempotency_key"]
    else:
        data["payment-idempotency_key"] = key
    response = client.post(form.action, data=data)
    assert response.status_code == 422 and "The form was incomplete" in readable(response)
    assert entry_count(db) == 1
    assert len(_value(response, "payment-idempotency_key")) >= 24


def test_changing_the_limit(client, desk, db):
    response = submit(client, desk["url"], {"credit_limit": "2500.00"}, action="/limit", prefix="limit",
                      follow_redirects=True)
    assert "Credit limit set to 2,500.00 EUR." in readable(response)
    assert fresh(db, desk["account"]).credit_limit == Decimal("2500.00")
    for bad, message in [("-1.00", "Must not be negative."), ("2,500", "Enter a number such as 1234.50"),
                         ("10.001", "Use at most two decimal places.")]:
        response = submit(client, desk["url"], {"credit_limit": bad}, action="/limit", prefix="limit")
        assert message in readable(response)
    assert fresh(db, desk["account"]).credit_limit == Decimal("2500.00")


# --- Keyset pagination, filters, export -----------------------------------------------------------

@pytest.fixture
def long_ledger(desk, monkeypatch):
    """The DEBIT plus 24 alternating payments and adjustments: 25 entries, three pages of 10."""
    from app.wholesalers import routes

    monkeypatch.setattr(routes, "LEDGER_PAGE_SIZE", 10)
    for i in range(12):
        accounts.record_payment(SYSTEM, desk["account"].id, amount="1.00", reference=f"Payment {i}")
        accounts.post_adjustment(SYSTEM, desk["account"].id, amount="1.00", reason=f"Fee {i}")
    return desk


def entry_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'<td class="muted">(\d+)</td>', response.get_data(as_text=True))]


def link(response, label) -> str | None:
    match = re.search(rf'<a (?:class="older" )?href="([^"]+)">{re.escape(label)}</a>', response.get_data(as_text=True))
    return match.group(1).replace("&amp;", "&") if match else None


def test_keyset_pages_return_every_entry_exactly_once(client, long_ledger, db):
    all_ids = db.session.scalars(select(LedgerEntry.id).order_by(LedgerEntry.id.desc())).all()
    assert len(all_ids) == 25
    seen, url, pages = [], long_ledger["url"], []
    while url:
        response = client.get(url)
        pages.append(entry_ids(response))
        seen += pages[-1]
        url = link(response, "Older ›")
    assert [len(p) for p in pages] == [10, 10, 5]
    assert seen == all_ids  # newest first, none twice, none missed

    # And back again through "Newer": the same pages in reverse.
    back, url = [], link(client.get(f"{long_ledger['url']}?after={pages[1][-1]}"), "‹ Newer")
    while url:
        response = client.get(url)
        back.append(entry_ids(response))
        url = link(response, "‹ Newer")
    assert back == [pages[1], pages[0]]


def test_a_cursor_in_other_digits_is_ignored_like_any_mangled_cursor(client, long_ledger):
    first_page = entry_ids(client.get(long_ledger["url"]))
    assert entry_ids(client.get(f"{long_ledger['url']}?after=20")) == list(range(19, 9, -1))
    for after in ("２０", "٢٠", "2٠"):  # int() reads each as 20
        assert entry_ids(client.get(f"{long_ledger['url']}?after={after}")) == first_page, after


def test_pages_keep_the_filter(client, long_ledger):
    first = client.get(f"{long_ledger['url']}?type=CREDIT")
    assert len(entry_ids(first)) == 10 and "type=CREDIT" in link(first, "Older ›")
    second = client.get(link(first, "Older ›"))
    assert len(entry_ids(second)) == 2
    html = second.get_data(as_text=True)
    assert "badge-entry-credit" in html and "badge-entry-adjustment" not in html


def test_the_ledger_page_query_walks_the_index_by_id_not_offset(desk, db, make):
    crowd_ledger(db, make.account().id)
    query = reports.ledger_query(desk["account"].id, entry_type="CREDIT")
    page = query.where(LedgerEntry.id < 1000).order_by(LedgerEntry.id.desc()).limit(51)
    sql = str(page.compile(db.engine, compile_kwargs={"literal_binds": True}))
    assert "OFFSET" not in sql.upper()
    with db.engine.connect() as conn:
        plan = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_ledger_entries_account_id" in plan, plan


def test_the_ledger_filters_by_type_and_date(client, desk):
    accounts.record_payment(SYSTEM, desk["account"].id, amount="10.00", reference="Cash")
    today = datetime.now(UTC).date()
    assert readable(client.get(f"{desk['url']}?type=CREDIT")).count("Cash") == 1
    assert "Order #1" not in readable(client.get(f"{desk['url']}?type=CREDIT"))
    assert "No entries match" in readable(client.get(f"{desk['url']}?since={today + timedelta(days=1)}"))
    assert "No entries match" in readable(client.get(f"{desk['url']}?until={today - timedelta(days=1)}"))
    assert len(entry_ids(client.get(f"{desk['url']}?since={today}&until={today}"))) == 2
    backwards = readable(client.get(f"{desk['url']}?since={today}&until={today - timedelta(days=1)}"))
    assert "The end date is before the start date." in backwards
    # A mangled filter or cursor shows the whole ledger rather than an error.
    assert client.get(f"{desk['url']}?type=BOGUS&since=yesterday&after=x").status_code == 200


def test_the_csv_export_matches_the_ledger(client, long_ledger, db, monkeypatch):
    monkeypatch.setattr(reports, "EXPORT_BATCH_SIZE", 7)  # many batches: none lost or repeated at the seams
    accounts.record_payment(SYSTEM, long_ledger["account"].id, amount="5.00", reference="=HYPERLINK(\"x\")")
    response = client.get(f"{long_ledger['url']}/ledger.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"ledger-account-")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    entries = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc())).all()
    assert [int(r["entry_id"]) for r in rows] == [e.id for e in entries]
    for row, entry in zip(rows, entries, strict=True):
        assert row["type"] == entry.type.value
        assert Decimal(row["amount"]) == entry.amount and Decimal(row["change"]) == entry.effect
        assert Decimal(row["balance_after"]) == entry.balance_after
        assert row["order_id"] == (str(entry.order_id) if entry.order_id else "")
    assert rows[0]["memo"] == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it, does not run it


def test_the_csv_export_applies_the_filters(client, long_ledger):
    response = client.get(f"{long_ledger['url']}/ledger.csv?type=ADJUSTMENT")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 12 and {r["type"] for r in rows} == {"ADJUSTMENT"}


# --- Catalogue ------------------------------------------------------------------------------------

def test_adding_editing_and_deactivating_products(client, desk, make, auth, db):
    response = submit(client, "/wholesaler/catalogue", {"sku": "TEA-1", "name": "Green tea", "unit_price": "4.20"},
                      action="/catalogue", follow_redirects=True)
    assert "Green tea (TEA-1) added at 4.20 EUR." in readable(response)
    tea = db.session.scalars(select(Product).where(Product.sku == "TEA-1")).one()

    duplicate = submit(client, "/wholesaler/catalogue", {"sku": "TEA-1", "name": "Other", "unit_price": "1.00"},
                       action="/catalogue")
    assert "SKU TEA-1 is already in the catalogue." in readable(duplicate)
    bad_price = submit(client, "/wholesaler/catalogue", {"sku": "X", "name": "X", "unit_price": "1,50"},
                       action="/catalogue")
    assert "Enter a number such as 1234.50" in readable(bad_price)

    edit = f"/wholesaler/catalogue/{tea.id}/edit"
    assert submit(client, edit, {"unit_price": "4.60"}).status_code == 302
    assert "4.60 EUR" in readable(client.get("/wholesaler/catalogue"))
    assert "Use at most two decimal places." in readable(submit(client, edit, {"unit_price": "4.605"}))

    submit(client, "/wholesaler/catalogue", action=f"/{tea.id}/deactivate")
    db.session.expire_all()
    assert db.session.get(Product, tea.id).active is False
    # Retailers no longer see it; the wholesaler does, marked inactive, and can bring it back.
    auth.login(make.user(Role.RETAILER, retailer=desk["retailer"]))
    assert "Green tea" not in readable(client.get(f"/retailer/accounts/{desk['account'].id}/order"))
    auth.login(desk["user"])
    assert "Inactive" in readable(client.get("/wholesaler/catalogue"))
    submit(client, "/wholesaler/catalogue", action=f"/{tea.id}/reactivate")
    db.session.expire_all()
    assert db.session.get(Product, tea.id).active is True


def test_the_catalogue_has_an_empty_state(client, make, auth):
    auth.login(make.user(Role.WHOLESALER, wholesaler=make.wholesaler()))
    assert "No products yet" in readable(client.get("/wholesaler/catalogue"))


def test_a_payment_posted_without_the_form_still_needs_valid_input(client, desk, db):
    response = post_with_token(client, f"{desk['url']}/payment", {"payment-amount": "1e9"})
    assert response.status_code == 422 and entry_count(db) == 1


def _value(response, name) -> str:
    return next(f.fields[name] for f in forms_in(response) if name in f.fields)
