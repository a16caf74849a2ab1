"""Free text typed by people (reasons, references): trimmed, bounded, and storable.

PostgreSQL cannot store a NUL character in a text column and UTF-8 cannot encode a lone surrogate;
these and the other control characters are refused with a message rather than failing in the
database. Format characters (the joiners inside emoji, direction marks) are text and stay.
"""

import unicodedata

from app.services.errors import ValidationError

#: Longest reason, reference or memo a person may type.
FREE_TEXT_MAX_LENGTH = 500
#: Control characters a memo may hold: line breaks and tabs from a pasted note.
_ALLOWED_CONTROLS = frozenset("\n\r\t")


def free_text(value: str | None, *, field: str, required: bool = True,
              max_length: int = FREE_TEXT_MAX_LENGTH) -> str | None:
    """``value`` trimmed; ``None`` when blank and optional. Raises ValidationError naming ``field``."""
    label = field.replace("_", " ")
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationError(f"A {label} is required.", field_errors={field: "required"})
        return None
    if len(text) > max_length:
        raise ValidationError(f"The {label} can be at most {max_length} characters.",
                              field_errors={field: "too long"})
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in _ALLOWED_CONTROLS for c in text):
        raise ValidationError(f"The {label} contains a control character; please type it again as plain text.",
                              field_errors={field: "control character"})
    return text
