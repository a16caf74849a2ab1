"""Buyer approvals: a retailer's approver gives a buyer a per-order limit; a larger order from that buyer waits for an
approver as a hold of its credit (purpose APPROVAL, three days), which an approver orders (a capture: CONFIRMED) or
declines with a note (a release); its expiry declines it.

An approver is a retailer user without an order limit: one who could place the order itself. Every organisation
keeps at least one. The order limit is compared with the order's total in its account's currency, and the credit is
decided under the account's row lock as for any hold; a buyer without a limit orders as before.
"""

from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models import CreditHold, HoldPurpose, HoldStatus, Role, User
from app.services import audit, clock, holds, orders, tenancy
from app.services.actors import Actor, order_limit, require_role
from app.services.errors import Forbidden, NotFound, ValidationError
from app.services.holds import CapturedHold, HoldResult
from app.services.money import amount_text, parse_amount
from app.services.orders import PlacedOrder
from app.services.text import free_text
from app.services.transactions import transaction

#: How long an order waits for an approver before its credit is released (the hold's expiry).
APPROVAL_SECONDS = 3 * 24 * 3600


def place(actor: Actor, *, wholesaler_id: int, lines, idempotency_key: str | None = None
          ) -> PlacedOrder | HoldResult:
    """An order, as ``orders.place_order`` places it; from a buyer whose order limit it exceeds, a hold of its
    credit waiting for an approver instead (a retried key answers what the first request made)."""
    limit = order_limit(actor)
    if limit is not None:
        priced, _ = orders.priced_lines(wholesaler_id, orders.validated_quantities(lines))
        if orders.lines_total(priced) > limit:
            return holds.place_hold(actor, wholesaler_id=wholesaler_id, lines=lines, purpose=HoldPurpose.APPROVAL,
                                    expires_in_seconds=APPROVAL_SECONDS, idempotency_key=idempotency_key)
    return orders.place_order(actor, wholesaler_id=wholesaler_id, lines=lines, idempotency_key=idempotency_key)


def approve(actor: Actor, hold_id: int, *, note: object = None) -> CapturedHold:
    """An approver orders what waits for approval, at the held prices. Raises Forbidden, NotFound, HoldExpired (its
    three days ran out: declined), HoldReleased (declined or withdrawn), CreditBlocked, MaxRetriesExceeded."""
    _waiting(actor, hold_id)
    return holds.capture_hold(actor, hold_id, note=free_text(note, field="note", required=False))


def decline(actor: Actor, hold_id: int, *, note: object) -> HoldResult:
    """An approver declines what waits for approval, saying why: its credit is free again. Raises Forbidden,
    NotFound, ValidationError, HoldCaptured, MaxRetriesExceeded."""
    _waiting(actor, hold_id)
    if not (note or "").strip():
        raise ValidationError("Say why the order is declined: the buyer reads it.", field_errors={"note": "required"})
    return holds.release_hold(actor, hold_id, note=free_text(note, field="note"))


def set_order_limit(actor: Actor, user_id: int, *, limit: object) -> User:
    """An approver (or an admin) gives a colleague a per-order limit (``limit`` None or blank: none, which makes them
    an approver too). Refused when it would leave the organisation without an active approver.

    Raises Forbidden, NotFound, ValidationError.
    """
    require_role(actor, Role.RETAILER, Role.ADMIN)
    if actor.role == Role.RETAILER and order_limit(actor) is not None:
        raise Forbidden("Only an approver (a user without an order limit) sets order limits.")
    amount = None if limit is None or limit == "" else parse_amount(limit, field="order_limit", allow_zero=True)
    with transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None or user.role != Role.RETAILER or (
                actor.role == Role.RETAILER and user.retailer_id != actor.retailer_id):
            raise NotFound("No such colleague.")
        # The organisation's users locked in id order: two approvers limiting each other take turns here.
        colleagues = db.session.scalars(select(User).where(User.retailer_id == user.retailer_id)
                                        .order_by(User.id).with_for_update()).all()
        if amount is not None and not any(c.active and c.order_limit is None for c in colleagues if c.id != user.id):
            raise ValidationError("Someone has to approve larger orders: keep at least one colleague without a limit.",
                                  field_errors={"order_limit": "last approver"})
        before = user.order_limit
        user.order_limit = amount
        audit.record(actor_id=actor.id, action="user.set_order_limit", entity_type="user", entity_id=user.id,
                     before={"order_limit": _text(before)}, after={"order_limit": _text(amount)})
    return user


def waiting_count(actor: Actor) -> int:
    """How many orders wait for this approver's organisation (0 for anyone who is no approver)."""
    if actor.role != Role.RETAILER or order_limit(actor) is not None:
        return 0
    return db.session.scalar(select(func.count()).select_from(CreditHold).where(
        CreditHold.retailer_id == actor.retailer_id, CreditHold.purpose == HoldPurpose.APPROVAL,
        holds.in_status(HoldStatus.ACTIVE, clock.now())))


def is_approver(actor: Actor) -> bool:
    return actor.role == Role.RETAILER and order_limit(actor) is None


def _waiting(actor: Actor, hold_id: int) -> None:
    """Only an approver decides, and only an order waiting for approval."""
    if not is_approver(actor):
        raise Forbidden("Only an approver (a colleague without an order limit) approves or declines orders.")
    hold = tenancy.hold_for(actor, hold_id)
    if hold.purpose != HoldPurpose.APPROVAL:
        raise NotFound("No such order waiting for approval.")


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else amount_text(amount)
