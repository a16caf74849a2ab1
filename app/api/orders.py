"""Order endpoints: retailers place orders (idempotently); wholesalers ship them and credit them back by line;
everyone scoped reads and cancels them."""

from flask import request, url_for
from sqlalchemy.orm import selectinload

from app.api import bp, documents
from app.api.accounts import entry_response
from app.api.auth import ANY_ROLE, allow, api_user
from app.api.bodies import json_body, page_args, query_args
from app.api.schema import CancelBody, CreditNoteBody, EmptyBody, OrderBody
from app.extensions import db
from app.models import Order, OrderStatus, Role
from app.pagination import keyset_page
from app.services import accounts, approvals, orders, tenancy
from app.services.holds import HoldResult

#: Orders per page unless ``limit`` says otherwise, and the most one page may hold.


@bp.post("/orders")
@allow(Role.RETAILER)
def place_order():
    body = json_body(OrderBody)
    placed = approvals.place(api_user(), wholesaler_id=body.wholesaler_id, lines=body.pairs,
                             idempotency_key=request.headers.get("Idempotency-Key"))
    if isinstance(placed, HoldResult):  # above the buyer's order limit: waiting for an approver
        return (documents.placed_hold(placed), 200 if placed.repeated else 202,
                {"Location": url_for("api.get_hold", hold_id=placed.hold.id)})
    if placed.replayed:  # the first request's order, as it stands now
        status = db.session.get(Order, placed.order_id).status.value
        return documents.placed_order(placed, status), 200
    location = url_for("api.get_order", order_id=placed.order_id)
    return documents.placed_order(placed, OrderStatus.CONFIRMED.value), 201, {"Location": location}


@bp.get("/orders")
@allow(*ANY_ROLE)
def list_orders():
    args = page_args()
    # Newest first by id, keyset-paginated like the ledger (the retailer's (retailer_id, id DESC) index).
    query = tenancy.orders_visible_to(api_user()).options(selectinload(Order.lines), selectinload(Order.item))
    page = keyset_page(query, Order.id, size=args["limit"], after=args["after"])
    return {"orders": [documents.order(o) for o in page.items], "next_cursor": page.older}


@bp.get("/orders/<id:order_id>")
@allow(*ANY_ROLE)
def get_order(order_id: int):
    query_args()  # takes none: an unknown parameter is refused, not ignored
    return documents.order(tenancy.order_for(api_user(), order_id))


@bp.post("/orders/<id:order_id>/ship")
@allow(Role.WHOLESALER, Role.ADMIN)
def ship_order(order_id: int):
    json_body(EmptyBody)
    shipped = orders.ship_order(api_user(), order_id)
    return documents.order(db.session.get(Order, shipped.order_id))


@bp.post("/orders/<id:order_id>/credit-notes")
@allow(Role.WHOLESALER, Role.ADMIN)
def credit_order(order_id: int):
    body = json_body(CreditNoteBody)
    return entry_response(accounts.credit_order(api_user(), order_id, lines=body.pairs, reason=body.reason,
                                                idempotency_key=request.headers.get("Idempotency-Key")))


@bp.post("/orders/<id:order_id>/cancel")
@allow(*ANY_ROLE)
def cancel_order(order_id: int):
    reason = json_body(CancelBody).reason
    return documents.cancelled_order(orders.cancel_order(api_user(), order_id, reason=reason))
