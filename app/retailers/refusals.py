"""What a refused order tells the retailer: what happened, and what to do about it."""

from dataclasses import dataclass

from app.models import CreditAccount
from app.services.errors import CreditError


@dataclass(frozen=True)
class Refusal:
    code: str
    title: str
    detail: str
    next_step: str


def explain(error: CreditError, account: CreditAccount) -> Refusal:
    """The retailer-facing explanation of a refused order, per the service's error code."""
    supplier = account.wholesaler.name
    if error.code == "INSUFFICIENT_CREDIT":
        return Refusal(error.code, "Not enough credit for this order", error.message,
                       "Lower the quantities to fit the available credit, or pay down your balance "
                       f"with {supplier} first.")
    if error.code == "CREDIT_BLOCKED":
        return Refusal(error.code, "Your credit line is blocked",
                       f"{supplier} has blocked new orders on credit. Nothing was ordered.",
                       f"Please contact {supplier} to have the account unblocked.")
    if error.code == "CREDIT_ACCOUNT_NOT_FOUND":
        return Refusal(error.code, "Credit is not set up",
                       f"There is no credit account between you and {supplier}. Nothing was ordered.",
                       f"Ask {supplier} to set up a credit line for you.")
    if error.code == "MAX_RETRIES_EXCEEDED":
        return Refusal(error.code, "The account is busy",
                       "Other orders on this credit line were being processed at the same moment. "
                       "Nothing was ordered.",
                       "Please press “Place order” again in a moment.")
    if error.code == "IDEMPOTENCY_KEY_REUSED":
        return Refusal(error.code, "This form was already used",
                       "An order was already placed with this form, with other quantities.",
                       "Check the quantities below and place the order again.")
    return Refusal(error.code, "The order was not placed", error.message,
                   "Correct the quantities below and try again.")
