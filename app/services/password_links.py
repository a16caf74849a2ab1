"""Links mailed to choose a password: an invitation (72 hours) or a reset the user asked for (1 hour).

Each link is a random secret of which only the SHA-256 digest is stored, valid once and until it expires. Choosing
a password with it voids every other open link of the user and ends all the user's sessions.
"""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.models import PasswordLink, User
from app.services import audit, clock, mail
from app.services.errors import NotFound
from app.services.passwords import new_password_hash
from app.services.sessions import void_password_links
from app.services.transactions import transaction

#: How long each kind of link may be used.
VALID_FOR = {"invitation": timedelta(hours=72), "reset": timedelta(hours=1)}


class LinkNotValid(NotFound):
    """The link is unknown, used, replaced by a newer one, or expired: all look the same to its reader."""

    code = "LINK_NOT_VALID"
    default_message = "This link is no longer valid: it has been used, replaced by a newer one, or has expired."


def send_invitation(user: User, *, invited_by: User | None, organisation_name: str | None) -> None:
    """In the caller's transaction: a new invitation link for ``user`` (voiding any earlier one), mailed."""
    secret = _new_link(user, "invitation", created_by=invited_by.id if invited_by else None)
    subject = f"{organisation_name} invites you to Creditline" if organisation_name else "You are invited to Creditline"
    mail.queue_mail(kind="invitation", to=user, subject=subject,
                    template="invitation", link=mail.absolute_url("auth.accept_invitation", token=secret),
                    inviter=invited_by.email if invited_by else None, organisation_name=organisation_name,
                    hours=int(VALID_FOR["invitation"].total_seconds() // 3600))


def request_reset(email: str) -> None:
    """Mail a reset link to the active user with this email, if there is one; the same (nothing) either way, so
    the answer tells no one whether an address has an account."""
    address = (email or "").strip().lower()
    with transaction():
        user = db.session.scalar(select(User).where(User.email == address, User.active))
        if user is None:
            return
        secret = _new_link(user, "reset", created_by=None)
        mail.queue_mail(kind="password_reset", to=user, subject="Choose a new Creditline password",
                        template="password_reset", link=mail.absolute_url("auth.reset_password", token=secret),
                        minutes=int(VALID_FOR["reset"].total_seconds() // 60))


def user_for_link(token: str, purpose: str) -> User:
    """The user a valid link is for, before anything is chosen with it. Raises LinkNotValid."""
    return _valid_link(token, purpose).user


def choose_password(token: str, purpose: str, *, password: object) -> User:
    """Set the password of the link's user, use the link up, void the user's other links, and end every session
    the user had. Raises LinkNotValid, ValidationError (a password too short, too long or too easy)."""
    password_hash = new_password_hash(password)  # before the lock: Argon2 is slow on purpose
    with transaction():
        user = _valid_link(token, purpose, lock=True).user
        void_password_links(user.id)  # this one with the rest
        user.password_hash = password_hash
        user.session_version += 1  # a stolen session ends with the password it was opened with
        audit.record(actor_id=user.id, action=f"user.password_{'set' if purpose == 'invitation' else 'reset'}",
                     entity_type="user", entity_id=user.id)
    return user


def _new_link(user: User, purpose: str, *, created_by: int | None) -> str:
    now = clock.now()
    db.session.execute(update(PasswordLink).where(PasswordLink.user_id == user.id, PasswordLink.purpose == purpose,
                                                  PasswordLink.used_at.is_(None)).values(used_at=now))
    secret = secrets.token_urlsafe(32)
    db.session.add(PasswordLink(user_id=user.id, purpose=purpose, token_digest=_digest(secret), created_by=created_by,
                                created_at=now, expires_at=now + VALID_FOR[purpose]))
    return secret


def _valid_link(token: str, purpose: str, *, lock: bool = False) -> PasswordLink:
    query = select(PasswordLink).where(PasswordLink.token_digest == _digest(token), PasswordLink.purpose == purpose)
    if lock:  # two submissions of one link: the second waits, then finds it used
        query = query.with_for_update()
    link = db.session.scalar(query)
    if link is None or link.used_at is not None or link.expires_at <= clock.now() or not link.user.active:
        raise LinkNotValid()
    return link


def _digest(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()
