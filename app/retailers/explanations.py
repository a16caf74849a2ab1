"""What a refused order tells the retailer: what happened, and what to do about it."""

from dataclasses import dataclass

from app.models import CreditAccount
from app.services.errors import (
    CreditAccountNotFound,
    CreditBlocked,
    CreditOverdue,
    IdempotencyKeyReused,
    InsufficientCredit,
    MaxRetriesExceeded,
    Refusal,
)


@dataclass(frozen=True)
class Explanation:
    code: str
    title: str
    detail: str
    next_step: str
    #: The page shows the credit available beside it (the order was more than that).
    shows_available_credit: bool = False


#: Shown when an order form came back without its key, so nothing could be ordered with it.
INCOMPLETE_FORM = Explanation("VALIDATION_ERROR", "The form was incomplete", "Nothing was ordered.",
                              "Check the quantities and place the order again.")


def explain(error: Refusal, account: CreditAccount) -> Explanation:
    """The retailer-facing explanation of a refused order, by the kind of refusal."""
    supplier = account.wholesaler.name
    if isinstance(error, InsufficientCredit):
        return Explanation(error.code, "Not enough credit for this order", error.message,
                           "Lower the quantities to fit the available credit, or pay down your balance "
                           f"with {supplier} first.", shows_available_credit=True)
    if isinstance(error, CreditBlocked):
        return Explanation(error.code, "Your credit line is blocked",
                           f"{supplier} has blocked new orders on credit. Nothing was ordered.",
                           f"Please contact {supplier} to have the account unblocked.")
    if isinstance(error, CreditOverdue):
        return Explanation(error.code, "A payment is overdue",
                           f"{error.overdue_amount:,.2f} {account.currency} owed to {supplier} is past its due date "
                           f"(the oldest since {error.oldest_due_date.isoformat()}). Nothing was ordered.",
                           f"Pay at least {error.to_lift:,.2f} {account.currency} to {supplier}: orders go through "
                           "again as soon as the payment is recorded.")
    if isinstance(error, CreditAccountNotFound):
        return Explanation(error.code, "Credit is not set up",
                           f"There is no credit account between you and {supplier}. Nothing was ordered.",
                           f"Ask {supplier} to set up a credit line for you.")
    if isinstance(error, MaxRetriesExceeded):
        return Explanation(error.code, "The account is busy",
                           "Other orders on this credit line were being processed at the same moment. "
                           "Nothing was ordered.",
                           "Please press “Place order” again in a moment.")
    if isinstance(error, IdempotencyKeyReused):
        return Explanation(error.code, "This form was already used",
                           "An order was already placed with this form, with other quantities.",
                           "Check the quantities below and place the order again.")
    return Explanation(error.code, "The order was not placed", error.message,
                       "Correct the quantities below and try again.")
