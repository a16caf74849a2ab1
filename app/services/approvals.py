"""Buyer approvals: a retailer's approver gives a buyer a per-order limit; a larger order from that buyer waits for an
approver as a hold of its credit (purpose APPROVAL, three days), which an approver orders (a capture: CONFIRMED) or
declines with a note (a release); its expiry declines it.

An approver is a retailer user without an order limit: one who could place the order itself. Every organisation
keeps at least one. The order limit is compared with the order's total in its account's currency, and the credit is
decided under the account's row lock as for any hold; a buyer without a limit orders as before.
"""

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models import CreditHold, HoldPurpose, HoldStatus, Role, User
from app.services import audit, clock, holds, idempotency, orders, tenancy
from app.services.actors import Actor, order_limit, require_role
from app.services.errors import Forbidden, NotFound, ValidationError
from app.services.holds import CapturedHold, HoldResult
from app.services.money import amount_text, parse_amount
from app.services.orders import PlacedOrder
from app.services.text import free_text
from app.services.transactions import transaction

#: How long an order waits for an approver before its credit is released (the hold's expiry).
APPROVAL_SECONDS = 3 * 24 * 3600


def place(actor: Actor, *, wholesaler_id: int, lines: Iterable[tuple[int, int]], idempotency_key: str | None = None
          ) -> PlacedOrder | HoldResult:
    """An order, as ``orders.place_order`` places it; from a buyer whose order limit its total exceeds, a hold of its
    credit waiting for an approver instead, held at the very prices compared with the limit. A retried key answers
    what the first request made, an order or a hold, whatever the limit or the prices are now."""
    limit = order_limit(actor)
    if limit is None:
        return orders.place_order(actor, wholesaler_id=wholesaler_id, lines=lines, idempotency_key=idempotency_key)
    lines = list(lines)
    key = idempotency.validated_key(idempotency_key)
    waiting = key is not None and holds.find_by_key(actor.retailer_id, key) is not None
    priced = None if waiting else orders.price_order(actor, wholesaler_id=wholesaler_id, lines=lines,
                                                     idempotency_key=key)
    if isinstance(priced, PlacedOrder):  # the key placed an order already
        return priced
    if priced is not None and priced.total <= limit:
        return orders.place_priced(priced)
    return holds.place_hold(actor, wholesaler_id=wholesaler_id, lines=lines, purpose=HoldPurpose.APPROVAL,
                            expires_in_seconds=APPROVAL_SECONDS, idempotency_key=key, priced=priced)


def approve(actor: Actor, hold_id: int, *, note: object = None) -> CapturedHold:
    """An approver orders what waits for approval, at the held prices. Raises Forbidden, NotFound, HoldExpired (its
    three days ran out: declined), HoldReleased (declined or withdrawn), CreditBlocked, MaxRetriesExceeded."""
    _waiting(actor, hold_id)
    return holds.capture_hold(actor, hold_id, note=free_text(note, field="note", required=False))


def decline(actor: Actor, hold_id: int, *, note: object) -> HoldResult:
    """An approver declines what waits for approval, saying why: its credit is free again. Raises Forbidden,
    NotFound, ValidationError, HoldCaptured, MaxRetriesExceeded."""
    _waiting(actor, hold_id)
    if not (note or "").strip():  # said as the page says it
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
    actor_id = actor.id
    with transaction():
        found = db.session.get(User, user_id)
        if found is None or found.role != Role.RETAILER or (
                actor.role == Role.RETAILER and found.retailer_id != actor.retailer_id):
            raise NotFound("No such colleague.")
        # The whole organisation locked in id order and read afresh: two approvers limiting each other take turns,
        # and each sees what the other wrote.
        colleagues = {c.id: c for c in db.session.scalars(
            select(User).where(User.retailer_id == found.retailer_id).order_by(User.id).with_for_update()
            .execution_options(populate_existing=True))}
        if actor.role == Role.RETAILER and colleagues[actor_id].order_limit is not None:
            raise Forbidden("Only an approver (a user without an order limit) sets order limits.")
        if amount is not None and not any(_approves(c) for c in colleagues.values() if c.id != user_id):
            raise ValidationError("Someone has to approve larger orders: keep at least one colleague without a limit.",
                                  field_errors={"order_limit": "last approver"})
        user = colleagues[user_id]
        before = user.order_limit
        user.order_limit = amount
        audit.record(actor_id=actor_id, action="user.set_order_limit", entity_type="user", entity_id=user.id,
                     before={"order_limit": _text(before)}, after={"order_limit": _text(amount)})
    return user


def waiting_count(viewer: Actor) -> int:
    """How many orders wait for this approver's organisation (0 for anyone who is no approver)."""
    if not is_approver(viewer):
        return 0
    return db.session.scalar(select(func.count()).select_from(CreditHold).where(
        CreditHold.retailer_id == viewer.retailer_id, CreditHold.purpose == HoldPurpose.APPROVAL,
        holds.in_status(HoldStatus.ACTIVE, clock.now())))


def _approves(user: User) -> bool:
    """An approver who can act: in (not only invited), active, and without a limit."""
    return user.active and not user.invited and user.order_limit is None


def is_approver(user: Actor) -> bool:
    return user.role == Role.RETAILER and order_limit(user) is None


def _waiting(actor: Actor, hold_id: int) -> None:
    """Only an approver decides, and only an order waiting for approval."""
    if not is_approver(actor):
        raise Forbidden("Only an approver (a colleague without an order limit) approves or declines orders.")
    hold = tenancy.hold_for(actor, hold_id)
    if hold.purpose != HoldPurpose.APPROVAL:
        raise NotFound("No such order waiting for approval.")


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else amount_text(amount)
