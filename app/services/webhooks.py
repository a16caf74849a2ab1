"""Webhooks: wholesalers and retailers register URLs for events about their credit accounts; each event is written
in the transaction of the change it tells of and POSTed to every subscribed endpoint by a job, signed like
Stripe's, retried with doubling waits for three days.

Delivery is at least once: a receiver drops a repeat by the event's ``id``. Outbound safety: only http and https,
no redirects followed, and (unless WEBHOOK_ALLOW_PRIVATE_TARGETS) no loopback, private, link-local or other
reserved address, checked against every address the host resolves to when the delivery is sent.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from procrastinate import JobContext, RetryStrategy
from sqlalchemy import String, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from app import jobs
from app.extensions import db
from app.models import CreditAccount, Role, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.services import clock, mail, tenancy
from app.services.actors import Actor, require_role
from app.services.errors import Forbidden, NotFound, ValidationError
from app.services.money import amount_text
from app.services.transactions import transaction

#: Every event an endpoint can ask for, and what it says.
EVENT_TYPES = {
    "order.confirmed": "An order is placed on credit",
    "order.cancelled": "An order is cancelled",
    "payment.recorded": "A payment is recorded, with the orders it paid",
    "account.blocked": "A credit account is blocked",
    "account.unblocked": "A credit account is unblocked",
    "account.overdue_hold": "A credit account goes on overdue hold",
    "account.overdue_released": "A credit account's overdue hold is lifted",
    "account.limit_changed": "A credit limit is changed",
    "hold.placed": "Credit is held for a cart or a quote",
    "hold.captured": "A credit hold becomes an order",
    "hold.released": "A credit hold is released",
    "hold.expired": "A credit hold reaches its expiry unused",
    "limit_request.decided": "A request for a higher limit is approved or declined",
}
#: The signature header: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, one v1 per valid secret.
SIGNATURE_HEADER = "Creditline-Signature"
#: Waits of 2, 4, 8 … seconds (the first retry within a minute): 18 attempts span three days.
DELIVERY_RETRIES = RetryStrategy(max_attempts=18, exponential_wait=2)
#: How long the secret before a rotation keeps signing beside the new one.
ROTATION_OVERLAP = timedelta(hours=24)
URL_MAX_LENGTH = 2000
RESPONSE_EXCERPT = 500


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx in time; the job is retried."""


# --- Endpoints: the owner's operations --------------------------------------------------------------------------

def register_endpoint(actor: Actor, *, url: object, events: object) -> tuple[WebhookEndpoint, str]:
    """A new endpoint for the actor's organisation (a wholesaler's or a retailer's user) and its secret, which is
    shown this once. Raises Forbidden, ValidationError (not an http(s) URL, a private address when those are not
    allowed, no events or an unknown one)."""
    wholesaler_id, retailer_id = _owner(actor)
    url, events = _url(url), _events(events)
    secret = _new_secret()
    with transaction():
        endpoint = WebhookEndpoint(wholesaler_id=wholesaler_id, retailer_id=retailer_id, url=url, events=events,
                                   secret=secret, created_by=actor.id)
        db.session.add(endpoint)
    return endpoint, secret


def rotate_secret(actor: Actor, endpoint_id: int) -> tuple[WebhookEndpoint, str]:
    """A new secret for the endpoint, shown this once; the old one signs beside it for 24 hours, so the receiver
    can switch over. Raises Forbidden, NotFound."""
    with transaction():
        endpoint = _own_endpoint(actor, endpoint_id)
        secret = _new_secret()
        endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, clock.now() + ROTATION_OVERLAP
        endpoint.secret = secret
    return endpoint, secret


def delete_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """Send the endpoint nothing more (its delivery log stays); deleting it again changes nothing. Raises
    Forbidden, NotFound."""
    _owner(actor)
    with transaction():
        endpoint = tenancy.webhook_endpoint_for(actor, endpoint_id)
        endpoint.deleted_at = endpoint.deleted_at or clock.now()
    return endpoint


def redeliver(actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again, now, with the same event id (also one delivered already: a receiver that lost it).
    Raises Forbidden, NotFound (another's, or its endpoint deleted)."""
    with transaction():
        delivery = tenancy.webhook_delivery_for(actor, delivery_id)
        _own_endpoint(actor, delivery.endpoint_id)
        delivery.given_up_at = delivery.delivered_at = None
        jobs.defer(deliver_webhook, delivery_id=delivery.id)
    return delivery


# --- Events: written with the change --------------------------------------------------------------------------

# Built once: every order asks it, and a statement built per call costs more CPU than running it.
_SUBSCRIBED = select(WebhookEndpoint.id).where(
    or_(WebhookEndpoint.wholesaler_id == bindparam("wholesaler_id"),
        WebhookEndpoint.retailer_id == bindparam("retailer_id")),
    WebhookEndpoint.deleted_at.is_(None), WebhookEndpoint.events.contains(bindparam("types", type_=ARRAY(String))))


def emit(event_type: str, account: CreditAccount, data: dict) -> WebhookEvent | None:
    """In the caller's transaction: the event, and a delivery to each endpoint of either side of ``account`` that
    asked for it, each deferred. Nothing is written when no endpoint wants it. ``account`` is the locked one, which
    knows whether either side has any endpoint at all (most have none: then nothing is asked)."""
    if not account.has_webhooks:
        return None
    endpoint_ids = db.session.scalars(_SUBSCRIBED, {"wholesaler_id": account.wholesaler_id,
                                                    "retailer_id": account.retailer_id, "types": [event_type]}).all()
    if not endpoint_ids:
        return None
    now = clock.now()
    event = WebhookEvent(id=f"evt_{secrets.token_hex(12)}", type=event_type, created_at=now,
                         data={"credit_account_id": account.id, "retailer_id": account.retailer_id,
                               "wholesaler_id": account.wholesaler_id} | data)
    db.session.add(event)
    deliveries = [WebhookDelivery(event=event, endpoint_id=endpoint_id, created_at=now) for endpoint_id in endpoint_ids]
    db.session.add_all(deliveries)
    db.session.flush()
    for delivery in deliveries:
        jobs.defer(deliver_webhook, delivery_id=delivery.id)
    return event


def account_data(account: CreditAccount) -> dict:
    """What every account event says of the account as it is after the change."""
    return {"status": account.status.value, "credit_limit": amount_text(account.credit_limit),
            "effective_limit": amount_text(account.effective_limit), "balance": amount_text(account.balance),
            "available_credit": amount_text(account.available_credit), "currency": account.currency}


# --- Delivery: the worker's part ------------------------------------------------------------------------------

@jobs.queue.task(name="deliver_webhook", retry=DELIVERY_RETRIES, pass_context=True)
def deliver_webhook(context: JobContext, delivery_id: int) -> None:
    last_attempt = context.job.attempts + 1 >= DELIVERY_RETRIES.max_attempts
    jobs.in_app_context(deliver)(delivery_id, last_attempt=last_attempt)


def deliver(delivery_id: int, *, last_attempt: bool = False) -> None:
    """POST the delivery's event to its endpoint once, and record the answer. Raises DeliveryFailed for anything
    but a 2xx (the job retries), after marking the endpoint failing and telling its owner when ``last_attempt``."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.delivered_at is not None or delivery.endpoint.deleted_at is not None:
        return
    endpoint, event = delivery.endpoint, delivery.event
    body = json.dumps({"id": event.id, "type": event.type, "created_at": clock.utc_text(event.created_at),
                       "data": event.data}, separators=(",", ":")).encode()
    started = time.monotonic()
    status, excerpt = _post(endpoint.url, body, signature(endpoint, body, now=clock.now()))
    with transaction():
        delivery.attempts += 1
        delivery.last_attempt_at = clock.now()
        delivery.last_status, delivery.last_response = status, excerpt
        delivery.last_latency_ms = int((time.monotonic() - started) * 1000)
        if status is not None and 200 <= status < 300:
            delivery.delivered_at = delivery.last_attempt_at
            endpoint.failing_since = None
            return
        if last_attempt:
            delivery.given_up_at = delivery.last_attempt_at
            if endpoint.failing_since is None:
                endpoint.failing_since = delivery.last_attempt_at
                _tell_owner(endpoint)
    raise DeliveryFailed(f"delivery {delivery_id} to endpoint {endpoint.id}: {status or excerpt}")


def signature(endpoint: WebhookEndpoint, body: bytes, *, now: datetime) -> str:
    """``t=<unix seconds>,v1=<hex>``, with a ``v1`` for the previous secret too while a rotation overlaps."""
    stamp = int(now.timestamp())
    valid = [endpoint.secret] + ([endpoint.previous_secret] if endpoint.previous_secret and
                                 endpoint.previous_secret_until and endpoint.previous_secret_until > now else [])
    signed = f"{stamp}.".encode() + body
    return ",".join([f"t={stamp}"] + [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in valid])


def _post(url: str, body: bytes, signed: str) -> tuple[int | None, str]:
    """One POST, no redirect followed: the status and the start of the answer, or None and why there was none."""
    parts = urlsplit(url)
    try:
        _check_target(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
        try:
            connection.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                               headers={"Content-Type": "application/json", "User-Agent": "Creditline-Webhooks/1",
                                        SIGNATURE_HEADER: signed})
            answer = connection.getresponse()
            return answer.status, answer.read(RESPONSE_EXCERPT).decode("utf-8", "replace")
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"[:RESPONSE_EXCERPT]


def _check_target(host: str, port: int) -> None:
    """Refuse an address the app must not be made to reach (its own network) unless private targets are allowed.
    Raises ValueError."""
    if current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"]:
        return
    for *_, address in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        if not _public(address[0]):
            raise ValueError(f"{host} resolves to {address[0]}, which is not a public address")


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
                or ip.is_unspecified)


def _tell_owner(endpoint: WebhookEndpoint) -> None:
    side = (User.wholesaler_id == endpoint.wholesaler_id) if endpoint.wholesaler_id else \
        (User.retailer_id == endpoint.retailer_id)
    owners = select(User).where(User.active, side)
    for user in db.session.scalars(owners.order_by(User.id)):
        mail.queue_mail(kind="webhook_failing", to=user, subject=f"Webhook failing: {endpoint.url}",
                        template="webhook_failing", endpoint=endpoint,
                        link=mail.absolute_url("integrations.endpoint", endpoint_id=endpoint.id))


# --- Checks ---------------------------------------------------------------------------------------------------

def _owner(actor: Actor) -> tuple[int | None, int | None]:
    require_role(actor, Role.WHOLESALER, Role.RETAILER)
    if actor.id is None:
        raise Forbidden("Only a user's organisation has webhooks.")
    return (actor.wholesaler_id, None) if actor.role == Role.WHOLESALER else (None, actor.retailer_id)


def _own_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """One of the actor's organisation's endpoints that is not deleted. Raises Forbidden, NotFound."""
    _owner(actor)
    endpoint = tenancy.webhook_endpoint_for(actor, endpoint_id)
    if endpoint.deleted_at is not None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def _url(value: object) -> str:
    url = (value if isinstance(value, str) else "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > URL_MAX_LENGTH or \
            not url.isprintable() or " " in url or parts.username or parts.password:
        raise ValidationError("Give an http:// or https:// URL, without a user name or password in it.",
                              field_errors={"url": "invalid"})
    if not current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"]:
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        if parts.hostname == "localhost" or (literal is not None and not _public(str(literal))):
            raise ValidationError("Webhooks go to public addresses only.", field_errors={"url": "not public"})
    return url


def _events(value: object) -> list[str]:
    events = sorted(set(value)) if isinstance(value, (list, tuple, set)) else []
    if not events:
        raise ValidationError("Choose at least one event.", field_errors={"events": "required"})
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise ValidationError(f"Unknown event: {', '.join(map(str, unknown))}.", field_errors={"events": "unknown"})
    return events


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"

