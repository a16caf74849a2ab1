"""What each actor may see and touch. Every tenant query starts here, so another tenant's id is NotFound.

Operations call these before they write; pages and API reads list through them, so no view can show
what its actor may not see.
"""

from sqlalchemy import Select, false, select

from app.extensions import db
from app.models import (
    ApiToken,
    CreditAccount,
    CreditHold,
    LimitIncrease,
    LimitRequest,
    Order,
    Product,
    Role,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.services.actors import Actor, is_system
from app.services.errors import NotFound


def accounts_visible_to(actor: Actor) -> Select:
    """Credit accounts: a retailer's own lines, a wholesaler's own retailers, or all for admins."""
    return _scoped(select(CreditAccount), CreditAccount, actor)


def orders_visible_to(actor: Actor) -> Select:
    """Orders: those a retailer placed, those a wholesaler received, or all for admins."""
    return _scoped(select(Order), Order, actor)


def holds_visible_to(actor: Actor) -> Select:
    """Credit holds: those a retailer placed, those on a wholesaler's accounts, or all for admins."""
    return _scoped(select(CreditHold), CreditHold, actor)


def hold_for(actor: Actor, hold_id: int) -> CreditHold:
    """The hold if this actor may see it (and so release it); NotFound otherwise."""
    return _one(holds_visible_to(actor).where(CreditHold.id == hold_id), "No such credit hold.")


def limit_requests_visible_to(actor: Actor) -> Select:
    """Limit requests: those on a retailer's credit lines, those to a wholesaler, or all for admins."""
    return _scoped(select(LimitRequest), LimitRequest, actor)


def limit_request_for(actor: Actor, request_id: int) -> LimitRequest:
    """The limit request if this actor may see it; NotFound otherwise."""
    return _one(limit_requests_visible_to(actor).where(LimitRequest.id == request_id), "No such limit request.")


def products_visible_to(actor: Actor) -> Select:
    """Products: a wholesaler's own catalogue (inactive too); for retailers the active products of
    wholesalers they have credit with; all for admins."""
    query = select(Product)
    if actor.role == Role.WHOLESALER:
        return query.where(Product.wholesaler_id == actor.wholesaler_id)
    if actor.role == Role.RETAILER:
        suppliers = select(CreditAccount.wholesaler_id).where(CreditAccount.retailer_id == actor.retailer_id)
        return query.where(Product.active, Product.wholesaler_id.in_(suppliers))
    return query


def account_for(actor: Actor, account_id: int) -> CreditAccount:
    """The account if this actor may see it; NotFound otherwise."""
    return _one(accounts_visible_to(actor).where(CreditAccount.id == account_id), "No such credit account.")


def managed_account_for(actor: Actor, account_id: int) -> CreditAccount:
    """An account whose limit, payments and adjustments this actor may change: its wholesaler's, or any for
    admins. Retailers get NotFound."""
    if actor.role == Role.RETAILER:
        raise NotFound("No such credit account.")
    return account_for(actor, account_id)


def managed_increase_for(actor: Actor, increase_id: int) -> LimitIncrease:
    """A temporary limit increase this actor may end: on its wholesaler's accounts, or any for admins."""
    if actor.role == Role.RETAILER:
        raise NotFound("No such limit increase.")
    accounts = accounts_visible_to(actor).with_only_columns(CreditAccount.id)
    return _one(select(LimitIncrease).where(LimitIncrease.id == increase_id,
                                            LimitIncrease.credit_account_id.in_(accounts)), "No such limit increase.")


def order_for(actor: Actor, order_id: int) -> Order:
    """The order if this actor may see it (and so cancel it); NotFound otherwise."""
    return _one(orders_visible_to(actor).where(Order.id == order_id), "No such order.")


def catalogue_product_for(actor: Actor, product_id: int) -> Product:
    """A product this actor may change: one of its wholesaler's own, or any for admins; NotFound otherwise."""
    if actor.role == Role.RETAILER:
        raise NotFound("No such product in your catalogue.")
    return _one(products_visible_to(actor).where(Product.id == product_id), "No such product in your catalogue.")


def user_for(actor: Actor, user_id: int) -> User:
    """A user an admin may manage (any); NotFound for everyone else."""
    if actor.role != Role.ADMIN:
        raise NotFound("No such user.")
    return _one(select(User).where(User.id == user_id), "No such user.")


def token_for(actor: Actor, token_id: int) -> ApiToken:
    """An API token: a user's own (admins' too: tokens are personal), or any for the system; NotFound otherwise."""
    query = select(ApiToken).where(ApiToken.id == token_id)
    if not is_system(actor):
        query = query.where(ApiToken.user_id == actor.id)
    return _one(query, "No such API token.")


def webhook_endpoints_visible_to(actor: Actor) -> Select:
    """Webhook endpoints: those of the actor's own organisation, deleted ones too (admins and the system have
    none: an endpoint belongs to a wholesaler or a retailer)."""
    if actor.role == Role.ADMIN:
        return select(WebhookEndpoint).where(false())
    return _scoped(select(WebhookEndpoint), WebhookEndpoint, actor)


def webhook_endpoint_for(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    return _one(webhook_endpoints_visible_to(actor).where(WebhookEndpoint.id == endpoint_id),
                "No such webhook endpoint.")


def webhook_delivery_for(actor: Actor, delivery_id: int) -> WebhookDelivery:
    """A delivery to one of the actor's organisation's endpoints; NotFound otherwise."""
    endpoints = webhook_endpoints_visible_to(actor).with_only_columns(WebhookEndpoint.id)
    return _one(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                              WebhookDelivery.endpoint_id.in_(endpoints)), "No such delivery.")


def _scoped(query: Select, model, actor: Actor) -> Select:
    """``query`` limited to the rows of the actor's organisation (models with retailer_id and wholesaler_id)."""
    if actor.role == Role.RETAILER:
        return query.where(model.retailer_id == actor.retailer_id)
    if actor.role == Role.WHOLESALER:
        return query.where(model.wholesaler_id == actor.wholesaler_id)
    return query


def _one(query: Select, missing: str):
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(missing)
    return row
