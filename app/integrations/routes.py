"""Webhook endpoints: the list and the form to add one, one endpoint with its delivery log, and its secret shown
once when it is made or rotated."""

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.forms import EmptyForm
from app.auth.roles import role_required
from app.extensions import db
from app.forms import QueryForm
from app.integrations import bp
from app.integrations.forms import EndpointForm
from app.models import Role, WebhookDelivery, WebhookEndpoint
from app.pages import render_form, submit
from app.pagination import keyset_page
from app.services import tenancy, webhooks

PAGE_SIZE = 50
#: The session key under which a new secret waits to be shown, once, on the endpoint's page.
NEW_SECRET = "webhook_secret"


@bp.route("/", methods=["GET", "POST"])
@role_required(Role.WHOLESALER, Role.RETAILER)
def index():
    form = EndpointForm()
    return submit(form, lambda: _keep_secret(*webhooks.register_endpoint(current_user, url=form.url.data,
                                                                         events=form.events.data)),
                  success=lambda endpoint: "Endpoint added. Copy its secret now: it is shown only this once.",
                  redirect_to=lambda endpoint: url_for("integrations.endpoint", endpoint_id=endpoint.id),
                  page=lambda: render_form("integrations/index.html", form, form=form,
                                           endpoints=_endpoints(),
                                           event_types=webhooks.EVENT_TYPES))


@bp.route("/endpoints/<id:endpoint_id>")
@role_required(Role.WHOLESALER, Role.RETAILER)
def endpoint(endpoint_id: int):
    found = tenancy.webhook_endpoint_for(current_user, endpoint_id)
    cursors = QueryForm()
    cursors.validate()
    page = keyset_page(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == found.id), WebhookDelivery.id,
                       size=PAGE_SIZE, after=cursors.value("after"), before=cursors.value("before"))
    secret = session.pop(NEW_SECRET, None)
    shown = secret["secret"] if secret and secret["endpoint_id"] == found.id else None
    return render_template("integrations/endpoint.html", endpoint=found, page=page, secret=shown,
                           event_types=webhooks.EVENT_TYPES, header=webhooks.SIGNATURE_HEADER)


@bp.route("/endpoints/<id:endpoint_id>/rotate", methods=["POST"])
@role_required(Role.WHOLESALER, Role.RETAILER)
def rotate(endpoint_id: int):
    if EmptyForm().validate_on_submit():  # buttons with no form to show again: a refusal is the error page
        _keep_secret(*webhooks.rotate_secret(current_user, endpoint_id))
        flash("New secret made; the old one signs beside it for 24 hours. Copy it now: it is shown only once.",
              "success")
    return redirect(url_for("integrations.endpoint", endpoint_id=endpoint_id))


@bp.route("/endpoints/<id:endpoint_id>/delete", methods=["POST"])
@role_required(Role.WHOLESALER, Role.RETAILER)
def delete(endpoint_id: int):
    if EmptyForm().validate_on_submit():
        webhooks.delete_endpoint(current_user, endpoint_id)
        flash("Endpoint deleted: it is sent nothing more.", "success")
        return redirect(url_for("integrations.index"))
    return redirect(url_for("integrations.endpoint", endpoint_id=endpoint_id))


@bp.route("/deliveries/<id:delivery_id>/redeliver", methods=["POST"])
@role_required(Role.WHOLESALER, Role.RETAILER)
def redeliver(delivery_id: int):
    delivery = tenancy.webhook_delivery_for(current_user, delivery_id)
    if EmptyForm().validate_on_submit():
        webhooks.redeliver(current_user, delivery.id)
        flash(f"Event {delivery.event_id} is being sent again.", "success")
    return redirect(url_for("integrations.endpoint", endpoint_id=delivery.endpoint_id))


def _endpoints() -> list[WebhookEndpoint]:
    query = tenancy.webhook_endpoints_visible_to(current_user).where(WebhookEndpoint.deleted_at.is_(None))
    return list(db.session.scalars(query.order_by(WebhookEndpoint.id)))


def _keep_secret(found, secret: str):
    """Hold the new secret in the signed session for the one page view that shows it."""
    session[NEW_SECRET] = {"endpoint_id": found.id, "secret": secret}
    return found
