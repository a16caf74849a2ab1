"""Domain errors: one class per code, each with a human message and, where it helps, the available credit."""

from decimal import Decimal


class CreditError(Exception):
    """Base of every refusal the service layer gives; nothing was written when one is raised.

    SYSTEM_ERROR and DATABASE_UNAVAILABLE are the exceptions: they also stand for failures the app
    did not decide, such as a connection lost during COMMIT, after which nobody knows if it landed.
    """

    code = "SYSTEM_ERROR"
    default_message = ("The request failed before it was confirmed, so it may or may not have been applied. "
                       "Please check before trying again.")

    def __init__(self, message: str | None = None, *, available_credit: Decimal | None = None):
        self.message = message or self.default_message
        self.available_credit = available_credit
        super().__init__(self.message)


class InsufficientCredit(CreditError):
    code = "INSUFFICIENT_CREDIT"
    default_message = "This order is more than the credit available on the account."


class CreditBlocked(CreditError):
    code = "CREDIT_BLOCKED"
    default_message = "This credit account is blocked. Please contact the wholesaler."


class CreditAccountNotFound(CreditError):
    code = "CREDIT_ACCOUNT_NOT_FOUND"
    default_message = "No credit account is set up between this retailer and wholesaler."


class MaxRetriesExceeded(CreditError):
    code = "MAX_RETRIES_EXCEEDED"
    default_message = "The account is busy with other orders right now. Nothing was changed; please retry."


class DatabaseUnavailable(CreditError):
    """No database connection could be had in time (pool exhausted), or it was lost (server restarting)."""

    code = "DATABASE_UNAVAILABLE"
    default_message = ("The service is busy or restarting, so this request may not have been applied. "
                       "Please check in a moment before trying again.")


class CreditSystemError(CreditError):
    code = "SYSTEM_ERROR"


class IdempotencyKeyReused(CreditError):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_message = "This idempotency key was already used for a different request."


class NotFound(CreditError):
    """The object does not exist (or is not the caller's to see)."""

    code = "NOT_FOUND"
    default_message = "Not found."


class ValidationError(CreditError):
    """Bad input: ``field_errors`` maps each field to what is wrong with it."""

    code = "VALIDATION_ERROR"
    default_message = "Some of the input is not valid."

    def __init__(self, message: str | None = None, *, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.field_errors = field_errors or {}
