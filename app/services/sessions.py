"""Signed-in browser sessions: checking a password, finding a session's user, and ending sessions for good.

A session cookie carries the user's id and the user's session version. Signing out and deactivation raise the
version, so every cookie issued before stops working at once, wherever it was saved (Flask's sessions are
signed cookies: without this, a copy kept from before the sign-out would still be signed in).
"""

from sqlalchemy import select, update

from app.extensions import db
from app.models import PasswordLink, Role, User
from app.services import audit, clock
from app.services.actors import Actor, is_system
from app.services.errors import Forbidden, NotFound, ValidationError
from app.services.passwords import hash_password, needs_rehash, new_password_hash, verify_password
from app.services.text import ascii_digits
from app.services.transactions import transaction

# Verifying against a real hash when the email is unknown keeps the timing the same.
_DUMMY_HASH = hash_password("timing-equaliser")


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Upgrades an outdated hash.

    One password verification on every path (unknown email, deactivated user, wrong or right password), so
    the time it takes tells none of them apart.
    """
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.invited:  # an invited user has no password yet: nothing can match
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        with transaction():
            user.password_hash = hash_password(password)
    return user


def user_for_session(stored: str) -> User | None:
    """The active user a session cookie names (``User.get_id``: id and session version), if the cookie is as
    new as the user's last sign-out; else None.

    Re-read on every request, so a deactivation or a sign-out elsewhere takes effect at once.
    """
    user_id, _, version = stored.partition(":")
    if not (ascii_digits(user_id) and ascii_digits(version)):
        return None  # a cookie from before session versions, or one that was tampered with
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def end_sessions(actor: Actor, user_id: int) -> None:
    """End every session of a user (their own sign-out, or an admin's): cookies issued before stop working.

    Raises NotFound (another user's, for anyone but an admin or the system).
    """
    if not (is_system(actor) or actor.role == Role.ADMIN or actor.id == user_id):
        raise NotFound("No such user.")
    with transaction():
        ended = db.session.execute(update(User).where(User.id == user_id)
                                   .values(session_version=User.session_version + 1)
                                   .execution_options(synchronize_session="fetch"))
        if not ended.rowcount:
            raise NotFound("No such user.")


def change_password(actor: Actor, *, current_password: str, new_password: str) -> User:
    """The signed-in user's own new password, given the current one: every session of theirs ends (the caller
    signs this one in again) and any open invitation or reset link is void.

    Raises Forbidden (the system, which has no password), ValidationError (the current password is not right; the
    new one is too short, too long or too easy to guess).
    """
    if actor.id is None:
        raise Forbidden("Only a user has a password.")
    password_hash = new_password_hash(new_password)
    with transaction():
        user = db.session.get(User, actor.id)
        if not verify_password(user.password_hash, current_password or ""):
            raise ValidationError("Your current password is not right.",
                                  field_errors={"current_password": "not right"})
        user.password_hash = password_hash
        user.session_version += 1
        void_password_links(user.id)
        audit.record(actor_id=user.id, action="user.password_change", entity_type="user", entity_id=user.id)
    return user


def void_password_links(user_id: int) -> None:
    """In the caller's transaction: no invitation or reset link of the user can be used any more."""
    db.session.execute(update(PasswordLink).where(PasswordLink.user_id == user_id, PasswordLink.used_at.is_(None))
                       .values(used_at=clock.now()))
