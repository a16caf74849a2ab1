"""Refusals: one class per code, each carrying its HTTP status, a message for people and its extra fields.

Pages and the API map them by class in one place (app/errors.py); views catch classes, never codes.
"""

from datetime import date
from decimal import Decimal


class Refusal(Exception):
    """Base of every answer an operation gives instead of its result; nothing was written when one is raised.

    SystemFailure and DatabaseUnavailable are the exceptions: they also stand for failures the app did not
    decide, such as a connection lost during COMMIT, after which nobody knows if the write landed.
    """

    code = "SYSTEM_ERROR"
    #: The HTTP status of the API's answer (a page answers 422 where this is 400: see app/pages.py).
    status = 500
    default_message = ("The request failed before it was confirmed, so it may or may not have been applied. "
                       "Please check before trying again.")
    #: Seconds a client should wait before trying again; set on the busy answers only.
    retry_after: int | None = None

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)

    def details(self) -> dict:
        """What the API's error document carries besides the code and the message."""
        return {}


class ValidationError(Refusal):
    """Bad input: ``field_errors`` maps each field to what is wrong with it."""

    code = "VALIDATION_ERROR"
    status = 400
    default_message = "Some of the input is not valid."

    def __init__(self, message: str | None = None, *, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.field_errors = field_errors or {}

    def details(self) -> dict:
        return {"field_errors": self.field_errors} if self.field_errors else {}


class NotFound(Refusal):
    """The object does not exist, or is not the actor's to see (never 'forbidden': that would confirm it exists)."""

    code = "NOT_FOUND"
    status = 404
    default_message = "Not found."


class Forbidden(Refusal):
    """The actor's role may not do this at all."""

    code = "FORBIDDEN"
    status = 403
    default_message = "Your role may not do this."


class IdempotencyKeyReused(Refusal):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 409
    default_message = "This idempotency key was already used for a different request."


class OrderShipped(Refusal):
    """A retailer tried to cancel an order whose goods have left: only the wholesaler may reverse it now."""

    code = "ORDER_SHIPPED"
    status = 409
    default_message = "This order has been shipped; only the wholesaler can reverse it now."


class OrderCredited(Refusal):
    """A full cancel of an order that credit notes have already credited in part."""

    code = "ORDER_CREDITED"
    status = 409
    default_message = "This order has credit notes; credit its remaining lines instead."


class OrderCancelled(Refusal):
    code = "ORDER_CANCELLED"
    status = 409
    default_message = "This order was cancelled; there is nothing to ship."


class HoldExpired(Refusal):
    """A capture of a hold that reached its expiry: it holds nothing any more."""

    code = "HOLD_EXPIRED"
    status = 409
    default_message = "This hold has expired; its credit is no longer reserved. Place the order afresh."


class HoldReleased(Refusal):
    code = "HOLD_RELEASED"
    status = 409
    default_message = "This hold was released; its credit is no longer reserved. Place the order afresh."


class HoldCaptured(Refusal):
    """A release of a hold that already became an order: cancel the order instead."""

    code = "HOLD_CAPTURED"
    status = 409
    default_message = "This hold became an order; cancel the order instead."


class LimitRequestOpen(Refusal):
    """A second limit request on a credit line while one waits for its decision."""

    code = "LIMIT_REQUEST_OPEN"
    status = 409
    default_message = "This credit line already has a limit request waiting for a decision."


class LimitRequestClosed(Refusal):
    """A decision on, or a withdrawal of, a limit request that is no longer open."""

    code = "LIMIT_REQUEST_CLOSED"
    status = 409
    default_message = "This limit request has already been decided or withdrawn."

    def __init__(self, message: str | None = None, *, status: str):
        super().__init__(message)
        self.request_status = status

    def details(self) -> dict:
        return {"status": self.request_status}


class CreditRefusal(Refusal):
    """A credit decision said no; carries the credit available at that moment where it is known."""

    status = 400

    def __init__(self, message: str | None = None, *, available_credit: Decimal | None = None):
        super().__init__(message)
        self.available_credit = available_credit

    def details(self) -> dict:
        return {} if self.available_credit is None else {"available_credit": f"{self.available_credit:.2f}"}


class InsufficientCredit(CreditRefusal):
    code = "INSUFFICIENT_CREDIT"
    default_message = "This order is more than the credit available on the account."


class CreditBlocked(CreditRefusal):
    code = "CREDIT_BLOCKED"
    default_message = "This credit account is blocked. Please contact the wholesaler."


class CreditOverdue(CreditRefusal):
    """The account's overdue hold: more than its minimum is past due (and past the grace days)."""

    code = "CREDIT_OVERDUE"
    default_message = "Part of this account's balance is overdue. Pay it to order again."

    def __init__(self, message: str | None = None, *, available_credit: Decimal | None = None,
                 overdue_amount: Decimal, oldest_due_date: date, to_lift: Decimal):
        super().__init__(message, available_credit=available_credit)
        #: What a payment must at least be for orders to go through again.
        self.overdue_amount, self.oldest_due_date, self.to_lift = overdue_amount, oldest_due_date, to_lift

    def details(self) -> dict:
        return super().details() | {"overdue_amount": f"{self.overdue_amount:.2f}",
                                    "oldest_due_date": self.oldest_due_date.isoformat()}


class CreditAccountNotFound(CreditRefusal):
    code = "CREDIT_ACCOUNT_NOT_FOUND"
    default_message = "No credit account is set up between this retailer and wholesaler."


class MaxRetriesExceeded(Refusal):
    code = "MAX_RETRIES_EXCEEDED"
    status = 503
    retry_after = 1
    default_message = "The account is busy with other orders right now. Nothing was changed; please retry."


class DatabaseUnavailable(Refusal):
    """No database connection could be had in time (pool exhausted), or it was lost (server restarting)."""

    code = "DATABASE_UNAVAILABLE"
    status = 503
    retry_after = 1
    default_message = ("The service is busy or restarting, so this request may not have been applied. "
                       "Please check in a moment before trying again.")


class SystemFailure(Refusal):
    """Something the app did not decide went wrong; the request may or may not have been applied."""
