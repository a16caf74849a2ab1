"""A credit line's statement for its retailer: what is open and when it is due, what recent payments paid, the
unapplied credit, the ageing, and what to pay now to keep ordering."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.models import Allocation, CreditAccount, ItemSide, LedgerEntry, OpenItem
from app.services import ageing, clock, receivables

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
