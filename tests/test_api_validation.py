"""Strict input: every bad body or query is a 400 VALIDATION_ERROR naming its fields, never a 500 or HTML."""

import pytest

from app.services import orders
from tests.support.api_client import World
from tests.support.table_digest import snapshot


@pytest.fixture
def world(app, make):
    return World(app, make)


def refused(response, **expected_fields):
    """The response is a VALIDATION_ERROR whose field_errors name exactly these fields (with these words)."""
    assert response.status_code == 400, response.json
    assert response.json["error"] == "VALIDATION_ERROR" and response.json["success"] is False
    errors = response.json["field_errors"]
    assert set(errors) == set(expected_fields), errors
    for field, words in expected_fields.items():
        assert words in errors[field], (field, errors[field])


def test_order_bodies_are_checked_field_by_field(world):
    post = world.retailer.post
    w = world.w1_id
    refused(post("/orders", {}), wholesaler_id="required", lines="required")
    refused(post("/orders", {"wholesaler_id": w, "lines": [], "note": "hi"}), lines="1 to", note="unknown field")
    refused(post("/orders", {"wholesaler_id": str(w), "lines": [{"product_id": 1, "quantity": 1}]}),
            wholesaler_id="integer")
    refused(post("/orders", {"wholesaler_id": True, "lines": [{"product_id": 1, "quantity": 1}]}),
            wholesaler_id="integer")
    refused(post("/orders", {"wholesaler_id": 2**40, "lines": [{"product_id": 1, "quantity": 1}]}),
            wholesaler_id="between")
    refused(post("/orders", {"wholesaler_id": w, "lines": {"product_id": 1}}), lines="list")
    refused(post("/orders", {"wholesaler_id": w, "lines": [
        {"product_id": 1, "quantity": 1.5}, {"product_id": "1", "quantity": 0, "price": "1.00"}, 7]}),
        **{"lines[0].quantity": "whole number", "lines[1].product_id": "integer",
           "lines[1].quantity": "at least 1", "lines[1].price": "unknown field", "lines[2]": "object"})
    refused(post("/orders", {"wholesaler_id": w, "lines": [{"product_id": 1, "quantity": 1}] * 201}), lines="1 to")


def test_amounts_must_be_decimal_strings(world):
    url = f"/credit-accounts/{world.account_id}/payments"
    pay = world.wholesaler.post
    refused(pay(url, {"amount": 12.5, "reference": "x"}), amount="decimal string")
    refused(pay(url, {"amount": 12, "reference": "x"}), amount="decimal string")
    for text in ("12.345", "NaN", "Infinity", "1e3", "1,000.00", "", "9999999999999.00"):
        refused(pay(url, {"amount": text, "reference": "x"}), amount="")
    refused(world.admin.post("/credit-accounts", {"retailer_id": world.r2.id, "wholesaler_id": world.w1_id,
                                                  "credit_limit": 100}), credit_limit="decimal string")


@pytest.mark.parametrize("text", ["١٠٠", "１２.００", "1٠.00", "-٥.00", "१२३", "²"])
def test_amounts_in_other_digits_are_refused_with_a_clear_message(world, db, text):
    """Decimal reads each of these as a number; only the digits 0 to 9 are taken, for any amount."""
    before = snapshot(db)
    url = f"/credit-accounts/{world.account_id}"
    refused(world.wholesaler.post(f"{url}/payments", {"amount": text, "reference": "x"}), amount="digits 0 to 9")
    refused(world.wholesaler.post(f"{url}/adjustments", {"amount": text, "reason": "x"}), amount="digits 0 to 9")
    refused(world.wholesaler.patch(url, {"credit_limit": text}), credit_limit="digits 0 to 9")
    refused(world.admin.post("/credit-accounts", {"retailer_id": world.r2.id, "wholesaler_id": world.w1_id,
                                                  "credit_limit": text}), credit_limit="digits 0 to 9")
    assert snapshot(db) == before


def test_bodies_that_are_not_json_objects_are_refused(world):
    post = world.retailer.post
    refused(post("/orders", data="{not json", headers={"Content-Type": "application/json"}), body="valid JSON")
    refused(post("/orders", json=[1, 2]), body="object")
    refused(post("/orders", data="[" * 100_000, headers={"Content-Type": "application/json"}), body="valid JSON")
    refused(post("/orders", data="wholesaler_id=1", headers={"Content-Type": "application/x-www-form-urlencoded"}),
            body="valid JSON")
    refused(world.admin.post(f"/credit-accounts/{world.account_id}/unblock", {"force": True}), force="unknown")


def test_an_oversized_body_is_a_json_413(world):
    response = world.retailer.post("/orders", data="x" * 300_000, headers={"Content-Type": "application/json"},
                                   check=False)
    assert response.status_code == 413 and response.is_json and response.json["success"] is False


def test_unknown_paths_and_methods_answer_json_not_html(world):
    missing = world.retailer.get("/nothing-here", check=False)
    assert missing.status_code == 404 and missing.is_json and missing.json["error"] == "NOT_FOUND"
    not_a_number = world.retailer.get("/orders/abc", check=False)
    assert not_a_number.status_code == 404 and not_a_number.is_json
    order_ids = [world.retailer.post("/orders", world.order_body()).json["id"] for _ in range(10)]
    assert order_ids[-1] == 10 and world.retailer.get("/orders/10").status_code == 200
    for spelling in ("1\u0660", "1\uff10", "\uff11\uff10"):  # int() reads each as 10
        other_digits = world.retailer.get(f"/orders/{spelling}", check=False)
        assert other_digits.status_code == 404 and other_digits.is_json, spelling
    wrong_method = world.retailer.request("DELETE", "/orders", check=False)
    assert wrong_method.status_code == 405 and wrong_method.is_json
    assert "GET" in wrong_method.headers["Allow"]


def test_an_unexpected_failure_is_a_json_500_saying_nothing_changed(world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(orders, "place_order", broken)
    response = world.retailer.post("/orders", world.order_body())
    assert response.status_code == 500 and response.json["error"] == "SYSTEM_ERROR"
    assert "disk on fire" not in response.get_data(as_text=True)


def test_query_parameters_are_checked(world):
    refused(world.retailer.get("/products?wholesaler_id=abc"), wholesaler_id="whole number")
    refused(world.retailer.get("/products?supplier=1"), supplier="unknown parameter")
    refused(world.retailer.get("/orders?after=0"), after="whole number")
    for digits in ("١", "１", "1٠", "²"):  # int() reads the first three as numbers
        refused(world.retailer.get(f"/products?wholesaler_id={digits}"), wholesaler_id="whole number")
        refused(world.retailer.get(f"/orders?limit={digits}"), limit="whole number")


def test_a_field_sent_twice_is_refused_not_read_as_its_last_value(world):
    json_type = {"Content-Type": "application/json"}
    payment = '{"amount": "NaN", "reference": "transfer 7781", "amount": "5.00"}'
    refused(world.wholesaler.post(f"/credit-accounts/{world.account_id}/payments", data=payment, headers=json_type),
            amount="more than once")
    line = f'{{"product_id": {world.product_id}, "quantity": 1, "quantity": 1}}'
    order = f'{{"wholesaler_id": {world.w1_id}, "lines": [{line}]}}'
    refused(world.retailer.post("/orders", data=order, headers=json_type), **{"lines[0].quantity": "more than once"})
    assert world.retailer.get("/orders").json["orders"] == []


def test_query_parameters_an_endpoint_does_not_take_are_refused_not_ignored(world):
    order_id = world.retailer.post("/orders", world.order_body()).json["id"]
    refused(world.retailer.get("/credit-accounts?limit=1"), limit="unknown parameter")
    refused(world.retailer.get(f"/credit-accounts/{world.account_id}?fields=all"), fields="unknown parameter")
    refused(world.retailer.get(f"/orders/{order_id}?expand=lines"), expand="unknown parameter")
    # A write takes its input from the body alone.
    refused(world.wholesaler.post(f"/credit-accounts/{world.account_id}/payments?amount=5000.00",
                                  {"amount": "5.00", "reference": "transfer 7781"}), amount="unknown parameter")
    refused(world.retailer.post("/orders?dry_run=1", world.order_body()), dry_run="unknown parameter")
    assert len(world.retailer.get("/orders").json["orders"]) == 1
    assert world.retailer.get(f"/credit-accounts/{world.account_id}/ledger").json["entries"][0]["type"] == "DEBIT"


def test_a_lone_surrogate_in_text_is_a_validation_error_not_a_500(app, db, world, monkeypatch):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a 500 as in production, not a raise
    json_type = {"Content-Type": "application/json"}
    before = snapshot(db)
    # JSON can escape half of a surrogate pair alone; Argon2 hashes UTF-8, which cannot encode it.
    user = '{"email": "new@example.com", "password": "a long enough password\\ud800", "role": "admin"}'
    refused(world.admin.post("/users", data=user, headers=json_type), password="surrogate")
    refused(world.admin.post("/wholesalers", data='{"name": "Acme \\udfff"}', headers=json_type), name="surrogate")
    assert snapshot(db) == before


def test_a_quantity_too_large_is_named_with_the_largest_allowed(app, world):
    largest = app.config["MAX_LINE_QUANTITY"]
    for quantity in (largest + 1, 2**31, 10**30):
        refused(world.retailer.post("/orders", world.order_body(quantity=quantity)),
                **{"lines[0].quantity": f"at most {largest:,}"})
    assert world.retailer.get("/orders").json["orders"] == []
