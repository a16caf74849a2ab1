"""Webhooks against a real receiver on 127.0.0.1: written with the change, signed, retried, never to a private
address unless allowed, at least once with one event id."""

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from jsonschema import Draft202012Validator
from sqlalchemy import func, select, text

from app.api.openapi import DOCUMENT
from app.models import MailMessage, OverduePolicy, Role, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.services import accounts, dunning, holds, limit_requests, orders, webhooks
from app.services.actors import SYSTEM
from app.services.errors import Forbidden, InsufficientCredit, NotFound, ValidationError
from tests.support.api_client import ApiClient
from tests.support.auth import csrf_token
from tests.support.receiver import Receiver


def verified(body: bytes, header: str, secret: str, tolerance: int = 300) -> bool:
    """The check a receiver makes, as the endpoint page shows it."""
    parts = [part.split("=", 1) for part in header.split(",")]
    stamp = next(value for key, value in parts if key == "t")
    if abs(time.time() - int(stamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, value) for key, value in parts if key == "v1")


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def shop(make):
    account = make.account(credit_limit="1000.00")
    product = make.product(account.wholesaler, unit_price="10.00")
    buyer = make.user(Role.RETAILER, retailer=account.retailer)
    desk = make.user(Role.WHOLESALER, wholesaler=account.wholesaler, email="desk@wholesale.example")
    return account, product, buyer, desk


def order(shop, quantity=2):
    account, product, buyer, _ = shop
    return orders.place_order(buyer, wholesaler_id=account.wholesaler_id, lines=[(product.id, quantity)])


def test_an_order_is_posted_signed_to_the_endpoints_of_both_sides(db, shop, receiver, run_jobs):
    account, _, buyer, desk = shop
    _, desk_secret = webhooks.register_endpoint(desk, url=receiver.url, events=["order.confirmed"])
    _, shop_secret = webhooks.register_endpoint(buyer, url=receiver.url + "?side=retailer",
                                                events=["order.confirmed", "payment.recorded"])
    placed = order(shop)
    run_jobs()
    received = receiver.wait_for(2)
    assert len({r.event["id"] for r in received}) == 1  # one event, to each endpoint
    event = received[0].event
    assert event["type"] == "order.confirmed" and event["id"].startswith("evt_")
    assert event["data"] | {"placed_at": None} == {
        "credit_account_id": account.id, "retailer_id": account.retailer_id, "wholesaler_id": account.wholesaler_id,
        "order_id": placed.order_id, "total_amount": "20.00", "currency": "EUR",
        "due_date": placed.due_date.isoformat(), "placed_at": None, "available_credit": "980.00"}
    for request in received:  # each signed with its own endpoint's secret, and only that
        header = request.headers["Creditline-Signature"]
        own, other = (shop_secret, desk_secret) if "side=retailer" in request.path else (desk_secret, shop_secret)
        assert verified(request.body, header, own) and not verified(request.body, header, other)
    assert not verified(received[0].body, received[0].headers["Creditline-Signature"], "whsec_wrong")
    assert db.session.scalar(select(func.count()).where(WebhookDelivery.delivered_at.is_not(None))) == 2


def test_a_payment_carries_its_allocations(db, shop, receiver, run_jobs):
    account, _, _, desk = shop
    first, second = order(shop, 3), order(shop, 4)
    webhooks.register_endpoint(desk, url=receiver.url, events=["payment.recorded"])
    accounts.record_payment(desk, account.id, amount="50.00", reference="SEPA 77")
    run_jobs()
    [request] = receiver.wait_for(1)
    data = request.event["data"]
    assert (data["amount"], data["reference"], data["balance"]) == ("50.00", "SEPA 77", "20.00")
    assert data["allocations"] == [{"order_id": first.order_id, "amount": "30.00"},
                                   {"order_id": second.order_id, "amount": "20.00"}]


def test_nothing_is_written_for_no_endpoint_a_refused_order_or_another_tenant(db, make, shop):
    account, _, _, desk = shop
    other = make.user(Role.WHOLESALER, wholesaler=make.wholesaler())
    webhooks.register_endpoint(other, url="http://127.0.0.1:9/other", events=["order.confirmed"])
    webhooks.register_endpoint(desk, url="http://127.0.0.1:9/mine", events=["payment.recorded"])
    order(shop)  # nobody asked for this account's order.confirmed
    with pytest.raises(InsufficientCredit):
        order(shop, 1000)
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    assert db.session.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == 0


def test_a_receiver_that_is_down_or_slow_gets_the_event_again_with_the_same_id(app, db, shop, receiver, run_jobs):
    _, _, _, desk = shop
    webhooks.register_endpoint(desk, url=receiver.url, events=["order.confirmed"])
    receiver.status = 503
    order(shop)
    run_jobs()
    delivery = db.session.scalars(select(WebhookDelivery)).one()
    assert (delivery.attempts, delivery.last_status, delivery.delivered_at) == (1, 503, None)
    retry_in = db.session.scalar(text("SELECT extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs "
                                      "WHERE status = 'todo'"))
    assert 0 < retry_in <= 2  # the first retry within seconds
    receiver.status, receiver.delay = 200, 2
    app.config["WEBHOOK_TIMEOUT_SECONDS"], saved = 0.5, app.config["WEBHOOK_TIMEOUT_SECONDS"]
    try:
        db.session.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now()"))
        db.session.commit()
        run_jobs()  # too slow: a timeout, retried
        db.session.expire_all()
        assert "timed out" in delivery.last_response and delivery.last_status is None
    finally:
        app.config["WEBHOOK_TIMEOUT_SECONDS"] = saved
    receiver.delay = 0
    db.session.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now()"))
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    assert delivery.delivered_at is not None and delivery.attempts == 3
    assert len({r.event["id"] for r in receiver.received}) == 1 and len(receiver.received) == 3


def test_after_three_days_of_failures_the_endpoint_is_failing_and_its_owners_are_told(db, shop, receiver):
    _, _, _, desk = shop
    endpoint, _ = webhooks.register_endpoint(desk, url=receiver.url, events=["order.confirmed"])
    receiver.status = 500
    order(shop)
    delivery_id = db.session.scalar(select(WebhookDelivery.id))
    with pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver(delivery_id)
    assert db.session.get(WebhookEndpoint, endpoint.id).failing_since is None
    with pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver(delivery_id, last_attempt=True)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).failing_since is not None
    [told] = db.session.scalars(select(MailMessage).where(MailMessage.kind == "webhook_failing")).all()
    assert told.to_address == desk.email and receiver.url in told.text_body
    receiver.status = 200
    webhooks.redeliver(desk, delivery_id)
    webhooks.deliver(delivery_id)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).failing_since is None  # a success clears it


def test_a_rotated_secret_signs_beside_the_old_one_for_a_day(db, shop):
    _, _, _, desk = shop
    endpoint, old = webhooks.register_endpoint(desk, url="https://erp.example.com/hooks", events=["order.confirmed"])
    now = datetime(2027, 5, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        endpoint, new = webhooks.rotate_secret(desk, endpoint.id)
        header = webhooks.signature(endpoint, b"{}", now=now)
    stamp = header.split(",")[0][2:]
    assert header.count("v1=") == 2
    for secret in (old, new):
        assert hmac.new(secret.encode(), f"{stamp}.{{}}".encode(), hashlib.sha256).hexdigest() in header
    assert webhooks.signature(endpoint, b"{}", now=now + timedelta(hours=24)).count("v1=") == 1


def test_private_targets_are_refused_when_not_allowed(app, db, shop, receiver, run_jobs):
    _, _, _, desk = shop
    endpoint, _ = webhooks.register_endpoint(desk, url=receiver.url, events=["order.confirmed"])
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = False
    try:
        for url in ("http://localhost/x", "http://127.0.0.1/x", "http://10.1.2.3/x", "http://169.254.169.254/latest",
                    "http://[::1]/x", "http://[::ffff:192.168.1.1]/x"):
            with pytest.raises(ValidationError):
                webhooks.register_endpoint(desk, url=url, events=["order.confirmed"])
        order(shop)
        run_jobs()
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        assert delivery.last_status is None and "not a public address" in delivery.last_response
        assert receiver.received == []
    finally:
        app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True
    assert endpoint.id


@pytest.mark.parametrize("url", ["ftp://example.com/x", "https://user:pw@example.com/x", "example.com/x", "",
                                 "https://exa mple.com/", "https://" + "a" * 2000 + ".com"])
def test_a_bad_url_or_event_list_is_refused_and_writes_nothing(db, shop, url):
    _, _, _, desk = shop
    with pytest.raises(ValidationError):
        webhooks.register_endpoint(desk, url=url, events=["order.confirmed"])
    for events in ([], ["order.shipped_to_mars"], "order.confirmed"):
        with pytest.raises(ValidationError):
            webhooks.register_endpoint(desk, url="https://erp.example.com/", events=events)
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


def test_endpoints_are_their_organisation_s_own(db, make, shop):
    _, _, buyer, desk = shop
    endpoint, _ = webhooks.register_endpoint(desk, url="https://erp.example.com/", events=["order.confirmed"])
    for stranger in (buyer, make.user(Role.WHOLESALER, wholesaler=make.wholesaler())):
        for operation in (webhooks.rotate_secret, webhooks.delete_endpoint):
            with pytest.raises(NotFound):
                operation(stranger, endpoint.id)
    for nobody in (SYSTEM, make.user(Role.ADMIN)):
        with pytest.raises(Forbidden):
            webhooks.register_endpoint(nobody, url="https://erp.example.com/", events=["order.confirmed"])


def test_the_pages_add_an_endpoint_show_its_secret_once_and_list_its_deliveries(client, auth, db, shop, receiver,
                                                                              run_jobs):
    _, _, _, desk = shop
    auth.login(desk)
    answer = client.post("/integrations/", data={"csrf_token": csrf_token(client, "/integrations/"),
                                                 "url": receiver.url, "events": ["order.confirmed", "order.cancelled"]})
    assert answer.status_code == 302
    endpoint = db.session.scalars(select(WebhookEndpoint)).one()
    page = client.get(answer.headers["Location"]).text
    assert endpoint.secret in page
    assert endpoint.secret not in client.get(answer.headers["Location"]).text  # once
    orders.cancel_order(SYSTEM, order(shop).order_id)
    run_jobs()
    log = client.get(f"/integrations/endpoints/{endpoint.id}").text
    assert "order.confirmed" in log and "order.cancelled" in log and "Redeliver" in log
    delivery = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
    again = client.post(f"/integrations/deliveries/{delivery.id}/redeliver",
                        data={"csrf_token": csrf_token(client, f"/integrations/endpoints/{endpoint.id}")})
    assert again.status_code == 302
    run_jobs()
    assert [r.event["type"] for r in receiver.wait_for(3)].count("order.confirmed") == 2
    refused = client.post("/integrations/", data={"csrf_token": csrf_token(client, "/integrations/"),
                                                  "url": "gopher://old.example.com", "events": ["order.confirmed"]})
    assert refused.status_code == 422 and db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 1


def test_every_event_type_is_delivered_as_the_openapi_document_describes_it(db, shop, receiver, run_jobs):
    """Each event caused for real, received, and checked against its entry in the document's webhooks section."""
    account, _, _, desk = shop
    account.overdue_policy = OverduePolicy.HOLD
    db.session.commit()
    webhooks.register_endpoint(desk, url=receiver.url, events=list(webhooks.EVENT_TYPES))
    placed_at = datetime.now(UTC) - timedelta(days=40)
    with time_machine.travel(placed_at, tick=False):
        late, unwanted = order(shop, 3), order(shop, 1)
    orders.cancel_order(SYSTEM, unwanted.order_id, reason=None)
    dunning.send_reminders()  # 40 days after ordering on 30 days' terms: on hold
    accounts.record_payment(desk, account.id, amount="30.00", reference="SEPA 1", allocations=[(late.order_id, None)])
    accounts.update_account(desk, account.id, credit_limit="1200.00")
    accounts.block_account(SYSTEM, account.id, reason="Checking")
    accounts.unblock_account(SYSTEM, account.id)
    _, product, buyer, _ = shop

    def hold(seconds=900):
        return holds.place_hold(buyer, wholesaler_id=account.wholesaler_id, lines=[(product.id, 1)],
                                expires_in_seconds=seconds).hold.id

    holds.capture_hold(buyer, hold())
    holds.release_hold(desk, hold())
    with time_machine.travel(datetime.now(UTC) - timedelta(minutes=1), tick=False):
        hold(seconds=1)
    assert holds.expire_holds() == 1
    asked = limit_requests.request_limit(buyer, account.id, requested_limit="5000.00", note="Christmas stock")
    limit_requests.decide_request(desk, asked.request.id, approve=False, note="Not this year")
    run_jobs()
    # Three orders confirmed (one a capture), three holds placed.
    received = receiver.wait_for(len(webhooks.EVENT_TYPES) + 4)
    assert {r.event["type"] for r in received} == set(webhooks.EVENT_TYPES)
    for request in received:
        schema = DOCUMENT["webhooks"][request.event["type"]]["post"]["requestBody"]["content"]["application/json"]
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in Draft202012Validator(DOCUMENT | schema["schema"]).iter_errors(request.event)]
        assert not errors, (request.event, errors)


def test_the_api_registers_lists_rotates_and_deletes_endpoints(app, db, make, shop):
    account, _, buyer, desk = shop
    desk_api, buyer_api = ApiClient(app, desk), ApiClient(app, buyer)
    made = desk_api.post("/webhook-endpoints", {"url": "https://erp.example.com/hooks",
                                                 "events": ["payment.recorded", "order.confirmed", "order.confirmed"]})
    assert made.status_code == 201 and made.json["secret"].startswith("whsec_")
    assert made.json["events"] == ["order.confirmed", "payment.recorded"]
    endpoint_id = made.json["id"]
    shown = desk_api.get(f"/webhook-endpoints/{endpoint_id}").json
    assert "secret" not in shown and shown["url"] == "https://erp.example.com/hooks"
    assert [e["id"] for e in desk_api.get("/webhook-endpoints").json["webhook_endpoints"]] == [endpoint_id]
    assert buyer_api.get("/webhook-endpoints").json["webhook_endpoints"] == []  # the retailer's side has none
    assert buyer_api.get(f"/webhook-endpoints/{endpoint_id}").status_code == 404
    rotated = desk_api.post(f"/webhook-endpoints/{endpoint_id}/rotate-secret", {})
    assert rotated.status_code == 200 and rotated.json["secret"] not in (made.json["secret"], None)
    assert rotated.json["previous_secret_valid_until"] is not None
    assert db.session.get(WebhookEndpoint, endpoint_id).secret == rotated.json["secret"]
    deleted = desk_api.delete(f"/webhook-endpoints/{endpoint_id}", {})
    assert deleted.status_code == 200 and deleted.json["deleted_at"] is not None
    again = desk_api.delete(f"/webhook-endpoints/{endpoint_id}", {})  # the same answer, nothing written
    assert again.json == deleted.json
    assert desk_api.get("/webhook-endpoints").json["webhook_endpoints"] == []
    assert desk_api.post(f"/webhook-endpoints/{endpoint_id}/rotate-secret", {}).status_code == 404
    refused = desk_api.post("/webhook-endpoints", {"url": "ftp://erp.example.com/", "events": ["order.confirmed"]})
    assert refused.status_code == 400 and refused.json["field_errors"] == {"url": "invalid"}
    assert ApiClient(app, make.user(Role.ADMIN)).get("/webhook-endpoints").status_code == 403
