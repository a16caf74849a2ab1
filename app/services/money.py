"""Parsing money: Decimal from text, exactly two decimals, never float, nothing rounded silently."""

from decimal import Decimal, InvalidOperation

from app.services.errors import ValidationError
from app.services.text import ASCII_DIGITS, other_digits

CENT = Decimal("0.01")
#: The largest amount a Numeric(14,2) column holds.
MAX_AMOUNT = Decimal("999999999999.99")
#: All an amount may be typed with: the digits 0 to 9, a sign and a decimal point.
_NUMBER_CHARACTERS = ASCII_DIGITS | frozenset("+-.")


def parse_amount(value: object, *, field: str = "amount", positive: bool = True,
                 allow_zero: bool = False) -> Decimal:
    """A Decimal of at most two decimals within the column's range, or ValidationError naming ``field``.

    Accepts a Decimal, an int or a string such as ``"1234.50"``; refuses floats (already inexact),
    NaN, Infinity, thousands separators, exponents, a third decimal, and digits other than 0 to 9 (Decimal
    would read "١٠٠" or "１２.００" as numbers).
    """
    def refuse(why: str) -> ValidationError:
        return ValidationError(f"{field.replace('_', ' ').capitalize()}: {why}", field_errors={field: why})

    if isinstance(value, (bool, float)):
        raise refuse("give the amount as a decimal string such as 1234.50.")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        if other_digits(text):
            raise refuse("type the amount with the digits 0 to 9, such as 1234.50.")
        if not text or len(text) > 32 or not all(c in _NUMBER_CHARACTERS for c in text):
            raise refuse("enter a number such as 1234.50 (digits and one decimal point only).")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise refuse("enter a number such as 1234.50.") from None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise refuse("enter a number such as 1234.50.")
    if abs(value) > MAX_AMOUNT:
        raise refuse(f"must be at most {MAX_AMOUNT:,}.")
    if value != value.quantize(CENT):
        raise refuse("use at most two decimal places.")
    value = value.quantize(CENT)
    if value == 0 and not allow_zero:
        raise refuse("must not be zero.")
    if positive and value < 0:
        raise refuse("must be more than zero." if not allow_zero else "must not be negative.")
    return value


def amount_text(value: Decimal) -> str:
    """An amount as machines read it (the API, webhooks): ``1234.50``, no thousands separator."""
    return f"{value:.2f}"
