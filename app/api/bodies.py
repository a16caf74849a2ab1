"""Strict API input: JSON bodies (each validated by its model in app/api/schema.py) and query strings, every
problem reported under its field's name, and the parsers each field is read with."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app, request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from app.routing import MAX_ID
from app.services.errors import ValidationError
from app.services.money import parse_amount
from app.services.text import ascii_digits

#: Largest value of a BigInteger id column (ledger entries).
MAX_BIG_ID = 2**63 - 1
#: Lines accepted on one order, and orders one payment may name.
MAX_ORDER_LINES = MAX_ALLOCATIONS = 200


class FieldError(Exception):
    """What is wrong with one field's value; the parser adds the field's name."""


@dataclass(frozen=True)
class Field:
    """A query parameter: its parser, and whether it must be given (left out or empty, it reads as None)."""

    parse: Callable[[Any], Any]
    required: bool = True


def json_body(model: type[BaseModel]) -> Any:
    """The request's JSON object validated by ``model`` (app/api/schema.py); an empty body counts as ``{}``.

    Raises ValidationError naming every unknown, missing, repeated or ill-typed field at once (nested ones as
    ``lines[0].quantity``), and any query parameter: a write takes its input from the body only, so ``?amount=5``
    is refused rather than ignored.
    """
    raw = request.get_data(cache=True)
    document: Any = {}
    if raw.strip():
        try:
            document = json.loads(raw, object_pairs_hook=_JsonObject.from_pairs)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise ValidationError("The body is not valid JSON.", field_errors={"body": "not valid JSON"}) from None
    if not isinstance(document, dict):
        raise ValidationError("The body must be a JSON object.", field_errors={"body": "must be a JSON object"})
    errors: dict[str, str] = dict.fromkeys(request.args, "unknown parameter")
    try:
        body = model.model_validate(document)
    except PydanticValidationError as invalid:
        body = None
        errors |= {_path(error["loc"]): _MESSAGES.get(error["type"], error["msg"]) for error in invalid.errors()}
    errors |= _repeated(document, "")
    if errors:
        raise ValidationError("Some of the input is not valid.", field_errors=errors)
    return body


#: Pydantic's own refusals, in the API's words (the fields' parsers give theirs).
_MESSAGES = {"missing": "required", "extra_forbidden": "unknown field", "model_type": "must be an object",
             "model_attributes_type": "must be an object", "dict_type": "must be an object"}


def _path(loc: tuple) -> str:
    """("lines", 0, "quantity") → lines[0].quantity"""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _repeated(value: Any, path: str) -> dict[str, str]:
    """Every name an object of the document held more than once, at any depth."""
    found: dict[str, str] = {}
    if isinstance(value, _JsonObject):
        found |= {f"{path}.{name}" if path else name: "given more than once" for name in value.repeated}
        for name, inner in value.items():
            found |= _repeated(inner, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found |= _repeated(inner, f"{path}[{i}]")
    return found


def query_args(**fields: Field) -> dict[str, Any]:
    """The query string checked against ``fields`` (each parser gets the text); unknown names are refused."""
    errors: dict[str, str] = {}
    for name, given in request.args.lists():
        if name not in fields:
            errors[name] = "unknown parameter"
        elif len(given) > 1:
            errors[name] = "given more than once"
    values = {}
    for name, field in fields.items():
        if name in errors:
            continue
        value = request.args.get(name)
        if value is None or value == "":
            if field.required:
                errors[name] = "required"
            values[name] = None
            continue
        try:
            values[name] = field.parse(value)
        except FieldError as error:
            errors[name] = str(error)
    if errors:
        raise ValidationError("Some of the query parameters are not valid.", field_errors=errors)
    return values


#: Items per page of a list unless ``limit`` says otherwise, and the most one page may hold.
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


def page_args(**fields: Field) -> dict[str, Any]:
    """The query string of a list paged by id (``limit``, ``after``: the previous page's next_cursor) and its other
    ``fields``; ``limit`` is the default page size when not given."""
    args = query_args(**fields, limit=Field(query_integer(1, MAX_PAGE_SIZE), required=False),
                      after=Field(query_integer(1, MAX_ID), required=False))
    args["limit"] = args["limit"] or DEFAULT_PAGE_SIZE
    return args


class _JsonObject(dict):
    """A JSON object as decoded, with the names it held more than once: json.loads would silently keep the last
    value, and another parser the first, so {"amount": "NaN", "amount": "5.00"} is refused, not read as 5.00."""

    repeated: frozenset[str] = frozenset()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> "_JsonObject":
        document = cls(pairs)
        if len(document) < len(pairs):
            seen: set[str] = set()
            document.repeated = frozenset(name for name, _ in pairs if name in seen or seen.add(name))
        return document


# --- Field parsers: each takes the JSON value and returns the parsed one, or raises FieldError. -----

def identifier(value: Any) -> int:
    """An id: a JSON integer (not a boolean, not a string) within the column's range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("must be an integer id")
    if not 1 <= value <= MAX_ID:
        raise FieldError(f"must be between 1 and {MAX_ID}")
    return value


def boolean(value: Any) -> bool:
    """A JSON true or false (not 1, not "true")."""
    if not isinstance(value, bool):
        raise FieldError("must be true or false")
    return value


def count(value: Any) -> int:
    """A quantity on an order line: a JSON integer from 1 to MAX_LINE_QUANTITY (the service applies the same
    maximum to the sum of lines of one product)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("must be a whole number")
    if value < 1:
        raise FieldError("must be at least 1")
    maximum = current_app.config["MAX_LINE_QUANTITY"]
    if value > maximum:
        raise FieldError(f"must be at most {maximum:,}")
    return value


def text(max_length: int) -> Callable[[Any], str]:
    """A JSON string of at most ``max_length`` characters that UTF-8 can encode (the service checks the rest).

    JSON may escape half of a surrogate pair alone ("\\ud800"); no text holds one, and a password hashed or a
    name stored with one would fail with a 500 instead of a refusal.
    """
    def parse(value: Any) -> str:
        if not isinstance(value, str):
            raise FieldError("must be a string")
        if len(value) > max_length:
            raise FieldError(f"must be at most {max_length} characters")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise FieldError("must be valid Unicode text: it holds half of a surrogate pair") from None
        return value

    return parse


def texts(max_items: int, max_length: int) -> Callable[[Any], list[str]]:
    """A JSON list of at most ``max_items`` strings, each as ``text(max_length)`` takes it."""
    item = text(max_length)

    def parse(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise FieldError("must be a list of strings")
        if len(value) > max_items:
            raise FieldError(f"must have at most {max_items} items")
        return [item(each) for each in value]

    return parse


def days(value: Any) -> int:
    """A number of days: a JSON integer (not a boolean); the operation applies its range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("must be a whole number of days")
    return value


def whole_number(value: Any) -> int:
    """A JSON integer (not a boolean, not 1.0); the operation applies its range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("must be a whole number")
    return value


def amount(value: Any) -> Any:
    """A money amount as a decimal string such as "1234.50": a JSON number is refused, floats are inexact."""
    if not isinstance(value, str):
        raise FieldError('must be a decimal string such as "1234.50"')
    try:
        return parse_amount(value, positive=False, allow_zero=True)  # the service applies its sign rule
    except ValidationError as error:
        raise FieldError(next(iter(error.field_errors.values()))) from None


def list_of(what: str, *, min_items: int = 0, max_items: int,
            too_many: str) -> Callable[[Any], list]:
    """A JSON list of ``min_items`` to ``max_items`` items (each then validated as its object)."""
    def parse(value: Any) -> list:
        if not isinstance(value, list):
            raise FieldError(f"must be a list of {what}")
        if not min_items <= len(value) <= max_items:
            raise FieldError(too_many)
        return value

    return parse


def day(value: Any) -> date:
    """A calendar date in a body: a JSON string YYYY-MM-DD."""
    if not isinstance(value, str):
        raise FieldError("must be a date as YYYY-MM-DD")
    return query_date(value)


def query_date(value: str) -> date:
    """A query parameter holding a calendar date as YYYY-MM-DD."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise FieldError("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError("must be a date that exists, as YYYY-MM-DD") from None


def query_choice(*choices: str) -> Callable[[str], str]:
    """A query parameter holding one of ``choices``."""
    def parse(value: str) -> str:
        if value not in choices:
            raise FieldError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def query_integer(low: int, high: int) -> Callable[[str], int]:
    """A query parameter holding a decimal integer from ``low`` to ``high``, in the digits 0 to 9."""
    def parse(value: str) -> int:
        if not ascii_digits(value) or len(value) > 19:
            raise FieldError(f"must be a whole number from {low} to {high}")
        number = int(value)
        if not low <= number <= high:
            raise FieldError(f"must be a whole number from {low} to {high}")
        return number

    return parse
