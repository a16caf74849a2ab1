"""Credit hold endpoints: retailers place and capture holds (idempotently); everyone scoped reads and releases them."""

from flask import request, url_for
from sqlalchemy.orm import selectinload

from app.api import bp, documents
from app.api.auth import ANY_ROLE, allow, api_user
from app.api.bodies import Field, json_body, page_args, query_args, query_choice
from app.api.schema import ApprovalBody, CaptureBody, DeclineBody, EmptyBody, HoldBody
from app.extensions import db
from app.models import CreditHold, HoldStatus, Order, Role
from app.pagination import keyset_page
from app.services import approvals, clock, holds, tenancy
from app.services.holds import CapturedHold


@bp.post("/holds")
@allow(Role.RETAILER)
def place_hold():
    body = json_body(HoldBody)
    placed = holds.place_hold(api_user(), wholesaler_id=body.wholesaler_id, lines=body.pairs,
                              expires_in_seconds=body.expires_in_seconds,
                              idempotency_key=request.headers.get("Idempotency-Key"))
    if placed.repeated:
        return documents.placed_hold(placed), 200
    return documents.placed_hold(placed), 201, {"Location": url_for("api.get_hold", hold_id=placed.hold.id)}


@bp.get("/holds")
@allow(*ANY_ROLE)
def list_holds():
    args = page_args(status=Field(query_choice(*HoldStatus), required=False))
    query = tenancy.holds_visible_to(api_user()).options(selectinload(CreditHold.lines))
    if args["status"]:
        query = query.where(holds.in_status(HoldStatus(args["status"]), clock.now()))
    page = keyset_page(query, CreditHold.id, size=args["limit"], after=args["after"])
    return {"holds": [documents.hold(h) for h in page.items], "next_cursor": page.older}


@bp.get("/holds/<id:hold_id>")
@allow(*ANY_ROLE)
def get_hold(hold_id: int):
    query_args()
    return documents.hold(tenancy.hold_for(api_user(), hold_id))


@bp.post("/holds/<id:hold_id>/capture")
@allow(Role.RETAILER)
def capture_hold(hold_id: int):
    return _ordered(holds.capture_hold(api_user(), hold_id, lines=json_body(CaptureBody).pairs))


@bp.post("/holds/<id:hold_id>/approve")
@allow(Role.RETAILER)
def approve_hold(hold_id: int):
    return _ordered(approvals.approve(api_user(), hold_id, note=json_body(ApprovalBody).note))


@bp.post("/holds/<id:hold_id>/decline")
@allow(Role.RETAILER)
def decline_hold(hold_id: int):
    body = json_body(DeclineBody)
    return documents.hold(approvals.decline(api_user(), hold_id, note=body.note).hold)


@bp.post("/holds/<id:hold_id>/release")
@allow(*ANY_ROLE)
def release_hold(hold_id: int):
    json_body(EmptyBody)
    return documents.hold(holds.release_hold(api_user(), hold_id).hold)


def _ordered(captured: CapturedHold):
    """The order a capture or an approval made: 201, or 200 when it had been made already."""
    order_id = captured.order.order_id
    return (documents.order(db.session.get(Order, order_id)), 200 if captured.repeated else 201,
            {"Location": url_for("api.get_order", order_id=order_id)})
