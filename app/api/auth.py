"""Bearer-token authentication for the API, and the role each endpoint needs."""

from collections.abc import Callable
from functools import wraps

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from app.models import Role
from app.services.actors import ActingUser
from app.services.tokens import user_for_token

#: Endpoints anyone may read without a token.
PUBLIC_ENDPOINTS = {"api.openapi_document"}


def authenticate() -> None:
    """Before every API request: the bearer token's active user becomes ``g.api_user``, or 401.

    Cookies are never looked at, which is why the API needs no CSRF token.
    """
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("Send the header Authorization: Bearer <token>.", error=None)
    user = user_for_token(secret.strip())
    if user is None:
        raise _unauthorized("The token is not valid, or has been revoked.", error="invalid_token")
    g.api_user = user


def api_user() -> ActingUser:
    """The user the request's token acts as."""
    return g.api_user


def allow(*roles: Role) -> Callable:
    """Only these roles may call the endpoint; any other gets 403. The OpenAPI test reads ``api_roles``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if api_user().role not in roles:
                names = " or ".join(role.value for role in roles)
                raise Forbidden(f"This needs the {names} role.")
            return view(*args, **kwargs)

        wrapped.api_roles = frozenset(roles)
        return wrapped

    return decorator


ANY_ROLE = tuple(Role)


def _unauthorized(message: str, *, error: str | None) -> Unauthorized:
    # RFC 6750: a challenge naming the scheme, and invalid_token when a token was sent but refused.
    values = {"realm": "creditline"} | ({"error": error} if error else {})
    return Unauthorized(message, www_authenticate=WWWAuthenticate("Bearer", values))
