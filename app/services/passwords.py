"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile, above OWASP's floor), and the
passwords too easy to guess to be set."""

import functools
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.services.errors import ValidationError
from app.services.text import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

_hasher = PasswordHasher()

#: Passwords attackers try first, one a line in lower case (comments start with "#"); see the file's header.
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")
#: What to choose instead, said with every refusal.
_ADVICE = "choose another, such as a few unrelated words."


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def new_password_hash(password: object, *, field: str = "password") -> str:
    """The hash of a password a user is choosing. Raises ValidationError for one of the wrong length, only
    spaces, one character repeated or a common one."""
    if not isinstance(password, str) or not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise ValidationError(f"A password has {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
                              field_errors={field: "length"})
    weakness = guessable(password)
    if weakness is not None:
        message, reason = weakness
        raise ValidationError(message, field_errors={field: reason})
    return hash_password(password)


def guessable(password: str) -> tuple[str, str] | None:
    """Why a new ``password`` is too easy to guess, as (message, short reason), or None when it is not: only
    whitespace, one character repeated, or on the list of common passwords (NIST SP 800-63B). Compared in its
    case-insensitive form with surrounding spaces ignored, so "Password1234 " is "password1234"."""
    if not password.strip():
        return f"A password cannot be only spaces: {_ADVICE}", "only whitespace"
    folded = password.strip().casefold()
    if len(set(folded)) == 1:
        return f"A password cannot be one character repeated: {_ADVICE}", "one character repeated"
    if folded in _common_passwords():
        return f"This password is on the list of common passwords that attackers try first: {_ADVICE}", "too common"
    return None


@functools.cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.casefold() for line in lines if line and not line.startswith("#"))
