"""The API's JSON documents, declared once: each a TypedDict whose fields carry their JSON Schema and how they are
written (amounts as decimal strings with two decimals, times as ISO 8601 UTC with a Z, dates as YYYY-MM-DD), so
the answers and the OpenAPI document's response schemas come from the same declaration.

The builders below fill a document with the raw values (Decimal, datetime, date) and write it through its type;
lists and pages hold documents already written.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, PlainSerializer, TypeAdapter, WithJsonSchema, with_config
from pydantic import Field as Described
from typing_extensions import TypedDict

from app import models
from app.api.schema import BIG_ID, DATE, ID, ROLES, TERMS, TEXT, component, schemas_of
from app.services import clock, receivables
from app.services.accounts import PostedEntry as Posted
from app.services.ageing import BUCKETS, Ageing
from app.services.clock import utc_text
from app.services.holds import HoldResult
from app.services.money import amount_text
from app.services.orders import CancelledOrder, PlacedOrder
from app.services.statements import PeriodStatement
from app.services.webhooks import EVENT_TYPES

# --- Field types --------------------------------------------------------------------------------------------------

Money = Annotated[Decimal, PlainSerializer(amount_text, return_type=str), WithJsonSchema(component("Amount"))]
Stamp = Annotated[datetime, PlainSerializer(utc_text, return_type=str), WithJsonSchema(component("Timestamp"))]
Day = Annotated[date, PlainSerializer(date.isoformat, return_type=str), WithJsonSchema(DATE)]
Id = Annotated[int, WithJsonSchema(ID)]
BigId = Annotated[int, WithJsonSchema(BIG_ID)]
Text = Annotated[str, WithJsonSchema(TEXT)]
Terms = Annotated[int, WithJsonSchema(TERMS)]
Currency = Annotated[str, WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$"})]
EntryType = Literal["DEBIT", "CREDIT", "ADJUSTMENT", "REVERSAL", "CREDIT_NOTE"]
OrderStatus = Literal["CONFIRMED", "SHIPPED", "CANCELLED"]
HoldStatus = Literal["ACTIVE", "CAPTURED", "RELEASED", "EXPIRED"]
LimitRequestStatus = Literal["OPEN", "APPROVED", "DECLINED", "WITHDRAWN"]


def said(type_: Any, description: str) -> Any:
    return Annotated[type_, Described(description=description)]


closed = with_config(ConfigDict(extra="forbid"))


# --- Documents ---------------------------------------------------------------------------------------------------

@closed
class Organisation(TypedDict):
    id: Id
    name: Text


@closed
class Wholesaler(TypedDict):
    id: Id
    name: Text
    currency: Currency
    time_zone: said(Text, "IANA name; business dates are counted in it.")
    default_payment_terms_days: said(Terms, "Terms new accounts get.")


@closed
class User(TypedDict):
    id: Id
    email: Text
    role: Literal[tuple(ROLES)]


@closed
class Product(TypedDict):
    id: Id
    wholesaler_id: Id
    sku: Text
    name: Text
    unit_price: Money
    active: bool


@closed
class ProductList(TypedDict):
    products: list[Product]


@closed
class CreditAccount(TypedDict):
    id: Id
    retailer_id: Id
    wholesaler_id: Id
    credit_limit: Money
    balance: Money
    available_credit: Money
    currency: Currency
    status: Literal["ACTIVE", "BLOCKED"]
    payment_terms_days: said(Terms, "Days from an order's business date to its due date.")
    unapplied_credit: said(Money, "Paid but not yet applied to any order: it pays the next orders as they are "
                                  "placed. Non-zero only when nothing is outstanding.")
    overdue_policy: said(Literal["off", "hold"], "hold: orders stop while more than the minimum is overdue "
                                                 "(accounts opened before the hold existed have off).")
    overdue_grace_days: said(Terms, "Days after a due date before an item counts as overdue.")
    overdue_min_amount: said(Money, "Overdue amounts up to this do not stop orders.")
    overdue_amount: said(Money, "Outstanding on items past their due date plus the grace days, today in the "
                                "wholesaler's time zone.")
    on_overdue_hold: said(bool, "The policy is hold and the overdue amount is above the minimum: orders are refused "
                                "with CREDIT_OVERDUE until a payment brings it down.")
    held_amount: said(Money, "What live credit holds reserve now: counted in available_credit, never in the balance.")
    temporary_increase: said(Money, "What live temporary increases add to the credit limit now.")
    effective_limit: said(Money, "credit_limit plus temporary_increase: the limit orders and holds are decided by "
                                 "(available_credit is effective_limit − balance − held_amount).")


@closed
class CreditAccountList(TypedDict):
    credit_accounts: list[CreditAccount]


@closed
class LedgerEntry(TypedDict):
    id: BigId
    type: EntryType
    amount: Money
    balance_after: Money
    order_id: Id | None
    reverses_entry_id: BigId | None
    memo: Text | None
    created_at: Stamp


@closed
class Allocation(TypedDict):
    order_id: said(Id | None, "The order paid; null when the charge is an adjustment.")
    charge_entry_id: said(BigId, "The ledger entry of the charge paid.")
    amount: Money


@closed
class PostedEntry(LedgerEntry):
    allocations: said(list[Allocation], "What a payment or a negative adjustment pays now, one row per charge, "
                                        "oldest first; empty for a positive adjustment (a charge) and for credit "
                                        "that is all unapplied.")


@closed
class LedgerPage(TypedDict):
    entries: said(list[LedgerEntry], "Newest first.")
    next_cursor: said(BigId | None, "Pass as `after` for the next page; null at the end.")


Buckets = closed(TypedDict("Buckets", {bucket: Money for bucket in BUCKETS}))


@closed
class Aged(TypedDict):
    buckets: said(Buckets, "Outstanding by days past due: current (not yet due), 1-30, 31-60, 61-90, 90+.")
    total: Money


@closed
class AccountAgeing(Aged):
    as_of: said(Day, "The day the figures are as of (today in the wholesaler's time zone unless asked): items that "
                     "existed by its end, less what was paid by then.")


@closed
class BookRow(Aged):
    credit_account_id: Id
    retailer_id: Id


@closed
class BookAgeing(TypedDict):
    as_of: Day
    accounts: said(list[BookRow], "One row per account with anything outstanding as of the day.")
    totals: said(Aged, "Over the whole book, not only this page.")
    next_cursor: said(Text | None, "Pass as `after` for the next page; null at the end.")


@closed
class OrderLine(TypedDict):
    product_id: Id
    quantity: Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1})]
    unit_price: Money
    line_total: Money


@closed
class Order(TypedDict):
    id: Id
    status: OrderStatus
    retailer_id: Id
    wholesaler_id: Id
    credit_account_id: Id
    total_amount: Money
    currency: Text
    credit_ledger_entry_id: BigId
    created_at: Stamp
    due_date: said(Day, "The order's business date in the wholesaler's time zone plus the terms.")
    paid_amount: said(Money, "What payments and credit notes pay of it now (0.00 once cancelled: what paid it was "
                             "released to pay other orders).")
    outstanding_amount: said(Money, "Still to pay; 0.00 once cancelled.")
    credited_amount: said(Money, "What credit notes have given back of it.")
    shipped_at: said(Stamp | None, "From then on only the wholesaler's side may cancel it (kept if it is cancelled "
                                   "afterwards).")
    cancelled_at: Stamp | None
    cancel_reason: Text | None
    lines: list[OrderLine]


@closed
class OrderPage(TypedDict):
    orders: list[Order]
    next_cursor: said(Id | None, "Pass as `after`; null at the end.")


@closed
class PlacedOrderDocument(TypedDict):
    id: Id
    status: OrderStatus
    total_amount: Money
    credit_ledger_entry_id: BigId
    available_credit: said(Money, "Credit left on the account now.")


@closed
class CancelledOrderDocument(TypedDict):
    id: Id
    status: Literal["CANCELLED"]
    reversal_entry_id: BigId


@closed
class HoldLine(TypedDict):
    product_id: Id
    quantity: Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1})]
    unit_price: said(Money, "The catalogue price when the hold was placed: a capture orders at it.")
    line_total: Money


@closed
class Hold(TypedDict):
    id: Id
    status: said(HoldStatus, "As it stands now: from its expiry on a hold is EXPIRED, whether or not anything has "
                             "recorded so yet.")
    retailer_id: Id
    wholesaler_id: Id
    credit_account_id: Id
    amount: said(Money, "What it reserves while ACTIVE.")
    currency: Currency
    created_at: Stamp
    expires_at: said(Stamp, "From this moment on it holds nothing.")
    closed_at: said(Stamp | None, "When it was captured or released, or the moment it expired.")
    order_id: said(Id | None, "The order its capture made.")
    purpose: said(Literal["CART", "APPROVAL"], "APPROVAL: a buyer's order above its order limit, waiting for an "
                                               "approver (approve: CAPTURED; decline: RELEASED; expiry: EXPIRED).")
    decision_note: said(Text | None, "What the approver said approving or declining it.")
    lines: list[HoldLine]


@closed
class PlacedHold(Hold):
    available_credit: said(Money, "Credit left on the account now, beside this and the other live holds.")


@closed
class HoldPage(TypedDict):
    holds: said(list[Hold], "Newest first.")
    next_cursor: said(Id | None, "Pass as `after`; null at the end.")


@closed
class LimitIncrease(TypedDict):
    id: Id
    credit_account_id: Id
    status: said(Literal["ACTIVE", "ENDED"], "As it stands now: from its end on an increase has ENDED.")
    amount: said(Money, "What it adds to the credit limit while ACTIVE.")
    ends_on: said(Day, "Its last day, inclusive, in the wholesaler's time zone.")
    ends_at: said(Stamp, "The end of that day: from this moment on it adds nothing.")
    reason: Text
    created_at: Stamp
    ended_at: said(Stamp | None, "When it stopped adding to the limit: ends_at, or the moment it was ended early.")
    effective_limit: said(Money, "The account's effective limit now, with its live increases.")


@closed
class LimitRequest(TypedDict):
    id: Id
    credit_account_id: Id
    retailer_id: Id
    wholesaler_id: Id
    status: said(LimitRequestStatus, "OPEN until the wholesaler approves or declines it, or the retailer withdraws it.")
    requested_limit: said(Money, "The whole limit asked for.")
    ends_on: said(Day | None, "Asked until the end of this day in the wholesaler's time zone; null: for good.")
    note: Text
    created_at: Stamp
    closed_at: said(Stamp | None, "When it was decided or withdrawn.")
    decision_note: Text | None
    granted_limit: said(Money | None, "What an approval gave.")
    granted_ends_on: said(Day | None, "Its last day when approved for a while; null: for good.")
    limit_increase_id: said(Id | None, "The temporary increase an approval for a while made.")


@closed
class LimitRequestPage(TypedDict):
    limit_requests: said(list[LimitRequest], "Newest first.")
    next_cursor: said(Id | None, "Pass as `after`; null at the end.")


@closed
class LimitIncreasePage(TypedDict):
    limit_increases: said(list[LimitIncrease], "Newest first.")
    next_cursor: said(Id | None, "Pass as `after`; null at the end.")


@closed
class Paid(TypedDict):
    order_id: Id | None
    amount: Money


@closed
class StatementLine(TypedDict):
    id: BigId
    date: said(Day, "Its day in the wholesaler's time zone.")
    type: EntryType
    order_id: Id | None
    memo: Text | None
    description: Text
    due_date: said(Day | None, "A charge's due date.")
    amount: said(Money, "The change to the balance: negative lowers what is owed.")
    balance_after: Money
    paid: said(list[Paid], "A credit's: what it had paid by the period's end, per charge (order_id null: an "
                           "adjustment's).")


Statement = closed(TypedDict("Statement", {
    "credit_account_id": Id, "from": Day, "to": Day, "currency": Currency,
    "opening_balance": said(Money, "The balance before the period's first day."),
    "charged": said(Money, "What the period's entries added."),
    "credited": said(Money, "What they took off (payments, credit notes, cancellations)."),
    "closing_balance": said(Money, "opening_balance + charged - credited."),
    "unapplied_credit": said(Money, "Credit not applied to any charge at the end."),
    "ageing": said(Aged, "What was owed at the end of the last day, by days past due; its total less the unapplied "
                         "credit is the closing balance."),
    "entries": said(list[StatementLine], "Every ledger entry of the period, oldest first.")}))


@closed
class WebhookEndpoint(TypedDict):
    id: Id
    url: Text
    events: list[Literal[tuple(EVENT_TYPES)]]
    created_at: Stamp
    failing_since: said(Stamp | None, "Set when a delivery gave up after three days of failures; cleared by the next "
                                      "one that succeeds.")
    previous_secret_valid_until: said(Stamp | None, "After a rotation, the old secret signs beside the new one until "
                                                    "then.")
    deleted_at: said(Stamp | None, "Deleted endpoints are sent nothing.")
    secret: NotRequired[said(Annotated[str, WithJsonSchema({"type": "string", "pattern": "^whsec_"})],
                             "Only in the answer that made it (register or rotate-secret): it is not shown again.")]


@closed
class WebhookEndpointList(TypedDict):
    webhook_endpoints: said(list[WebhookEndpoint], "Not deleted, by id.")


# --- Webhook events: each type's ``data`` (the services write them; a test checks each one delivered) ---------------

@closed
class Parties(TypedDict):
    credit_account_id: Id
    retailer_id: Id
    wholesaler_id: Id


@closed
class AccountNow(Parties):
    """The account as it is after the change."""

    status: Literal["ACTIVE", "BLOCKED"]
    credit_limit: Money
    effective_limit: said(Money, "The credit limit and its live temporary increases: what orders are decided by.")
    balance: Money
    available_credit: Money
    currency: Currency


@closed
class OrderConfirmed(Parties):
    order_id: Id
    total_amount: Money
    currency: Currency
    due_date: Day
    placed_at: Stamp
    available_credit: Money


@closed
class OrderCancelled(Parties):
    order_id: Id
    reversal_entry_id: BigId
    reason: Text | None
    available_credit: Money


@closed
class PaymentRecorded(AccountNow):
    ledger_entry_id: BigId
    amount: Money
    reference: Text
    recorded_at: Stamp
    allocations: said(list[Paid], "What it paid, one item per charge, oldest first (order_id null: a charge made by "
                                  "an adjustment).")


@closed
class AccountBlocked(AccountNow):
    reason: Text


@closed
class OverdueHold(AccountNow):
    overdue_amount: Money
    oldest_due_date: Day
    to_lift: said(Money, "The payment that lifts the hold.")


@closed
class LimitChanged(AccountNow):
    """The credit limit changed, or a temporary increase was granted, ended early or reached its end."""

    previous_limit: said(Money, "The credit limit before (the same as credit_limit when an increase changed).")
    previous_effective_limit: Money


@closed
class HoldChanged(Parties):
    hold_id: Id
    status: said(HoldStatus, "What it is after this event.")
    purpose: said(Literal["CART", "APPROVAL"], "APPROVAL: a buyer's order waiting for its organisation's approver.")
    amount: Money
    currency: Currency
    expires_at: Stamp
    order_id: said(Id | None, "The order a capture made.")
    available_credit: said(Money, "Credit left on the account after the event.")


@closed
class LimitRequestDecided(Parties):
    limit_request_id: Id
    status: said(Literal["APPROVED", "DECLINED"], "The decision.")
    requested_limit: Money
    ends_on: said(Day | None, "The last day asked for; null: asked for good.")
    granted_limit: said(Money | None, "The limit approved; null when declined.")
    granted_ends_on: said(Day | None, "Its last day when approved for a while (a temporary increase); null: for "
                                      "good, or declined.")
    decision_note: Text | None
    credit_limit: Money
    effective_limit: said(Money, "The limit decisions apply now, temporary increases included.")
    currency: Currency


#: Each event type's data, by the name of its schema in the document.
EVENT_DATA = {"order.confirmed": OrderConfirmed, "order.cancelled": OrderCancelled,
              "payment.recorded": PaymentRecorded, "account.blocked": AccountBlocked,
              "account.unblocked": AccountNow, "account.overdue_hold": OverdueHold,
              "account.overdue_released": AccountNow, "account.limit_changed": LimitChanged,
              **{f"hold.{change}": HoldChanged for change in ("placed", "captured", "released", "expired")},
              "limit_request.decided": LimitRequestDecided}


def event_schemas() -> dict[str, dict]:
    return schemas_of({data.__name__: TypeAdapter(data) for data in EVENT_DATA.values()}, mode="serialization")


#: Every document the API answers with, by its component name in the OpenAPI document.
DOCUMENTS = {"Organisation": Organisation, "Wholesaler": Wholesaler, "User": User, "Product": Product,
             "ProductList": ProductList, "CreditAccount": CreditAccount, "CreditAccountList": CreditAccountList,
             "LedgerEntry": LedgerEntry, "PostedEntry": PostedEntry, "Allocation": Allocation, "Buckets": Buckets,
             "AccountAgeing": AccountAgeing, "BookAgeing": BookAgeing, "LedgerPage": LedgerPage,
             "OrderLine": OrderLine, "Order": Order, "OrderPage": OrderPage, "PlacedOrder": PlacedOrderDocument,
             "CancelledOrder": CancelledOrderDocument, "Statement": Statement, "WebhookEndpoint": WebhookEndpoint,
             "WebhookEndpointList": WebhookEndpointList,
             "HoldLine": HoldLine, "Hold": Hold, "PlacedHold": PlacedHold, "HoldPage": HoldPage,
             "LimitIncrease": LimitIncrease, "LimitIncreasePage": LimitIncreasePage,
             "LimitRequest": LimitRequest, "LimitRequestPage": LimitRequestPage}
_WRITERS = {document: TypeAdapter(document) for document in DOCUMENTS.values()}


def document_schemas() -> dict[str, dict]:
    """Every document's schema by its component name (and the objects inside them by their own)."""
    return schemas_of({name: _WRITERS[document] for name, document in DOCUMENTS.items()}, mode="serialization")


def _written(document: type, values: dict) -> dict:
    return _WRITERS[document].dump_python(values, mode="json", warnings="error")  # a value of the wrong type: a bug


# --- Builders -----------------------------------------------------------------------------------------------------

def organisation(org) -> dict:
    return _written(Organisation, {"id": org.id, "name": org.name})


def wholesaler(org: models.Wholesaler) -> dict:
    """A wholesaler: with the time zone its business dates are counted in and the terms new accounts get."""
    return _written(Wholesaler, {"id": org.id, "name": org.name, "currency": org.currency, "time_zone": org.time_zone,
                                 "default_payment_terms_days": org.default_payment_terms_days})


def user(member: models.User) -> dict:
    return _written(User, {"id": member.id, "email": member.email, "role": member.role.value})


def product(item: models.Product) -> dict:
    return _written(Product, {"id": item.id, "wholesaler_id": item.wholesaler_id, "sku": item.sku, "name": item.name,
                              "unit_price": item.unit_price, "active": item.active})


def account(acc: models.CreditAccount, overdue: receivables.Overdue | None = None) -> dict:
    """A credit account with its terms and overdue hold as of now (``overdue`` when the caller has it already)."""
    overdue = overdue or receivables.overdue(acc)
    return _written(CreditAccount, {
        "id": acc.id, "retailer_id": acc.retailer_id, "wholesaler_id": acc.wholesaler_id,
        "credit_limit": acc.credit_limit, "balance": acc.balance, "available_credit": acc.available_credit,
        "currency": acc.currency, "status": acc.status.value, "payment_terms_days": acc.payment_terms_days,
        "unapplied_credit": acc.unapplied_credit, "overdue_policy": acc.overdue_policy.value,
        "overdue_grace_days": acc.overdue_grace_days, "overdue_min_amount": acc.overdue_min_amount,
        "overdue_amount": overdue.amount, "on_overdue_hold": overdue.on_hold, "held_amount": acc.held_amount_now,
        "temporary_increase": acc.temporary_increase_now, "effective_limit": acc.effective_limit})


def _entry(entry: models.LedgerEntry) -> dict:
    return {"id": entry.id, "type": entry.type.value, "amount": entry.amount, "balance_after": entry.balance_after,
            "order_id": entry.order_id, "reverses_entry_id": entry.reverses_entry_id, "memo": entry.memo,
            "created_at": entry.created_at}


def ledger_entry(entry: models.LedgerEntry) -> dict:
    return _written(LedgerEntry, _entry(entry))


def posted_entry(entry: Posted) -> dict:
    """A payment or adjustment just recorded, with what it pays now (a charge pays nothing)."""
    return _written(PostedEntry, _entry(entry) | {"allocations": [
        {"order_id": a.order_id, "charge_entry_id": a.charge_entry_id, "amount": a.amount}
        for a in entry.allocations]})


def order(placed: models.Order) -> dict:
    return _written(Order, {
        "id": placed.id, "status": placed.status.value, "retailer_id": placed.retailer_id,
        "wholesaler_id": placed.wholesaler_id, "credit_account_id": placed.credit_account_id,
        "total_amount": placed.total_amount, "currency": placed.currency,
        "credit_ledger_entry_id": placed.credit_ledger_entry_id, "created_at": placed.created_at,
        "due_date": placed.due_date, "paid_amount": placed.item.allocated_amount,
        "outstanding_amount": placed.item.open_amount, "credited_amount": placed.credited_amount,
        "shipped_at": placed.shipped_at, "cancelled_at": placed.cancelled_at, "cancel_reason": placed.cancel_reason,
        "lines": [{"product_id": line.product_id, "quantity": line.quantity, "unit_price": line.unit_price,
                   "line_total": line.line_total} for line in placed.lines]})


def _hold(held: models.CreditHold) -> dict:
    status = held.status_at(clock.now())
    return {"id": held.id, "status": status.value, "retailer_id": held.retailer_id,
            "wholesaler_id": held.wholesaler_id, "credit_account_id": held.credit_account_id, "amount": held.amount,
            "currency": held.currency, "created_at": held.created_at, "expires_at": held.expires_at,
            # An expiry not yet recorded closed it all the same.
            "closed_at": held.closed_at or (held.expires_at if status == models.HoldStatus.EXPIRED else None),
            "order_id": held.order_id, "purpose": held.purpose.value, "decision_note": held.decision_note,
            "lines": [{"product_id": line.product_id, "quantity": line.quantity, "unit_price": line.unit_price,
                       "line_total": line.unit_price * line.quantity} for line in held.lines]}


def hold(held: models.CreditHold) -> dict:
    return _written(Hold, _hold(held))


def placed_hold(result: HoldResult) -> dict:
    return _written(PlacedHold, _hold(result.hold) | {"available_credit": result.available_credit})


def limit_increase(increase: models.LimitIncrease, account: models.CreditAccount) -> dict:
    now = clock.now()
    return _written(LimitIncrease, {
        "id": increase.id, "credit_account_id": increase.credit_account_id,
        "status": "ACTIVE" if increase.is_live(now) else "ENDED", "amount": increase.amount,
        "ends_on": increase.ends_on, "ends_at": increase.ends_at, "reason": increase.reason,
        "created_at": increase.created_at, "ended_at": None if increase.is_live(now) else increase.ended(),
        "effective_limit": account.effective_limit})


def limit_request(request: models.LimitRequest) -> dict:
    return _written(LimitRequest, {
        "id": request.id, "credit_account_id": request.credit_account_id, "retailer_id": request.retailer_id,
        "wholesaler_id": request.wholesaler_id, "status": request.status.value,
        "requested_limit": request.requested_limit, "ends_on": request.ends_on, "note": request.note,
        "created_at": request.created_at, "closed_at": request.closed_at, "decision_note": request.decision_note,
        "granted_limit": request.granted_limit, "granted_ends_on": request.granted_ends_on,
        "limit_increase_id": request.increase_id})


def _aged(aged: Ageing) -> dict:
    return {"buckets": aged.buckets, "total": aged.total}


def ageing(aged: Ageing, as_of: date) -> dict:
    return _written(AccountAgeing, _aged(aged) | {"as_of": as_of})


def book_ageing(book) -> dict:
    return _written(BookAgeing, {
        "as_of": book.as_of, "accounts": [{"credit_account_id": row.credit_account_id,
                                           "retailer_id": row.retailer_id} | _aged(row.ageing) for row in book.rows],
        "totals": _aged(book.totals), "next_cursor": book.next_cursor})


def placed_order(placed: PlacedOrder, status: str) -> dict:
    return _written(PlacedOrderDocument, {
        "id": placed.order_id, "status": status, "total_amount": placed.total_amount,
        "credit_ledger_entry_id": placed.credit_ledger_entry_id, "available_credit": placed.available_credit})


def cancelled_order(cancelled: CancelledOrder) -> dict:
    return _written(CancelledOrderDocument, {"id": cancelled.order_id, "status": "CANCELLED",
                                             "reversal_entry_id": cancelled.reversal_entry_id})


def statement(shown: PeriodStatement) -> dict:
    """A statement of account: the period's figures and every entry, amounts as the change to the balance."""
    return _written(Statement, {
        "credit_account_id": shown.account.id, "from": shown.start, "to": shown.end,
        "currency": shown.account.currency, "opening_balance": shown.opening_balance, "charged": shown.charged,
        "credited": shown.credited, "closing_balance": shown.closing_balance,
        "unapplied_credit": shown.unapplied_credit, "ageing": _aged(shown.ageing),
        "entries": [{"id": line.entry_id, "date": line.on, "type": line.type.value, "order_id": line.order_id,
                     "memo": line.memo, "description": line.description, "due_date": line.due_date,
                     "amount": line.amount, "balance_after": line.balance_after,
                     "paid": [{"order_id": order_id, "amount": amount} for order_id, amount in line.paid]}
                    for line in shown.lines]})


def webhook_endpoint(endpoint: models.WebhookEndpoint, secret: str | None = None) -> dict:
    """An endpoint; with its ``secret`` only in the answer that made it (registered or rotated)."""
    return _written(WebhookEndpoint, {
        "id": endpoint.id, "url": endpoint.url, "events": endpoint.events, "created_at": endpoint.created_at,
        "failing_since": endpoint.failing_since, "previous_secret_valid_until": endpoint.previous_secret_until,
        "deleted_at": endpoint.deleted_at} | ({"secret": secret} if secret else {}))
