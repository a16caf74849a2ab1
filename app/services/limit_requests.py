"""Limit requests: a retailer asks for a higher limit on a credit line (for good, or until a day) with a note; its
wholesaler approves it as asked, approves another limit (for good, or until a day), or declines it with a note.

Every step is decided under the account's row lock, so one credit line has at most one open request and a
request is decided once. A permanent approval sets the credit limit as a limit change does; a temporary one is a
temporary increase (app/services/limits.py) that lifts the effective limit to what was approved, until the end of
its last day.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, bindparam, select

from app.extensions import db
from app.models import CreditAccount, LimitRequest, LimitRequestStatus, Role
from app.services import accounts, audit, clock, limits, notifications, tenancy, webhooks
from app.services.actors import Actor, require_role
from app.services.errors import LimitRequestClosed, LimitRequestOpen, NotFound, ValidationError
from app.services.money import amount_text, parse_amount
from app.services.text import free_text
from app.services.transactions import locked_transaction

#: The most requests an account's page shows (a credit line has a few a year).
MAX_LISTED = 50

_OPEN_REQUEST = select(LimitRequest).where(LimitRequest.credit_account_id == bindparam("account_id"),
                                           LimitRequest.status == LimitRequestStatus.OPEN)


@dataclass(frozen=True)
class Decision:
    request: LimitRequest
    account: CreditAccount


def request_limit(actor: Actor, account_id: int, *, requested_limit: object, note: object,
                  ends_on: object | None = None) -> Decision:
    """Ask for ``requested_limit`` on the retailer's own credit line, for good or until the end of ``ends_on``
    (in the wholesaler's time zone), saying why in ``note``: more than the limit it has now.

    Raises Forbidden, NotFound, ValidationError, LimitRequestOpen (one is waiting), MaxRetriesExceeded.
    """
    require_role(actor, Role.RETAILER)
    tenancy.account_for(actor, account_id)
    wanted = parse_amount(requested_limit, field="requested_limit")
    note = free_text(note, field="note")
    _check_day(ends_on)
    actor_id = actor.id

    def decide(account: CreditAccount) -> Decision:
        waiting = db.session.scalars(_OPEN_REQUEST, {"account_id": account.id}).one_or_none()
        if waiting is not None:
            raise LimitRequestOpen(f"Request #{waiting.id} on this credit line is waiting for a decision; withdraw it "
                                   "to ask for something else.")
        if wanted <= account.effective_limit:
            raise ValidationError(f"Ask for more than the limit you have now, {account.effective_limit:,.2f} "
                                  f"{account.currency}.", field_errors={"requested_limit": "not above the limit now"})
        if ends_on is not None:
            limits.check_last_day(ends_on, clock.business_date(account.wholesaler.time_zone), field="ends_on")
        request = LimitRequest(credit_account_id=account.id, retailer_id=account.retailer_id,
                               wholesaler_id=account.wholesaler_id, status=LimitRequestStatus.OPEN,
                               requested_limit=wanted, ends_on=ends_on, note=note, requested_by=actor_id,
                               created_at=clock.now())
        db.session.add(request)
        db.session.flush()
        _audit(request, "limit_request.create", actor_id)
        notifications.limit_requested(account, request)
        return Decision(request, account)

    return locked_transaction("request_limit", decide, account_id=account_id)


def decide_request(actor: Actor, request_id: int, *, approve: object, limit: object | None = None,
                   ends_on: object | None = None, note: object | None = None) -> Decision:
    """The wholesaler's decision (or an admin's). Approving without ``limit`` or ``ends_on`` gives what was asked;
    a ``limit`` alone gives that limit for good; an ``ends_on`` gives the limit (asked, or ``limit``) until the end
    of that day, as a temporary increase. Declining needs a ``note`` and gives nothing.

    Raises Forbidden, NotFound, ValidationError, LimitRequestClosed (decided or withdrawn), MaxRetriesExceeded.
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    account_id, actor_id = _managed(actor, request_id).credit_account_id, actor.id
    if not isinstance(approve, bool):
        raise ValidationError("Say whether the request is approved.", field_errors={"approve": "must be true or false"})
    given = None if limit is None else parse_amount(limit, field="limit")
    _check_day(ends_on)
    note = free_text(note, field="note", required=False)
    if not approve and note is None:
        raise ValidationError("Say why the request is declined: the retailer reads it.",
                              field_errors={"note": "required"})
    if not approve and (given is not None or ends_on is not None):
        raise ValidationError("A declined request gives no limit.",
                              field_errors={"limit" if given is not None else "ends_on": "not with a decline"})

    def decide(account: CreditAccount) -> Decision:
        request = _open(request_id)
        granted = (None, None, None)
        if approve:
            asked_until = request.ends_on if given is None else None
            granted = _grant(account, request, given or request.requested_limit, ends_on or asked_until, note,
                             actor_id)
        request.granted_limit, request.granted_ends_on, request.increase_id = granted
        request.status = LimitRequestStatus.APPROVED if approve else LimitRequestStatus.DECLINED
        request.closed_at, request.closed_by, request.decision_note = clock.now(), actor_id, note
        db.session.flush()
        _audit(request, f"limit_request.{request.status.value.lower()}", actor_id)
        webhooks.emit("limit_request.decided", account, request_data(request, account))
        notifications.limit_request_decided(account, request)
        return Decision(request, account)

    return locked_transaction("decide_limit_request", decide, account_id=account_id)


def withdraw_request(actor: Actor, request_id: int) -> Decision:
    """The retailer takes its open request back. Raises Forbidden, NotFound, LimitRequestClosed."""
    require_role(actor, Role.RETAILER)
    account_id, actor_id = tenancy.limit_request_for(actor, request_id).credit_account_id, actor.id

    def decide(account: CreditAccount) -> Decision:
        request = _open(request_id)
        request.status, request.closed_at, request.closed_by = LimitRequestStatus.WITHDRAWN, clock.now(), actor_id
        db.session.flush()
        _audit(request, "limit_request.withdraw", actor_id)
        return Decision(request, account)

    return locked_transaction("withdraw_limit_request", decide, account_id=account_id)


def requests_query(viewer: Actor, *, account_id: int | None = None, status: LimitRequestStatus | None = None
                   ) -> Select:
    """The limit requests ``viewer`` may see, of one account or one status if given, for keyset pages by id."""
    query = tenancy.limit_requests_visible_to(viewer)
    if account_id is not None:
        query = query.where(LimitRequest.credit_account_id == account_id)
    if status is not None:
        query = query.where(LimitRequest.status == status)
    return query


def requests_of(viewer: Actor, account_id: int) -> list[LimitRequest]:
    """An account's newest requests, newest first, for its pages."""
    return db.session.scalars(requests_query(viewer, account_id=account_id).order_by(LimitRequest.id.desc())
                              .limit(MAX_LISTED)).all()


def open_request(account_id: int) -> LimitRequest | None:
    """The request waiting for a decision on an account, if any (at most one)."""
    return db.session.scalars(_OPEN_REQUEST, {"account_id": account_id}).one_or_none()


def request_data(request: LimitRequest, account: CreditAccount) -> dict:
    """What the ``limit_request.decided`` event says (its parties are added by webhooks.emit)."""
    return {"limit_request_id": request.id, "status": request.status.value,
            "requested_limit": amount_text(request.requested_limit),
            "ends_on": request.ends_on and request.ends_on.isoformat(),
            "granted_limit": request.granted_limit and amount_text(request.granted_limit),
            "granted_ends_on": request.granted_ends_on and request.granted_ends_on.isoformat(),
            "decision_note": request.decision_note, "credit_limit": amount_text(account.credit_limit),
            "effective_limit": amount_text(account.effective_limit), "currency": account.currency}


def _grant(account: CreditAccount, request: LimitRequest, granted: Decimal, until: date | None, note: str | None,
           actor_id: int | None) -> tuple[Decimal, date | None, int | None]:
    """An approval: ``granted`` for good (the credit limit), or until the end of ``until`` (an increase lifting the
    effective limit to it); what it gave, and the increase."""
    if until is None:
        if granted <= account.credit_limit:
            raise ValidationError(f"An approval raises the limit: give more than {account.credit_limit:,.2f} "
                                  f"{account.currency}.", field_errors={"limit": "not above the credit limit"})
        accounts.change_limit(account, granted, actor_id)
        return granted, None, None
    rise = granted - account.effective_limit
    if rise <= 0:
        raise ValidationError(f"An approval raises the limit: give more than the {account.effective_limit:,.2f} "
                              f"{account.currency} it is now.", field_errors={"limit": "not above the limit now"})
    reason = f"Limit request #{request.id}" + (f": {note}" if note else "")
    return granted, until, limits.add_increase(account, rise, until, reason, actor_id, field="limit").id


def _managed(actor: Actor, request_id: int) -> LimitRequest:
    """A request this actor may decide: to its wholesaler, or any for admins."""
    if actor.role == Role.RETAILER:
        raise NotFound("No such limit request.")
    return tenancy.limit_request_for(actor, request_id)


def _open(request_id: int) -> LimitRequest:
    """The request read afresh under its account's lock; LimitRequestClosed unless it is still open."""
    request = db.session.get(LimitRequest, request_id, populate_existing=True)
    if request.status != LimitRequestStatus.OPEN:
        raise LimitRequestClosed(f"This request was {request.status.value.lower()} on {request.closed_at:%d %B %Y}.",
                                 status=request.status.value)
    return request


def _check_day(ends_on: object | None) -> None:
    if ends_on is not None and not isinstance(ends_on, date):
        raise ValidationError("Give the last day as a date.", field_errors={"ends_on": "must be a date"})


def _audit(request: LimitRequest, action: str, actor_id: int | None) -> None:
    audit.record(actor_id=actor_id, action=action, entity_type="credit_account", entity_id=request.credit_account_id,
                 after={"limit_request_id": request.id, "status": request.status.value,
                        "requested_limit": str(request.requested_limit),
                        "granted_limit": request.granted_limit and str(request.granted_limit),
                        "granted_ends_on": request.granted_ends_on and request.granted_ends_on.isoformat()})
