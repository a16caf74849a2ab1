"""Actors for calling operations directly: a retailer's, a wholesaler's, or a stored user's."""

from app.extensions import db
from app.models import Role, User
from app.services.actors import ActingUser


def acting_retailer(retailer_id: int, user_id: int | None = None) -> ActingUser:
    """Someone ordering for the retailer; ``user_id`` is who is recorded as having placed the order."""
    return ActingUser(id=user_id, role=Role.RETAILER, retailer_id=retailer_id)


def acting_wholesaler(wholesaler_id: int, user_id: int | None = None) -> ActingUser:
    return ActingUser(id=user_id, role=Role.WHOLESALER, wholesaler_id=wholesaler_id)


def acting_user(user_id: int) -> User:
    """The stored user with this id, acting as themselves."""
    return db.session.get(User, user_id)
