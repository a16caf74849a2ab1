"""Webhook endpoints of the caller's organisation: list, register (the secret answered once), rotate, delete."""

from app.api import bp, documents
from app.api.auth import allow, api_user
from app.api.bodies import json_body, query_args
from app.api.schema import EmptyBody, WebhookEndpointBody
from app.extensions import db
from app.models import Role, WebhookEndpoint
from app.services import tenancy, webhooks

OWNERS = (Role.WHOLESALER, Role.RETAILER)


@bp.get("/webhook-endpoints")
@allow(*OWNERS)
def list_webhook_endpoints():
    query_args()
    found = db.session.scalars(tenancy.webhook_endpoints_visible_to(api_user())
                               .where(WebhookEndpoint.deleted_at.is_(None)).order_by(WebhookEndpoint.id))
    return {"webhook_endpoints": [documents.webhook_endpoint(endpoint) for endpoint in found]}


@bp.post("/webhook-endpoints")
@allow(*OWNERS)
def register_webhook_endpoint():
    body = json_body(WebhookEndpointBody)
    return documents.webhook_endpoint(*webhooks.register_endpoint(api_user(), **body.model_dump())), 201


@bp.get("/webhook-endpoints/<id:endpoint_id>")
@allow(*OWNERS)
def get_webhook_endpoint(endpoint_id: int):
    query_args()
    return documents.webhook_endpoint(tenancy.webhook_endpoint_for(api_user(), endpoint_id))


@bp.delete("/webhook-endpoints/<id:endpoint_id>")
@allow(*OWNERS)
def delete_webhook_endpoint(endpoint_id: int):
    json_body(EmptyBody)
    return documents.webhook_endpoint(webhooks.delete_endpoint(api_user(), endpoint_id))


@bp.post("/webhook-endpoints/<id:endpoint_id>/rotate-secret")
@allow(*OWNERS)
def rotate_webhook_secret(endpoint_id: int):
    json_body(EmptyBody)
    return documents.webhook_endpoint(*webhooks.rotate_secret(api_user(), endpoint_id))
