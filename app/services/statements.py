"""A credit line's statements: what is open today (what is due when, what recent payments paid, the unapplied
credit, the ageing, what to pay now to keep ordering), and the statement of account for a period (the opening
balance, every entry with due dates and what each payment paid, the closing balance, the unapplied credit and the
ageing as of the period's last day)."""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Allocation, CreditAccount, EntryType, ItemSide, LedgerEntry, OpenItem
from app.services import ageing, clock, receivables
from app.services.errors import ValidationError

#: Payments the statement lists, newest first.
RECENT_PAYMENTS = 20


@dataclass(frozen=True)
class OpenCharge:
    entry_id: int
    order_id: int | None
    memo: str | None
    charged_on: date
    due_date: date
    amount: Decimal
    outstanding: Decimal
    #: Days past due today; 0 or less when not yet due.
    days_late: int


@dataclass(frozen=True)
class Payment:
    entry_id: int
    received_on: date
    reference: str | None
    amount: Decimal
    #: (order id, or None for an adjustment's charge; amount) it pays now, oldest charge first.
    paid: list[tuple[int | None, Decimal]]
    unapplied: Decimal


@dataclass(frozen=True)
class Statement:
    today: date
    charges: list[OpenCharge]
    payments: list[Payment]
    unapplied_credit: Decimal
    ageing: ageing.Ageing
    overdue: receivables.Overdue


def statement(account: CreditAccount) -> Statement:
    """The account's statement as of today in its wholesaler's time zone (the caller checked the actor may see it)."""
    time_zone = account.wholesaler.time_zone
    today = clock.business_date(time_zone)
    rows = db.session.execute(
        select(OpenItem, LedgerEntry.memo).join(LedgerEntry, LedgerEntry.id == OpenItem.ledger_entry_id)
        .where(OpenItem.credit_account_id == account.id, OpenItem.still_open(ItemSide.CHARGE))
        .order_by(OpenItem.due_date, OpenItem.ledger_entry_id)).all()
    charges = [OpenCharge(item.ledger_entry_id, item.order_id, memo, clock.business_date(time_zone, item.created_at),
                          item.due_date, item.amount, item.open_amount, (today - item.due_date).days)
               for item, memo in rows]
    return Statement(today, charges, _recent_payments(account.id, time_zone), account.unapplied_credit,
                     ageing.account_ageing(account.id, today), receivables.overdue(account, today))


def _recent_payments(account_id: int, time_zone: str) -> list[Payment]:
    credits = db.session.execute(
        select(OpenItem, LedgerEntry.memo).join(LedgerEntry, LedgerEntry.id == OpenItem.ledger_entry_id)
        .where(OpenItem.credit_account_id == account_id, OpenItem.side == ItemSide.CREDIT)
        .order_by(OpenItem.ledger_entry_id.desc()).limit(RECENT_PAYMENTS)).all()
    paid: dict[int, list] = {item.ledger_entry_id: [] for item, _ in credits}
    if paid:
        for credit_id, order_id, amount in db.session.execute(
                select(Allocation.credit_entry_id, OpenItem.order_id, func.sum(Allocation.amount))
                .join(OpenItem, OpenItem.ledger_entry_id == Allocation.charge_entry_id)
                .where(Allocation.credit_entry_id.in_(paid))
                .group_by(Allocation.credit_entry_id, Allocation.charge_entry_id, OpenItem.order_id)
                .having(func.sum(Allocation.amount) > 0).order_by(Allocation.charge_entry_id)):
            paid[credit_id].append((order_id, amount))
    return [Payment(item.ledger_entry_id, clock.business_date(time_zone, item.created_at), memo, item.amount,
                    paid[item.ledger_entry_id], item.open_amount) for item, memo in credits]


# --- The statement of account for a period -----------------------------------------------------------------------

#: The longest period one statement covers.
MAX_PERIOD_DAYS = 366
ZERO = ageing.ZERO


@dataclass(frozen=True)
class Line:
    """One ledger entry of the period."""

    entry_id: int
    on: date
    type: EntryType
    order_id: int | None
    memo: str | None
    #: A charge's due date (orders and positive adjustments); None for the rest.
    due_date: date | None
    #: The change to the balance: positive raises what is owed.
    amount: Decimal
    balance_after: Decimal
    #: For a payment or other credit: (order id, or None for an adjustment's charge; amount) it had paid by the
    #: period's end, oldest charge first.
    paid: tuple[tuple[int | None, Decimal], ...] = ()

    @property
    def description(self) -> str:
        order = f"order #{self.order_id}"
        return {EntryType.DEBIT: f"Order #{self.order_id}", EntryType.CREDIT: f"Payment {self.memo or ''}".strip(),
                EntryType.ADJUSTMENT: f"Adjustment: {self.memo}", EntryType.REVERSAL: f"Cancelled {order}",
                EntryType.CREDIT_NOTE: f"Credit note, {order}" + (f": {self.memo}" if self.memo else "")}[self.type]


@dataclass(frozen=True)
class PeriodStatement:
    account: CreditAccount
    start: date
    end: date
    opening_balance: Decimal
    lines: list[Line]
    closing_balance: Decimal
    #: Credit not yet applied to any charge at the period's end (the closing balance is ageing.total less it).
    unapplied_credit: Decimal
    #: What was owed at the period's end, by days past due.
    ageing: ageing.Ageing

    @property
    def charged(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount > 0), ZERO)

    @property
    def credited(self) -> Decimal:
        return sum((-line.amount for line in self.lines if line.amount < 0), ZERO)


def period(start: object = None, end: object = None, *, time_zone: str) -> tuple[date, date]:
    """The period a statement covers, from two dates (``date`` or YYYY-MM-DD text; either may be left out): by
    default the month so far, in ``time_zone``. Raises ValidationError for a date that is not one, an end before
    the start or after today, or more than MAX_PERIOD_DAYS days."""
    today = clock.business_date(time_zone)
    first, last = _day(start, "from"), _day(end, "to")
    last = last or today
    first = first or last.replace(day=1)
    if last < first:
        raise ValidationError("The period ends before it starts.", field_errors={"to": "before from"})
    if last > today:
        raise ValidationError("A statement cannot cover days still to come.", field_errors={"to": "after today"})
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise ValidationError(f"A statement covers at most {MAX_PERIOD_DAYS} days.",
                              field_errors={"from": "period too long"})
    return first, last


def previous_month(today: date) -> tuple[date, date]:
    """The calendar month before the one ``today`` is in, as its first and last day."""
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def statement_of_account(account: CreditAccount, start: date, end: date) -> PeriodStatement:
    """The account's statement for ``start`` to ``end`` inclusive, days in its wholesaler's time zone (the caller
    checked the actor may see it, and the period with ``period``)."""
    time_zone = account.wholesaler.time_zone
    opens, closes = clock.start_of_day(start, time_zone), clock.start_of_day(end + timedelta(days=1), time_zone)
    params = {"account_id": account.id, "opens": opens, "closes": closes}
    opening = db.session.scalar(_BALANCE_BEFORE, params)
    rows = db.session.execute(_ENTRIES, params).all()
    paid: dict[int, list] = {}
    for credit_id, order_id, amount in db.session.execute(_PAID_BY, params):
        paid.setdefault(credit_id, []).append((order_id, amount))
    lines = [Line(row.id, clock.business_date(time_zone, row.created_at), EntryType(row.type), row.order_id, row.memo,
                  row.due_date, EntryType(row.type).signed(row.amount), row.balance_after,
                  tuple(paid.get(row.id, ()))) for row in rows]
    opening = ZERO if opening is None else opening
    closing = lines[-1].balance_after if lines else opening
    return PeriodStatement(account, start, end, opening, lines, closing,
                           db.session.scalar(_UNAPPLIED_AT, params), ageing.account_ageing(account.id, end))


def _day(value: object, field: str) -> date | None:
    if value is None or value == "" or isinstance(value, date):
        return value or None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError("Give dates that exist, as YYYY-MM-DD.", field_errors={field: "not a date"})


_BALANCE_BEFORE = text("""
    SELECT balance_after FROM ledger_entries WHERE credit_account_id = :account_id AND created_at < :opens
    ORDER BY id DESC LIMIT 1""")
_ENTRIES = text("""
    SELECT e.id, e.type, e.amount, e.balance_after, e.order_id, e.memo, e.created_at, i.due_date
    FROM ledger_entries e LEFT JOIN open_items i ON i.ledger_entry_id = e.id AND i.side = 'CHARGE'
    WHERE e.credit_account_id = :account_id AND e.created_at >= :opens AND e.created_at < :closes
    ORDER BY e.id""")
# What each credit of the period had paid by its end, per charge (allocations net of those a cancellation released).
_PAID_BY = text("""
    SELECT a.credit_entry_id, c.order_id, SUM(a.amount)
    FROM allocations a JOIN ledger_entries e ON e.id = a.credit_entry_id
    JOIN open_items c ON c.ledger_entry_id = a.charge_entry_id
    WHERE a.credit_account_id = :account_id AND e.created_at >= :opens AND e.created_at < :closes
          AND a.created_at < :closes
    GROUP BY a.credit_entry_id, a.charge_entry_id, c.order_id HAVING SUM(a.amount) > 0
    ORDER BY a.credit_entry_id, a.charge_entry_id""")
# Credits written by the period's end, less what had been allocated of them by then.
_UNAPPLIED_AT = text("""
    SELECT COALESCE((SELECT SUM(amount) FROM open_items WHERE credit_account_id = :account_id AND side = 'CREDIT'
                     AND created_at < :closes), 0)
         - COALESCE((SELECT SUM(amount) FROM allocations WHERE credit_account_id = :account_id
                     AND created_at < :closes), 0)""")
