"""The OpenAPI 3.1 document of /api/v1: the request bodies' schemas come from their models (app/api/schema.py),
the rest is written here; tests keep it in step with the routes and check every answer against it."""

from app.api.schema import BIG_ID, DATE, ID, TERMS, TEXT, body_schemas
from app.api.schema import nullable as _nullable
from app.api.schema import ref as _ref
from app.services.ageing import BUCKETS, SORTS
from app.services.webhooks import EVENT_TYPES, SIGNATURE_HEADER

ADMIN, WHOLESALER, RETAILER = "admin", "wholesaler", "retailer"
EVERYONE = [ADMIN, RETAILER, WHOLESALER]


def _object(properties: dict, required: list[str] | None = None) -> dict:
    """A closed object: the API refuses unknown fields, so the document says so too."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, "additionalProperties": False}


LEDGER_ENTRY = {
    "id": BIG_ID, "type": {"enum": ["DEBIT", "CREDIT", "ADJUSTMENT", "REVERSAL", "CREDIT_NOTE"]},
    "amount": _ref("Amount"), "balance_after": _ref("Amount"), "order_id": _nullable(ID),
    "reverses_entry_id": _nullable(BIG_ID), "memo": _nullable(TEXT), "created_at": _ref("Timestamp")}

OVERDUE_SETTINGS = {
    "overdue_policy": {"enum": ["off", "hold"], "description": "hold: orders stop while more than the minimum is "
                       "overdue (accounts opened before the hold existed have off)."},
    "overdue_grace_days": {**TERMS, "description": "Days after a due date before an item counts as overdue."},
    "overdue_min_amount": {**_ref("Amount"), "description": "Overdue amounts up to this do not stop orders."},
}

SCHEMAS = {
    "Amount": {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "examples": ["1234.50"],
               "description": "A decimal string with exactly two decimals."},
    "AmountInput": {"type": "string", "examples": ["1234.50", "-20.00"],
                    "description": "A decimal string with at most two decimals. A JSON number is refused "
                                   "(VALIDATION_ERROR): binary floats cannot hold cents exactly."},
    "Timestamp": {"type": "string", "format": "date-time", "examples": ["2026-11-25T18:56:17.761764Z"],
                  "description": "ISO 8601, UTC."},
    "Error": {
        "type": "object", "required": ["success", "error", "message"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string", "description": "A code: INSUFFICIENT_CREDIT, CREDIT_BLOCKED, CREDIT_OVERDUE, "
                      "CREDIT_ACCOUNT_NOT_FOUND, VALIDATION_ERROR, IDEMPOTENCY_KEY_REUSED, NOT_FOUND, "
                      "MAX_RETRIES_EXCEEDED, DATABASE_UNAVAILABLE, SYSTEM_ERROR, UNAUTHORIZED, FORBIDDEN, "
                      "METHOD_NOT_ALLOWED, TOO_MANY_REQUESTS, ..."},
            "message": {"type": "string", "description": "For people; may change, unlike the code."},
            "available_credit": _ref("Amount"),
            "overdue_amount": {**_ref("Amount"), "description": "With CREDIT_OVERDUE: what is overdue now."},
            "oldest_due_date": {"type": "string", "format": "date",
                                "description": "With CREDIT_OVERDUE: the due date of the oldest overdue item."},
            "field_errors": {"type": "object", "additionalProperties": {"type": "string"},
                             "description": "With VALIDATION_ERROR: what is wrong with each field, e.g. "
                                            "lines[0].quantity."},
        },
    },
    "Organisation": _object({"id": ID, "name": TEXT}),
    "Wholesaler": _object({"id": ID, "name": TEXT, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                           "time_zone": {**TEXT, "description": "IANA name; business dates are counted in it."},
                           "default_payment_terms_days": {**TERMS, "description": "Terms new accounts get."}}),
    "User": _object({"id": ID, "email": TEXT, "role": {"enum": EVERYONE}}),
    "Product": _object({"id": ID, "wholesaler_id": ID, "sku": TEXT, "name": TEXT, "unit_price": _ref("Amount"),
                        "active": {"type": "boolean"}}),
    "ProductList": _object({"products": {"type": "array", "items": _ref("Product")}}),
    "CreditAccount": _object({
        "id": ID, "retailer_id": ID, "wholesaler_id": ID, "credit_limit": _ref("Amount"),
        "balance": _ref("Amount"), "available_credit": _ref("Amount"),
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}, "status": {"enum": ["ACTIVE", "BLOCKED"]},
        "payment_terms_days": {**TERMS, "description": "Days from an order's business date to its due date."},
        "unapplied_credit": {**_ref("Amount"), "description": "Paid but not yet applied to any order: it pays the "
                             "next orders as they are placed. Non-zero only when nothing is outstanding."},
        **OVERDUE_SETTINGS,
        "overdue_amount": {**_ref("Amount"), "description": "Outstanding on items past their due date plus the "
                           "grace days, today in the wholesaler's time zone."},
        "on_overdue_hold": {"type": "boolean", "description": "The policy is hold and the overdue amount is above "
                            "the minimum: orders are refused with CREDIT_OVERDUE until a payment brings it down."}}),
    "CreditAccountList": _object({"credit_accounts": {"type": "array", "items": _ref("CreditAccount")}}),
    "LedgerEntry": _object(LEDGER_ENTRY),
    "PostedEntry": _object(LEDGER_ENTRY | {"allocations": {
        "type": "array", "items": _ref("Allocation"),
        "description": "What a payment or a negative adjustment pays now, one row per charge, oldest first; empty "
                       "for a positive adjustment (a charge) and for credit that is all unapplied."}}),
    "Allocation": _object({
        "order_id": {**_nullable(ID), "description": "The order paid; null when the charge is an adjustment."},
        "charge_entry_id": {**BIG_ID, "description": "The ledger entry of the charge paid."},
        "amount": _ref("Amount")}),
    "Buckets": _object({bucket: _ref("Amount") for bucket in BUCKETS}),
    "AccountAgeing": _object({
        "as_of": {**DATE, "description": "The day the figures are as of (today in the wholesaler's time zone unless "
                  "asked): items that existed by its end, less what was paid by then."},
        "buckets": {**_ref("Buckets"), "description": "Outstanding by days past due: current (not yet due), 1-30, "
                    "31-60, 61-90, 90+."},
        "total": _ref("Amount")}),
    "BookAgeing": _object({
        "as_of": DATE,
        "accounts": {"type": "array", "description": "One row per account with anything outstanding as of the day.",
                     "items": _object({"credit_account_id": ID, "retailer_id": ID, "buckets": _ref("Buckets"),
                                       "total": _ref("Amount")})},
        "totals": {**_object({"buckets": _ref("Buckets"), "total": _ref("Amount")}),
                   "description": "Over the whole book, not only this page."},
        "next_cursor": {**_nullable(TEXT), "description": "Pass as `after` for the next page; null at the end."}}),
    "LedgerPage": _object({
        "entries": {"type": "array", "items": _ref("LedgerEntry"), "description": "Newest first."},
        "next_cursor": {**_nullable(BIG_ID), "description": "Pass as `after` for the next page; null at the end."}}),
    "OrderLine": _object({"product_id": ID, "quantity": {"type": "integer", "minimum": 1},
                          "unit_price": _ref("Amount"), "line_total": _ref("Amount")}),
    "Order": _object({
        "id": ID, "status": {"enum": ["CONFIRMED", "SHIPPED", "CANCELLED"]}, "retailer_id": ID, "wholesaler_id": ID,
        "credit_account_id": ID, "total_amount": _ref("Amount"), "currency": TEXT,
        "credit_ledger_entry_id": BIG_ID, "created_at": _ref("Timestamp"),
        "due_date": {"type": "string", "format": "date", "examples": ["2026-12-31"],
                     "description": "The order's business date in the wholesaler's time zone plus the terms."},
        "paid_amount": {**_ref("Amount"), "description": "What payments and credit notes pay of it now (0.00 once "
                        "cancelled: what paid it was released to pay other orders)."},
        "outstanding_amount": {**_ref("Amount"), "description": "Still to pay; 0.00 once cancelled."},
        "credited_amount": {**_ref("Amount"), "description": "What credit notes have given back of it."},
        "shipped_at": {**_nullable(_ref("Timestamp")), "description": "From then on only the wholesaler's side "
                       "may cancel it (kept if it is cancelled afterwards)."},
        "cancelled_at": _nullable(_ref("Timestamp")), "cancel_reason": _nullable(TEXT),
        "lines": {"type": "array", "items": _ref("OrderLine")}}),
    "OrderPage": _object({"orders": {"type": "array", "items": _ref("Order")},
                          "next_cursor": {**_nullable(ID), "description": "Pass as `after`; null at the end."}}),
    "PlacedOrder": _object({
        "id": ID, "status": {"enum": ["CONFIRMED", "SHIPPED", "CANCELLED"]}, "total_amount": _ref("Amount"),
        "credit_ledger_entry_id": BIG_ID,
        "available_credit": {**_ref("Amount"), "description": "Credit left on the account now."}}),
    "CancelledOrder": _object({"id": ID, "status": {"const": "CANCELLED"}, "reversal_entry_id": BIG_ID}),
    "Statement": _object({
        "credit_account_id": ID, "from": DATE, "to": DATE, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "opening_balance": {**_ref("Amount"), "description": "The balance before the period's first day."},
        "charged": {**_ref("Amount"), "description": "What the period's entries added."},
        "credited": {**_ref("Amount"), "description": "What they took off (payments, credit notes, cancellations)."},
        "closing_balance": {**_ref("Amount"), "description": "opening_balance + charged - credited."},
        "unapplied_credit": {**_ref("Amount"), "description": "Credit not applied to any charge at the end."},
        "ageing": {**_object({"buckets": _ref("Buckets"), "total": _ref("Amount")}),
                   "description": "What was owed at the end of the last day, by days past due; its total less the "
                                  "unapplied credit is the closing balance."},
        "entries": {"type": "array", "description": "Every ledger entry of the period, oldest first.",
                    "items": _object({
            "id": BIG_ID, "date": {**DATE, "description": "Its day in the wholesaler's time zone."},
            "type": LEDGER_ENTRY["type"], "order_id": _nullable(ID), "memo": _nullable(TEXT), "description": TEXT,
            "due_date": {**_nullable(DATE), "description": "A charge's due date."},
            "amount": {**_ref("Amount"), "description": "The change to the balance: negative lowers what is owed."},
            "balance_after": _ref("Amount"),
            "paid": {"type": "array", "description": "A credit's: what it had paid by the period's end, per charge "
                     "(order_id null: an adjustment's).",
                     "items": _object({"order_id": _nullable(ID), "amount": _ref("Amount")})}})}}),
    "WebhookEndpoint": _object({
        "id": ID, "url": TEXT, "events": {"type": "array", "items": {"enum": list(EVENT_TYPES)}},
        "created_at": _ref("Timestamp"),
        "failing_since": {**_nullable(_ref("Timestamp")), "description": "Set when a delivery gave up after three "
                          "days of failures; cleared by the next one that succeeds."},
        "previous_secret_valid_until": {**_nullable(_ref("Timestamp")), "description": "After a rotation, the old "
                                        "secret signs beside the new one until then."},
        "deleted_at": {**_nullable(_ref("Timestamp")), "description": "Deleted endpoints are sent nothing."},
        "secret": {"type": "string", "pattern": "^whsec_", "description": "Only in the answer that made it (register "
                   "or rotate-secret): it is not shown again."}},
        required=["id", "url", "events", "created_at", "failing_since", "previous_secret_valid_until", "deleted_at"]),
    "WebhookEndpointList": _object({"webhook_endpoints": {"type": "array", "items": _ref("WebhookEndpoint"),
                                                          "description": "Not deleted, by id."}}),
}

BODIES = body_schemas()


def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


RESPONSES = {
    "Invalid": _error("VALIDATION_ERROR (with field_errors), or a credit refusal: INSUFFICIENT_CREDIT, "
                      "CREDIT_BLOCKED, CREDIT_OVERDUE (with overdue_amount and oldest_due_date), "
                      "CREDIT_ACCOUNT_NOT_FOUND (with available_credit where it applies)."),
    "Unauthorized": _error("No bearer token, or one that is unknown, revoked, or whose user is deactivated.",
                           {"WWW-Authenticate": {"schema": {"type": "string"}}}),
    "Forbidden": _error("The token's user has a role that may not do this."),
    "NotFound": _error("No such object, or not one this user may see."),
    "Busy": _error("MAX_RETRIES_EXCEEDED: the account stayed busy; DATABASE_UNAVAILABLE: no database "
                   "connection could be had in time, or it was lost. Retry after the pause; after DATABASE_UNAVAILABLE "
                   "the request may have been applied: retry an order, payment or adjustment with the same "
                   "Idempotency-Key (it is applied at most once) and check other writes before repeating them.",
                   {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}}),
    "RateLimited": _error(
        "TOO_MANY_REQUESTS: the token's user sent more requests than its limit (API_RATE_LIMIT, 1200 a minute "
        "unless configured; all of the user's tokens and endpoints count together). Nothing was done: send it "
        "again after Retry-After seconds.",
        {"Retry-After": {"schema": {"type": "integer", "minimum": 1},
                         "description": "Seconds until the limit lets a request through again."}}),
    "SystemError": _error("SYSTEM_ERROR: the request may have been applied. Retry an order, payment or "
                          "adjustment with the same Idempotency-Key; check other writes before repeating them."),
}


def _operation(endpoint: str, summary: str, roles: list[str], ok: tuple[int, str, str], *,
               body: str | None = None, params: tuple[str, ...] = (), query: list[dict] | None = None,
               extra: dict | None = None) -> dict:
    """One operation: its id is the Flask endpoint, ``x-roles`` the roles allowed; refusals follow from
    what it takes (a path id → 404, fewer than all roles → 403; every operation may answer 400, since a
    query parameter it does not take is refused, not ignored)."""
    status, description, schema = ok
    responses = {str(status): {"description": description,
                               "content": {"application/json": {"schema": _ref(schema)}}}}
    responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    if set(roles) != set(EVERYONE):
        responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    responses["400"] = {"$ref": "#/components/responses/Invalid"}
    if params:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    responses["429"] = {"$ref": "#/components/responses/RateLimited"}  # every call with a token counts
    responses["503"] = {"$ref": "#/components/responses/Busy"}  # any call may find the database busy
    responses["500"] = {"$ref": "#/components/responses/SystemError"}
    responses.update(extra or {})
    operation = {"operationId": endpoint, "summary": summary, "x-roles": sorted(roles),
                 "parameters": [{"name": p, "in": "path", "required": True, "schema": ID} for p in params]
                 + (query or []), "responses": responses}
    if body:
        operation["requestBody"] = {"required": body not in ("CancelBody", "EmptyBody"),
                                    "content": {"application/json": {"schema": _ref(body)}}}
    return operation


def _page_query(after_schema: dict) -> list[dict]:
    return [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                        "default": 50}},
            {"name": "after", "in": "query", "schema": after_schema,
             "description": "The previous page's next_cursor: only items with a smaller id."}]


IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 100},
                   "description": "Sending the same key again returns the first order (200) instead of "
                                  "placing a second; the same key with other lines is a 409."}
ENTRY_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 100},
    "description": "Printable text, unique per credit account (payments and adjustments share the keys). Sending "
                   "the same key with the same amount and text again returns the first entry (200) and writes "
                   "nothing, so a request whose answer was lost can be sent again; the same key with another "
                   "amount, text or operation is a 409."}
ENTRY_REPLAYS = {
    "200": {"description": "Replayed: this Idempotency-Key already recorded this entry; nothing was written",
            "content": {"application/json": {"schema": _ref("PostedEntry")}}},
    "409": _error("IDEMPOTENCY_KEY_REUSED: the key was used on this account for another amount, text or operation."),
}
ACCOUNT = ("account_id",)
AS_OF = {"name": "as_of", "in": "query", "schema": DATE,
         "description": "YYYY-MM-DD; today in the wholesaler's time zone (UTC for admins' books) unless given."}
ORDER = ("order_id",)

PATHS = {
    "/wholesalers": {"post": _operation("create_wholesaler", "Add a wholesaler", [ADMIN],
                                        (201, "The new wholesaler", "Wholesaler"), body="WholesalerBody")},
    "/retailers": {"post": _operation("create_retailer", "Add a retailer", [ADMIN],
                                      (201, "The new retailer", "Organisation"), body="NameBody")},
    "/users": {"post": _operation("create_user", "Add a user of a role and organisation", [ADMIN],
                                  (201, "The new user", "User"), body="UserBody")},
    "/credit-accounts": {
        "get": _operation("list_credit_accounts", "Credit accounts this user may see", EVERYONE,
                          (200, "The accounts, by id", "CreditAccountList")),
        "post": _operation("open_credit_account", "Open a retailer–wholesaler credit account", [ADMIN],
                           (201, "The new account", "CreditAccount"), body="OpenAccountBody"),
    },
    "/credit-accounts/{account_id}": {
        "get": _operation("get_credit_account", "One credit account", EVERYONE,
                          (200, "The account", "CreditAccount"), params=ACCOUNT),
        "patch": _operation("set_credit_limit", "Change the credit limit, the payment terms or the overdue hold",
                            [WHOLESALER, ADMIN], (200, "The account", "CreditAccount"), body="CreditLimitBody",
                            params=ACCOUNT),
    },
    "/credit-accounts/{account_id}/block": {
        "post": _operation("block_credit_account", "Stop new orders on the account", [ADMIN],
                           (200, "The account", "CreditAccount"), body="BlockBody", params=ACCOUNT)},
    "/credit-accounts/{account_id}/unblock": {
        "post": _operation("unblock_credit_account", "Allow new orders again", [ADMIN],
                           (200, "The account", "CreditAccount"), body="EmptyBody", params=ACCOUNT)},
    "/credit-accounts/{account_id}/payments": {
        "post": _operation("record_payment", "Record a payment received (a CREDIT entry) and what it pays",
                           [WHOLESALER, ADMIN],
                           (201, "The ledger entry", "PostedEntry"), body="PaymentBody", params=ACCOUNT,
                           extra=ENTRY_REPLAYS)},
    "/credit-accounts/{account_id}/adjustments": {
        "post": _operation("post_adjustment", "Post a signed correction (an ADJUSTMENT entry)",
                           [WHOLESALER, ADMIN], (201, "The ledger entry", "PostedEntry"), body="AdjustmentBody",
                           params=ACCOUNT, extra=ENTRY_REPLAYS)},
    "/credit-accounts/{account_id}/ledger": {
        "get": _operation("ledger", "The account's ledger, newest first, keyset-paginated", EVERYONE,
                          (200, "One page of entries", "LedgerPage"), params=ACCOUNT,
                          query=_page_query(BIG_ID))},
    "/credit-accounts/{account_id}/ageing": {
        "get": _operation("account_ageing", "The account's ageing as of a date", EVERYONE,
                          (200, "Outstanding by days past due", "AccountAgeing"), params=ACCOUNT, query=[AS_OF])},
    "/credit-accounts/{account_id}/statement": {
        "get": _operation("statement", "The statement of account for a period, as JSON or as a PDF", EVERYONE,
                          (200, "The statement (as a PDF for Accept: application/pdf)", "Statement"),
                          params=ACCOUNT, query=[
                              {"name": "from", "in": "query", "schema": DATE,
                               "description": "The first day; the first of the month of `to` unless given."},
                              {"name": "to", "in": "query", "schema": DATE,
                               "description": "The last day, at the latest today in the wholesaler's time zone "
                                              "(unless given); at most 366 days after `from`."}])},
    "/ageing": {
        "get": _operation("book_ageing", "The ageing of every account that owes, keyset-paginated", [WHOLESALER, ADMIN],
                          (200, "One page of accounts and the book's totals", "BookAgeing"),
                          query=[AS_OF, {"name": "sort", "in": "query",
                                         "schema": {"enum": [f"{d}{k}" for k in SORTS for d in ("", "-")],
                                                    "default": "retailer"},
                                         "description": "A bucket, total or retailer (by name); a leading - sorts "
                                                        "descending."},
                                 {"name": "limit", "in": "query",
                                  "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                                 {"name": "after", "in": "query", "schema": {"type": "string", "maxLength": 200},
                                  "description": "The previous page's next_cursor."}])},
    "/products": {
        "get": _operation("list_products", "Products this user may see", EVERYONE,
                          (200, "The products, by id", "ProductList"),
                          query=[{"name": "wholesaler_id", "in": "query", "schema": ID,
                                  "description": "Only this wholesaler's products."}]),
        "post": _operation("add_product", "Add a product to the caller's catalogue", [WHOLESALER],
                           (201, "The new product", "Product"), body="ProductBody"),
    },
    "/orders": {
        "get": _operation("list_orders", "Orders this user may see, newest first, keyset-paginated", EVERYONE,
                          (200, "One page of orders", "OrderPage"), query=_page_query(ID)),
        "post": _operation(
            "place_order", "Place an order on credit, under the account's row lock", [RETAILER],
            (201, "The order was placed", "PlacedOrder"), body="OrderBody",
            extra={"200": {"description": "Replayed: this Idempotency-Key already placed this order",
                           "content": {"application/json": {"schema": _ref("PlacedOrder")}}},
                   "409": _error("IDEMPOTENCY_KEY_REUSED: the key was used for other lines.")}),
    },
    "/orders/{order_id}": {
        "get": _operation("get_order", "One order with its lines", EVERYONE, (200, "The order", "Order"),
                          params=ORDER)},
    "/orders/{order_id}/cancel": {
        "post": _operation("cancel_order", "Cancel an order (again: the same answer, nothing written)", EVERYONE,
                           (200, "The cancelled order", "CancelledOrder"), body="CancelBody", params=ORDER,
                           extra={"409": _error("ORDER_SHIPPED: a retailer cannot cancel an order once shipped; "
                                                "ORDER_CREDITED: an order with credit notes is credited by line.")})},
    "/orders/{order_id}/credit-notes": {
        "post": _operation("credit_order", "Credit an order back by line (a CREDIT_NOTE entry) and what it pays",
                           [ADMIN, WHOLESALER], (201, "The ledger entry", "PostedEntry"), body="CreditNoteBody",
                           params=ORDER, extra=ENTRY_REPLAYS | {"409": _error(
                               "ORDER_CANCELLED: a cancelled order has nothing to credit; IDEMPOTENCY_KEY_REUSED: "
                               "the key was used on this account for another request.")})},
    "/orders/{order_id}/ship": {
        "post": _operation("ship_order", "Mark an order shipped (again: the same answer, nothing written)",
                           [ADMIN, WHOLESALER], (200, "The order", "Order"), body="EmptyBody", params=ORDER,
                           extra={"409": _error("ORDER_CANCELLED: a cancelled order cannot be shipped.")})},
}
ENDPOINT = ("endpoint_id",)
OWNERS = [RETAILER, WHOLESALER]
PATHS |= {
    "/webhook-endpoints": {
        "get": _operation("list_webhook_endpoints", "The webhook endpoints of the caller's organisation", OWNERS,
                          (200, "The endpoints, by id", "WebhookEndpointList")),
        "post": _operation("register_webhook_endpoint", "Register a webhook endpoint for events about the caller's "
                           "own credit accounts", OWNERS, (201, "The endpoint, with its secret: shown only now",
                                                           "WebhookEndpoint"), body="WebhookEndpointBody"),
    },
    "/webhook-endpoints/{endpoint_id}": {
        "get": _operation("get_webhook_endpoint", "One webhook endpoint (deleted ones too)", OWNERS,
                          (200, "The endpoint", "WebhookEndpoint"), params=ENDPOINT),
        "delete": _operation("delete_webhook_endpoint", "Send the endpoint nothing more (again: the same answer, "
                             "nothing written)", OWNERS, (200, "The deleted endpoint", "WebhookEndpoint"),
                             body="EmptyBody", params=ENDPOINT),
    },
    "/webhook-endpoints/{endpoint_id}/rotate-secret": {
        "post": _operation("rotate_webhook_secret", "A new secret; the old one signs beside it for 24 hours",
                           OWNERS, (200, "The endpoint, with its new secret: shown only now", "WebhookEndpoint"),
                           body="EmptyBody", params=ENDPOINT)},
}
PATHS["/orders"]["post"]["parameters"].append(IDEMPOTENCY_KEY)
PATHS["/credit-accounts/{account_id}/statement"]["get"]["responses"]["200"]["content"]["application/pdf"] = {
    "schema": {"type": "string", "format": "binary"}}
for _entry_path in ("/credit-accounts/{account_id}/payments", "/credit-accounts/{account_id}/adjustments",
                    "/orders/{order_id}/credit-notes"):
    PATHS[_entry_path]["post"]["parameters"].append(ENTRY_IDEMPOTENCY_KEY)
PATHS["/openapi.json"] = {"get": {"operationId": "openapi_document", "summary": "This document", "security": [],
                                  "x-roles": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}

# --- Webhooks: what each event's POST carries ----------------------------------------------------------------

CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}
ACCOUNT_NOW = {"status": {"enum": ["ACTIVE", "BLOCKED"]}, "credit_limit": _ref("Amount"), "balance": _ref("Amount"),
               "available_credit": _ref("Amount"), "currency": CURRENCY}
#: Each event's ``data`` beyond the account's ids, which every event has.
EVENT_DATA = {
    "order.confirmed": {"order_id": ID, "total_amount": _ref("Amount"), "currency": CURRENCY, "due_date": DATE,
                        "placed_at": _ref("Timestamp"), "available_credit": _ref("Amount")},
    "order.cancelled": {"order_id": ID, "reversal_entry_id": BIG_ID, "reason": _nullable(TEXT),
                        "available_credit": _ref("Amount")},
    "payment.recorded": {"ledger_entry_id": BIG_ID, "amount": _ref("Amount"), "reference": TEXT,
                         "recorded_at": _ref("Timestamp"), "allocations": {
                             "type": "array", "description": "What it paid, one item per charge, oldest first "
                             "(order_id null: a charge made by an adjustment).",
                             "items": _object({"order_id": _nullable(ID), "amount": _ref("Amount")})},
                         **ACCOUNT_NOW},
    "account.blocked": {**ACCOUNT_NOW, "reason": TEXT},
    "account.unblocked": ACCOUNT_NOW,
    "account.overdue_hold": {**ACCOUNT_NOW, "overdue_amount": _ref("Amount"), "oldest_due_date": DATE,
                             "to_lift": {**_ref("Amount"), "description": "The payment that lifts the hold."}},
    "account.overdue_released": ACCOUNT_NOW,
    "account.limit_changed": {**ACCOUNT_NOW, "previous_limit": _ref("Amount")},
}
SIGNATURE = {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
             "examples": {"signed": {"value": "t=1796220000,v1=5257a869e7ec…"}},
             "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the endpoint's secret>; "
                            "one v1 per valid secret while a rotation overlaps. Refuse a t far from now."}


def _event(name: str) -> dict:
    data = {"credit_account_id": ID, "retailer_id": ID, "wholesaler_id": ID} | EVENT_DATA[name]
    envelope = _object({"id": {"type": "string", "pattern": "^evt_[0-9a-f]{24}$",
                               "description": "The same on every attempt: drop a repeat by it."},
                        "type": {"const": name}, "created_at": _ref("Timestamp"), "data": _object(data)})
    return {"post": {"summary": EVENT_TYPES[name], "operationId": f"webhook_{name.replace('.', '_')}",
                     "parameters": [SIGNATURE],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": envelope}}},
                     "responses": {"2XX": {"description": "Received. Anything else, or no answer within 10 seconds, "
                                           "is sent again after 2, 4, 8 … seconds for three days."}}}}


WEBHOOKS = {name: _event(name) for name in EVENT_TYPES}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Creditline API", "version": "1.0.0",
             "description": "Trade credit for B2B wholesalers. JSON in and out; amounts are decimal strings, "
                            "ids integers, times ISO 8601 UTC. Every refusal is the Error document."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "webhooks": WEBHOOKS,
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "`flask create-api-token --email E` prints one."}},
        "schemas": SCHEMAS | BODIES,
        "responses": RESPONSES,
    },
}
