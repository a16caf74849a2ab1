"""Placing and cancelling orders: the order, its lines and its ledger entry in one locked transaction."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import ARRAY, Integer, Row, any_, bindparam, select, text
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models import (
    AccountStatus,
    CreditAccount,
    EntryType,
    LedgerEntry,
    Order,
    OrderStatus,
    Product,
    Role,
    Wholesaler,
)
from app.services import allocation, clock, idempotency, notifications, receivables, sql, webhooks
from app.services.actors import Actor, require_role
from app.services.errors import (
    CreditBlocked,
    CreditOverdue,
    CreditRefusal,
    IdempotencyKeyReused,
    InsufficientCredit,
    OrderCancelled,
    OrderCredited,
    OrderShipped,
    ValidationError,
)
from app.services.money import MAX_AMOUNT, amount_text
from app.services.tenancy import order_for
from app.services.text import free_text
from app.services.transactions import locked_transaction

# The whole write of an order in one statement, so the account stays locked for one round trip
# rather than seven: the next order on a busy account waits exactly that long. Ids come from the
# sequences first because the order and its DEBIT name each other (and its charge, the open item,
# names both); foreign keys are checked at the end of the statement, when every row exists. When
# the retailer already has an order with this idempotency key (a twin committed after place_order
# looked), the insert does nothing and every other part hangs off the inserted row, so nothing at
# all is written and no row comes back.
_RECORD_ORDER = text("""
    WITH ids AS (
        SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS order_id,
               nextval(pg_get_serial_sequence('ledger_entries', 'id')) AS debit_id
    ), new_order AS (
        INSERT INTO orders (id, retailer_id, wholesaler_id, credit_account_id, status, total_amount, currency,
                            credit_ledger_entry_id, idempotency_key, request_fingerprint, placed_by, created_at,
                            due_date)
        SELECT order_id, :retailer_id, :wholesaler_id, :account_id, 'CONFIRMED', :total, :currency,
               debit_id, :key, :fingerprint, :placed_by, :placed_at, :due_date FROM ids
        ON CONFLICT ON CONSTRAINT uq_orders_retailer_idempotency_key DO NOTHING
        RETURNING id, credit_ledger_entry_id
    ), new_lines AS (
        INSERT INTO order_lines (order_id, product_id, quantity, unit_price, line_total)
        SELECT new_order.id, line.product_id, line.quantity, line.unit_price, line.unit_price * line.quantity
        FROM new_order, unnest(CAST(:product_ids AS integer[]), CAST(:quantities AS integer[]),
                               CAST(:prices AS numeric[])) AS line(product_id, quantity, unit_price)
    ), debit AS (
        INSERT INTO ledger_entries (id, credit_account_id, type, amount, balance_after, order_id, created_by, memo,
                                    created_at)
        SELECT credit_ledger_entry_id, :account_id, 'DEBIT', :total, :balance_after, id, :placed_by,
               'Order #' || id, :placed_at FROM new_order
    ), charge AS (
        INSERT INTO open_items (ledger_entry_id, credit_account_id, side, order_id, amount, open_amount, due_date,
                                created_at)
        SELECT credit_ledger_entry_id, :account_id, 'CHARGE', id, :total, :total, :due_date, :placed_at FROM new_order
    ), new_balance AS (
        UPDATE credit_accounts SET balance = :balance_after, oldest_open_due = LEAST(oldest_open_due, :due_date)
        WHERE id = :account_id AND EXISTS (SELECT FROM new_order)
    )
    SELECT id, credit_ledger_entry_id FROM new_order
""")

# Built once (see services/sql.py): constructing a statement per call costs more CPU than running it.
_ORDER_BY_KEY = select(Order.id, Order.credit_account_id, Order.total_amount, Order.currency,
                       Order.credit_ledger_entry_id, Order.request_fingerprint, Order.due_date).where(
    Order.retailer_id == bindparam("retailer_id"), Order.idempotency_key == bindparam("key"))
# With the wholesaler's time zone, which dates the order: one round trip for both.
_CATALOGUE_PRICES = select(Product.id, Product.name, Product.unit_price, Product.active, Wholesaler.time_zone).join(
    Wholesaler, Wholesaler.id == Product.wholesaler_id).where(
    Product.id == any_(bindparam("product_ids", type_=ARRAY(Integer))),
    Product.wholesaler_id == bindparam("wholesaler_id"))


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    total_amount: Decimal
    currency: str
    credit_ledger_entry_id: int
    #: Credit left on the account right after this order.
    available_credit: Decimal
    due_date: date
    #: True when an earlier request with the same idempotency key had already placed it.
    replayed: bool = False


@dataclass(frozen=True)
class ShippedOrder:
    order_id: int
    shipped_at: datetime
    #: True when the order had already been shipped: nothing was written this time.
    already_shipped: bool = False


@dataclass(frozen=True)
class CancelledOrder:
    order_id: int
    reversal_entry_id: int
    available_credit: Decimal
    #: True when the order had already been cancelled: nothing was written this time.
    already_cancelled: bool = False


@dataclass(frozen=True)
class PricedOrder:
    """An order's request checked and priced from the catalogue, before the lock: what deciding it needs."""

    retailer_id: int
    placed_by: int | None
    wholesaler_id: int
    quantities: dict[int, int]
    key: str | None
    fingerprint: str
    priced: list[tuple[int, int, Decimal]]
    time_zone: str
    total: Decimal


def place_order(actor: Actor, *, wholesaler_id: int, lines: Iterable[tuple[int, int]],
                idempotency_key: str | None = None) -> PlacedOrder:
    """A retailer places an order on credit with a wholesaler: lines of ``(product_id, quantity)`` priced
    from the catalogue. The account is the pair's, so no other tenant's can be named.

    One transaction under the credit row lock: check status, the overdue hold and available credit, insert the
    order, its lines and its DEBIT, raise the running balance, commit. A repeated
    ``idempotency_key`` returns the first order and writes nothing.

    Raises Forbidden, ValidationError, CreditAccountNotFound, CreditBlocked, CreditOverdue, InsufficientCredit,
    IdempotencyKeyReused, MaxRetriesExceeded.
    """
    priced = price_order(actor, wholesaler_id=wholesaler_id, lines=lines, idempotency_key=idempotency_key)
    return priced if isinstance(priced, PlacedOrder) else place_priced(priced)


def price_order(buyer: Actor, *, wholesaler_id: int, lines: Iterable[tuple[int, int]],
                idempotency_key: str | None = None) -> PricedOrder | PlacedOrder:
    """The order's request checked and priced (read before the lock: keeps the lock short), or the order a repeated
    ``idempotency_key`` already placed; writes nothing. Raises Forbidden, ValidationError, IdempotencyKeyReused."""
    require_role(buyer, Role.RETAILER)
    quantities = validated_quantities(lines)
    key = idempotency.validated_key(idempotency_key)
    fingerprint = idempotency.fingerprint(wholesaler_id, sorted(quantities.items()))
    if key is not None and (earlier := _find_by_key(buyer.retailer_id, key)) is not None:
        return _replay(earlier, fingerprint)
    priced, time_zone = priced_lines(wholesaler_id, quantities)
    return PricedOrder(buyer.retailer_id, buyer.id, wholesaler_id, quantities, key, fingerprint, priced, time_zone,
                       lines_total(priced))


def place_priced(order: PricedOrder) -> PlacedOrder:
    """Decide a priced order under the account's row lock, and write it (see place_order)."""
    retailer_id, key, fingerprint, total = order.retailer_id, order.key, order.fingerprint, order.total

    def decide(account: CreditAccount) -> PlacedOrder:
        placed_at = clock.now()  # under the lock: the moment the credit was decided
        today = clock.business_date(order.time_zone, placed_at)
        refusal = credit_refusal(account, total, today)
        if refusal is None:
            placed = record_order(account, order.priced, total, placed_by=order.placed_by, placed_at=placed_at,
                                  today=today, key=key, fingerprint=fingerprint)
            if placed is not None:
                return placed
        # Refused, or the insert met this key: a twin committed since the look-up above (through this
        # account, perhaps spending the credit, or another wholesaler's). The first order stands.
        if key is not None and (earlier := _find_by_key(retailer_id, key)) is not None:
            return _replay(earlier, fingerprint)
        if refusal is None:  # the insert met the key, yet no order holds it: orders are never deleted
            raise RuntimeError(f"order with idempotency key {key!r} conflicted but cannot be found")
        raise refusal

    return locked_transaction("place_order", decide, retailer_id=retailer_id, wholesaler_id=order.wholesaler_id)


def record_order(account: CreditAccount, priced: list[tuple[int, int, Decimal]], total: Decimal, *,
                 placed_by: int, placed_at: datetime, today: date, key: str | None = None,
                 fingerprint: str | None = None) -> PlacedOrder | None:
    """Write a CONFIRMED order of ``priced`` lines (product, quantity, unit price) on the locked ``account``: the
    order, its lines, its DEBIT and its charge, the new balance, unapplied credit applied to it, the notices and
    the order.confirmed event. None (and nothing written) when the retailer already has an order with ``key``.
    The credit decision is the caller's."""
    balance_after = account.balance + total
    due_date = clock.due_date(today, account.payment_terms_days)
    recorded = sql.execute(_RECORD_ORDER, {
        "retailer_id": account.retailer_id, "wholesaler_id": account.wholesaler_id, "account_id": account.id,
        "total": total, "currency": account.currency, "key": key, "fingerprint": fingerprint,
        "placed_by": placed_by, "balance_after": balance_after, "placed_at": placed_at, "due_date": due_date,
        "product_ids": [p for p, _, _ in priced], "quantities": [q for _, q, _ in priced],
        "prices": [price for _, _, price in priced]}).one_or_none()
    if recorded is None:
        return None
    had_credit = account.balance < 0
    set_committed_value(account, "balance", balance_after)  # the statement above wrote both
    set_committed_value(account, "oldest_open_due", min(filter(None, (account.oldest_open_due, due_date))))
    if had_credit:  # unapplied credit (there is none otherwise): it pays this order
        allocation.settle(account, recorded.credit_ledger_entry_id, at=placed_at, actor_id=placed_by)
    notifications.credit_use_changed(account)
    available = account.available_credit
    webhooks.emit("order.confirmed", account, {
        "order_id": recorded.id, "total_amount": amount_text(total), "currency": account.currency,
        "due_date": due_date.isoformat(), "placed_at": clock.utc_text(placed_at),
        "available_credit": amount_text(available)})
    return PlacedOrder(recorded.id, total, account.currency, recorded.credit_ledger_entry_id, available, due_date)


def cancel_order(actor: Actor, order_id: int, *, reason: str | None = None) -> CancelledOrder:
    """Cancel an order the actor may see (the retailer that placed it, its wholesaler, admins): a REVERSAL of
    its DEBIT lowers the balance, under the row lock. Once shipped, only the wholesaler's side may.

    Cancelling an order that is already cancelled (also concurrently) returns the same result and
    writes nothing. Raises NotFound, OrderShipped, OrderCredited, ValidationError, MaxRetriesExceeded.
    """
    account_id, actor_id = order_for(actor, order_id).credit_account_id, actor.id  # both read before the lock
    retailer_acting = actor.role == Role.RETAILER
    reason = free_text(reason, field="reason", required=False)

    def decide(account: CreditAccount) -> CancelledOrder:
        order = _locked_order(order_id)
        if order.status == OrderStatus.CANCELLED:
            reversal_id = db.session.scalar(select(LedgerEntry.id).where(
                LedgerEntry.reverses_entry_id == order.credit_ledger_entry_id))
            return CancelledOrder(order.id, reversal_id, account.available_credit, already_cancelled=True)
        if order.status == OrderStatus.SHIPPED and retailer_acting:
            raise OrderShipped(f"Order #{order.id} was shipped on {order.shipped_at:%d %B %Y}: only "
                               f"{order.wholesaler.name} can reverse it now.")
        if order.credited_amount:  # read with the order, now that its account is locked
            raise OrderCredited(f"Order #{order.id} has credit notes: credit its remaining lines instead.")
        debit = db.session.get(LedgerEntry, order.credit_ledger_entry_id)
        if account.balance - debit.amount < -MAX_AMOUNT:
            raise ValidationError("Cancelling would take the balance beyond what an account can record.",
                                  field_errors={"order_id": "balance out of range"})
        account.balance -= debit.amount
        cancelled_at = clock.now()
        reversal = LedgerEntry(credit_account_id=account.id, type=EntryType.REVERSAL, amount=debit.amount,
                               balance_after=account.balance, order_id=order.id, reverses_entry_id=debit.id,
                               memo=reason or f"Order #{order.id} cancelled", created_by=actor_id,
                               created_at=cancelled_at)
        db.session.add(reversal)
        order.status = OrderStatus.CANCELLED
        order.cancelled_at = cancelled_at
        order.cancelled_by = actor_id
        order.cancel_reason = reason
        db.session.flush()
        allocation.cancel_charge(account, reversal, actor_id=actor_id)
        notifications.credit_use_changed(account)
        if account.overdue_hold_notified:  # the cancelled order may have been what was overdue
            notifications.overdue_hold_changed(account, clock.business_date(account.wholesaler.time_zone, cancelled_at))
        webhooks.emit("order.cancelled", account, {"order_id": order.id, "reversal_entry_id": reversal.id,
                                                   "reason": reason, "available_credit":
                                                   amount_text(account.available_credit)})
        return CancelledOrder(order.id, reversal.id, account.available_credit)

    return locked_transaction("cancel_order", decide, account_id=account_id)


def ship_order(actor: Actor, order_id: int) -> ShippedOrder:
    """Mark an order shipped (its wholesaler, or admins), under the account's row lock so that a cancel and a
    shipment of one order take turns. From then on the retailer can no longer cancel it.

    Shipping a shipped order returns the same result and writes nothing. Raises Forbidden, NotFound,
    OrderCancelled, MaxRetriesExceeded.
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    account_id, actor_id = order_for(actor, order_id).credit_account_id, actor.id

    def decide(account: CreditAccount) -> ShippedOrder:
        order = _locked_order(order_id)
        if order.status == OrderStatus.CANCELLED:
            raise OrderCancelled(f"Order #{order.id} was cancelled on {order.cancelled_at:%d %B %Y}; there is "
                                 "nothing to ship.")
        if order.status == OrderStatus.SHIPPED:
            return ShippedOrder(order.id, order.shipped_at, already_shipped=True)
        order.status, order.shipped_at, order.shipped_by = OrderStatus.SHIPPED, clock.now(), actor_id
        return ShippedOrder(order.id, order.shipped_at)

    return locked_transaction("ship_order", decide, account_id=account_id)


def _locked_order(order_id: int) -> Order:
    """The order as it stands now that its account is locked (whatever the session read before)."""
    return db.session.scalars(select(Order).where(Order.id == order_id)
                              .execution_options(populate_existing=True)).one()


def validated_quantities(lines: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Product id → total quantity, merging repeated products; ValidationError on anything odd."""
    max_quantity = current_app.config["MAX_LINE_QUANTITY"]
    quantities: dict[int, int] = {}
    for product_id, quantity in lines:
        if isinstance(product_id, bool) or not isinstance(product_id, int) or product_id <= 0:
            raise ValidationError("Each line needs a product from the catalogue.",
                                  field_errors={"lines": "unknown product"})
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValidationError("Each quantity must be a whole number of at least 1.",
                                  field_errors={"lines": "quantity must be at least 1"})
        quantities[product_id] = quantities.get(product_id, 0) + quantity
        if quantities[product_id] > max_quantity:
            raise ValidationError(f"A quantity can be at most {max_quantity:,} per product.",
                                  field_errors={"lines": f"quantity above {max_quantity:,}"})
    if not quantities:
        raise ValidationError("An order needs at least one product.", field_errors={"lines": "empty order"})
    return quantities


def priced_lines(wholesaler_id: int, quantities: dict[int, int]) -> tuple[list[tuple[int, int, Decimal]], str]:
    """(product_id, quantity, unit price) from the wholesaler's active catalogue, in product order; and the
    wholesaler's time zone."""
    products = sql.execute(_CATALOGUE_PRICES, {"product_ids": list(quantities),
                                               "wholesaler_id": wholesaler_id}).all()
    by_id = {p.id: p for p in products}
    unknown = [pid for pid in quantities if pid not in by_id]
    if unknown:
        raise ValidationError("Some products are not in this wholesaler's catalogue.",
                              field_errors={"lines": f"not in this catalogue: {sorted(unknown)}"})
    inactive = [p.name for p in products if not p.active]
    if inactive:
        raise ValidationError(f"No longer available: {', '.join(sorted(inactive))}.",
                              field_errors={"lines": "product no longer available"})
    return [(pid, quantities[pid], by_id[pid].unit_price) for pid in sorted(quantities)], products[0].time_zone


def lines_total(priced: Iterable[tuple[int, int, Decimal]]) -> Decimal:
    """What (product, quantity, unit price) lines come to; ValidationError above what an amount can be."""
    total = sum((price * quantity for _, quantity, price in priced), Decimal("0"))
    if total > MAX_AMOUNT:
        raise ValidationError("The order total is larger than the system can record.",
                              field_errors={"lines": "order total too large"})
    return total


def credit_refusal(account: CreditAccount, total: Decimal, today: date) -> CreditRefusal | None:
    """Why the locked account cannot take ``total`` more today (an order, or a hold), or None when it can: blocked,
    on overdue hold (before the limit is looked at), or not enough credit left beside the live holds."""
    if account.status == AccountStatus.BLOCKED:
        return CreditBlocked(available_credit=account.available_credit)
    if (overdue := receivables.holding(account, today)) is not None:
        currency = account.currency
        return CreditOverdue(
            f"{overdue.amount:,.2f} {currency} of this account is overdue, the oldest since "
            f"{overdue.oldest_due_date.isoformat()}. Pay at least {overdue.to_lift:,.2f} {currency} to order again.",
            available_credit=account.available_credit, overdue_amount=overdue.amount,
            oldest_due_date=overdue.oldest_due_date, to_lift=overdue.to_lift)
    available = account.available_credit
    if total > available:
        return InsufficientCredit(
            f"This order comes to {total:,.2f} {account.currency}, but only "
            f"{max(available, Decimal(0)):,.2f} {account.currency} of credit is available.",
            available_credit=available)
    return None


def _find_by_key(retailer_id: int, key: str) -> Row | None:
    """The retailer's order placed with ``key``: the columns a replay answers with."""
    return sql.execute(_ORDER_BY_KEY, {"retailer_id": retailer_id, "key": key}).one_or_none()


def placed_order(order_id: int) -> PlacedOrder:
    """An order already placed, as placing it answered, with the credit available now (a repeated capture)."""
    order = db.session.get(Order, order_id)
    account = db.session.get(CreditAccount, order.credit_account_id)
    return PlacedOrder(order.id, order.total_amount, order.currency, order.credit_ledger_entry_id,
                       account.available_credit, order.due_date, replayed=True)


def _replay(order: Row, fingerprint: str) -> PlacedOrder:
    if order.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused("This idempotency key was already used for a different order.")
    account = db.session.get(CreditAccount, order.credit_account_id)
    return PlacedOrder(order.id, order.total_amount, order.currency, order.credit_ledger_entry_id,
                       account.available_credit, order.due_date, replayed=True)
