"""Bad input at the page forms, property-based (Hypothesis): payments, adjustments, limits, block reasons, order
quantities, product prices, users, organisations, credit accounts and cancel reasons, submitted through the
real forms with their CSRF tokens by a signed-in user of the right role.

The property: a value no rule allows (negative, zero, NaN, Infinity, 1e400, "1,000", a third decimal, a huge
quantity, a blank or overlong text, a missing field, a list or a file where text belongs, another tenant's or a
made-up id) gets a 4xx with a message (the form again, filled in, with a 422; the 404 page for an id not
the user's), never a 5xx and never a redirect, and nothing is written: the rows of every table and the contents
of the ones a form can change are as before. Odd but possible text (RTL marks, emoji, combining marks,
zero-width and other scripts) is either stored exactly or refused with a message.

The JSON API has its own fuzzing (tests/test_api_fuzz.py, tests/test_schemathesis.py). A NUL character in
free text once reached PostgreSQL (which cannot store it) as a 500; the tests at the end pin it for every
free-text field of the forms and the API.
"""

import io
import os
import re
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.models import Role
from tests.support.actors import acting_retailer
from tests.support.auth import Auth
from tests.support.page_forms import form_on
from tests.support.table_digest import snapshot

# The long runs (`make stress`) print figures that a JSON line per credit decision would bury.
pytestmark = pytest.mark.usefixtures("quiet_credit_log")

#: Examples per property: CI-sized here; `make stress` sets CREDITLINE_FUZZ_EXAMPLES.
EXAMPLES = int(os.environ.get("CREDITLINE_FUZZ_EXAMPLES", "15"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Amounts no money field accepts, whatever its sign rule.
NEVER_AMOUNTS = ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e400", "1E5", "-1e-400",
                 "1,000", "1,000.00", "1.000,00", "10.001", "0.005", "-0.001", "1_000", "12.3.4", "--5", "+-5",
                 "5-", "", "   ", "\t", "€5", "5 EUR", "0x10", "1000000000000.00", "99999999999999999999",
                 "1" * 40, "٫5", "."]
#: Amounts refused by fields that need more than zero.
NOT_POSITIVE = ["0", "0.00", "-0", "-0.01", "-5.00", "-1000000"]
#: Whole-number quantities the order form refuses.
BAD_QUANTITIES = ["-1", "-100", "1.5", "2.0", "NaN", "Infinity", "1e400", "1e3", "1,000", "abc", "100001",
                  "99999999999999999999999", "0x10", "½", "--1", "1 000", "5-"]

#: Text that is odd but may be a real reason or name: right-to-left marks and text, emoji, combining marks,
#: zero-width characters, other scripts.
ODD_TEXT = ["\u202egnp.exe", "\u200f\u05e9\u05dc\u05d5\u05dd\u200e", "\U0001f4b8" * 12, "e\u0301\u0301\u0301",
            "Z\u0334\u0321\u0322\u031b\u0317\u0318", "\ufeffbom", "zero\u200bwidth", "\u0645\u0631\u062d\u0628\u0627",
            "\u65e5\u672c\u8a9e", "tab\tinside", "line\nbreak", "\u2028", "'; DROP TABLE orders; --",
            "<script>alert(1)</script>", "{{7*7}}", "%s%n", "\\x00", "nul\x00inside", "bell\x07"]
odd_text = (st.sampled_from(ODD_TEXT)
            | st.text(st.characters(blacklist_categories=("Cs",)), max_size=60))
blank_text = st.sampled_from(["", " ", "   ", "\t", "\n", "\r\n", "\u3000", "\u00a0"])


def overlong(limit: int):
    return st.integers(limit + 1, limit + 300).map(lambda n: "x" * n) | st.sampled_from(["\U0001f4b8" * (limit + 1)])


def bad_amount(positive: bool):
    """Amounts the field refuses: unparseable, non-finite, a third decimal, too large, or not positive."""
    third_decimal = st.decimals(min_value=-10**6, max_value=10**6, places=3).filter(
        lambda d: d.is_finite() and d != d.quantize(Decimal("0.01"))).map(str)
    too_large = st.integers(10**12, 10**20).map(lambda n: f"{n}.00")
    odd = st.sampled_from(NEVER_AMOUNTS + (NOT_POSITIVE if positive else [])) | third_decimal | too_large
    return odd | st.text(st.characters(blacklist_categories=("Cs", "Nd")),
                         min_size=1, max_size=12).filter(lambda t: t.strip() not in ("", "+", "-", "."))


#: In place of one text field: the field missing, given twice, or a file.
WRONG_SHAPES = ["missing", "twice", "file"]


# --- The desk: two tenants, and a signed-in client for each role ---------------------------------

class Desk:
    def __init__(self, app, make):
        self.app, self.make = app, make
        self.w1, self.w2 = make.wholesaler(name="Acme Foods"), make.wholesaler(name="Other Foods")
        self.r1, self.r2 = make.retailer(name="Corner Shop"), make.retailer(name="Other Shop")
        self.account = make.account(retailer=self.r1, wholesaler=self.w1, credit_limit="1000.00")
        self.other_account = make.account(retailer=self.r2, wholesaler=self.w2, credit_limit="1000.00")
        self.product = make.product(self.w1, unit_price="10.00", sku="RICE")
        self.other_product = make.product(self.w2, unit_price="10.00", sku="OIL")
        self._clients = {}
        from app.services import orders

        self.order_id = orders.place_order(acting_retailer(self.r1.id), wholesaler_id=self.w1.id,
                                           lines=[(self.product.id, 1)]).order_id
        self.other_order_id = orders.place_order(acting_retailer(self.r2.id), wholesaler_id=self.w2.id,
                                                 lines=[(self.other_product.id, 1)]).order_id
        self.ids = {"account": self.account.id, "other_account": self.other_account.id,
                    "product": self.product.id, "other_product": self.other_product.id,
                    "r1": self.r1.id, "w1": self.w1.id, "r2": self.r2.id, "w2": self.w2.id}

    @property
    def clients(self):
        return self

    def __getitem__(self, role: Role):
        """A client signed in as a user of ``role`` (of the first tenant), signed in on first use: each
        sign-in costs an Argon2 verification."""
        if role not in self._clients:
            organisation = {Role.ADMIN: {}, Role.WHOLESALER: {"wholesaler": self.w1},
                            Role.RETAILER: {"retailer": self.r1}}[role]
            client = self.app.test_client()
            Auth(client).login(self.make.user(role, **organisation))
            self._clients[role] = client
        return self._clients[role]


@pytest.fixture
def desk(app, make):
    return Desk(app, make)


#: What a refused form shows: a message under a field, the order's refusal box, or an error flash.
FORM_MESSAGE = re.compile(r'class="field-error"|class="refusal"|flash-error')
#: What the error page of any other 4xx shows (404 for another tenant's or a made-up id): its status and title.
ERROR_PAGE = re.compile(r"<h1>4\d\d · \w")


def refused_with_a_message(response) -> bool:
    """A 4xx the user can read: the form again, filled in, with a 422 (409 for a reused order form) and what
    is wrong on it; or, for any other 4xx, the error page saying what happened."""
    page = response.get_data(as_text=True)
    if response.status_code in (409, 422):
        return bool(FORM_MESSAGE.search(page))
    return 400 <= response.status_code < 500 and bool(ERROR_PAGE.search(page))


def shaped(data: dict, field: str, shape: str | None) -> dict:
    """The form data with ``field`` missing, sent twice, or sent as a file, as a forged request could."""
    data = dict(data)
    if shape == "missing":
        data.pop(field, None)
    elif shape == "twice":
        data[field] = [data.get(field, ""), "1.00"]
    elif shape == "file":
        data[field] = (io.BytesIO(b"5.00"), "amount.txt")
    return data


def assert_nothing_written(db, desk, client, action: str, data: dict, before: dict):
    response = client.post(action, data=data)
    assert response.status_code < 500, (action, data, response.status_code)
    assert refused_with_a_message(response), (action, data, response.status_code, response.headers.get("Location"))
    assert snapshot(db) == before, (action, data)
    return response


# --- The wholesaler's account page: payment, adjustment, limit -----------------------------------------

@pytest.fixture
def account_forms(desk):
    client = desk.clients[Role.WHOLESALER]
    url = f"/wholesaler/accounts/{desk.account.id}"
    return client, {name: form_on(client, url, f"/{name}") for name in ("payment", "adjustment", "limit")}


#: The account page's forms with one field broken: the form, the values drawn for its fields (the broken one's
#: refused, the others as a user might fill them in), the broken field, and how its value may be sent.
ACCOUNT_FORM_CASES = [
    pytest.param("payment", {"payment-amount": bad_amount(positive=True), "payment-reference": odd_text},
                 "payment-amount", [None, *WRONG_SHAPES], id="payment amount"),
    pytest.param("payment", {"payment-amount": st.just("5.00"), "payment-reference": blank_text | overlong(500)},
                 "payment-reference", [None, "missing"], id="payment reference"),
    pytest.param("adjustment",
                 {"adjustment-amount": bad_amount(positive=False) | st.sampled_from(["0", "0.00", "-0.00"]),
                  "adjustment-reason": odd_text},
                 "adjustment-amount", [None, *WRONG_SHAPES], id="adjustment amount"),
    pytest.param("limit",
                 {"limit-credit_limit": bad_amount(positive=False) | st.sampled_from(["-0.01", "-1.00", "-1000"])},
                 "limit-credit_limit", [None, *WRONG_SHAPES], id="credit limit"),
]


@pytest.mark.parametrize(("form_name", "fields", "broken", "shapes"), ACCOUNT_FORM_CASES)
@fuzz
@given(data=st.data())
def test_a_bad_value_in_an_account_form_writes_nothing(db, desk, account_forms, form_name, fields, broken, shapes,
                                                       data):
    client, forms = account_forms
    form = forms[form_name]
    values = {name: data.draw(strategy, label=name) for name, strategy in fields.items()}
    shape = data.draw(st.sampled_from(shapes), label="shape")
    sent = shaped(form.fields | values, broken, shape)
    assert_nothing_written(db, desk, client, form.action, sent, snapshot(db))


@fuzz
@given(which=st.sampled_from(["payment", "adjustment", "limit"]),
       account=st.sampled_from(["other_account", 999999, 2**31 - 1]))
def test_another_tenants_account_is_not_found_and_untouched(db, desk, account_forms, which, account):
    client, forms = account_forms
    form = forms[which]
    account_id = desk.ids[account] if isinstance(account, str) else account
    action = form.action.replace(f"/accounts/{desk.account.id}/", f"/accounts/{account_id}/")
    valid = {"payment-amount": "5.00", "payment-reference": "r", "adjustment-amount": "5.00",
             "adjustment-reason": "r", "limit-credit_limit": "5.00"}
    response = assert_nothing_written(db, desk, client, action, form.fields | valid, snapshot(db))
    assert response.status_code == 404


# --- Admin: block reasons, users, organisations, credit accounts ---------------------------------------

class PageForms(dict):
    """The forms the tests submit, each read once, on first use, from the page a user would open."""

    def __init__(self, desk):
        super().__init__()
        self.desk = desk

    def __missing__(self, name):
        desk = self.desk
        role, url, action = {
            "block account": (Role.ADMIN, "/admin/", f"/accounts/{desk.account.id}/block"),
            "block other_account": (Role.ADMIN, "/admin/", f"/accounts/{desk.other_account.id}/block"),
            "order": (Role.RETAILER, f"/retailer/accounts/{desk.account.id}/order", None),
            "product": (Role.WHOLESALER, "/wholesaler/catalogue", "/wholesaler/catalogue"),
            "edit product": (Role.WHOLESALER, f"/wholesaler/catalogue/{desk.product.id}/edit", None),
            "cancel": (Role.RETAILER, f"/orders/{desk.order_id}/cancel", None),
        }[name]
        self[name] = form_on(desk.clients[role], url, action)
        return self[name]


@pytest.fixture
def page_forms(desk):
    return PageForms(desk)


@fuzz
@given(reason=blank_text | overlong(500), shape=st.sampled_from([None, "missing"]),
       account=st.sampled_from(["account", "other_account"]))
def test_a_block_without_a_usable_reason_writes_nothing(db, desk, page_forms, account, reason, shape):
    client = desk.clients[Role.ADMIN]
    form = page_forms[f"block {account}"]
    data = shaped(form.fields | {"reason": reason}, "reason", shape)
    assert_nothing_written(db, desk, client, form.action, data, snapshot(db))


@pytest.fixture
def admin_forms(desk):
    client = desk.clients[Role.ADMIN]
    return client, {"user": form_on(client, "/admin/users", "/admin/users"),
                    "account": form_on(client, "/admin/accounts/new"),
                    "wholesaler": form_on(client, "/admin/organisations", "/organisations/wholesalers"),
                    "retailer": form_on(client, "/admin/organisations", "/organisations/retailers")}


def user_fields(desk):
    """A user form that breaks at least one rule, and which one."""
    bad_email = st.sampled_from(["", "no-at-sign", "a b@example.com", "x" * 250 + "@e.com"]) | blank_text
    # Blank is no bad password: it invites the user to choose one.
    bad_password = st.text(min_size=1, max_size=11).filter(lambda p: "\x00" not in p and p.strip()) | overlong(200)
    bad_role = st.sampled_from(["", "root", "ADMIN ", "superuser", "1"])
    org = st.sampled_from(["", "999999", "-1", "abc", "1.5", str(2**40), str(desk.ids["w2"] + 1000)])
    good = {"email": st.just("new.user@example.com"), "password": st.just("a long enough password"),
            "role": st.sampled_from(["retailer", "wholesaler", "admin"]),
            "retailer_id": st.just(str(desk.ids["r1"])), "wholesaler_id": st.just(str(desk.ids["w1"]))}
    broken = st.sampled_from(["email", "password", "role", "organisation"])

    @st.composite
    def build(draw):
        which = draw(broken)
        values = {name: draw(strategy) for name, strategy in good.items()}
        if which == "email":
            values["email"] = draw(bad_email)
        elif which == "password":
            values["password"] = draw(bad_password)
        elif which == "role":
            values["role"] = draw(bad_role)
        else:  # a retailer or wholesaler with no, a made-up or a mangled organisation
            values["role"] = draw(st.sampled_from(["retailer", "wholesaler"]))
            values[f"{values['role']}_id"] = draw(org)
        return which, values

    return build()


@fuzz
@given(data=st.data())
def test_a_bad_user_writes_nothing(db, desk, admin_forms, data):
    client, forms = admin_forms
    which, values = data.draw(user_fields(desk))
    form = forms["user"]
    assert_nothing_written(db, desk, client, form.action, form.fields | values, snapshot(db))


@fuzz
@given(retailer=st.sampled_from(["", "999999", "-1", "abc", "r1"]), wholesaler=st.sampled_from(["", "0", "w1", "x"]),
       limit=st.sampled_from(["100.00"]) | bad_amount(positive=False))
def test_a_bad_credit_account_writes_nothing(db, desk, admin_forms, retailer, wholesaler, limit):
    # r1 with w1 already has an account: that pair, made-up ids and bad limits are all refused.
    ids = {"r1": str(desk.ids["r1"]), "w1": str(desk.ids["w1"])}
    client, forms = admin_forms
    form = forms["account"]
    values = {"retailer_id": ids.get(retailer, retailer), "wholesaler_id": ids.get(wholesaler, wholesaler),
              "credit_limit": limit}
    assert_nothing_written(db, desk, client, form.action, form.fields | values, snapshot(db))


@fuzz
@given(name=blank_text | overlong(200) | st.sampled_from(["taken", "bell\x07", "esc\x1b[31m", "del\x7f"]),
       currency=st.sampled_from(["EUR", "", "EURO", "eu", "€€€", "E1R", "   "]),
       kind=st.sampled_from(["wholesaler", "retailer"]))
def test_a_bad_organisation_writes_nothing(db, desk, admin_forms, name, currency, kind):
    client, forms = admin_forms
    form = forms[kind]
    if name == "taken":  # a name its kind already has
        name = {"wholesaler": "Acme Foods", "retailer": "Corner Shop"}[kind]
    values = {f"{kind}-name": name} | ({f"{kind}-currency": currency} if kind == "wholesaler" else {})
    assert_nothing_written(db, desk, client, form.action, form.fields | values, snapshot(db))


@fuzz
@given(currency=st.sampled_from(["EURO", "eu", "€€€", "E1R", "   ", "12", "e u", "EU\x00"]))  # blank: the default
def test_a_bad_currency_writes_nothing(db, desk, admin_forms, currency):
    client, forms = admin_forms
    form = forms["wholesaler"]
    values = {"wholesaler-name": "Brand New Foods", "wholesaler-currency": currency}
    assert_nothing_written(db, desk, client, form.action, form.fields | values, snapshot(db))


# --- The retailer's order form ---------------------------------------------------------------------

@fuzz
@given(quantity=st.sampled_from(BAD_QUANTITIES) | st.integers(max_value=-1).map(str)
       | st.integers(min_value=100001).map(str) | st.sampled_from(["0", "", " "]),
       foreign=st.booleans(), key=st.sampled_from(["form", "", "missing", "x" * 101]))
def test_bad_quantities_place_no_order(db, desk, page_forms, quantity, foreign, key):
    client = desk.clients[Role.RETAILER]
    form = page_forms["order"]
    data = form.fields | {f"quantity_{desk.product.id}": quantity}
    if foreign:  # another wholesaler's product slipped in beside it: not on this form, so never ordered
        data[f"quantity_{desk.other_product.id}"] = "5"
    if key == "missing":
        data.pop("idempotency_key")
    elif key != "form":
        data["idempotency_key"] = key
    assert_nothing_written(db, desk, client, form.action, data, snapshot(db))


@fuzz
@given(account=st.sampled_from(["other_account", 999999]))
def test_ordering_on_another_tenants_account_is_not_found(db, desk, page_forms, account):
    client = desk.clients[Role.RETAILER]
    account_id = desk.ids[account] if isinstance(account, str) else account
    own = page_forms["order"]
    data = own.fields | {f"quantity_{desk.product.id}": "1", f"quantity_{desk.other_product.id}": "1"}
    response = assert_nothing_written(db, desk, client, f"/retailer/accounts/{account_id}/order", data, snapshot(db))
    assert response.status_code == 404


# --- The catalogue: product prices and names -------------------------------------------------------------

@fuzz
@given(price=bad_amount(positive=True), name=odd_text, sku=st.sampled_from(["NEW-1", "RICE"]),
       shape=st.sampled_from([None, *WRONG_SHAPES]))
def test_a_bad_product_price_adds_nothing(db, desk, page_forms, price, name, sku, shape):
    client = desk.clients[Role.WHOLESALER]
    form = page_forms["product"]
    data = shaped(form.fields | {"sku": sku, "name": name or "Tea", "unit_price": price}, "unit_price", shape)
    assert_nothing_written(db, desk, client, form.action, data, snapshot(db))


@fuzz
@given(price=bad_amount(positive=True), product=st.sampled_from(["product", "other_product", 999999]))
def test_a_bad_price_change_changes_nothing(db, desk, page_forms, price, product):
    client = desk.clients[Role.WHOLESALER]
    form = page_forms["edit product"]
    product_id = desk.ids[product] if isinstance(product, str) else product
    action = form.action.replace(f"/catalogue/{desk.product.id}/", f"/catalogue/{product_id}/")
    # Another wholesaler's product, or none: 404 even with a good price.
    values = {"name": "Rice", "unit_price": price if product == "product" else "12.00"}
    assert_nothing_written(db, desk, client, action, form.fields | values, snapshot(db))


# --- Cancelling --------------------------------------------------------------------------------------------

@fuzz
@given(reason=overlong(500), order=st.sampled_from(["own", "other", 999999]))
def test_a_bad_cancel_cancels_nothing(db, desk, page_forms, reason, order):
    client = desk.clients[Role.RETAILER]
    form = page_forms["cancel"]
    order_id = {"own": desk.order_id, "other": desk.other_order_id}.get(order, order)
    action = form.action.replace(f"/orders/{desk.order_id}/", f"/orders/{order_id}/")
    # The other tenant's order or a made-up one: 404 whatever the reason; one's own: refused for the length.
    values = {"reason": reason if order == "own" else "changed my mind"}
    assert_nothing_written(db, desk, client, action, form.fields | values, snapshot(db))


# --- Odd but possible text is stored as sent, or refused with a message --------------------------------

@fuzz
@given(reference=odd_text)
def test_odd_text_in_a_payment_reference_is_stored_exactly_or_refused(db, desk, account_forms, reference):
    client, forms = account_forms
    form = forms["payment"]
    before = snapshot(db)
    # A key of its own, as a fresh form would carry: the form's key would make every later example a replay.
    response = client.post(form.action, data=form.fields | {"payment-amount": "1.00", "payment-reference": reference,
                                                            "payment-idempotency_key": uuid.uuid4().hex})
    assert response.status_code < 500, (reference, response.status_code)
    if response.status_code == 302:
        with db.engine.connect() as conn:
            memo = conn.scalar(text("SELECT memo FROM ledger_entries ORDER BY id DESC LIMIT 1"))
        assert memo == reference.strip(), (memo, reference)
    else:
        assert refused_with_a_message(response) and snapshot(db) == before, reference


@fuzz
@given(name=odd_text)
def test_odd_text_in_a_product_name_is_stored_exactly_or_refused(db, desk, page_forms, name):
    client = desk.clients[Role.WHOLESALER]
    form = page_forms["product"]
    before = snapshot(db)
    sku = f"SKU-{before['products'].split()[0]}"
    response = client.post(form.action, data=form.fields | {"sku": sku, "name": name, "unit_price": "1.00"})
    assert response.status_code < 500, (name, response.status_code)
    if response.status_code == 302:
        with db.engine.connect() as conn:
            stored = conn.scalar(text("SELECT name FROM products WHERE sku = :sku"), {"sku": sku})
        assert stored == name.strip(), (stored, name)
    else:
        assert refused_with_a_message(response) and snapshot(db) == before, name


# --- NUL: PostgreSQL cannot store it in a text column ------------------------------------------------------

@pytest.mark.parametrize("form_name", ["payment reference", "adjustment reason", "block reason", "cancel reason",
                                       "user e-mail"])
def test_a_nul_character_in_free_text_is_refused_with_a_message(app, db, desk, form_name, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a 500 as in production, not a raise
    url = f"/wholesaler/accounts/{desk.account.id}"
    role, page, action, values = {
        "payment reference": (Role.WHOLESALER, url, "/payment",
                              {"payment-amount": "5.00", "payment-reference": "transfer\x00 7781"}),
        "adjustment reason": (Role.WHOLESALER, url, "/adjustment",
                              {"adjustment-amount": "5.00", "adjustment-reason": "damaged\x00"}),
        "block reason": (Role.ADMIN, "/admin/", f"/accounts/{desk.account.id}/block", {"reason": "overdue\x00"}),
        "cancel reason": (Role.RETAILER, f"/orders/{desk.order_id}/cancel", None, {"reason": "oops\x00"}),
        "user e-mail": (Role.ADMIN, "/admin/users", "/admin/users",
                        {"email": "nul\x00@example.com", "password": "a long enough password", "role": "admin"}),
    }[form_name]
    client = desk.clients[role]
    form = form_on(client, page, action)
    before = snapshot(db)
    response = client.post(form.action, data=form.fields | values)
    assert response.status_code < 500, f"{form_name} with NUL: {response.status_code}"
    assert refused_with_a_message(response) and snapshot(db) == before


@pytest.mark.parametrize("endpoint", ["payment reference", "adjustment reason", "block reason", "cancel reason",
                                      "user e-mail"])
def test_a_nul_character_in_api_free_text_is_a_validation_error(app, make, endpoint, monkeypatch):
    from tests.support.api_client import World

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    world = World(app, make)
    world.order_id = world.retailer.post("/orders", world.order_body(quantity=1)).json["id"]
    client, path, body = {
        "payment reference": (world.wholesaler, f"/credit-accounts/{world.account_id}/payments",
                              {"amount": "5.00", "reference": "transfer\x00 7781"}),
        "adjustment reason": (world.wholesaler, f"/credit-accounts/{world.account_id}/adjustments",
                              {"amount": "5.00", "reason": "damaged\x00"}),
        "block reason": (world.admin, f"/credit-accounts/{world.account_id}/block", {"reason": "overdue\x00"}),
        "cancel reason": (world.retailer, f"/orders/{world.order_id}/cancel", {"reason": "oops\x00"}),
        "user e-mail": (world.admin, "/users", {"email": "nul\x00@example.com", "password": "a long enough password",
                                                "role": "admin"}),
    }[endpoint]
    response = client.post(path, body, check=False)
    assert response.status_code == 400 and response.json["error"] == "VALIDATION_ERROR", \
        (response.status_code, response.json)


@pytest.mark.parametrize("email", ["nul\x00@example.com", "\x00", "bell\x07@example.com"])
def test_a_control_character_in_the_sign_in_email_is_a_field_error(app, client, make, email, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    form = form_on(client, "/login", "/login")
    response = client.post(form.action, data=form.fields | {"email": email, "password": "a long enough password"})
    assert response.status_code == 422 and "Enter an email address." in response.get_data(as_text=True)
