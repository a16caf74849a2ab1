"""API tokens: issued once in clear, stored as SHA-256 digests, revoked for good; audited."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, or_, select, update

from app.extensions import db
from app.models import ApiToken, User
from app.services import audit, sql
from app.services.actors import ActingUser, Actor, is_system
from app.services.errors import NotFound
from app.services.tenancy import token_for
from app.services.text import TOKEN_NAME_MAX_LENGTH, one_line
from app.services.transactions import transaction

#: Marks a Creditline token, so secret scanners and people can recognise a leaked one.
TOKEN_MARK = "cl_"
#: How much of the token is kept in clear to tell tokens apart: the mark and 8 random characters.
PREFIX_LENGTH = len(TOKEN_MARK) + 8
#: Longest Authorization value worth hashing; real tokens have 46 characters.
MAX_TOKEN_LENGTH = 200
#: last_used_at is written at most this often per token.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# Built once (see services/sql.py): constructing it per request costs more CPU than running it.
_TOKEN_USER = (select(ApiToken.id, ApiToken.last_used_at, User.id, User.role, User.retailer_id, User.wholesaler_id,
                       User.order_limit)
               .join(User, User.id == ApiToken.user_id)
               .where(ApiToken.token_digest == bindparam("digest"), ApiToken.revoked_at.is_(None), User.active))


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    #: The bearer token itself: shown to the user once, never stored.
    secret: str


def issue_token(actor: Actor, *, user_id: int, name: str | None = None) -> IssuedToken:
    """A new token for an active user: for oneself, or by the system (``flask create-api-token``).

    Raises NotFound (no such active user, or another user's), ValidationError (name).
    """
    with transaction():
        user = db.session.get(User, user_id)
        if user is None or not user.active or not (is_system(actor) or user.id == actor.id):
            raise NotFound("No such active user.")
        name = one_line(name, field="name", max_length=TOKEN_NAME_MAX_LENGTH, required=False)
        secret = TOKEN_MARK + secrets.token_urlsafe(32)
        token = ApiToken(user_id=user.id, prefix=secret[:PREFIX_LENGTH], token_digest=_digest(secret), name=name)
        db.session.add(token)
        db.session.flush()
        audit.record(actor_id=actor.id, action="api_token.create", entity_type="api_token", entity_id=token.id,
                     after={"user_id": user.id, "prefix": token.prefix, "name": name})
    return IssuedToken(token, secret)


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke one's own token, or any as the system (again is a no-op). Raises NotFound."""
    with transaction():
        token = token_for(actor, token_id)
        if token.revoked_at is None:
            token.revoked_at = datetime.now(UTC)
            audit.record(actor_id=actor.id, action="api_token.revoke", entity_type="api_token",
                         entity_id=token.id, after={"user_id": token.user_id, "prefix": token.prefix})
    return token


def tokens_of(user_id: int) -> list[ApiToken]:
    """A user's tokens, newest first, revoked ones included (they show when access ended)."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                   .order_by(ApiToken.id.desc())))


def user_for_token(secret: str) -> ActingUser | None:
    """The active user a presented token belongs to, or None for an unknown, revoked or oversized one.

    Notes the use in last_used_at (at most once a minute, in its own short transaction).
    """
    if not secret or len(secret) > MAX_TOKEN_LENGTH:
        return None
    row = sql.execute(_TOKEN_USER, {"digest": _digest(secret)}).one_or_none()
    if row is None:
        return None
    token_id, last_used_at, *user = row
    if last_used_at is None or last_used_at < datetime.now(UTC) - LAST_USED_RESOLUTION:
        _note_use(token_id)  # most requests skip this: no write, no extra round trip
    return ActingUser(*user)


def _note_use(token_id: int) -> None:
    now = datetime.now(UTC)
    # Its own transaction, ended at once: the row lock on the token must not last as long as the request.
    with transaction():
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id,
                   or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
