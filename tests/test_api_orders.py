"""Orders through the API: placing, idempotent replays, refusals, cancelling, and concurrent clients."""

import pytest
from sqlalchemy import select, text

from app.extensions import db as _db
from app.models import EntryType, LedgerEntry, Order
from app.services.ledger_check import find_ledger_problems
from tests.support.api_client import ApiClient, World


@pytest.fixture
def world(app, make):
    return World(app, make)


def place(world, quantity=1, key=None, client=None):
    headers = {"Idempotency-Key": key} if key else None
    return (client or world.retailer).post("/orders", world.order_body(quantity), headers=headers)


def test_a_retailer_places_an_order_and_both_parties_can_read_it(world):
    response = place(world, quantity=3)
    assert response.status_code == 201
    body = response.json
    assert body == {"id": body["id"], "status": "CONFIRMED", "total_amount": "30.00",
                    "credit_ledger_entry_id": body["credit_ledger_entry_id"], "available_credit": "970.00"}
    assert response.headers["Location"] == f"/api/v1/orders/{body['id']}"

    for reader in (world.retailer, world.wholesaler, world.admin):
        order = reader.get(f"/orders/{body['id']}")
        assert order.status_code == 200
        assert order.json["lines"] == [{"product_id": world.product_id, "quantity": 3, "unit_price": "10.00",
                                        "line_total": "30.00"}]
        assert order.json["created_at"].endswith("Z") and order.json["cancelled_at"] is None
    account = world.retailer.get(f"/credit-accounts/{world.account_id}").json
    assert (account["balance"], account["available_credit"]) == ("30.00", "970.00")


def test_another_tenant_cannot_see_or_cancel_the_order(world):
    order_id = place(world).json["id"]
    for outsider in (world.other_retailer, world.other_wholesaler):
        assert outsider.get(f"/orders/{order_id}").status_code == 404
        refused = outsider.post(f"/orders/{order_id}/cancel", {"reason": "not mine"})
        assert refused.status_code == 404 and refused.json["error"] == "NOT_FOUND"
        assert outsider.get("/orders").json == {"orders": [], "next_cursor": None}
    assert world.retailer.get("/orders/999999").status_code == 404


def test_only_retailers_place_orders(world):
    for client in (world.wholesaler, world.admin):
        refused = place(world, client=client)
        assert refused.status_code == 403 and refused.json["error"] == "FORBIDDEN"


def test_the_same_idempotency_key_returns_the_first_order(world):
    first = place(world, quantity=2, key="order-2026-0001")
    again = place(world, quantity=2, key="order-2026-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert _db.session.scalar(select(_db.func.count(Order.id))) == 1


def test_the_same_idempotency_key_with_other_lines_is_a_conflict(world):
    place(world, quantity=2, key="k-1")
    reused = place(world, quantity=5, key="k-1")
    assert reused.status_code == 409
    assert reused.json["error"] == "IDEMPOTENCY_KEY_REUSED" and reused.json["success"] is False


def test_an_unusable_idempotency_key_is_a_validation_error(world):
    refused = place(world, key="x" * 101)
    assert refused.status_code == 400
    assert refused.json["error"] == "VALIDATION_ERROR" and "idempotency_key" in refused.json["field_errors"]


def test_credit_refusals_are_400_with_the_available_credit(world, make):
    too_much = place(world, quantity=101)  # 1,010.00 on a 1,000.00 limit
    assert too_much.status_code == 400
    assert too_much.json["error"] == "INSUFFICIENT_CREDIT" and too_much.json["available_credit"] == "1000.00"

    world.admin.post(f"/credit-accounts/{world.account_id}/block", {"reason": "overdue"})
    blocked = place(world)
    assert blocked.status_code == 400 and blocked.json["error"] == "CREDIT_BLOCKED"
    assert blocked.json["available_credit"] == "1000.00"

    make.product(world.w2)  # r1 has no account with w2
    no_account = world.retailer.post("/orders", {"wholesaler_id": world.w2_id, "lines": [
        {"product_id": world.other_product.id, "quantity": 1}]})
    assert no_account.status_code == 400 and no_account.json["error"] == "CREDIT_ACCOUNT_NOT_FOUND"

    unknown = world.retailer.post("/orders", world.order_body(product_id=world.other_product.id))
    assert unknown.status_code == 400 and unknown.json["error"] == "VALIDATION_ERROR"
    assert "lines" in unknown.json["field_errors"]


def test_cancelling_reverses_the_debit_and_repeating_it_changes_nothing(world):
    order_id = place(world, quantity=4).json["id"]
    first = world.retailer.post(f"/orders/{order_id}/cancel", {"reason": "ordered twice"})
    again = world.retailer.post(f"/orders/{order_id}/cancel", {"reason": "still twice"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json == again.json == {"id": order_id, "status": "CANCELLED",
                                        "reversal_entry_id": first.json["reversal_entry_id"]}
    order = world.retailer.get(f"/orders/{order_id}").json
    assert order["status"] == "CANCELLED" and order["cancel_reason"] == "ordered twice"
    assert world.retailer.get(f"/credit-accounts/{world.account_id}").json["available_credit"] == "1000.00"


def test_the_wholesaler_and_an_admin_may_cancel_and_a_body_is_optional(world):
    for canceller in (world.wholesaler, world.admin):
        order_id = place(world).json["id"]
        response = canceller.post(f"/orders/{order_id}/cancel")  # no body at all
        assert response.status_code == 200 and response.json["status"] == "CANCELLED"


def test_a_busy_account_answers_503_with_retry_after(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "CREDIT_LOCK_DEADLINE_SECONDS", 0.2)
    with _db.engine.connect() as holder:  # another transaction holds the account's row lock
        holder.execute(text("SELECT id FROM credit_accounts WHERE id = :id FOR UPDATE"), {"id": world.account_id})
        busy = place(world)
        holder.rollback()
    assert busy.status_code == 503
    assert busy.json["error"] == "MAX_RETRIES_EXCEEDED" and busy.headers["Retry-After"] == "1"
    assert place(world).status_code == 201  # once the row is free


def test_orders_are_listed_newest_first_a_page_at_a_time(world):
    ids = [place(world).json["id"] for _ in range(5)]
    pages, after = [], None
    while True:
        page = world.retailer.get("/orders?limit=2" + (f"&after={after}" if after else "")).json
        pages.append([o["id"] for o in page["orders"]])
        after = page["next_cursor"]
        if after is None:
            break
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]


# --- Concurrent clients, each with its own connection ------------------------------------------------

def test_concurrent_orders_never_spend_the_same_credit_twice(app, world, in_parallel):
    token = world.retailer.token

    def order(_):
        response = ApiClient(app, token=token).post("/orders", world.order_body(quantity=30))  # 300.00 each
        return response.status_code, response.json

    results = in_parallel(order, 10)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 3 + [400] * 7, results
    assert {body["error"] for status, body in results if status == 400} == {"INSUFFICIENT_CREDIT"}
    _db.session.expire_all()  # the threads wrote through their own sessions
    assert world.retailer.get(f"/credit-accounts/{world.account_id}").json["balance"] == "900.00"
    assert find_ledger_problems() == []


def test_concurrent_retries_with_one_idempotency_key_place_one_order(app, world, in_parallel):
    token = world.retailer.token

    def order(_):
        response = ApiClient(app, token=token).post("/orders", world.order_body(quantity=2),
                                                    headers={"Idempotency-Key": "retry-storm"})
        return response.status_code, response.json["id"]

    results = in_parallel(order, 6)
    assert sorted(status for status, _ in results) == [200] * 5 + [201], results
    assert len({order_id for _, order_id in results}) == 1
    assert _db.session.scalar(select(_db.func.count(Order.id))) == 1


def test_concurrent_cancels_write_one_reversal(app, world, in_parallel):
    order_id = place(world, quantity=5).json["id"]
    tokens = [world.retailer.token, world.wholesaler.token, world.admin.token]

    def cancel(i):
        response = ApiClient(app, token=tokens[i % 3]).post(f"/orders/{order_id}/cancel", {"reason": f"try {i}"})
        return response.status_code, response.json

    results = in_parallel(cancel, 6)
    assert {status for status, _ in results} == {200}, results
    assert len({body["reversal_entry_id"] for _, body in results}) == 1
    reversals = _db.session.scalars(select(LedgerEntry).where(LedgerEntry.type == EntryType.REVERSAL)).all()
    assert len(reversals) == 1
    assert find_ledger_problems() == []
