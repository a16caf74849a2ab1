"""Notifications: what happened to a credit account, mailed to the people of both sides who want to know.

Each is written in the transaction of the change it tells of (app/services/mail.py), with that change's figures,
to every active user of the side it concerns who has not switched its kind off.
"""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.formatting import money
from app.models import CreditAccount, LedgerEntry, LimitRequest, LimitRequestStatus, OverduePolicy, Role, User
from app.services import mail, receivables, webhooks
from app.services.actors import Actor, require_role
from app.services.allocation import Applied
from app.services.errors import Forbidden, ValidationError
from app.services.money import amount_text
from app.services.transactions import transaction

#: Every kind a user can switch off, and what the settings page calls it.
KINDS = {
    "credit_use": "Credit use reaches 80 % and 100 % of the limit",
    "account_status": "A credit account is blocked or unblocked",
    "payment": "Payment receipts",
    "credit_limit": "A credit limit is changed",
    "overdue_hold": "A credit account is put on overdue hold, and when the hold is lifted",
    "statement": "The monthly statement of account, as a PDF (when the wholesaler mails them)",
    "limit_request": "A higher limit is asked for, and when the request is decided",
}
#: The kinds each role is sent, in the settings page's order.
KINDS_FOR = {Role.RETAILER: ("credit_use", "account_status", "overdue_hold", "payment", "credit_limit", "limit_request",
                             "statement"),
             Role.WHOLESALER: ("credit_use", "account_status", "overdue_hold", "limit_request"),
             Role.ADMIN: ()}
#: Lines of credit use that are told of once per crossing, highest first.
USE_LINES = (100, 80)


def set_muted(actor: Actor, *, muted: Iterable[str]) -> User:
    """The actor's own choice of the kinds it is not sent. Raises Forbidden (the system, which is no user),
    ValidationError (an unknown kind)."""
    require_role(actor, Role.RETAILER, Role.WHOLESALER, Role.ADMIN)
    if actor.id is None:
        raise Forbidden("Only a user has mail settings.")
    kinds = sorted(set(muted))
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValidationError(f"Unknown notification: {', '.join(unknown)}.", field_errors={"muted": "unknown kind"})
    with transaction():
        user = db.session.get(User, actor.id)
        user.muted_notifications = kinds
    return user


def credit_use_changed(account: CreditAccount) -> None:
    """After any change of balance or limit, under the account's lock: when use has risen past 80 % or 100 %
    since its users were last told, tell both sides once; falling below a line re-arms it."""
    line = next((line for line in USE_LINES if account.utilisation >= line), 0)
    if line == account.usage_alert_percent:
        return
    rising = line > account.usage_alert_percent
    account.usage_alert_percent = line
    if rising:
        subject = (f"Credit limit reached: {account.retailer.name} with {account.wholesaler.name}" if line == 100
                   else f"{line} % of the credit limit in use: {account.retailer.name} with {account.wholesaler.name}")
        _tell(account, "credit_use", subject, "credit_use", (Role.RETAILER, Role.WHOLESALER), line=line)


def account_blocked(account: CreditAccount) -> None:
    _tell(account, "account_status", f"Credit account blocked: {account.retailer.name} with "
          f"{account.wholesaler.name}", "account_blocked", (Role.RETAILER, Role.WHOLESALER))


def account_unblocked(account: CreditAccount) -> None:
    _tell(account, "account_status", f"Credit account open again: {account.retailer.name} with "
          f"{account.wholesaler.name}", "account_unblocked", (Role.RETAILER, Role.WHOLESALER))


def payment_recorded(account: CreditAccount, entry: LedgerEntry, applied: Iterable[Applied]) -> None:
    """A receipt to the retailer: the amount and reference, the orders it paid, and the balance after it."""
    rows = [(f"Order #{part.order_id}" if part.order_id else "Adjustment", money(part.amount, account.currency))
            for part in applied]
    _tell(account, "payment", f"Payment received by {account.wholesaler.name}: {entry.memo}", "payment_receipt",
          (Role.RETAILER,), entry=entry, applied=bool(rows), applied_rows=rows)


def credit_limit_changed(account: CreditAccount, before: Decimal) -> None:
    _tell(account, "credit_limit", f"New credit limit with {account.wholesaler.name}", "credit_limit_changed",
          (Role.RETAILER,), before=before)


def limit_requested(account: CreditAccount, request: LimitRequest) -> None:
    _tell(account, "limit_request", f"{account.retailer.name} asks for a credit limit of "
          f"{money(request.requested_limit, account.currency)}", "limit_requested", (Role.WHOLESALER,), request=request)


def limit_request_decided(account: CreditAccount, request: LimitRequest) -> None:
    said = "approved" if request.status == LimitRequestStatus.APPROVED else "declined"
    _tell(account, "limit_request", f"Your limit request to {account.wholesaler.name} is {said}",
          "limit_request_decided", (Role.RETAILER,), request=request)


def limit_changed(account: CreditAccount, limit_before: Decimal, effective_before: Decimal) -> None:
    """Under the account's lock, after its credit limit or a temporary increase changed: the retailer is mailed a
    new credit limit, both sides' systems get ``account.limit_changed``, and credit use is told of as it now is."""
    if (account.credit_limit, account.effective_limit) == (limit_before, effective_before):
        return
    if account.credit_limit != limit_before:
        credit_limit_changed(account, limit_before)
    webhooks.emit("account.limit_changed", account, webhooks.account_data(account) | {
        "previous_limit": amount_text(limit_before), "previous_effective_limit": amount_text(effective_before)})
    credit_use_changed(account)


def overdue_hold_changed(account: CreditAccount, today: date) -> None:
    """Under the account's lock: when the overdue hold has begun or ended since its users were last told, tell
    both sides, by mail and webhook. Time alone puts an account on hold (the dunning job finds it); a payment lifts
    it at once."""
    if account.overdue_policy != OverduePolicy.HOLD and not account.overdue_hold_notified:
        return
    held = receivables.holding(account, today)
    if (held is not None) == account.overdue_hold_notified:
        return
    account.overdue_hold_notified = held is not None
    name = f"{account.retailer.name} with {account.wholesaler.name}"
    if held is not None:
        _tell(account, "overdue_hold", f"On overdue hold: {name}", "overdue_hold", (Role.RETAILER, Role.WHOLESALER),
              overdue=held)
        webhooks.emit("account.overdue_hold", account, webhooks.account_data(account) | {
            "overdue_amount": amount_text(held.amount), "oldest_due_date": held.oldest_due_date.isoformat(),
            "to_lift": amount_text(held.to_lift)})
    else:
        _tell(account, "overdue_hold", f"Overdue hold lifted: {name}", "overdue_released",
              (Role.RETAILER, Role.WHOLESALER))
        webhooks.emit("account.overdue_released", account, webhooks.account_data(account))


def _tell(account: CreditAccount, kind: str, subject: str, template: str, roles: tuple[Role, ...], **context) -> None:
    for user in recipients(account, kind, roles):
        link = (mail.absolute_url("retailers.dashboard") if user.role == Role.RETAILER
                else mail.absolute_url("wholesalers.account", account_id=account.id))
        mail.queue_mail(kind=kind, to=user, subject=subject, template=template, account=account, link=link,
                        settings_link=mail.absolute_url("auth.notification_settings"), **context)


def recipients(account: CreditAccount, kind: str, roles: tuple[Role, ...]) -> list[User]:
    """The active users of the account's sides in ``roles`` who have not switched ``kind`` off."""
    sides = {Role.RETAILER: User.retailer_id == account.retailer_id,
             Role.WHOLESALER: User.wholesaler_id == account.wholesaler_id}
    return list(db.session.scalars(
        select(User).where(db.or_(*(sides[role] for role in roles)), User.active,
                           ~User.muted_notifications.contains([kind])).order_by(User.id)))
