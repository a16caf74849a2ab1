"""Credit accounts: opening, limits, blocking, payments and adjustments; audited, under the row lock."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    AccountStatus,
    CreditAccount,
    CreditNoteLine,
    EntryType,
    LedgerEntry,
    Order,
    OrderLine,
    OrderStatus,
    OverduePolicy,
    Retailer,
    Role,
    Wholesaler,
)
from app.services import allocation, audit, clock, notifications, webhooks
from app.services.actors import Actor, require_role
from app.services.errors import IdempotencyKeyReused, OrderCancelled, ValidationError
from app.services.idempotency import fingerprint as request_fingerprint
from app.services.idempotency import validated_key
from app.services.money import MAX_AMOUNT, amount_text, parse_amount
from app.services.tenancy import account_for, managed_account_for, order_for
from app.services.text import free_text
from app.services.transactions import locked_transaction, transaction

_ENTRY_BY_KEY = select(LedgerEntry).where(LedgerEntry.credit_account_id == bindparam("account_id"),
                                          LedgerEntry.idempotency_key == bindparam("key"))
# From the order's lines (indexed by order): the ledger has no index on order_id for every type.
_CREDITED_BY_LINE = select(CreditNoteLine.order_line_id, func.sum(CreditNoteLine.quantity)).join(
    OrderLine, OrderLine.id == CreditNoteLine.order_line_id).where(
    OrderLine.order_id == bindparam("order_id")).group_by(CreditNoteLine.order_line_id)


@dataclass(frozen=True)
class PostedEntry:
    """A payment or adjustment as the ledger holds it, and whether this call wrote it."""

    id: int
    credit_account_id: int
    type: EntryType
    amount: Decimal
    balance_after: Decimal
    memo: str | None
    created_at: datetime
    order_id: int | None = None
    reverses_entry_id: int | None = None
    #: What a payment or negative adjustment paid when it was recorded, one row per charge.
    allocations: tuple[allocation.Applied, ...] = ()
    #: True when an earlier request with the same idempotency key had recorded it: nothing was written this time.
    replayed: bool = False


def open_account(actor: Actor, *, retailer_id: int, wholesaler_id: int, credit_limit: object,
                 currency: str | None = None) -> CreditAccount:
    """Open the credit account of a retailer–wholesaler pair (admins). Raises Forbidden, ValidationError."""
    require_role(actor, Role.ADMIN)
    limit = parse_amount(credit_limit, field="credit_limit", allow_zero=True)
    with transaction():
        retailer = db.session.get(Retailer, retailer_id)
        wholesaler = db.session.get(Wholesaler, wholesaler_id)
        if retailer is None or wholesaler is None:
            field = "retailer_id" if retailer is None else "wholesaler_id"
            raise ValidationError("Choose an existing retailer and wholesaler.",
                                  field_errors={field: "not found"})
        currency = (currency or wholesaler.currency).strip().upper()
        if currency != wholesaler.currency:
            raise ValidationError(f"{wholesaler.name} trades in {wholesaler.currency}.",
                                  field_errors={"currency": f"must be {wholesaler.currency}"})
        account = CreditAccount(retailer_id=retailer_id, wholesaler_id=wholesaler_id, credit_limit=limit,
                                currency=currency, balance=Decimal("0"), status=AccountStatus.ACTIVE,
                                payment_terms_days=wholesaler.default_payment_terms_days,
                                overdue_policy=OverduePolicy.HOLD, overdue_grace_days=0,
                                overdue_min_amount=Decimal("0"), created_at=clock.now())
        taken = ValidationError(f"{retailer.name} already has a credit account with {wholesaler.name}.",
                                field_errors={"retailer_id": "account exists"})
        db.session.add(account)
        try:
            db.session.flush()
        except IntegrityError:
            raise taken from None
        audit.record(actor_id=actor.id, action="credit_account.open", entity_type="credit_account",
                     entity_id=account.id, after=_snapshot(account))
    return account


def update_account(actor: Actor, account_id: int, *, credit_limit: object | None = None,
                   payment_terms_days: object | None = None, overdue_policy: object | None = None,
                   overdue_grace_days: object | None = None, overdue_min_amount: object | None = None
                   ) -> CreditAccount:
    """Change any of the limit, the payment terms and the overdue hold (policy, grace days, minimum) in one
    transaction (the account's wholesaler, or admins).

    The limit may go below the balance, which then stops new orders; new terms apply to later orders only; the
    overdue hold applies from the next order. Each kind of change is audited on its own (the chart reads the
    limit's history from its events).
    Raises Forbidden, NotFound, ValidationError (nothing to change, or a bad value), MaxRetriesExceeded.
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    managed_account_for(actor, account_id)
    given = {"credit_limit": (credit_limit, lambda v: parse_amount(v, field="credit_limit", allow_zero=True)),
             "payment_terms_days": (payment_terms_days, clock.payment_terms),
             "overdue_policy": (overdue_policy, _overdue_policy),
             "overdue_grace_days": (overdue_grace_days, clock.grace_days),
             "overdue_min_amount": (overdue_min_amount,
                                    lambda v: parse_amount(v, field="overdue_min_amount", allow_zero=True))}
    values = {column: parse(value) for column, (value, parse) in given.items() if value is not None}
    if not values:
        raise ValidationError("Give a new credit limit, payment terms or overdue hold.",
                              field_errors={"credit_limit": "required"})
    changes = {action: {c: values[c] for c in columns if c in values} for action, columns in _AUDITED_CHANGES.items()}
    actor_id = actor.id  # read before the lock: a retry's rollback would reload a signed-in user under it

    def decide(account: CreditAccount) -> CreditAccount:
        limit_before, effective_before = account.credit_limit, account.effective_limit
        for action, columns in changes.items():
            if any(getattr(account, column) != value for column, value in columns.items()):  # else: nothing to audit
                before = _snapshot(account)
                for column, value in columns.items():
                    setattr(account, column, value)
                audit.record(actor_id=actor_id, action=action, entity_type="credit_account", entity_id=account.id,
                             before=before, after=_snapshot(account))
        if account.overdue_hold_notified:  # a hold switched off or eased lifts at once, like a payment
            notifications.overdue_hold_changed(account, clock.business_date(account.wholesaler.time_zone))
        notifications.limit_changed(account, limit_before, effective_before)
        return account

    return locked_transaction("update_account", decide, account_id=account_id)


def change_limit(account: CreditAccount, limit: Decimal, actor_id: int | None) -> None:
    """Under the account's row lock: its new credit limit, audited as update_account audits one (the chart reads
    the limit's history from those events), and told to both sides."""
    limit_before, effective_before, before = account.credit_limit, account.effective_limit, _snapshot(account)
    account.credit_limit = limit
    audit.record(actor_id=actor_id, action="credit_account.set_limit", entity_type="credit_account",
                 entity_id=account.id, before=before, after=_snapshot(account))
    notifications.limit_changed(account, limit_before, effective_before)


#: Each audit action of update_account and the columns it covers.
_AUDITED_CHANGES = {"credit_account.set_limit": ("credit_limit",),
                    "credit_account.set_terms": ("payment_terms_days",),
                    "credit_account.set_overdue_hold": ("overdue_policy", "overdue_grace_days", "overdue_min_amount")}


def _overdue_policy(value: object) -> OverduePolicy:
    if value not in tuple(OverduePolicy):
        raise ValidationError('The overdue policy is "off" or "hold".',
                              field_errors={"overdue_policy": '"off" or "hold"'})
    return OverduePolicy(value)


def block_account(actor: Actor, account_id: int, *, reason: str) -> CreditAccount:
    """Stop new orders on the account (admins); payments and cancellations still go through.
    Raises Forbidden, NotFound, ValidationError, MaxRetriesExceeded."""
    require_role(actor, Role.ADMIN)
    account_for(actor, account_id)
    reason = free_text(reason, field="reason")

    def change(account: CreditAccount) -> None:
        newly = account.status != AccountStatus.BLOCKED  # a new reason for a blocked account is no news to its users
        account.status, account.blocked_reason = AccountStatus.BLOCKED, reason
        if newly:
            notifications.account_blocked(account)
            webhooks.emit("account.blocked", account, webhooks.account_data(account) | {"reason": reason})

    return _audited_change(actor, "block_account", "credit_account.block", account_id, change)


def unblock_account(actor: Actor, account_id: int) -> CreditAccount:
    """Allow new orders again (admins). Raises Forbidden, NotFound, MaxRetriesExceeded."""
    require_role(actor, Role.ADMIN)
    account_for(actor, account_id)

    def change(account: CreditAccount) -> None:
        newly = account.status != AccountStatus.ACTIVE
        account.status, account.blocked_reason = AccountStatus.ACTIVE, None
        if newly:
            notifications.account_unblocked(account)
            webhooks.emit("account.unblocked", account, webhooks.account_data(account))

    return _audited_change(actor, "unblock_account", "credit_account.unblock", account_id, change)


def record_payment(actor: Actor, account_id: int, *, amount: object, reference: str,
                   idempotency_key: str | None = None,
                   allocations: Iterable[tuple[int, object]] = ()) -> PostedEntry:
    """A payment received (the account's wholesaler, or admins): a CREDIT entry lowers the balance. Allowed
    on blocked accounts.

    It pays first the orders named in ``allocations`` as ``(order_id, amount)`` (the remittance advice; an amount
    of None pays the order in full, or with what is left of the payment), then
    the oldest due date first; what is left is unapplied credit, which pays later charges as they come. Paying
    more than is owed leaves a negative balance: credit in the retailer's favour. A repeated
    ``idempotency_key`` with the same amount, reference and allocations returns the first entry and writes
    nothing.

    Raises Forbidden, NotFound, ValidationError (also for an allocation to an order that is not this account's,
    is cancelled, or owes less), IdempotencyKeyReused, MaxRetriesExceeded.
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    managed_account_for(actor, account_id)
    value = parse_amount(amount)
    reference = free_text(reference, field="reference")
    named = _named_allocations(allocations)
    return _post_entry(actor, "record_payment", account_id, EntryType.CREDIT, value, reference, idempotency_key,
                       named=named)


def post_adjustment(actor: Actor, account_id: int, *, amount: object, reason: str,
                    idempotency_key: str | None = None) -> PostedEntry:
    """A signed correction (the account's wholesaler, or admins): positive raises the balance, negative lowers
    it. Audited.

    A repeated ``idempotency_key`` with the same amount and reason returns the first entry and writes
    nothing (no second audit event either).

    Raises Forbidden, NotFound, ValidationError, IdempotencyKeyReused, MaxRetriesExceeded.
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    managed_account_for(actor, account_id)
    value = parse_amount(amount, positive=False)
    reason = free_text(reason, field="reason")
    return _post_entry(actor, "post_adjustment", account_id, EntryType.ADJUSTMENT, value, reason, idempotency_key,
                       audited=True)


def credit_order(actor: Actor, order_id: int, *, lines: Iterable[tuple[int, int]], reason: str,
                 idempotency_key: str | None = None) -> PostedEntry:
    """A credit note (the order's wholesaler, or admins): ``(product_id, quantity)`` of an order's lines credited
    back at the prices ordered, never more of a line than was ordered and not yet credited. A CREDIT_NOTE entry
    lowers the balance and pays the order's outstanding amount first; what the order had paid already becomes
    credit that pays the account's other charges. An order with credit notes is no longer cancelled in full.

    A repeated ``idempotency_key`` with the same lines and reason returns the first entry and writes nothing.

    Raises Forbidden, NotFound, ValidationError, OrderCancelled, IdempotencyKeyReused, MaxRetriesExceeded.
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    order = order_for(actor, order_id)
    reason = free_text(reason, field="reason")
    ordered = {line.product_id: line for line in order.lines}  # lines and their prices never change
    wanted = _credited_lines(lines, ordered)
    amount = sum((ordered[product_id].unit_price * quantity for product_id, quantity in wanted), Decimal("0.00"))

    def write_lines(entry: LedgerEntry) -> None:  # under the lock, before the credit is applied
        status = db.session.scalar(select(Order.status).where(Order.id == order_id))
        if status == OrderStatus.CANCELLED:
            raise OrderCancelled(f"Order #{order_id} was cancelled; there is nothing left to credit.")
        credited = credited_quantities(order_id)
        errors = {}
        for i, (product_id, quantity) in enumerate(wanted):
            line = ordered[product_id]
            left = line.quantity - credited.get(line.id, 0)
            if quantity > left:
                errors[f"lines[{i}].quantity"] = f"only {left} left to credit" if left else "already credited"
            db.session.add(CreditNoteLine(ledger_entry_id=entry.id, order_line_id=line.id, quantity=quantity,
                                          amount=line.unit_price * quantity))
        if errors:
            raise ValidationError("A credit note cannot credit more than was ordered and not yet credited.",
                                  field_errors=errors)

    return _post_entry(actor, "credit_order", order.credit_account_id, EntryType.CREDIT_NOTE, amount, reason,
                       idempotency_key, named=[(order_id, None)], order_id=order_id, with_entry=write_lines,
                       request=(tuple(wanted),))


def credited_quantities(order_id: int) -> dict[int, int]:
    """Order line id → how many of it credit notes have credited."""
    return dict(db.session.execute(_CREDITED_BY_LINE, {"order_id": order_id}).all())


def _credited_lines(lines: Iterable[tuple[int, int]], ordered: dict) -> list[tuple[int, int]]:
    """``(product_id, quantity)`` pairs checked against the order's lines; each product once."""
    wanted, errors = [], {}
    for i, (product_id, quantity) in enumerate(lines):
        if product_id not in ordered:
            errors[f"lines[{i}].product_id"] = "not a line of this order"
        elif product_id in dict(wanted):
            errors[f"lines[{i}].product_id"] = "given more than once"
        elif isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            errors[f"lines[{i}].quantity"] = "must be a whole number of at least 1"
        else:
            wanted.append((product_id, quantity))
    if errors or not wanted:
        raise ValidationError("Name the order's lines to credit, each with a quantity of at least 1.",
                              field_errors=errors or {"lines": "no lines"})
    return wanted


def _named_allocations(allocations: Iterable[tuple[int, object]]) -> list[tuple[int, Decimal | None]]:
    """``(order_id, amount)`` pairs checked for shape (an amount of None pays the order in full); the locked
    transaction checks them against the orders."""
    named = []
    for i, (order_id, amount) in enumerate(allocations):
        if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
            raise ValidationError("Each allocation names an order.",
                                  field_errors={f"allocations[{i}].order_id": "unknown order"})
        named.append((order_id, None if amount is None else parse_amount(amount, field=f"allocations[{i}].amount")))
    return named


def _audited_change(actor: Actor, operation: str, action: str, account_id: int,
                    change: Callable[[CreditAccount], None]) -> CreditAccount:
    """Apply ``change`` to the locked account and audit the state before and after."""
    actor_id = actor.id  # read before the lock: a retry's rollback would reload a signed-in user under it

    def decide(account: CreditAccount) -> CreditAccount:
        before = _snapshot(account)
        change(account)
        audit.record(actor_id=actor_id, action=action, entity_type="credit_account", entity_id=account.id,
                     before=before, after=_snapshot(account))
        return account

    return locked_transaction(operation, decide, account_id=account_id)


def _post_entry(actor: Actor, operation: str, account_id: int, entry_type: EntryType, amount: Decimal, memo: str,
                idempotency_key: str | None, audited: bool = False,
                named: Sequence[tuple[int, Decimal | None]] = (), order_id: int | None = None,
                with_entry: Callable[[LedgerEntry], None] | None = None, request: tuple = ()) -> PostedEntry:
    """Write one entry under the account's lock and open its item; ``with_entry(entry)`` runs right after it is
    written (a refusal from it writes nothing); ``request`` joins the fingerprint a reused key is checked by."""
    key = validated_key(idempotency_key)
    # The operation is part of the request: a key used for a payment cannot replay as an adjustment. Named
    # allocations join it only when there are some, so keys sent before allocations existed still replay.
    parts = (operation, amount, memo) + ((named,) if named else ()) + request
    fingerprint = request_fingerprint(*parts) if key is not None else None
    if key is not None and (earlier := _find_by_key(account_id, key)) is not None:
        return _replay(earlier, fingerprint)  # the common retry: answered without taking the lock
    effect = entry_type.signed(amount)
    actor_id = actor.id  # read before the lock: a retry's rollback would reload a signed-in user under it
    time_zone = db.session.get(CreditAccount, account_id).wholesaler.time_zone  # dates a charge's due date

    def decide(account: CreditAccount) -> PostedEntry:
        # Keys are unique per account and every entry is written under this account's lock, so a twin
        # that got here first has committed by now, and under READ COMMITTED this look-up sees it.
        if key is not None and (earlier := _find_by_key(account.id, key)) is not None:
            return _replay(earlier, fingerprint)
        before = _snapshot(account)
        if abs(account.balance + effect) > MAX_AMOUNT:
            raise ValidationError("This would take the balance beyond what an account can record.",
                                  field_errors={"amount": "balance out of range"})
        account.balance += effect
        entry = LedgerEntry(credit_account_id=account.id, type=entry_type, amount=amount,
                            balance_after=account.balance, memo=memo, created_by=actor_id, created_at=clock.now(),
                            idempotency_key=key, request_fingerprint=fingerprint, order_id=order_id)
        db.session.add(entry)
        db.session.flush()
        if with_entry is not None:
            with_entry(entry)
        applied = ()
        if effect > 0:
            allocation.add_charge(account, entry, actor_id=actor_id, due_date=clock.due_date(
                clock.business_date(time_zone, entry.created_at), account.payment_terms_days))
        else:
            applied = tuple(allocation.add_credit(account, entry, named=named, actor_id=actor_id))
        if entry_type == EntryType.CREDIT:
            notifications.payment_recorded(account, entry, applied)
            webhooks.emit("payment.recorded", account, {
                "ledger_entry_id": entry.id, "amount": amount_text(amount), "currency": account.currency,
                "reference": memo, "recorded_at": clock.utc_text(entry.created_at),
                "allocations": [{"order_id": a.order_id, "amount": amount_text(a.amount)} for a in applied]}
                | webhooks.account_data(account))
        notifications.credit_use_changed(account)
        if account.overdue_hold_notified:  # a credit may have lifted the hold: said at once, not at the next run
            notifications.overdue_hold_changed(account, clock.business_date(time_zone, entry.created_at))
        if audited:
            audit.record(actor_id=actor_id, action=f"credit_account.{entry_type.value.lower()}",
                         entity_type="credit_account", entity_id=account.id, before=before,
                         after=_snapshot(account) | {"ledger_entry_id": entry.id, "amount": str(amount),
                                                     "memo": memo})
        return _posted(entry, allocations=applied)

    return locked_transaction(operation, decide, account_id=account_id)


def _find_by_key(account_id: int, key: str) -> LedgerEntry | None:
    return db.session.scalar(_ENTRY_BY_KEY, {"account_id": account_id, "key": key})


def _replay(entry: LedgerEntry, fingerprint: str | None) -> PostedEntry:
    if entry.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused("This idempotency key was already used on this account for a different "
                                   "payment or adjustment.")
    applied = tuple(allocation.paid_when_recorded(entry.id)) if entry.effect < 0 else ()
    return _posted(entry, allocations=applied, replayed=True)


def _posted(entry: LedgerEntry, allocations: tuple[allocation.Applied, ...] = (), replayed: bool = False
            ) -> PostedEntry:
    return PostedEntry(id=entry.id, credit_account_id=entry.credit_account_id, type=entry.type, amount=entry.amount,
                       balance_after=entry.balance_after, memo=entry.memo, created_at=entry.created_at,
                       order_id=entry.order_id, reverses_entry_id=entry.reverses_entry_id, allocations=allocations,
                       replayed=replayed)


def _snapshot(account: CreditAccount) -> dict[str, str | int | None]:
    return {"credit_limit": str(account.credit_limit), "balance": str(account.balance),
            "status": account.status.value, "blocked_reason": account.blocked_reason,
            "payment_terms_days": account.payment_terms_days, "overdue_policy": account.overdue_policy.value,
            "overdue_grace_days": account.overdue_grace_days, "overdue_min_amount": str(account.overdue_min_amount)}
