"""The API's tenancy matrix, generated from the OpenAPI document: every operation, every tenant role it
names, pointed at the other tenant's account or order, answers 404 and writes nothing; every list shows
only the caller's own rows. An operation added later is covered without touching this test."""

import re
from datetime import date, timedelta

import pytest

from app.api.openapi import DOCUMENT
from app.extensions import db as _db
from app.services import limit_requests, orders
from tests.support.actors import acting_retailer
from tests.support.api_client import World
from tests.support.table_digest import snapshot

#: A valid body for each write an id in its path names; the control call proves it is valid.
BODIES = {
    "set_credit_limit": {"credit_limit": "900.00"},
    "record_payment": {"amount": "1.00", "reference": "Transfer 1"},
    "post_adjustment": {"amount": "1.00", "reason": "Correction"},
    "cancel_order": {"reason": "Not needed"},
    "ship_order": {},
    "credit_order": {"lines": [{"product_id": 1, "quantity": 1}], "reason": "Damaged"},
    "block_credit_account": {"reason": "Overdue"},
    "unblock_credit_account": {},
    "delete_webhook_endpoint": {},
    "rotate_webhook_secret": {},
    "capture_hold": {},
    "release_hold": {},
    "grant_limit_increase": {"amount": "50.00", "ends_on": (date.today() + timedelta(days=2)).isoformat(),
                             "reason": "Busy week"},
    "end_limit_increase": {},
    "request_limit": {"requested_limit": "4000.00", "note": "Christmas"},
    "decide_limit_request": {"approve": False, "note": "Not this year"},
    "withdraw_limit_request": {},
    "approve_hold": {},
    "decline_hold": {"note": "Not now"},
}
#: What the control call needs first: a credit line has one open request at a time.
BEFORE_CONTROL = {"request_limit": lambda world: limit_requests.withdraw_request(world.retailer.user, world.request_id),
                  # Only an order waiting for approval is approved or declined.
                  "approve_hold": lambda world: setattr(world, "hold_id", world.approval_hold()),
                  "decline_hold": lambda world: setattr(world, "hold_id", world.approval_hold())}
TENANT_ROLES = ("retailer", "wholesaler")
WITH_AN_ID = [(path, method, operation, role) for path, methods in DOCUMENT["paths"].items()
              for method, operation in methods.items() if "{" in path
              for role in TENANT_ROLES if role in operation["x-roles"]]


@pytest.fixture
def world(app, make):
    world = World(app, make)
    world.order_id = orders.place_order(acting_retailer(world.r1.id), wholesaler_id=world.w1_id,
                                        lines=[(world.product_id, 1)]).order_id
    world.other_order_id = orders.place_order(acting_retailer(world.r2.id), wholesaler_id=world.w2_id,
                                              lines=[(world.other_product.id, 1)]).order_id
    world.hold_id, world.other_hold_id = world.hold(), world.hold(other=True)
    world.increase_id, world.other_increase_id = world.increase(), world.increase(other=True)
    world.request_id, world.other_request_id = world.limit_request(), world.limit_request(other=True)
    return world


def url(path: str, ids: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


def test_every_operation_with_an_id_is_in_the_matrix():
    """A new operation with an id in its path needs a body here before the matrix can cover it."""
    writes = {op["operationId"] for _, method, op, _ in WITH_AN_ID if method != "get"}
    assert writes <= set(BODIES), writes - set(BODIES)
    assert len(WITH_AN_ID) >= 10


@pytest.mark.parametrize(("path", "method", "operation", "role"), WITH_AN_ID,
                         ids=[f"{role} {m.upper()} {p}" for p, m, _, role in WITH_AN_ID])
def test_the_other_tenants_ids_are_not_found_and_nothing_is_written(world, path, method, operation, role):
    client = getattr(world, role)
    body = BODIES.get(operation["operationId"]) if method != "get" else None
    before = snapshot(_db)
    foreign = client.request(method.upper(), url(path, {"account_id": world.other_account_id,
                                                         "order_id": world.other_order_id,
                                                         "endpoint_id": world.other_endpoint_ids[role],
                                                         "hold_id": world.other_hold_id,
                                                         "increase_id": world.other_increase_id,
                                                         "request_id": world.other_request_id}), json=body)
    assert foreign.status_code == 404, foreign.json
    assert foreign.json["error"] == "NOT_FOUND"
    assert snapshot(_db) == before
    # The control: the same call on the caller's own account or order goes through.
    BEFORE_CONTROL.get(operation["operationId"], lambda world: None)(world)
    own = client.request(method.upper(), url(path, {"account_id": world.account_id, "order_id": world.order_id,
                                                     "endpoint_id": world.endpoint_ids[role],
                                                     "hold_id": world.hold_id,
                                                     "increase_id": world.increase_id,
                                                     "request_id": world.request_id}), json=body)
    assert own.status_code < 300, own.json


@pytest.mark.parametrize("role", TENANT_ROLES)
@pytest.mark.parametrize("listing", ["/credit-accounts", "/orders", "/products", "/webhook-endpoints", "/holds",
                                     "/limit-requests"])
def test_lists_show_only_the_callers_own_rows(world, role, listing):
    documents = getattr(world, role).get(listing).json[listing.strip("/").replace("-", "_")]
    shown = {(listing, d["id"]) for d in documents}
    own = {("/credit-accounts", world.account_id), ("/orders", world.order_id), ("/products", world.product_id),
           ("/webhook-endpoints", world.endpoint_ids[role]), ("/holds", world.hold_id),
           ("/limit-requests", world.request_id)}
    foreign = {("/credit-accounts", world.other_account_id), ("/orders", world.other_order_id),
               ("/products", world.other_product.id), ("/holds", world.other_hold_id),
               ("/limit-requests", world.other_request_id),
               *(("/webhook-endpoints", e) for e in world.endpoint_ids.values() if e != world.endpoint_ids[role]),
               *(("/webhook-endpoints", e) for e in world.other_endpoint_ids.values())}
    assert shown & own and not shown & foreign, shown


def test_an_order_at_another_tenants_wholesaler_or_with_its_product_writes_nothing(world):
    before = snapshot(_db)
    elsewhere = world.retailer.post("/orders", {"wholesaler_id": world.w2_id,
                                                "lines": [{"product_id": world.other_product.id, "quantity": 1}]})
    foreign_product = world.retailer.post("/orders", world.order_body(product_id=world.other_product.id))
    # No credit account there (CREDIT_ACCOUNT_NOT_FOUND), and no such product in this catalogue: both a 4xx.
    assert 400 <= elsewhere.status_code < 500 and 400 <= foreign_product.status_code < 500
    assert {elsewhere.json["error"], foreign_product.json["error"]} <= {"CREDIT_ACCOUNT_NOT_FOUND", "VALIDATION_ERROR"}
    assert snapshot(_db) == before
