"""Open items and allocations, written under the account's row lock by the operations that move its balance.

A charge (an order, a positive adjustment) is paid by credits (payments, negative adjustments): first the orders
a payment names, then the oldest due date first (ties by entry). Credit left over is applied, oldest first, as
soon as a charge is open, so after every write at most one side of an account has anything open. Allocations are
append-only: a cancelled order's are released by rows of the opposite sign.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, select, tuple_

from app.extensions import db
from app.models import Allocation, CreditAccount, ItemSide, LedgerEntry, OpenItem
from app.services.errors import ValidationError

#: Open charges read per round trip while a credit is applied (most credits pay the first few).
_CHARGE_BATCH = 100

_OPEN_CREDITS = select(OpenItem).where(
    OpenItem.credit_account_id == bindparam("account_id"), OpenItem.still_open(ItemSide.CREDIT)).order_by(
    OpenItem.ledger_entry_id)
_OPEN_CHARGES = select(OpenItem).where(
    OpenItem.credit_account_id == bindparam("account_id"), OpenItem.still_open(ItemSide.CHARGE)).order_by(
    OpenItem.due_date, OpenItem.ledger_entry_id)
_OLDEST_OPEN_DUE = select(func.min(OpenItem.due_date)).where(
    OpenItem.credit_account_id == bindparam("account_id"), OpenItem.still_open(ItemSide.CHARGE))
_NET_BY_PAIR = select(Allocation.charge_entry_id, Allocation.credit_entry_id, func.sum(Allocation.amount)).group_by(
    Allocation.charge_entry_id, Allocation.credit_entry_id).having(func.sum(Allocation.amount) > 0)


@dataclass(frozen=True)
class Applied:
    """What a credit pays of one charge."""

    charge_entry_id: int
    #: The charge's order; None when the charge is an adjustment.
    order_id: int | None
    amount: Decimal


def add_charge(account: CreditAccount, entry: LedgerEntry, *, due_date: date, actor_id: int | None) -> None:
    """Open the charge of a positive ``entry`` just written, and pay it from unapplied credit."""
    db.session.add(OpenItem(ledger_entry_id=entry.id, credit_account_id=account.id, side=ItemSide.CHARGE,
                            order_id=entry.order_id, amount=entry.amount, open_amount=entry.amount,
                            due_date=due_date, created_at=entry.created_at))
    settle(account, entry.id, at=entry.created_at, actor_id=actor_id)


def add_credit(account: CreditAccount, entry: LedgerEntry, *, named: Sequence[tuple[int, Decimal | None]] = (),
               actor_id: int | None) -> list[Applied]:
    """Open the credit of a payment or negative adjustment just written and apply it: first to the orders in
    ``named`` as ``(order_id, amount)`` (None: in full, or what is left), then oldest due first. Returns what it
    paid, one row per charge.

    Raises ValidationError (naming the field ``allocations[i]…``) for an order not on this account, cancelled,
    named twice, or named for more than it owes, and when the named amounts exceed the credit.
    """
    credit = OpenItem(ledger_entry_id=entry.id, credit_account_id=account.id, side=ItemSide.CREDIT,
                      amount=abs(entry.amount), open_amount=abs(entry.amount), created_at=entry.created_at)
    db.session.add(credit)
    applied = [_allocate(charge, credit, amount, entry.id, entry.created_at, actor_id)
               for charge, amount in _named_charges(account.id, credit.amount, named)]
    applied += settle(account, entry.id, at=entry.created_at, actor_id=actor_id)
    return _per_charge(applied)


def cancel_charge(account: CreditAccount, reversal: LedgerEntry, *, actor_id: int | None) -> None:
    """Close the charge of the order a REVERSAL just cancelled: release what paid it, then apply that credit to the
    other charges."""
    charge = db.session.get(OpenItem, reversal.reverses_entry_id)
    at = reversal.created_at
    for _, credit_entry_id, amount in db.session.execute(
            _NET_BY_PAIR.where(Allocation.charge_entry_id == charge.ledger_entry_id)):
        _allocate(charge, db.session.get(OpenItem, credit_entry_id), -amount, reversal.id, at, actor_id)
    charge.open_amount, charge.cancelled_at = Decimal("0.00"), at
    settle(account, reversal.id, at=at, actor_id=actor_id)


def settle(account: CreditAccount, made_by_entry_id: int, *, at: datetime, actor_id: int | None) -> list[Applied]:
    """Apply the account's unapplied credits, oldest first, to its open charges, oldest due first, as part of the
    write of entry ``made_by_entry_id``; then note the earliest due date still open."""
    applied = []
    credits = db.session.scalars(_OPEN_CREDITS, {"account_id": account.id}).all()
    charges = _open_charges(account.id) if credits else iter(())
    charge = next(charges, None)
    for credit in credits:
        while credit.open_amount > 0 and charge is not None:
            applied.append(_allocate(charge, credit, min(charge.open_amount, credit.open_amount), made_by_entry_id, at,
                                     actor_id))
            if charge.open_amount == 0:
                charge = next(charges, None)
    account.oldest_open_due = db.session.scalar(_OLDEST_OPEN_DUE, {"account_id": account.id})
    return applied


def paid_when_recorded(credit_entry_id: int) -> list[Applied]:
    """What a credit paid in the write that recorded it, one row per charge, oldest charge first: the answer a
    retried request gets again, whatever was cancelled or applied since."""
    rows = db.session.execute(
        select(Allocation.charge_entry_id, OpenItem.order_id, func.sum(Allocation.amount))
        .join(OpenItem, OpenItem.ledger_entry_id == Allocation.charge_entry_id)
        .where(Allocation.credit_entry_id == credit_entry_id, Allocation.made_by_entry_id == credit_entry_id)
        .group_by(Allocation.charge_entry_id, OpenItem.order_id).order_by(Allocation.charge_entry_id))
    return [Applied(*row) for row in rows]


def _allocate(charge: OpenItem, credit: OpenItem, amount: Decimal, made_by_entry_id: int, at: datetime,
              actor_id: int | None) -> Applied:
    charge.open_amount -= amount
    credit.open_amount -= amount
    db.session.add(Allocation(credit_account_id=charge.credit_account_id, charge_entry_id=charge.ledger_entry_id,
                              credit_entry_id=credit.ledger_entry_id, amount=amount, made_by_entry_id=made_by_entry_id,
                              created_by=actor_id, created_at=at))
    return Applied(charge.ledger_entry_id, charge.order_id, amount)


def _open_charges(account_id: int) -> Iterator[OpenItem]:
    """The account's open charges, oldest due first, read in batches as they are paid."""
    after = None
    while True:
        page = _OPEN_CHARGES if after is None else _OPEN_CHARGES.where(
            tuple_(OpenItem.due_date, OpenItem.ledger_entry_id) > tuple_(*after))
        batch = db.session.scalars(page.limit(_CHARGE_BATCH), {"account_id": account_id}).all()
        yield from batch
        if len(batch) < _CHARGE_BATCH:
            return
        after = (batch[-1].due_date, batch[-1].ledger_entry_id)


def _named_charges(account_id: int, credit_amount: Decimal,
                   named: Sequence[tuple[int, Decimal | None]]) -> list[tuple[OpenItem, Decimal]]:
    """The charges of the orders a payment names, each with what it pays of them, checked against what they owe
    now. An amount of None pays the order in full, or with what is left of the credit."""
    if not named:
        return []
    order_ids = [order_id for order_id, _ in named]
    charges = {item.order_id: item for item in db.session.scalars(select(OpenItem).where(
        OpenItem.credit_account_id == account_id, OpenItem.order_id.in_(order_ids)))}
    errors: dict[str, str] = {}
    reasons: list[str] = []
    chosen: list[tuple[OpenItem, Decimal]] = []
    left = credit_amount
    for i, (order_id, amount) in enumerate(named):
        charge = charges.get(order_id)
        field, why = f"allocations[{i}].order_id", None
        if charge is None:
            why = "not an order on this account"
        elif order_ids.index(order_id) != i:
            why = "given more than once"
        elif charge.cancelled_at is not None:
            why = "order is cancelled"
        elif amount is not None and amount > charge.open_amount:
            field, why = f"allocations[{i}].amount", f"more than the {charge.open_amount:.2f} outstanding"
        if why is not None:
            errors[field] = why
            reasons.append(f"order #{order_id}: {why}")
            continue
        take = min(charge.open_amount, max(left, Decimal(0))) if amount is None else amount
        left -= take
        if take > 0:
            chosen.append((charge, take))
    if not errors and left < 0:
        errors["allocations"] = why = f"more than the {credit_amount:.2f} received"
        reasons.append(f"the amounts named are {why}")
    if errors:
        raise ValidationError(f"These allocations cannot be made: {'; '.join(reasons)}.", field_errors=errors)
    return chosen


def _per_charge(applied: Iterable[Applied]) -> list[Applied]:
    totals: dict[int, Applied] = {}
    for a in applied:
        earlier = totals.get(a.charge_entry_id)
        totals[a.charge_entry_id] = a if earlier is None else Applied(a.charge_entry_id, a.order_id,
                                                                       earlier.amount + a.amount)
    return sorted(totals.values(), key=lambda a: a.charge_entry_id)
