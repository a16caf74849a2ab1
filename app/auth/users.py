"""Looking users up for sign-in and for each request."""

from flask import url_for

from app.extensions import db
from app.models import Role, User
from app.services.passwords import hash_password, needs_rehash, verify_password
from app.services.transactions import transaction

# Verifying against a real hash when the email is unknown keeps the timing the same.
_DUMMY_HASH = hash_password("timing-equaliser")


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: re-read on every request, so deactivation takes effect at once."""
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Upgrades an outdated hash."""
    user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not user.active or not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        with transaction():
            user.password_hash = hash_password(password)
    return user


def home_url(user: User) -> str:
    """Where a user lands after signing in."""
    return {
        Role.RETAILER: url_for("retailers.dashboard"),
        Role.WHOLESALER: url_for("wholesalers.dashboard"),
        Role.ADMIN: url_for("admin.accounts"),
    }[user.role]
