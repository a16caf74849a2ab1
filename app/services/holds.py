"""Credit holds: credit reserved for a while at today's prices (a cart, a quote), decided under the account's row
lock exactly as an order is, and then captured into an order, released, or left to expire.

A live hold counts against the limit (available = limit − balance − live holds) and never against the balance.
Expiry is exact at decision time: from ``expires_at`` on a hold counts for nothing, whether or not anything has
written its expiry yet (CreditAccount.held_amount_now); the expiry job then records it as EXPIRED for the history.
Every hold write takes the account's row lock, so a capture, a release and an expiry of one hold take turns.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import insert

from app import jobs
from app.extensions import db
from app.models import AccountStatus, CreditAccount, CreditHold, CreditHoldLine, HoldPurpose, HoldStatus, Role
from app.services import clock, idempotency, orders, tenancy, webhooks
from app.services.actors import Actor, order_limit, require_role
from app.services.errors import (
    CreditBlocked,
    Forbidden,
    HoldCaptured,
    HoldExpired,
    HoldReleased,
    IdempotencyKeyReused,
    ValidationError,
)
from app.services.money import MAX_AMOUNT, amount_text
from app.services.orders import PlacedOrder
from app.services.transactions import each_locked, locked_transaction

#: How long a hold may be placed for: one second to thirty days.
MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS = 1, 30 * 24 * 3600

_HOLD_BY_KEY = select(CreditHold).where(CreditHold.retailer_id == bindparam("retailer_id"),
                                        CreditHold.idempotency_key == bindparam("key"))
# What the account keeps of its ACTIVE holds (app/models.py CreditAccount.held_amount), read through their index.
_HELD = select(func.coalesce(func.sum(CreditHold.amount), 0), func.min(CreditHold.expires_at)).where(
    CreditHold.credit_account_id == bindparam("account_id"), CreditHold.status == HoldStatus.ACTIVE)
_EXPIRED_ACCOUNTS = select(CreditHold.credit_account_id).where(
    CreditHold.status == HoldStatus.ACTIVE, CreditHold.expires_at <= bindparam("now")).distinct()


@dataclass(frozen=True)
class HoldResult:
    hold: CreditHold
    #: Credit left on the account right after the operation.
    available_credit: Decimal
    #: True when nothing was written: a retried placement, or a release of a hold no longer holding anything.
    repeated: bool = False


@dataclass(frozen=True)
class CapturedHold:
    hold: CreditHold
    order: PlacedOrder
    #: True when the hold had already been captured: the same order, nothing written.
    repeated: bool = False


def place_hold(actor: Actor, *, wholesaler_id: int, lines: Iterable[tuple[int, int]], expires_in_seconds: object,
               idempotency_key: str | None = None, purpose: HoldPurpose = HoldPurpose.CART,
               priced: orders.PricedOrder | None = None) -> HoldResult:
    """A retailer reserves credit with a wholesaler for ``lines`` of ``(product_id, quantity)`` at today's catalogue
    prices, for 1 second to 30 days. Refused exactly as an order of the same lines would be. A repeated
    ``idempotency_key`` returns the first hold and writes nothing. ``purpose`` APPROVAL makes it a buyer's order
    waiting for an approver (app/services/approvals.py), which passes the order as it ``priced`` it.

    Raises Forbidden, ValidationError, CreditAccountNotFound, CreditBlocked, CreditOverdue, InsufficientCredit,
    IdempotencyKeyReused, MaxRetriesExceeded.
    """
    require_role(actor, Role.RETAILER)
    retailer_id, placed_by = actor.retailer_id, actor.id
    seconds = expiry_seconds(expires_in_seconds)
    quantities = priced.quantities if priced else orders.validated_quantities(lines)
    key = idempotency.validated_key(idempotency_key)
    fingerprint = idempotency.fingerprint("hold" if purpose == HoldPurpose.CART else "approval", wholesaler_id,
                                          sorted(quantities.items()), seconds)
    if key is not None and (earlier := find_by_key(retailer_id, key)) is not None:
        return _replay(earlier, fingerprint)
    lines_priced, time_zone = (priced.priced, priced.time_zone) if priced else orders.priced_lines(wholesaler_id,
                                                                                                  quantities)
    total = orders.lines_total(lines_priced)

    def decide(account: CreditAccount) -> HoldResult:
        placed_at = clock.now()
        if (refusal := orders.credit_refusal(account, total, clock.business_date(time_zone, placed_at))) is not None:
            raise refusal
        expires_at = placed_at + timedelta(seconds=seconds)
        hold_id = db.session.scalar(insert(CreditHold).values(
            credit_account_id=account.id, retailer_id=retailer_id, wholesaler_id=wholesaler_id,
            status=HoldStatus.ACTIVE, purpose=purpose, amount=total, currency=account.currency, expires_at=expires_at,
            idempotency_key=key, request_fingerprint=fingerprint, placed_by=placed_by, created_at=placed_at,
        ).on_conflict_do_nothing(constraint="uq_credit_holds_retailer_idempotency_key").returning(CreditHold.id))
        if hold_id is None:  # a twin with this key committed since the look-up above (through another account)
            return _replay(find_by_key(retailer_id, key), fingerprint)
        db.session.add_all(CreditHoldLine(hold_id=hold_id, product_id=product_id, quantity=quantity, unit_price=price)
                           for product_id, quantity, price in lines_priced)
        account.held_amount += total
        account.held_until = min(filter(None, (account.held_until, expires_at)))
        hold = db.session.get(CreditHold, hold_id)
        _emit("hold.placed", account, hold)
        return HoldResult(hold, account.available_credit)

    return locked_transaction("place_hold", decide, retailer_id=retailer_id, wholesaler_id=wholesaler_id)


def capture_hold(actor: Actor, hold_id: int, *, lines: Iterable[tuple[int, int]] | None = None,
                 note: str | None = None) -> CapturedHold:
    """The retailer turns its hold into a CONFIRMED order at the held prices: all its lines, or ``lines`` of
    ``(product_id, quantity)`` with fewer or smaller ones (never more than held); the rest is released in the same
    transaction. The credit was reserved, so only a block stops it. Capturing a captured hold returns the same order.
    A buyer with an order limit orders no more than it, and an order waiting for approval is an approver's to
    capture (app/services/approvals.py, which passes its ``note``).

    Raises Forbidden, NotFound, ValidationError, HoldExpired, HoldReleased, CreditBlocked, MaxRetriesExceeded.
    """
    require_role(actor, Role.RETAILER)
    found = tenancy.hold_for(actor, hold_id)
    account_id, actor_id, limit = found.credit_account_id, actor.id, order_limit(actor)
    if limit is not None and found.purpose == HoldPurpose.APPROVAL:
        raise Forbidden("This order waits for an approver: one of your colleagues without an order limit.")
    wanted = orders.validated_quantities(lines) if lines is not None else None

    def decide(account: CreditAccount) -> CapturedHold:
        hold, now = _locked_hold(hold_id), clock.now()
        if hold.status == HoldStatus.CAPTURED:
            return CapturedHold(hold, orders.placed_order(hold.order_id), repeated=True)
        if hold.status == HoldStatus.RELEASED:
            raise HoldReleased()
        if hold.status_at(now) == HoldStatus.EXPIRED:
            raise HoldExpired(f"This hold expired at {hold.expires_at:%H:%M:%S UTC on %d %B %Y}; its credit is no "
                              "longer reserved. Place the order afresh.")
        if account.status == AccountStatus.BLOCKED:
            raise CreditBlocked(available_credit=account.available_credit)
        priced = _captured_lines(hold, wanted)
        total = orders.lines_total(priced)
        if limit is not None and total > limit:
            raise Forbidden(f"This order is above your order limit of {limit:,.2f} {hold.currency}: an approver "
                            "can order it from this hold.")
        if account.balance + total > MAX_AMOUNT:  # the reservation fits the limit, but corrections may have not
            raise ValidationError("This order would take the balance beyond what an account can record.",
                                  field_errors={"lines": "balance out of range"})
        _recount_held(account, without=[hold])  # first, written: the order's figures count the hold no more
        _close([hold], HoldStatus.CAPTURED, at=now, by=actor_id)
        hold.decision_note = note
        db.session.flush()
        # An approved order is its buyer's; a cart is ordered by whoever captures it.
        placed_by = hold.placed_by if hold.purpose == HoldPurpose.APPROVAL else actor_id
        placed = orders.record_order(account, priced, total, placed_by=placed_by, placed_at=now,
                                     today=clock.business_date(account.wholesaler.time_zone, now))
        hold.order_id = placed.order_id
        _emit("hold.captured", account, hold)
        return CapturedHold(hold, placed)

    return locked_transaction("capture_hold", decide, account_id=account_id)


def release_hold(actor: Actor, hold_id: int, *, note: str | None = None) -> HoldResult:
    """Void a hold (the retailer that placed it, its wholesaler, admins): its credit is free again. Releasing it
    again, or once it has expired, answers the hold as it is and writes nothing new. ``note`` is an approver's
    reason for declining an order waiting for approval.

    An order waiting for approval is withdrawn so by its buyer alone; its approvers decline it, with a ``note``.

    Raises Forbidden, NotFound, HoldCaptured, MaxRetriesExceeded.
    """
    found = tenancy.hold_for(actor, hold_id)
    account_id, actor_id = found.credit_account_id, actor.id
    if (found.purpose == HoldPurpose.APPROVAL and actor.role == Role.RETAILER and note is None
            and actor_id != found.placed_by):
        raise Forbidden("Only its buyer withdraws an order waiting for approval; an approver declines it, saying why.")

    def decide(account: CreditAccount) -> HoldResult:
        hold, now = _locked_hold(hold_id), clock.now()
        if hold.status == HoldStatus.CAPTURED:
            raise HoldCaptured(f"This hold became order #{hold.order_id}; cancel the order instead.")
        if hold.status == HoldStatus.RELEASED:
            return HoldResult(hold, account.available_credit, repeated=True)
        if hold.status_at(now) == HoldStatus.EXPIRED:
            _expire(account, [hold])
            return HoldResult(hold, account.available_credit, repeated=True)
        _recount_held(account, without=[hold])
        _close([hold], HoldStatus.RELEASED, at=now, by=actor_id)
        hold.decision_note = note
        _emit("hold.released", account, hold)
        return HoldResult(hold, account.available_credit)

    return locked_transaction("release_hold", decide, account_id=account_id)


def expire_holds() -> int:
    """Record as EXPIRED every ACTIVE hold whose expiry has come, one account at a time under its row lock; how many.
    Only the history needs this: an expired hold counts for nothing from its expiry on, written or not."""
    def decide(account: CreditAccount) -> int:
        expired = db.session.scalars(select(CreditHold).where(
            CreditHold.credit_account_id == account.id, CreditHold.status == HoldStatus.ACTIVE,
            CreditHold.expires_at <= clock.now()).execution_options(populate_existing=True)).all()
        _expire(account, expired)
        return len(expired)

    return each_locked("expire_holds", _EXPIRED_ACCOUNTS, {"now": clock.now()}, decide)


@jobs.queue.periodic(cron="* * * * *")
@jobs.queue.task(name="expire_holds", queueing_lock="expire_holds", pass_context=False)
@jobs.in_app_context
def expire_holds_job(timestamp: int) -> None:
    expire_holds()


def in_status(status: HoldStatus, moment: datetime) -> ColumnElement[bool]:
    """Holds whose status is ``status`` as it stands at ``moment`` (CreditHold.status_at, in SQL)."""
    if status == HoldStatus.ACTIVE:
        return CreditHold.live(moment)
    if status == HoldStatus.EXPIRED:
        return or_(CreditHold.status == HoldStatus.EXPIRED,
                   and_(CreditHold.status == HoldStatus.ACTIVE, CreditHold.expires_at <= moment))
    return CreditHold.status == status


def expiry_seconds(value: object) -> int:
    """A hold's lifetime: whole seconds from 1 to 30 days; ValidationError otherwise."""
    if (isinstance(value, bool) or not isinstance(value, int)
            or not MIN_EXPIRY_SECONDS <= value <= MAX_EXPIRY_SECONDS):
        raise ValidationError(f"A hold lasts a whole number of seconds from {MIN_EXPIRY_SECONDS} to "
                              f"{MAX_EXPIRY_SECONDS:,} (30 days).",
                              field_errors={"expires_in_seconds": f"{MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS}"})
    return value


def _captured_lines(hold: CreditHold, wanted: dict[int, int] | None) -> list[tuple[int, int, Decimal]]:
    """(product, quantity, held price) to order: all the hold's lines, or those ``wanted`` within what was held."""
    held = {line.product_id: line for line in hold.lines}
    if wanted is None:
        return [(line.product_id, line.quantity, line.unit_price) for line in hold.lines]
    if unheld := sorted(set(wanted) - set(held)):
        raise ValidationError("A capture can only order what the hold holds.",
                              field_errors={"lines": f"not in this hold: {unheld}"})
    if over := sorted(p for p, quantity in wanted.items() if quantity > held[p].quantity):
        raise ValidationError("A capture cannot order more than was held.",
                              field_errors={"lines": f"more than held of: {over}"})
    return [(p, quantity, held[p].unit_price) for p, quantity in sorted(wanted.items())]


def _close(closing: Iterable[CreditHold], status: HoldStatus, *, at: datetime | None, by: int | None) -> None:
    """Mark holds captured, released or expired (``at`` None: at the moment each expired)."""
    for hold in closing:
        hold.status, hold.closed_at, hold.closed_by = status, at or hold.expires_at, by


def _expire(account: CreditAccount, expired: list[CreditHold]) -> None:
    """Write the expiry of holds past it: closed at the moment they expired, whenever this runs."""
    if expired:
        _recount_held(account, without=expired)
        _close(expired, HoldStatus.EXPIRED, at=None, by=None)
        for hold in expired:
            _emit("hold.expired", account, hold)


def _recount_held(account: CreditAccount, *, without: list[CreditHold]) -> None:
    """What the account keeps of its ACTIVE holds once ``without`` close: counted from the rows, not by
    subtraction, so the earliest expiry stays exact. Both figures change in one UPDATE (a CHECK ties them)."""
    account.held_amount, account.held_until = db.session.execute(
        _HELD.where(CreditHold.id.not_in([hold.id for hold in without])), {"account_id": account.id}).one()


def _locked_hold(hold_id: int) -> CreditHold:
    """The hold as it stands now that its account is locked (every write to a hold takes that lock)."""
    return db.session.scalars(select(CreditHold).where(CreditHold.id == hold_id)
                              .execution_options(populate_existing=True)).one()


def _emit(event_type: str, account: CreditAccount, hold: CreditHold) -> None:
    webhooks.emit(event_type, account, {
        "hold_id": hold.id, "status": hold.status.value, "purpose": hold.purpose.value,
        "amount": amount_text(hold.amount),
        "currency": hold.currency, "expires_at": clock.utc_text(hold.expires_at), "order_id": hold.order_id,
        "available_credit": amount_text(account.available_credit)})


def find_by_key(retailer_id: int, key: str) -> CreditHold | None:
    """The retailer's hold placed with ``key``, if any."""
    return db.session.scalars(_HOLD_BY_KEY, {"retailer_id": retailer_id, "key": key}).one_or_none()


def _replay(hold: CreditHold, fingerprint: str) -> HoldResult:
    if hold.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused("This idempotency key was already used for a different hold.")
    account = db.session.get(CreditAccount, hold.credit_account_id)
    return HoldResult(hold, account.available_credit, repeated=True)
