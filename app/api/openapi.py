"""The OpenAPI 3.1 document of /api/v1: the request bodies' schemas come from their models (app/api/schema.py),
the rest is written here; tests keep it in step with the routes and check every answer against it."""

from app.api.documents import EVENT_DATA, document_schemas, event_schemas
from app.api.schema import BIG_ID, DATE, ID, ROLES, body_schemas
from app.api.schema import ref as _ref
from app.models import HoldStatus, LimitRequestStatus
from app.services.ageing import SORTS
from app.services.webhooks import EVENT_TYPES, SIGNATURE_HEADER

ADMIN, WHOLESALER, RETAILER = "admin", "wholesaler", "retailer"
EVERYONE = ROLES


def _object(properties: dict, required: list[str] | None = None) -> dict:
    """A closed object: the API refuses unknown fields, so the document says so too."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, "additionalProperties": False}


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
                      "HOLD_EXPIRED, HOLD_RELEASED, HOLD_CAPTURED, LIMIT_REQUEST_OPEN, LIMIT_REQUEST_CLOSED, "
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
} | document_schemas() | event_schemas()

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
            extra={"200": {"description": "Replayed: this Idempotency-Key already placed this order (or, above "
                                          "the buyer's order limit, this hold)",
                           "content": {"application/json": {"schema": {"oneOf": [_ref("PlacedOrder"),
                                                                                 _ref("PlacedHold")]}}}},
                   "202": {"description": "Above the buyer's order limit: not an order yet but a hold of its credit "
                                          "(purpose APPROVAL) for three days, which an approver approves or declines",
                           "content": {"application/json": {"schema": _ref("PlacedHold")}}},
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
HOLD = ("hold_id",)
PATHS |= {
    "/holds": {
        "get": _operation("list_holds", "Credit holds this user may see, newest first, keyset-paginated", EVERYONE,
                          (200, "One page of holds", "HoldPage"), query=[
                              {"name": "status", "in": "query", "schema": {"enum": [s.value for s in HoldStatus]},
                               "description": "Only holds in this status as it stands now (a hold past its expiry "
                                              "is EXPIRED)."}, *_page_query(ID)]),
        "post": _operation(
            "place_hold", "Hold credit for lines at today's prices until an expiry, under the account's row lock: "
            "refused as an order of the same lines would be", [RETAILER], (201, "The hold", "PlacedHold"),
            body="HoldBody", extra={"200": {"description": "Replayed: this Idempotency-Key already placed this hold",
                                            "content": {"application/json": {"schema": _ref("PlacedHold")}}},
                                    "409": _error("IDEMPOTENCY_KEY_REUSED: the key was used for other lines.")}),
    },
    "/holds/{hold_id}": {
        "get": _operation("get_hold", "One credit hold with its lines", EVERYONE, (200, "The hold", "Hold"),
                          params=HOLD)},
    "/holds/{hold_id}/capture": {
        "post": _operation(
            "capture_hold", "Turn the hold into a CONFIRMED order at the held prices (the rest is released); a buyer "
            "with an order limit orders no more than it (403), and an order waiting for approval is its approvers' "
            "(403 for its buyers: see approve_hold)",
            [RETAILER], (201, "The order", "Order"), body="CaptureBody", params=HOLD,
            extra={"200": {"description": "The hold was already captured: the same order, nothing written",
                           "content": {"application/json": {"schema": _ref("Order")}}},
                   "409": _error("HOLD_EXPIRED: its expiry came first; HOLD_RELEASED: it was released.")})},
    "/holds/{hold_id}/approve": {
        "post": _operation("approve_hold", "An approver orders a buyer's order waiting for approval, at the held "
                           "prices", [RETAILER], (201, "The order", "Order"), body="ApprovalBody", params=HOLD,
                           extra={"200": {"description": "Already approved: the same order, nothing written",
                                          "content": {"application/json": {"schema": _ref("Order")}}},
                                  "409": _error("HOLD_EXPIRED: its three days ran out (declined); HOLD_RELEASED: "
                                                "declined or withdrawn.")})},
    "/holds/{hold_id}/decline": {
        "post": _operation("decline_hold", "An approver declines a buyer's order waiting for approval, saying why "
                           "(again: the hold as it is, nothing written)", [RETAILER], (200, "The hold", "Hold"),
                           body="DeclineBody", params=HOLD,
                           extra={"409": _error("HOLD_CAPTURED: it was approved.")})},
    "/holds/{hold_id}/release": {
        "post": _operation("release_hold", "Release the hold's credit (again, or once expired: the hold as it is, "
                           "nothing written)", EVERYONE, (200, "The hold", "Hold"), body="EmptyBody", params=HOLD,
                           extra={"409": _error("HOLD_CAPTURED: it became an order; cancel the order instead.")})},
}
PATHS |= {
    "/credit-accounts/{account_id}/limit-increases": {
        "get": _operation("list_limit_increases", "The account's temporary limit increases, newest first, "
                          "keyset-paginated", EVERYONE, (200, "One page of increases", "LimitIncreasePage"),
                          params=ACCOUNT, query=_page_query(ID)),
        "post": _operation("grant_limit_increase", "Lift the limit by an amount until the end of a day in the "
                           "wholesaler's time zone, for a reason", [WHOLESALER, ADMIN],
                           (201, "The increase", "LimitIncrease"), body="LimitIncreaseBody", params=ACCOUNT),
    },
    "/limit-increases/{increase_id}/end": {
        "post": _operation("end_limit_increase", "End a temporary increase now (again, or once ended: the increase "
                           "as it is, nothing written)", [WHOLESALER, ADMIN], (200, "The increase", "LimitIncrease"),
                           body="EmptyBody", params=("increase_id",))},
}
LIMIT_REQUEST = ("request_id",)
_STATUS = {"name": "status", "in": "query", "schema": {"enum": [s.value for s in LimitRequestStatus]},
           "description": "Only requests in this status."}
_CLOSED = _error("LIMIT_REQUEST_CLOSED (with status): it was already decided or withdrawn.")
PATHS |= {
    "/credit-accounts/{account_id}/limit-requests": {
        "get": _operation("list_account_limit_requests", "The account's limit requests, newest first, "
                          "keyset-paginated", EVERYONE, (200, "One page of requests", "LimitRequestPage"),
                          params=ACCOUNT, query=_page_query(ID)),
        "post": _operation("request_limit", "Ask for a higher limit on the credit line, for good or until a day "
                           "(one open request per line)", [RETAILER], (201, "The request", "LimitRequest"),
                           body="LimitRequestBody", params=ACCOUNT,
                           extra={"409": _error("LIMIT_REQUEST_OPEN: another request on this line waits for its "
                                                "decision.")}),
    },
    "/limit-requests": {
        "get": _operation("list_limit_requests", "Limit requests this user may see, newest first, keyset-paginated",
                          EVERYONE, (200, "One page of requests", "LimitRequestPage"),
                          query=[_STATUS, *_page_query(ID)])},
    "/limit-requests/{request_id}": {
        "get": _operation("get_limit_request", "One limit request", EVERYONE, (200, "The request", "LimitRequest"),
                          params=LIMIT_REQUEST)},
    "/limit-requests/{request_id}/decision": {
        "post": _operation("decide_limit_request", "Approve the request (as asked, or another limit for good or "
                           "until a day) or decline it with a note, under the account's row lock",
                           [WHOLESALER, ADMIN], (200, "The decided request", "LimitRequest"),
                           body="LimitDecisionBody", params=LIMIT_REQUEST, extra={"409": _CLOSED})},
    "/limit-requests/{request_id}/withdraw": {
        "post": _operation("withdraw_limit_request", "Take an open request back", [RETAILER],
                           (200, "The withdrawn request", "LimitRequest"), body="EmptyBody", params=LIMIT_REQUEST,
                           extra={"409": _CLOSED})},
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
PATHS["/holds"]["post"]["parameters"].append({**IDEMPOTENCY_KEY, "description": "Sending the same key again returns "
                                              "the first hold (200) instead of placing a second; the same key with "
                                              "other lines or another expiry is a 409."})
PATHS["/credit-accounts/{account_id}/statement"]["get"]["responses"]["200"]["content"]["application/pdf"] = {
    "schema": {"type": "string", "format": "binary"}}
for _entry_path in ("/credit-accounts/{account_id}/payments", "/credit-accounts/{account_id}/adjustments",
                    "/orders/{order_id}/credit-notes"):
    PATHS[_entry_path]["post"]["parameters"].append(ENTRY_IDEMPOTENCY_KEY)
PATHS["/openapi.json"] = {"get": {"operationId": "openapi_document", "summary": "This document", "security": [],
                                  "x-roles": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}

# --- Webhooks: what each event's POST carries ----------------------------------------------------------------

SIGNATURE = {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
             "examples": {"signed": {"value": "t=1796220000,v1=5257a869e7ec…"}},
             "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the endpoint's secret>; "
                            "one v1 per valid secret while a rotation overlaps. Refuse a t far from now."}


def _event(name: str) -> dict:
    envelope = _object({"id": {"type": "string", "pattern": "^evt_[0-9a-f]{24}$",
                               "description": "The same on every attempt: drop a repeat by it."},
                        "type": {"const": name}, "created_at": _ref("Timestamp"),
                        "data": _ref(EVENT_DATA[name].__name__)})
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
