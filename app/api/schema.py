"""The API's request bodies, declared once: each a pydantic model whose fields are parsed by the API's own rules
(app/api/bodies.py: the same messages, amounts as decimal strings, no coercion) and carry their JSON Schema, so
the validation and the OpenAPI document's request schemas come from the same declaration.

A field is required unless it is declared ``X | None = None``: an optional field sent as null reads as left out,
a required one sent as null is "required". Unknown fields are refused (``extra="forbid"``).
"""

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainValidator, TypeAdapter, WithJsonSchema
from pydantic import Field as Described
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError

from app.api import bodies
from app.models import Role
from app.services.clock import MAX_PAYMENT_TERMS_DAYS
from app.services.holds import MAX_EXPIRY_SECONDS, MIN_EXPIRY_SECONDS
from app.services.text import (
    EMAIL_MAX_LENGTH,
    FREE_TEXT_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    SKU_MAX_LENGTH,
    TIME_ZONE_MAX_LENGTH,
)
from app.services.webhooks import EVENT_TYPES, URL_MAX_LENGTH

#: Every role's name, as the API writes it.
ROLES = sorted(role.value for role in Role)


# --- JSON Schema fragments the bodies and the documents share ---------------------------------------------------

def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def component(name: str) -> dict:
    """A reference to one of the document's own components from a body field: written as a marker that
    body_schemas turns into the $ref (pydantic resolves every $ref it meets against its own definitions)."""
    return {"x-component": name}


ID = {"type": "integer", "minimum": 1, "maximum": bodies.MAX_ID}
BIG_ID = {"type": "integer", "minimum": 1}
TEXT = {"type": "string"}
TERMS = {"type": "integer", "minimum": 0, "maximum": MAX_PAYMENT_TERMS_DAYS}
DATE = {"type": "string", "format": "date", "examples": ["2026-12-31"]}


# --- Field types: a parser from bodies.py and the schema it is documented by ------------------------------------

def _in_its_words(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``parse``, its bodies.FieldError raised as pydantic's error with the same reason."""
    def run(value: Any) -> Any:
        try:
            return parse(value)
        except bodies.FieldError as error:
            raise PydanticCustomError("invalid", "{why}", {"why": str(error)}) from None

    return run


def parsed(parse: Callable[[Any], Any], schema: dict) -> Any:
    """A field type parsed by ``parse`` (which raises bodies.FieldError with the reason) and documented by
    ``schema``. Null is "required" here: an optional field's ``| None`` takes null before this is asked."""
    run = _in_its_words(parse)

    def validate(value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("missing", "required")
        return run(value)

    return Annotated[Any, PlainValidator(validate), WithJsonSchema(schema)]


def text(max_length: int, schema: dict | None = None) -> Any:
    return parsed(bodies.text(max_length), schema or TEXT)


Id = parsed(bodies.identifier, ID)
Quantity = parsed(bodies.count, {"type": "integer", "minimum": 1})
Amount = parsed(bodies.amount, component("AmountInput"))
Terms = parsed(bodies.days, TERMS)
Reason = text(FREE_TEXT_MAX_LENGTH)


def listed(check: Callable[[Any], Any], **schema) -> Any:
    """A list field: ``check`` refuses what is not a list or has too few or too many items, with the API's words
    (the items are then validated as their model); ``schema`` adds minItems and the like to the document."""
    return [BeforeValidator(_in_its_words(check)), Described(json_schema_extra=schema)]


# --- Bodies --------------------------------------------------------------------------------------------------------

class Body(BaseModel):
    """A closed JSON object: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class EmptyBody(Body):
    pass


class NameBody(Body):
    name: text(NAME_MAX_LENGTH)


class WholesalerBody(Body):
    name: text(NAME_MAX_LENGTH)
    time_zone: text(TIME_ZONE_MAX_LENGTH, {**TEXT, "description": "IANA name; UTC unless given."}) | None = None
    default_payment_terms_days: parsed(bodies.days, {**TERMS, "description": "30 unless given."}) | None = None


class UserBody(Body):
    email: text(EMAIL_MAX_LENGTH)
    password: text(PASSWORD_MAX_LENGTH, {
        "type": "string", "minLength": PASSWORD_MIN_LENGTH, "maxLength": PASSWORD_MAX_LENGTH,
        "description": "Refused (field_errors.password) when it is only whitespace, one character repeated, or a "
                       "common password, compared case-insensitively."})
    role: text(16, {"enum": ROLES})
    organisation_id: parsed(bodies.identifier, {**ID, "description": "The retailer or wholesaler the "
                                                "user belongs to; absent or null for admins."}) | None = None


class OpenAccountBody(Body):
    retailer_id: Id
    wholesaler_id: Id
    credit_limit: Amount
    currency: text(3, {**TEXT, "description": "Defaults to the wholesaler's currency."}) | None = None


class BlockBody(Body):
    reason: Reason


class CreditLimitBody(Body):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "description": "Any of the fields; at least one."})

    credit_limit: Amount | None = None
    payment_terms_days: Terms | None = None
    overdue_policy: text(16, {"enum": ["off", "hold"], "description": "hold: orders stop while more than the "
                              "minimum is overdue (accounts opened before the hold existed have off)."}) | None = None
    overdue_grace_days: parsed(bodies.days, {**TERMS, "description": "Days after a due date before an item counts "
                                             "as overdue."}) | None = None
    overdue_min_amount: parsed(bodies.amount, {**component("AmountInput"), "description": "Overdue amounts up to this "
                                               "do not stop orders."}) | None = None


class AllocationInput(Body):
    order_id: Id
    amount: Amount | None = None


class PaymentBody(Body):
    amount: Amount
    reference: Reason
    allocations: Annotated[list[AllocationInput], *listed(
        bodies.list_of("{order_id, amount} objects", max_items=bodies.MAX_ALLOCATIONS,
                       too_many=f"must name at most {bodies.MAX_ALLOCATIONS} orders"),
        maxItems=bodies.MAX_ALLOCATIONS,
        description="The remittance advice: orders this payment pays first, in this order, each at most what it "
                    "owes (without an amount: in full, or with what is left); the rest pays the oldest due date "
                    "first, and what is left is unapplied credit. An order of another account, a cancelled one, one "
                    "named twice, more than an order owes or named amounts above the payment are a "
                    "VALIDATION_ERROR that records nothing.")] | None = None

    @property
    def named(self) -> list[tuple[int, Any]]:
        return [(a.order_id, a.amount) for a in self.allocations or ()]


class AdjustmentBody(Body):
    amount: parsed(bodies.amount, {**component("AmountInput"), "description": "Signed: positive raises the balance, "
                                   "negative lowers it."})
    reason: Reason


class ProductBody(Body):
    sku: text(SKU_MAX_LENGTH)
    name: text(NAME_MAX_LENGTH)
    unit_price: Amount


class OrderLineInput(Body):
    product_id: Id
    quantity: Quantity


def order_lines(**description) -> Any:
    return Annotated[list[OrderLineInput], *listed(
        bodies.list_of("{product_id, quantity} objects", min_items=1, max_items=bodies.MAX_ORDER_LINES,
                       too_many=f"must have 1 to {bodies.MAX_ORDER_LINES} lines"),
        minItems=1, maxItems=bodies.MAX_ORDER_LINES, **description)]


class Lines(Body):
    @property
    def pairs(self) -> list[tuple[int, int]]:
        """The lines as (product_id, quantity), as the services take them."""
        return [(line.product_id, line.quantity) for line in self.lines]


class OrderBody(Lines):
    wholesaler_id: Id
    lines: order_lines()


class LimitIncreaseBody(Body):
    amount: Amount
    ends_on: parsed(bodies.day, {**DATE, "description": "Its last day, inclusive, in the wholesaler's time zone: "
                                 "today at the earliest, within a year."})
    reason: Reason


class ApprovalBody(Body):
    note: text(FREE_TEXT_MAX_LENGTH, {**TEXT, "description": "For the buyer."}) | None = None


class DeclineBody(Body):
    note: text(FREE_TEXT_MAX_LENGTH, {**TEXT, "description": "Why not: the buyer reads it."})


class LimitRequestBody(Body):
    requested_limit: parsed(bodies.amount, {**component("AmountInput"), "description": "The whole limit asked for "
                                            "(not the rise): more than the effective limit now."})
    ends_on: parsed(bodies.day, {**DATE, "description": "Asked until the end of this day, in the wholesaler's time "
                                 "zone (today at the earliest, within a year); absent: for good."}) | None = None
    note: Reason


class LimitDecisionBody(Body):
    approve: parsed(bodies.boolean, {"type": "boolean"})
    limit: parsed(bodies.amount, {**component("AmountInput"), "description": "Approve this limit instead of the one "
                                  "asked for: for good, unless ends_on is given."}) | None = None
    ends_on: parsed(bodies.day, {**DATE, "description": "Approve until the end of this day (a temporary increase "
                                 "lifting the effective limit to the limit); absent with a limit: for good; both "
                                 "absent: as asked."}) | None = None
    note: text(FREE_TEXT_MAX_LENGTH, {**TEXT, "description": "For the retailer; required to decline."}) | None = None


class HoldBody(OrderBody):
    expires_in_seconds: parsed(bodies.whole_number, {
        "type": "integer", "minimum": MIN_EXPIRY_SECONDS, "maximum": MAX_EXPIRY_SECONDS, "examples": [900],
        "description": "How long it holds: 1 second to 30 days."})


class CaptureBody(Lines):
    lines: order_lines(description="Fewer or smaller lines than held (never more); the rest is released. All the "
                                   "hold's lines unless given.") | None = None

    @property
    def pairs(self) -> list[tuple[int, int]] | None:
        return None if self.lines is None else super().pairs


class CancelBody(Body):
    reason: Reason | None = None


class CreditNoteBody(Lines):
    lines: order_lines(description="The order's lines to credit, each product once, never more than was ordered "
                                   "and not yet credited.")
    reason: Reason


class WebhookEndpointBody(Body):
    url: text(URL_MAX_LENGTH, {
        "type": "string", "maxLength": URL_MAX_LENGTH, "examples": ["https://erp.example.com/creditline"],
        "description": "http or https, no user name or password; not a loopback, private or link-local address "
                       "unless the server allows them (WEBHOOK_ALLOW_PRIVATE_TARGETS)."})
    events: parsed(bodies.texts(4 * len(EVENT_TYPES), max(map(len, EVENT_TYPES))), {
        "type": "array", "minItems": 1, "items": {"enum": list(EVENT_TYPES)},
        "description": "The events to send it (a name given twice counts once)."})


BODIES = (NameBody, WholesalerBody, UserBody, OpenAccountBody, BlockBody, EmptyBody, CreditLimitBody, PaymentBody,
          AdjustmentBody, ProductBody, OrderBody, CancelBody, CreditNoteBody, WebhookEndpointBody, HoldBody,
          CaptureBody, LimitIncreaseBody, LimitRequestBody, LimitDecisionBody, ApprovalBody, DeclineBody)


# --- The bodies' JSON Schemas, for the OpenAPI document ---------------------------------------------------------

class _Schema(GenerateJsonSchema):
    """Pydantic's schema without the titles it makes up from names (the document has its own words)."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


    def model_schema(self, schema):
        generated = super().model_schema(schema)
        generated.pop("title", None)
        return generated

    def typed_dict_schema(self, schema):
        generated = super().typed_dict_schema(schema)
        generated.pop("title", None)
        return generated


def body_schemas() -> dict[str, dict]:
    """Every body's schema and those of the objects inside them, by component name."""
    return schemas_of({model.__name__: TypeAdapter(model) for model in BODIES}, mode="validation")


def schemas_of(named: dict[str, TypeAdapter], *, mode: str) -> dict[str, dict]:
    """The JSON Schema of each type by the name it has in the document, and of the objects inside them by
    their own, each referred to as a component."""
    schemas: dict[str, dict] = {}
    for name, adapter in named.items():
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}", schema_generator=_Schema,
                                     mode=mode)
        schemas = schema.pop("$defs", {}) | schemas
        schemas[name] = schema
    return _components(schemas)


def _components(node: Any) -> Any:
    if isinstance(node, dict):  # an optional field's default (None: left out) is no value the schema takes
        node = {key: _components(value) for key, value in node.items() if not (key == "default" and value is None)}
        if "x-component" in node:
            node["$ref"] = f"#/components/schemas/{node.pop('x-component')}"
        if "anyOf" in node and "description" in node["anyOf"][0]:  # an optional field's words, on the field
            node = {"description": node["anyOf"][0].pop("description")} | node
        return node
    return [_components(item) for item in node] if isinstance(node, list) else node
