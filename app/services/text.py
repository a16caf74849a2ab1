"""Text typed by people (reasons, references, names): trimmed, bounded, storable; and every length, named once.

PostgreSQL cannot store a NUL character in a text column and UTF-8 cannot encode a lone surrogate;
these and the other control characters are refused with a message rather than failing in the
database. In free text, format characters (the joiners inside emoji, direction marks) are text and
stay; a name or an SKU is one line of printable characters.
"""

import unicodedata

from app.services.errors import ValidationError

#: Longest reason, reference or memo a person may type.
FREE_TEXT_MAX_LENGTH = 500
#: Longest name of an organisation or a product.
NAME_MAX_LENGTH = 200
SKU_MAX_LENGTH = 64
TOKEN_NAME_MAX_LENGTH = 100
#: The longest address RFC 5321 lets through.
EMAIL_MAX_LENGTH = 254
PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH = 12, 200
IDEMPOTENCY_KEY_MAX_LENGTH = 100
#: The longest IANA time zone name a wholesaler may have.
TIME_ZONE_MAX_LENGTH = 64
#: Control characters free text may hold: line breaks and tabs from a pasted note.
_ALLOWED_CONTROLS = frozenset("\n\r\t")
#: The only digits a number may be typed with. str.isdigit(), int() and Decimal() also take the digits of other
#: scripts ("١٠٠", full-width "１２") and isdigit() superscripts ("²"): text a person could not tell was a number.
ASCII_DIGITS = frozenset("0123456789")


def ascii_digits(value: str) -> bool:
    """True when ``value`` is one or more of the digits 0 to 9 and nothing else."""
    return bool(value) and all(c in ASCII_DIGITS for c in value)


def other_digits(value: str) -> bool:
    """True when ``value`` holds a digit other than 0 to 9 (another script's, full-width, superscript)."""
    return any(c.isdigit() and c not in ASCII_DIGITS for c in value)


def free_text(value: str | None, *, field: str, required: bool = True,
              max_length: int = FREE_TEXT_MAX_LENGTH) -> str | None:
    """``value`` trimmed; ``None`` when blank and optional. Raises ValidationError naming ``field``."""
    text = _bounded(value, field, required, max_length)
    if text and any(unicodedata.category(c) in ("Cc", "Cs") and c not in _ALLOWED_CONTROLS for c in text):
        raise ValidationError(f"The {_label(field)} contains a control character; please type it again as plain "
                              "text.", field_errors={field: "control character"})
    return text


def one_line(value: str | None, *, field: str, max_length: int, required: bool = True) -> str | None:
    """A name, an SKU: like ``free_text``, but one line of printable characters. Raises ValidationError."""
    text = _bounded(value, field, required, max_length)
    if text and not text.isprintable():
        raise ValidationError(f"The {_label(field)} must be one line of printable characters.",
                              field_errors={field: "not printable"})
    return text


def _bounded(value: str | None, field: str, required: bool, max_length: int) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationError(f"A {_label(field)} is required.", field_errors={field: "required"})
        return None
    if len(text) > max_length:
        raise ValidationError(f"The {_label(field)} can be at most {max_length} characters.",
                              field_errors={field: "too long"})
    return text


def _label(field: str) -> str:
    return field.replace("_", " ").replace("sku", "SKU")
