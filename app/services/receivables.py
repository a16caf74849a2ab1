"""What is overdue on a credit account, and whether its overdue hold stops orders: read from the open charges.

An item is overdue when its due date plus the account's grace days is before today (the business date in the
wholesaler's time zone). The hold stops orders while the overdue total is above the account's minimum; it lifts
itself the moment a payment brings the total down to it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import ARRAY, Date, Integer, bindparam, func, select, text

from app.extensions import db
from app.models import CreditAccount, ItemSide, OpenItem, OverduePolicy
from app.services import clock

ZERO = Decimal("0.00")

# Only open charges are read, through their partial index: settled items cost nothing however many there are.
_OVERDUE = select(func.coalesce(func.sum(OpenItem.open_amount), 0), func.min(OpenItem.due_date)).where(
    OpenItem.credit_account_id == bindparam("account_id"), OpenItem.still_open(ItemSide.CHARGE),
    OpenItem.due_date < bindparam("due_before"))
_OVERDUE_BY_ACCOUNT = text("""
    SELECT a.account_id, COALESCE(SUM(i.open_amount), 0), MIN(i.due_date)
    FROM unnest(:account_ids, :due_before) AS a(account_id, due_before)
    JOIN open_items i ON i.credit_account_id = a.account_id AND i.side = 'CHARGE' AND i.open_amount > 0
                     AND i.due_date < a.due_before
    GROUP BY a.account_id
""").bindparams(bindparam("account_ids", type_=ARRAY(Integer)), bindparam("due_before", type_=ARRAY(Date)))


@dataclass(frozen=True)
class Overdue:
    amount: Decimal = ZERO
    oldest_due_date: date | None = None
    #: The policy is "hold" and more than the minimum is overdue: orders are refused.
    on_hold: bool = False
    #: What a payment must at least be to lift the hold (0.00 when there is none).
    to_lift: Decimal = ZERO


def overdue(account: CreditAccount, today: date | None = None) -> Overdue:
    """The account's overdue figures today (by default the wholesaler's business date now)."""
    today = today or clock.business_date(account.wholesaler.time_zone)
    if not _may_be_overdue(account, today):
        return Overdue()
    amount, oldest = db.session.execute(_OVERDUE, {"account_id": account.id,
                                                   "due_before": _due_before(account, today)}).one()
    return _judged(account, amount, oldest)


def holding(account: CreditAccount, today: date) -> Overdue | None:
    """The overdue figures when the account's hold stops an order today, else None (nothing is read while the
    policy is off or no open charge is past due)."""
    if account.overdue_policy != OverduePolicy.HOLD:
        return None
    found = overdue(account, today)
    return found if found.on_hold else None


def overdue_by_account(accounts: Sequence[CreditAccount]) -> dict[int, Overdue]:
    """``overdue`` for many accounts in one query (a page or an API list of them)."""
    today = {a.id: clock.business_date(a.wholesaler.time_zone) for a in accounts}
    owing = [a for a in accounts if _may_be_overdue(a, today[a.id])]
    found = {}
    if owing:
        rows = db.session.execute(_OVERDUE_BY_ACCOUNT, {
            "account_ids": [a.id for a in owing], "due_before": [_due_before(a, today[a.id]) for a in owing]})
        found = {account_id: (amount, oldest) for account_id, amount, oldest in rows}
    return {a.id: _judged(a, *found[a.id]) if a.id in found else Overdue() for a in accounts}


def _may_be_overdue(account: CreditAccount, today: date) -> bool:
    """Whether any open charge is past due plus grace, from the earliest due date the account row keeps."""
    return account.oldest_open_due is not None and account.oldest_open_due < _due_before(account, today)


def _due_before(account: CreditAccount, today: date) -> date:
    """Items due before this date are overdue today."""
    return today - timedelta(days=account.overdue_grace_days)


def _judged(account: CreditAccount, amount: Decimal, oldest: date | None) -> Overdue:
    held = account.overdue_policy == OverduePolicy.HOLD and amount > account.overdue_min_amount
    return Overdue(amount, oldest, held, amount - account.overdue_min_amount if held else ZERO)
