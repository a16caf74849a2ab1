"""Bad input at every JSON endpoint, property-based (Hypothesis): never a 5xx, and every refusal a 4xx that says
what is wrong, after which no table has changed.

- Arbitrary JSON, query strings and headers at every operation of the OpenAPI document: never a 5xx, always
  JSON, and whenever the answer is a refusal, the error document and every table as it was.
- One thing wrong: for every operation that writes, a request it accepts (test_the_valid_requests_go_through
  shows that it does) with exactly one thing broken: one field's value (negative, zero, NaN, Infinity, 1e400,
  "1,000", a third decimal, a huge quantity, blank or overlong text, control characters, lone surrogates, direction
  marks where a name refuses them, a number as a string, a string as a number, a list, an object, null, a
  boolean), the field missing or sent twice, a field or query parameter too many, a body that is not a JSON
  object, a bad Idempotency-Key, another tenant's or a made-up id in the body or in the path. The answer is a 400
  (404 for the path) with a code and a message, field_errors naming the field where it applies, and every row of
  every table is as before. Every named bad value is sent on every run; Hypothesis adds generated ones.
- No token, a revoked token, a role the operation does not allow: 401 or 403, nothing written.
- The reads: a bad, unknown or repeated query parameter is a 400 naming it, another tenant's or a made-up id a 404.
- Odd but possible text (direction marks, emoji, other scripts) in names and memos: stored exactly as sent
  (trimmed), or refused like any bad value.

Examples per property: CI-sized here; `make stress` sets CREDITLINE_API_FUZZ_EXAMPLES.
"""

import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.accounts import BOOK_SORTS
from app.api.openapi import DOCUMENT
from app.models import HoldStatus, LimitRequestStatus
from app.services.actors import SYSTEM
from app.services.text import FREE_TEXT_MAX_LENGTH
from app.services.tokens import issue_token, revoke_token
from app.services.webhooks import EVENT_TYPES
from tests.support.api_client import PREFIX, ApiClient, World, assert_documented
from tests.support.table_digest import snapshot

# The long runs (`make stress`) print figures that a JSON line per credit decision would bury.
pytestmark = pytest.mark.usefixtures("quiet_credit_log")

#: Examples per property and operation: CI-sized unless the long run sets it.
EXAMPLES = int(os.environ.get("CREDITLINE_API_FUZZ_EXAMPLES", "20"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

OPERATIONS = [(path, method, operation) for path, methods in DOCUMENT["paths"].items()
              for method, operation in methods.items() if operation["x-roles"]]


@pytest.fixture
def world(app, make):
    """Built once per test function and shared by its examples (hence the suppressed health check): users cost an
    Argon2 hash each. Each tenant has placed one order."""
    world = World(app, make)
    world.inactive_product_id = make.product(world.w1, active=False).id
    world.order_id = world.retailer.post("/orders", world.order_body(quantity=1)).json["id"]
    world.other_order_id = world.other_retailer.post(
        "/orders", {"wholesaler_id": world.w2_id, "lines": [{"product_id": world.other_product.id, "quantity": 1}]}
    ).json["id"]
    world.hold_id, world.other_hold_id = world.hold(), world.hold(other=True)
    world.increase_id, world.other_increase_id = world.increase(), world.increase(other=True)
    world.request_id, world.other_request_id = world.limit_request(), world.limit_request(other=True)
    # A second credit line of r1's with no open request, where a new one can be asked for.
    world.approval_hold_id = world.approval_hold()
    world.spare_account_id = make.account(retailer=world.r1, wholesaler=make.wholesaler(), credit_limit="1000.00").id
    world.ids = {"r1": world.r1.id, "r2": world.r2.id, "w1": world.w1_id, "w2": world.w2_id,
                 "other_product": world.other_product.id, "other_order": world.other_order_id}
    world.names = {"wholesaler": world.w1.name, "retailer": world.r1.name, "sku": world.product.sku,
                   "email": world.admin.user.email}
    return world


# --- What the API answers to a refusal ------------------------------------------------------------------------

def assert_refused(response, method: str, url: str, status: int, field: str | None):
    """The answer is ``status`` with the error document: a code, a message a person can act on, and with
    VALIDATION_ERROR a reason for each field, ``field`` among them (or a part of it, such as lines[0].quantity)."""
    assert response.status_code == status, (method, url, response.status_code, response.get_data(as_text=True))
    assert response.is_json, (method, url, response.content_type)
    body = response.json
    assert body["success"] is False and re.fullmatch(r"[A-Z][A-Z_]+", body["error"]), body
    message = body["message"]
    assert isinstance(message, str) and len(message.strip()) >= 10, body
    assert not re.search(r"Traceback|Error\(|psycopg|sqlalchemy|\bNone\b|\bnull\b", message), body
    if body["error"] == "VALIDATION_ERROR":
        errors = body.get("field_errors")
        assert errors and all(isinstance(why, str) and why.strip() for why in errors.values()), body
        if field is not None:
            assert any(name == field or name.startswith((field + "[", field + ".")) for name in errors), \
                (field, errors)
    assert_documented(response, method, url)


# --- Writing bodies exactly, wrong ones included ------------------------------------------------------------------

class Raw(str):
    """JSON text sent as it is: 1e400, NaN, a string holding a lone surrogate as UTF-8 bytes."""


class Pairs(list):
    """A JSON object written from (name, value) pairs, so that a name can appear twice."""


class _Missing:
    def __repr__(self):
        return "MISSING"


#: In place of a field's value: the field left out.
MISSING = _Missing()


def encode(value) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        value = Pairs(value.items())
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(name)}:{encode(v)}" for name, v in value if v is not MISSING) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


def to_bytes(body) -> bytes:
    return body if isinstance(body, bytes) else encode(body).encode("utf-8", "surrogatepass")


def send(client, method: str, path: str, body=None, *, query: dict | list | None = None, headers=None):
    """The request as a client program would send it; the URL is the one the answer is checked against."""
    url = path + ("?" + urlencode(query) if query else "")
    data = None if body is None else to_bytes(body)
    response = client.request(method, url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                              check=False)
    return response, PREFIX + url


# --- Values each kind of field refuses ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Bad:
    """Values a field refuses: named ones, every one of which is sent on every run, and generated ones, of which
    Hypothesis sends a sample."""

    named: tuple = ()
    generated: tuple = ()

    def __or__(self, other: "Bad") -> "Bad":
        return Bad(self.named + other.named, self.generated + other.generated)

    def strategy(self):
        return st.one_of(*([st.sampled_from(self.named)] if self.named else []), *self.generated)

    def without(self, unwanted) -> "Bad":
        return Bad(tuple(v for v in self.named if v is not unwanted),
                   tuple(s.filter(lambda v: v is not unwanted) for s in self.generated))


def values(*items) -> Bad:
    return Bad(named=items)


def generated(strategy) -> Bad:
    return Bad(generated=(strategy,))


def sampled(*items) -> Bad:
    """Values too alike to all be worth sending on every run: Hypothesis picks among them."""
    return generated(st.sampled_from(items))


#: In place of a required value: nothing at all, or null.
absent = values(MISSING, None)
#: Where a string belongs.
not_a_string = (values(12, 12.5, True, ["5.00"], {"value": "5.00"}, Raw("1e400"), Raw("NaN"))
                | sampled(0, -5, 1e300, False, [], {}, Raw("-1e400"), Raw("Infinity"), Raw("-Infinity"), Raw("1.0"))
                | generated(st.integers() | st.floats()))
#: Where an integer belongs: numbers as strings, floats (1.0 included), booleans, lists, objects.
not_an_integer = (values("1", "", 1.0, 1.5, True, [1], {"id": 1}, Raw("1e0"), Raw("1e400"), Raw("NaN"))
                  | sampled("12", "one", "1.0", " 1", -0.0, False, Raw("1.0"), Raw("1E2"), Raw("-Infinity"))
                  | generated(st.text(max_size=12) | st.floats()))
out_of_range_id = (values(0, -1, 2**31, 2**63, 10**30)
                   | generated(st.integers(max_value=0) | st.integers(min_value=2**31)))
bad_id = not_an_integer | out_of_range_id | absent

#: Amounts no money field takes, whatever its sign rule.
NEVER_AMOUNTS = ("NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e400", "1E5", "-1e-400", "1,000",
                 "1,000.00", "1.000,00", "10.001", "0.005", "-0.001", "1_000", "12.3.4", "--5", "+-5", "5-", "", "   ",
                 "\t", "€5", "5 EUR", "0x10", "1000000000000.00", "-1000000000000", "999999999999.995",
                 "99999999999999999999", "1" * 40, "٫5", ".", "5\x00", "5\ud800", "½", "²")
#: And those each sign rule refuses.
SIGN_REFUSED = {"positive": ("0", "0.00", "-0", "-0.01", "-5.00", "-1000000"),
                "not negative": ("-0.01", "-1.00", "-1000", "-999999999999.99"),
                "not zero": ("0", "0.00", "-0.00", "+0", "0.0")}


def bad_amount(sign: str) -> Bad:
    third_decimal = st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False,
                                allow_infinity=False).filter(lambda d: d != d.quantize(Decimal("0.01"))).map(str)
    too_large = st.integers(10**12, 10**30).map(lambda n: f"{n}.00") | st.integers(10**12, 10**30).map(str)
    # Any text with a character that is neither an ASCII digit nor a sign or point (digits of other scripts are
    # left out: Decimal reads them as digits).
    junk = st.text(st.characters(exclude_categories=["Nd"]), min_size=1, max_size=12).filter(
        lambda t: any(c not in "0123456789+-." for c in t.strip()))
    return (values(*NEVER_AMOUNTS, *SIGN_REFUSED[sign]) | generated(third_decimal | too_large | junk)
            | not_a_string | absent)


def inside(characters) -> Bad:
    """A character between two letters, where trimming cannot remove it."""
    return generated(characters.map(lambda c: f"a{c}b"))


blank = values("", " ", "   ", "\t", "\n", "\r\n", "\u3000", "\u00a0")
control = (values("nul\x00inside", "\x00", "bell\x07", "esc\x1b[31m", "del\x7f", "a\x85b", "a\x1fb")
           | inside(st.characters(categories=["Cc"]).filter(lambda c: c not in "\t\n\r")))
#: Lone surrogates, JSON-escaped ("\ud800") or as the bytes UTF-8 would give them.
surrogate = values("a\ud800b", "\udfff", Raw('"a\ud800b"'), Raw('"\udfff"')) | inside(st.characters(categories=["Cs"]))
#: Text a name refuses (names are printable): direction marks, zero-width and other format characters, breaks.
not_printable = (values("\u200fRTL mark", "left\u200eright", "\u202egnp.exe", "zero\u200bwidth", "\ufeffbom",
                        "line\u2028sep", "tab\tinside", "line\nbreak", "no\u00a0break", "soft\xadhyphen", "x\u3000y")
                 | inside(st.characters(categories=["Cc", "Cf", "Cs", "Co", "Zl", "Zp"])))


def overlong(limit: int) -> Bad:
    return (values("x" * (limit + 1), "\U0001f4b8" * (limit + 1))
            | generated(st.integers(limit + 2, limit + 300).map(lambda n: "x" * n)))


def bad_free_text(*, required: bool = True) -> Bad:
    """A reason, reference or memo: at most FREE_TEXT_MAX_LENGTH characters, no control character."""
    bad = overlong(FREE_TEXT_MAX_LENGTH) | control | surrogate | not_a_string
    return bad | blank | absent if required else bad


def bad_name(limit: int) -> Bad:
    """A name or SKU: 1 to ``limit`` printable characters."""
    return blank | overlong(limit) | control | surrogate | not_printable | not_a_string | absent


bad_email = (values("", " ", "no-at-sign", "a b@example.com", "x" * 250 + "@e.com", "bell\x07@example.com",
                    "nul\x00@example.com", "rtl\u200f@example.com", "a\ud800@example.com") | not_a_string | absent)
bad_password = (values("short", "eleven char", "a long enough password\ud800", "\ud800" * 12, "\udfff" * 200)
                | generated(st.text(max_size=11)) | overlong(200) | not_a_string | absent)
bad_role = (values("", " ", "root", "ADMIN", "Retailer", "retailer ", " retailer", "superuser", "1", "retailer\x00",
                   "retailer\u200f", "r\u0435tailer", "\ud800")  # r\u0435tailer has a Cyrillic e
            | generated(st.text(max_size=12).filter(lambda r: r not in {"admin", "retailer", "wholesaler"}))
            | not_a_string | absent)
bad_currency = values("USD", "EURO", "eu", "€€€", "E1R", "   ", "E R", "EU\x00", "e\u200fu", "\ud800") | not_a_string


def bad_quantity(max_quantity: int) -> Bad:
    return (values(0, -1, max_quantity + 1, 2**31 - 1, 2**31, 2**63, 10**30)
            | generated(st.integers(max_value=0) | st.integers(min_value=max_quantity + 1))
            | not_an_integer | absent)


def bad_lines(world, max_quantity: int) -> Bad:
    """Order lines with one thing wrong: not a list, empty, too many, a line that is not an object, a product id
    or quantity of the wrong type or range, an unknown key in a line. A broken line may follow good ones."""
    line = {"product_id": world.product_id, "quantity": 2}
    quantity, product = bad_quantity(max_quantity), bad_id
    one_bad_line = (Bad(tuple(line | {"quantity": q} for q in quantity.named), (quantity.strategy().map(
                        lambda q: line | {"quantity": q}),))
                    | Bad(tuple(line | {"product_id": p} for p in product.named), (product.strategy().map(
                        lambda p: line | {"product_id": p}),))
                    | values(*(line | {name: 1} for name in ("price", "unit_price", "note", "Quantity", "", "id")))
                    | values(7, None, "x", [], [line], True, Raw("1e400")))  # not an object
    after_good_ones = st.builds(lambda good, bad: [line] * good + [bad], st.integers(0, 2), one_bad_line.strategy())
    return (values("x", 5, True, {}, line, Raw("1e400"), [], [line] * 201,
                   [line | {"quantity": max_quantity // 2 + 1}] * 2)  # two lines of one product: too many in all
            | absent | Bad(tuple([bad] for bad in one_bad_line.named), (after_good_ones,)))


# --- The operations that write, with a body each accepts ---------------------------------------------------------

def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Write:
    """One operation that writes: who calls it, where, a body it accepts, the values each field refuses whatever
    else is in the body (the refusal names the field), and valid-looking values the service refuses once it
    looks at the data (another tenant's id, a made-up one, a name already taken; the refusal may name another
    field)."""

    caller: str
    path: str
    body: Callable[[World], dict]
    fields: Callable[[World, int], dict[str, Bad]] = lambda world, max_quantity: {}
    foreign: Callable[[World], dict[str, Bad]] = lambda world: {}
    #: What the path's id names: "account" or "order" (None: no id in the path).
    path_id: str | None = None


#: Last days no temporary limit takes: not dates, days that do not exist, the past, beyond a year.
BAD_DAYS = (values("2020-01-01", "9999-12-31", "2026-02-30", "2026-1-5", "tomorrow", "", " ", "2026-12-31T00:00:00Z")
            | not_a_string)

WRITES = {
    "create_wholesaler": Write(
        "admin", "/wholesalers", lambda w: {"name": unique("Wholesaler")},
        lambda w, _: {"name": bad_name(200),
                      "time_zone": values("Mars/Olympus", "", "utc ", "x" * 65, "Europe/Berl\u0131n") | not_a_string,
                      "default_payment_terms_days": values(-1, 366, 10**9, 1.5, True, "30")},
        lambda w: {"name": values(w.names["wholesaler"], f"  {w.names['wholesaler']}  ")}),
    "create_retailer": Write(
        "admin", "/retailers", lambda w: {"name": unique("Retailer")},
        lambda w, _: {"name": bad_name(200)},
        lambda w: {"name": values(w.names["retailer"], f"  {w.names['retailer']}  ")}),
    "create_user": Write(
        "admin", "/users",
        lambda w: {"email": f"{uuid.uuid4().hex[:12]}@example.com", "password": "a long enough password",
                   "role": "retailer", "organisation_id": w.ids["r1"]},
        lambda w, _: {"email": bad_email, "password": bad_password, "role": bad_role,
                      "organisation_id": bad_id},  # a retailer's user needs its retailer
        lambda w: {"email": values(w.names["email"], w.names["email"].upper()),
                   "organisation_id": values(999999, 2**31 - 1)}),
    "open_credit_account": Write(
        "admin", "/credit-accounts",
        lambda w: {"retailer_id": w.ids["r1"], "wholesaler_id": w.ids["w2"], "credit_limit": "100.00"},
        lambda w, _: {"retailer_id": bad_id, "wholesaler_id": bad_id, "credit_limit": bad_amount("not negative"),
                      "currency": bad_currency},
        # r2 already has an account with w2, r1 with w1
        lambda w: {"retailer_id": values(w.ids["r2"], 999999), "wholesaler_id": values(w.ids["w1"], 999999)}),
    "set_credit_limit": Write(
        "wholesaler", "/credit-accounts/{account}", lambda w: {"credit_limit": "500.00"},
        lambda w, _: {"credit_limit": bad_amount("not negative"),
                      "payment_terms_days": values(-1, 366, 10**9, 1.5, True, "30"),
                      "overdue_policy": values("HOLD", "on", "", " hold", "x" * 17) | not_a_string,
                      "overdue_grace_days": values(-1, 366, 1.5, True, "3"),
                      "overdue_min_amount": bad_amount("not negative").without(MISSING).without(None)},
        path_id="account"),
    "record_payment": Write(
        "wholesaler", "/credit-accounts/{account}/payments", lambda w: {"amount": "5.00", "reference": "transfer 7781"},
        lambda w, _: {"amount": bad_amount("positive"), "reference": bad_free_text(),
                      "allocations": values("1", {"order_id": 1}, [1], [{}], [{"order_id": 0}], [{"order_id": "1"}],
                                            [{"order_id": 999999}], [{"order_id": 1, "amount": "-1.00"}],
                                            [{"order_id": 1, "amount": 1}], [{"order_id": 1, "note": "x"}],
                                            [{"order_id": 1}] * 201)},
        lambda w: {"allocations": values([{"order_id": w.ids["other_order"]}])},  # another tenant's order
        path_id="account"),
    "post_adjustment": Write(
        "wholesaler", "/credit-accounts/{account}/adjustments", lambda w: {"amount": "-5.00", "reason": "damaged"},
        lambda w, _: {"amount": bad_amount("not zero"), "reason": bad_free_text()}, path_id="account"),
    "block_credit_account": Write(
        "admin", "/credit-accounts/{account}/block", lambda w: {"reason": "overdue"},
        lambda w, _: {"reason": bad_free_text()}, path_id="account"),
    "unblock_credit_account": Write(
        "admin", "/credit-accounts/{account}/unblock", lambda w: {}, path_id="account"),
    "add_product": Write(
        "wholesaler", "/products", lambda w: {"sku": unique("SKU"), "name": "Green tea", "unit_price": "4.50"},
        lambda w, _: {"sku": bad_name(64), "name": bad_name(200), "unit_price": bad_amount("positive")},
        lambda w: {"sku": values(w.names["sku"], f" {w.names['sku']} ")}),
    "place_order": Write(
        "retailer", "/orders", lambda w: w.order_body(quantity=2),
        lambda w, max_quantity: {"wholesaler_id": bad_id, "lines": bad_lines(w, max_quantity)},
        lambda w: {"wholesaler_id": values(w.ids["w2"], 999999, 2**31 - 1),
                   "lines": values([{"product_id": w.ids["other_product"], "quantity": 1}],
                                   [{"product_id": w.product_id, "quantity": 1},
                                    {"product_id": w.ids["other_product"], "quantity": 1}],
                                   [{"product_id": 999999, "quantity": 1}],
                                   [{"product_id": w.inactive_product_id, "quantity": 1}],
                                   [{"product_id": w.product_id, "quantity": 1000}])}),  # more than the credit
    "cancel_order": Write(
        "retailer", "/orders/{order}/cancel", lambda w: {"reason": "ordered twice"},
        lambda w, _: {"reason": bad_free_text(required=False)}, path_id="order"),
    "ship_order": Write("wholesaler", "/orders/{order}/ship", lambda w: {}, path_id="order"),
    "credit_order": Write(
        "wholesaler", "/orders/{order}/credit-notes",
        lambda w: {"lines": [{"product_id": w.product_id, "quantity": 1}], "reason": "damaged"},
        lambda w, max_quantity: {"lines": bad_lines(w, max_quantity), "reason": bad_free_text()},
        lambda w: {"lines": values([{"product_id": w.ids["other_product"], "quantity": 1}],
                                   [{"product_id": 999999, "quantity": 1}],
                                   [{"product_id": w.product_id, "quantity": 2}])},  # more than was ordered
        path_id="order"),
    "register_webhook_endpoint": Write(
        "wholesaler", "/webhook-endpoints", lambda w: {"url": "http://127.0.0.1:9/new", "events": ["payment.recorded"]},
        lambda w, _: {"url": values("ftp://example.com/hook", "", "   ", "http://", "http:///hook", "example.com/hook",
                                    "http://user:pw@example.com/", "http://exa mple.com/", "javascript:alert(1)",
                                    "http://example.com/" + "x" * 2000) | control | surrogate | not_a_string | absent,
                      "events": values([], ["order.shipped"], "order.confirmed", [5], [None], ["ORDER.CONFIRMED"],
                                       [" order.confirmed"], ["x" * 100], [["order.confirmed"]],
                                       {"order.confirmed": True}, ["order.confirmed"] * (4 * len(EVENT_TYPES) + 1),
                                       ["order.\ud800"])
                      | absent}),
    "delete_webhook_endpoint": Write("wholesaler", "/webhook-endpoints/{endpoint}", lambda w: {},
                                     path_id="endpoint"),
    "rotate_webhook_secret": Write("wholesaler", "/webhook-endpoints/{endpoint}/rotate-secret", lambda w: {},
                                   path_id="endpoint"),
    "place_hold": Write(
        "retailer", "/holds", lambda w: w.order_body(quantity=2) | {"expires_in_seconds": 900},
        lambda w, max_quantity: {"wholesaler_id": bad_id, "lines": bad_lines(w, max_quantity),
                                 "expires_in_seconds": values(0, -1, 30 * 24 * 3600 + 1, 2**63, 10**30)
                                 | not_an_integer | absent},
        lambda w: {"wholesaler_id": values(w.ids["w2"], 999999),
                   "lines": values([{"product_id": w.ids["other_product"], "quantity": 1}],
                                   [{"product_id": w.inactive_product_id, "quantity": 1}],
                                   [{"product_id": w.product_id, "quantity": 1000}])}),  # more than the credit
    "capture_hold": Write(
        "retailer", "/holds/{hold}/capture", lambda w: {},
        lambda w, max_quantity: {"lines": bad_lines(w, max_quantity).without(MISSING).without(None)},
        lambda w: {"lines": values([{"product_id": w.ids["other_product"], "quantity": 1}],
                                   [{"product_id": w.product_id, "quantity": 3}])},  # more than held
        path_id="hold"),
    "release_hold": Write("retailer", "/holds/{hold}/release", lambda w: {}, path_id="hold"),
    "approve_hold": Write("retailer", "/holds/{approval}/approve", lambda w: {"note": "Fine"},
                          lambda w, _: {"note": bad_free_text(required=False)}, path_id="approval"),
    "decline_hold": Write("retailer", "/holds/{approval}/decline", lambda w: {"note": "Not now"},
                          lambda w, _: {"note": bad_free_text()}, path_id="approval"),
    "grant_limit_increase": Write(
        "wholesaler", "/credit-accounts/{account}/limit-increases",
        lambda w: {"amount": "50.00", "ends_on": (date.today() + timedelta(days=2)).isoformat(), "reason": "Busy week"},
        lambda w, _: {"amount": bad_amount("positive"),
                      "ends_on": BAD_DAYS | absent, "reason": bad_free_text()},
        path_id="account"),
    "end_limit_increase": Write("wholesaler", "/limit-increases/{increase}/end", lambda w: {}, path_id="increase"),
    "request_limit": Write(
        "retailer", "/credit-accounts/{line}/limit-requests",
        lambda w: {"requested_limit": "4000.00", "note": "A second shop"},
        lambda w, _: {"requested_limit": bad_amount("positive") | values("1.00", "1000.00"),  # not above the limit
                      "ends_on": BAD_DAYS, "note": bad_free_text()},
        path_id="line"),
    "decide_limit_request": Write(
        "wholesaler", "/limit-requests/{request}/decision", lambda w: {"approve": False, "note": "Not this year"},
        lambda w, _: {"approve": values("true", 1, 0, "yes", [True]) | absent,
                      # A decline gives no limit: any limit or last day is refused.
                      "limit": bad_amount("positive").without(MISSING).without(None) | values("2000.00"),
                      "ends_on": BAD_DAYS | values((date.today() + timedelta(days=2)).isoformat()),
                      "note": bad_free_text()},
        path_id="request"),
    "withdraw_limit_request": Write("retailer", "/limit-requests/{request}/withdraw", lambda w: {},
                                    path_id="request"),
}
#: Idempotency keys place_order refuses: too long, or not printable.
bad_idempotency_key = overlong(100) | values("\x7f", "a\xa0b", "\xad", "a\x85b", "key\x01", "tab\tkey")
#: Names no body has, and query parameters no write takes.
unknown_names = (values("note", "id", "Amount", "\x00")
                 | sampled("balance", "status", "created_by", "price", "amount ", "__proto__", "", "\u200b")
                 | generated(st.text(st.characters(exclude_categories=["Cs"]), max_size=10)))
#: Bodies that are not one JSON object.
NOT_AN_OBJECT = values(b"[{}]", b"null", b"{'a': 1}", b"{}x", b'{"a": "\xff"}', b"1" + b"0" * 5000) | sampled(
    b"[]", b'"text"', b"5", b"true", b"{", b'{"a":}', b"NaN", b"\x00", b"\xff\xfe", b"[" * 50 + b"]" * 50)


def body_fields(operation_id: str) -> set[str]:
    """The fields the operation's body may have, from the OpenAPI document."""
    operation = next(op for _, _, op in OPERATIONS if op["operationId"] == operation_id)
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return set(DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])


def operation_of(operation_id: str) -> tuple[str, str]:
    return next((m.upper(), p) for p, m, op in OPERATIONS if op["operationId"] == operation_id)


def test_every_operation_that_writes_is_fuzzed():
    writes = {op["operationId"] for _, method, op in OPERATIONS if method != "get"}
    assert set(WRITES) == writes


def own_ids(world, role: str) -> dict[str, int]:
    """The ids of the caller's own account, order and webhook endpoint, by what the path names."""
    return {"account": world.account_id, "order": world.order_id, "endpoint": world.endpoint_ids.get(role),
            "hold": world.hold_id, "increase": world.increase_id, "request": world.request_id,
            "line": world.spare_account_id, "approval": world.approval_hold_id}


def other_ids(world, role: str) -> dict[str, int]:
    """The same of the other tenant."""
    return {"account": world.other_account_id, "order": world.other_order_id,
            "endpoint": world.other_endpoint_ids.get(role), "hold": world.other_hold_id,
            "increase": world.other_increase_id, "request": world.other_request_id, "line": world.other_account_id,
            "approval": world.other_hold_id}


def path_of(world, write: Write, path_id=None) -> str:
    own = own_ids(world, write.caller).get(write.path_id)
    return re.sub(r"\{[^}]+\}", str(own if path_id is None else path_id), write.path)


def client_of(world, write: Write):
    return getattr(world, write.caller)


@pytest.mark.parametrize("operation_id", list(WRITES))
def test_the_valid_requests_go_through(world, operation_id):
    """The control: each body the properties break is one the operation accepts as it stands."""
    write = WRITES[operation_id]
    method, _ = operation_of(operation_id)
    response, url = send(client_of(world, write), method, path_of(world, write), write.body(world),
                         headers={"Idempotency-Key": "po-2026-0042"} if operation_id == "place_order" else None)
    assert 200 <= response.status_code < 300, (url, response.status_code, response.json)
    assert_documented(response, method, url)


@dataclass(frozen=True)
class Case:
    """One request with one thing wrong, and the refusal it must get."""

    path: str
    body: object
    status: int = 400
    #: The field the refusal must name, when the error is VALIDATION_ERROR (None: any field).
    field: str | None = None
    headers: dict | None = None
    query: dict | None = None


def ways_to_break(world, operation_id: str, max_quantity: int) -> list[tuple[str, Bad, Callable[[object], Case]]]:
    """Each way to break one valid request: its name, the bad values, and the request with one of them."""
    write = WRITES[operation_id]
    body, path = write.body(world), path_of(world, write)
    ways = []
    for name, bad in write.fields(world, max_quantity).items():
        ways.append((name, bad, lambda v, name=name: Case(path, body | {name: v}, field=name)))
        if name in body:  # sent twice, the second time as the operation accepts it
            ways.append((f"{name} twice", values(body[name]) | Bad(generated=(bad.without(MISSING).strategy(),)),
                         lambda v, name=name: Case(path, Pairs([(name, v), *body.items()]), field=name)))
    for name, bad in write.foreign(world).items():
        ways.append((f"{name}, another's or made up", bad, lambda v, name=name: Case(path, body | {name: v})))
    known = body_fields(operation_id)
    ways.append(("a field too many", unknown_names,
                 lambda v: Case(path, body | {v + "_x" * (v in known): "1"}, field=v + "_x" * (v in known))))
    # A write takes its input from the body: a query parameter is refused, not ignored.
    ways.append(("a query parameter", unknown_names.without(""), lambda v: Case(path, body, field=v, query={v: "1"})))
    text = to_bytes(body)
    truncated = tuple(text[:n] for n in (1, len(text) // 2, len(text) - 1) if 0 < n < len(text))
    ways.append(("not a JSON object", NOT_AN_OBJECT | values(text[:-1], b"[" + text + b"]")
                 | sampled(*truncated, text + b",", text + b"}"), lambda v: Case(path, v, field="body")))
    if write.path_id:  # another tenant's, a made-up or an impossible id: 404, whatever the body
        made_up = values(999999, 2**31 - 1, 0, 2**31, 2**63 + 5, "-1", "abc", "01", "1.0", "1e3", "%20")
        other = other_ids(world, write.caller)[write.path_id]
        ways.append(("the path's id", made_up if write.caller == "admin" else made_up | values(other),
                     lambda v: Case(path_of(world, write, v), body, status=404)))
    if operation_id == "place_order":
        ways.append(("Idempotency-Key", bad_idempotency_key,
                     lambda v: Case(path, body, field="idempotency_key", headers={"Idempotency-Key": v})))
    return ways


def assert_refused_and_nothing_written(db, world, operation_id: str, case: Case):
    write = WRITES[operation_id]
    method, _ = operation_of(operation_id)
    before = snapshot(db)
    response, url = send(client_of(world, write), method, case.path, case.body, query=case.query,
                         headers=case.headers)
    assert_refused(response, method, url, case.status, case.field)
    assert snapshot(db) == before, (method, url, case.body)


@pytest.mark.parametrize("operation_id", list(WRITES))
def test_every_named_bad_value_is_refused_and_writes_nothing(app, db, world, operation_id):
    """Each named value of every way to break the request, once: all failures reported together."""
    failures = []
    for way, bad, case_of in ways_to_break(world, operation_id, app.config["MAX_LINE_QUANTITY"]):
        for value in bad.named:
            try:
                assert_refused_and_nothing_written(db, world, operation_id, case_of(value))
            except Exception as error:  # an assertion, or the app's own error on a 5xx
                failures.append(f"{way} = {value!r}: {type(error).__name__}: {str(error)[:300]}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


@pytest.mark.parametrize("operation_id", list(WRITES))
@fuzz
@given(data=st.data())
def test_a_request_with_one_thing_wrong_is_refused_and_writes_nothing(app, db, world, operation_id, data):
    ways = ways_to_break(world, operation_id, app.config["MAX_LINE_QUANTITY"])
    way, bad, case_of = data.draw(st.sampled_from(ways), label="way")
    assert_refused_and_nothing_written(db, world, operation_id, case_of(data.draw(bad.strategy(), label=way)))


def test_a_caller_who_may_not_is_refused_and_writes_nothing(app, db, world):
    """No token, a revoked token, a role the operation does not allow: 401 or 403 with a valid body, and nothing
    written, at every operation that writes."""
    revoked = {}
    for role in ("admin", "retailer", "wholesaler"):
        issued = issue_token(SYSTEM, user_id=getattr(world, role).user.id)
        revoke_token(SYSTEM, issued.token.id)
        revoked[role] = ApiClient(app, token=issued.secret)
    for operation_id, write in WRITES.items():
        method, _ = operation_of(operation_id)
        allowed = next(op for _, _, op in OPERATIONS if op["operationId"] == operation_id)["x-roles"]
        callers = [(ApiClient(app), 401), (revoked[write.caller], 401)]
        callers += [(getattr(world, role), 403) for role in ("retailer", "wholesaler", "admin") if role not in allowed]
        for client, status in callers:
            before = snapshot(db)
            response, url = send(client, method, path_of(world, write), write.body(world))
            assert_refused(response, method, url, status, None)
            assert snapshot(db) == before, (operation_id, status)


# --- The reads: query parameters and ids in the path --------------------------------------------------------------

def bad_query_integer(low: int, high: int):
    """Query text that is no whole number from ``low`` to ``high`` (empty text means the parameter is left out)."""
    def valid(text: str) -> bool:
        return text.isascii() and text.isdigit() and low <= int(text) <= high

    return (st.sampled_from(["0", "-1", "abc", "1.5", "1e3", " 5", "5 ", "+5", "０", "٥", "1_0", "0x10", str(high + 1),
                             "9" * 30])
            | st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)).filter(lambda t: not valid(t))


def bad_query_date():
    """Query text that is no calendar date written as YYYY-MM-DD."""
    def valid(text: str) -> bool:
        try:
            return bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text)) and date.fromisoformat(text) is not None
        except ValueError:
            return False

    return (st.sampled_from(["2026-02-30", "2026-13-01", "2026-1-5", "20260105", "2026-01-05T00:00", "05/01/2026",
                             "today", "2026-01-05 ", "２０２６-01-05", "0000-01-01"])
            | st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)).filter(lambda t: not valid(t))


def bad_cursor():
    """Text that is no book cursor for the default sort (a name, a bar, an account id in digits), or too long."""
    def valid(text: str) -> bool:
        return len(text) <= 200 and bool(re.fullmatch(r"(?s).*\|[0-9]{1,19}", text))

    return (st.sampled_from(["abc", "12", "|", "name|", "name|abc", "name| 5", "name|+5", "name|1_0", "name|٥",
                             "x" * 198 + "|1", "name|" + "9" * 20])
            | st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)).filter(lambda t: not valid(t))


#: The reads: its path, and its query parameters with the values each refuses.
READS = {
    "list_credit_accounts": ("/credit-accounts", None, {}),
    "get_credit_account": ("/credit-accounts/{id}", "account", {}),
    "ledger": ("/credit-accounts/{id}/ledger", "account",
               {"limit": bad_query_integer(1, 200), "after": bad_query_integer(1, 2**63 - 1)}),
    "list_products": ("/products", None, {"wholesaler_id": bad_query_integer(1, 2**31 - 1)}),
    "list_orders": ("/orders", None, {"limit": bad_query_integer(1, 200), "after": bad_query_integer(1, 2**31 - 1)}),
    "get_order": ("/orders/{id}", "order", {}),
    "account_ageing": ("/credit-accounts/{id}/ageing", "account", {"as_of": bad_query_date()}),
    "statement": ("/credit-accounts/{id}/statement", "account", {"from": bad_query_date(), "to": bad_query_date()}),
    "list_webhook_endpoints": ("/webhook-endpoints", None, {}),
    "get_webhook_endpoint": ("/webhook-endpoints/{id}", "endpoint", {}),
    "list_holds": ("/holds", None, {"status": st.text(min_size=1, max_size=12).filter(
        lambda t: t not in {s.value for s in HoldStatus}), "limit": bad_query_integer(1, 200),
        "after": bad_query_integer(1, 2**31 - 1)}),
    "get_hold": ("/holds/{id}", "hold", {}),
    "list_limit_increases": ("/credit-accounts/{id}/limit-increases", "account",
                             {"limit": bad_query_integer(1, 200), "after": bad_query_integer(1, 2**31 - 1)}),
    "list_account_limit_requests": ("/credit-accounts/{id}/limit-requests", "account",
                                    {"limit": bad_query_integer(1, 200), "after": bad_query_integer(1, 2**31 - 1)}),
    "list_limit_requests": ("/limit-requests", None, {"status": st.text(min_size=1, max_size=12).filter(
        lambda t: t not in {s.value for s in LimitRequestStatus}), "limit": bad_query_integer(1, 200),
        "after": bad_query_integer(1, 2**31 - 1)}),
    "get_limit_request": ("/limit-requests/{id}", "request", {}),
    "book_ageing": ("/ageing", None, {"as_of": bad_query_date(), "limit": bad_query_integer(1, 200),
                                      "sort": st.text(min_size=1, max_size=12).filter(lambda t: t not in BOOK_SORTS),
                                      "after": bad_cursor()}),
}
#: Reads a retailer may not make at all (the authorization matrix proves the refusal).
NOT_FOR_RETAILERS = {"book_ageing"}


def test_every_read_is_fuzzed():
    # The OpenAPI document itself is public, takes nothing and is the same for everyone.
    reads = {op["operationId"] for _, method, op in OPERATIONS if method == "get"}
    assert set(READS) == reads


@pytest.mark.parametrize(("operation_id", "role"), [(operation_id, role) for operation_id in READS
                                                     for role in ("retailer", "wholesaler")
                                                     if not (role == "retailer" and operation_id in NOT_FOR_RETAILERS)])
@fuzz
@given(data=st.data())
def test_a_bad_read_is_refused_and_writes_nothing(db, world, operation_id, role, data):
    path, path_id, params = READS[operation_id]
    own, other = own_ids(world, role).get(path_id), other_ids(world, role).get(path_id)
    what = data.draw(st.sampled_from([f"param {name}" for name in params] + ["twice"] * bool(params) + ["unknown"]
                                     + ["path"] * bool(path_id)))
    query, status, field = [], 400, None
    if what.startswith("param "):
        field = what.removeprefix("param ")
        query = [(field, data.draw(params[field]))]
    elif what == "twice":
        field = data.draw(st.sampled_from(sorted(params)))
        query = [(field, "1"), (field, "2")]
    elif what == "unknown":
        field = data.draw(unknown_names.without("").strategy() | st.sampled_from(["page", "offset", "sort", "before"]))
        if field in params:
            field += "_x"
        query = [(field, data.draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=8)))]
    else:
        own, status = data.draw(st.sampled_from([other, 999999, 2**31 - 1, 0, 2**31, "abc", "01"])), 404
    before = snapshot(db)
    response, url = send(getattr(world, role), "GET", path.replace("{id}", str(own)), query=query)
    assert_refused(response, "GET", url, status, field)
    assert snapshot(db) == before


# --- Odd but possible text: stored as sent, or refused with a message ------------------------------------------

ODD_TEXT = ["\u202egnp.exe", "\u200f\u05e9\u05dc\u05d5\u05dd\u200e", "\U0001f4b8" * 12, "e\u0301\u0301\u0301",
            "Z\u0334\u0321\u0322\u031b", "\ufeffbom", "zero\u200bwidth", "\u0645\u0631\u062d\u0628\u0627",
            "\u65e5\u672c\u8a9e", "tab\tinside", "line\nbreak", "'; DROP TABLE orders; --", "<script>alert(1)</script>",
            "{{7*7}}", "%s%n", "\\x00", "  padded  ", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u2028"]
#: Operations that echo a text field: the field, and where the answer shows it.
ECHOES = {"create_wholesaler": ("name", "name"), "create_retailer": ("name", "name"), "add_product": ("name", "name"),
          "record_payment": ("reference", "memo"), "post_adjustment": ("reason", "memo")}


@pytest.mark.parametrize("operation_id", list(ECHOES))
@fuzz
@given(text=st.sampled_from(ODD_TEXT) | st.text(max_size=40))
def test_odd_text_is_stored_as_sent_or_refused(db, world, operation_id, text):
    write = WRITES[operation_id]
    method, _ = operation_of(operation_id)
    field, shown = ECHOES[operation_id]
    before = snapshot(db)
    response, url = send(client_of(world, write), method, path_of(world, write), write.body(world) | {field: text})
    if 200 <= response.status_code < 300:
        assert response.json[shown] == text.strip(), (text, response.json)
        assert_documented(response, method, url)
    else:
        assert_refused(response, method, url, 400, field)
        assert snapshot(db) == before


# --- Anything at all -----------------------------------------------------------------------------------------

#: Every field name any body or query knows, so generated objects often get past "unknown field".
FIELDS = sorted({name for schema in DOCUMENT["components"]["schemas"].values()
                 for name in schema.get("properties", {})} | {"limit", "after", "wholesaler_id"})

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=20) | st.from_regex(r"-?[0-9]{1,14}(\.[0-9]{0,3})?", fullmatch=True))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8),
                                                                 inner, max_size=5),
    max_leaves=12)
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values
queries = st.dictionaries(st.sampled_from(["limit", "after", "wholesaler_id", "page"]), st.text(max_size=25),
                          max_size=3)
#: Header values as a client can send them: Latin-1, no control characters.
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=120)


@pytest.fixture
def rich_world(app, make):
    """A high limit keeps random orders from running out of credit."""
    world = World(app, make, credit_limit="999999999.00")
    world.order_id = world.retailer.post("/orders", world.order_body(quantity=1)).json["id"]
    return world


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS,
                         ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
@fuzz
@given(body=bodies, query=queries, path_id=st.sampled_from(["own", 1, 2**31, 2**63 + 5]), key=header_text)
def test_no_input_makes_an_endpoint_fail(db, rich_world, path, method, operation, body, query, path_id, key):
    world = rich_world
    client = {"admin": world.admin, "retailer": world.retailer, "wholesaler": world.wholesaler}[
        "retailer" if "retailer" in operation["x-roles"] else operation["x-roles"][0]]
    own = world.order_id if "order_id" in path else world.account_id
    url = re.sub(r"\{[^}]+\}", str(own if path_id == "own" else path_id), path)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    before = snapshot(db)
    response = client.request(method.upper(), url.replace("#", "%23").replace(" ", "%20"), json=body,
                              headers={"Idempotency-Key": key}, check=False)
    assert response.status_code < 500, (response.status_code, response.json)
    assert response.is_json
    if response.status_code >= 400:
        assert_refused(response, method.upper(), PREFIX + url, response.status_code, None)
        assert snapshot(db) == before, (method, url, body)
