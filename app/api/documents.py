"""The API's JSON documents: amounts as decimal strings, times as ISO 8601 UTC, ids as integers."""

from datetime import UTC, datetime
from decimal import Decimal

from app.models import CreditAccount, LedgerEntry, Order, Product, User, WebhookEndpoint
from app.services import receivables
from app.services.accounts import PostedEntry
from app.services.ageing import Ageing
from app.services.orders import CancelledOrder, PlacedOrder
from app.services.statements import PeriodStatement


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, e.g. 2026-11-25T18:56:17.761764Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def organisation(org) -> dict:
    return {"id": org.id, "name": org.name}


def wholesaler(org) -> dict:
    """A wholesaler: with the time zone its business dates are counted in and the terms new accounts get."""
    return organisation(org) | {"currency": org.currency, "time_zone": org.time_zone,
                                "default_payment_terms_days": org.default_payment_terms_days}


def user(member: User) -> dict:
    return {"id": member.id, "email": member.email, "role": member.role.value}


def product(item: Product) -> dict:
    return {"id": item.id, "wholesaler_id": item.wholesaler_id, "sku": item.sku, "name": item.name,
            "unit_price": money(item.unit_price), "active": item.active}


def account(acc: CreditAccount, overdue: receivables.Overdue | None = None) -> dict:
    """A credit account with its terms and overdue hold as of now (``overdue`` when the caller has it already)."""
    overdue = overdue or receivables.overdue(acc)
    return {"id": acc.id, "retailer_id": acc.retailer_id, "wholesaler_id": acc.wholesaler_id,
            "credit_limit": money(acc.credit_limit), "balance": money(acc.balance),
            "available_credit": money(acc.available_credit), "currency": acc.currency,
            "status": acc.status.value, "payment_terms_days": acc.payment_terms_days,
            "unapplied_credit": money(acc.unapplied_credit), "overdue_policy": acc.overdue_policy.value,
            "overdue_grace_days": acc.overdue_grace_days, "overdue_min_amount": money(acc.overdue_min_amount),
            "overdue_amount": money(overdue.amount), "on_overdue_hold": overdue.on_hold}


def ledger_entry(entry: LedgerEntry) -> dict:
    return {"id": entry.id, "type": entry.type.value, "amount": money(entry.amount),
            "balance_after": money(entry.balance_after), "order_id": entry.order_id,
            "reverses_entry_id": entry.reverses_entry_id, "memo": entry.memo,
            "created_at": timestamp(entry.created_at)}


def posted_entry(entry: PostedEntry) -> dict:
    """A payment or adjustment just recorded, with what it pays now (a charge pays nothing)."""
    return ledger_entry(entry) | {"allocations": [
        {"order_id": a.order_id, "charge_entry_id": a.charge_entry_id, "amount": money(a.amount)}
        for a in entry.allocations]}


def order(placed: Order) -> dict:
    return {"id": placed.id, "status": placed.status.value, "retailer_id": placed.retailer_id,
            "wholesaler_id": placed.wholesaler_id, "credit_account_id": placed.credit_account_id,
            "total_amount": money(placed.total_amount), "currency": placed.currency,
            "credit_ledger_entry_id": placed.credit_ledger_entry_id, "created_at": timestamp(placed.created_at),
            "due_date": placed.due_date.isoformat(), "paid_amount": money(placed.item.allocated_amount),
            "outstanding_amount": money(placed.item.open_amount), "credited_amount": money(placed.credited_amount),
            "shipped_at": timestamp(placed.shipped_at),
            "cancelled_at": timestamp(placed.cancelled_at), "cancel_reason": placed.cancel_reason,
            "lines": [{"product_id": line.product_id, "quantity": line.quantity,
                       "unit_price": money(line.unit_price), "line_total": money(line.line_total)}
                      for line in placed.lines]}


def ageing(aged: Ageing) -> dict:
    return {"buckets": {bucket: money(amount) for bucket, amount in aged.buckets.items()}, "total": money(aged.total)}


def placed_order(placed: PlacedOrder, status: str) -> dict:
    return {"id": placed.order_id, "status": status, "total_amount": money(placed.total_amount),
            "credit_ledger_entry_id": placed.credit_ledger_entry_id,
            "available_credit": money(placed.available_credit)}


def cancelled_order(cancelled: CancelledOrder) -> dict:
    return {"id": cancelled.order_id, "status": "CANCELLED", "reversal_entry_id": cancelled.reversal_entry_id}


def webhook_endpoint(endpoint: WebhookEndpoint, secret: str | None = None) -> dict:
    """An endpoint; with its ``secret`` only in the answer that made it (registered or rotated)."""
    document = {"id": endpoint.id, "url": endpoint.url, "events": endpoint.events,
                "created_at": timestamp(endpoint.created_at), "failing_since": timestamp(endpoint.failing_since),
                "previous_secret_valid_until": timestamp(endpoint.previous_secret_until),
                "deleted_at": timestamp(endpoint.deleted_at)}
    return document | ({"secret": secret} if secret else {})


def statement(shown: PeriodStatement) -> dict:
    """A statement of account: the period's figures and every entry, amounts as the change to the balance."""
    return {"credit_account_id": shown.account.id, "from": shown.start.isoformat(), "to": shown.end.isoformat(),
            "currency": shown.account.currency, "opening_balance": money(shown.opening_balance),
            "charged": money(shown.charged), "credited": money(shown.credited),
            "closing_balance": money(shown.closing_balance), "unapplied_credit": money(shown.unapplied_credit),
            "ageing": ageing(shown.ageing),
            "entries": [{"id": line.entry_id, "date": line.on.isoformat(), "type": line.type.value,
                         "order_id": line.order_id, "memo": line.memo, "description": line.description,
                         "due_date": line.due_date.isoformat() if line.due_date else None,
                         "amount": money(line.amount), "balance_after": money(line.balance_after),
                         "paid": [{"order_id": order_id, "amount": money(amount)} for order_id, amount in line.paid]}
                        for line in shown.lines]}
