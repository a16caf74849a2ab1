"""Idempotency keys: what a client may send as one, and the digest that tells a retry from a reused key."""

import hashlib
import json

from app.services.errors import ValidationError
from app.services.text import IDEMPOTENCY_KEY_MAX_LENGTH


def validated_key(key: str | None) -> str | None:
    """The key as sent, or None when there is none (absent or empty). Raises ValidationError."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
        raise ValidationError(f"An idempotency key is printable text of at most {IDEMPOTENCY_KEY_MAX_LENGTH} "
                              "characters.", field_errors={"idempotency_key": "invalid"})
    return key


def fingerprint(*parts: object) -> str:
    """SHA-256 (hex, 64 characters) of the request's normalised parts, for the request_fingerprint columns.

    Parts are JSON-encoded (Decimals as their text), so ``"250"`` and ``"250.00"`` parsed to one amount
    give one digest, and no two different lists of parts can be joined into the same text.
    """
    body = json.dumps(parts, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()
