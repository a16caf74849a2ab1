"""Bearer-token authentication for the API, the per-token rate limit, and the role each endpoint needs."""

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from app.extensions import limiter
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


def _token_user_key() -> str:
    # The token's user, not the client address: a shared NAT or proxy does not pool clients into one count,
    # and a user who makes more tokens does not get more requests.
    return f"api-user:{api_user().id}"


def _rate_limited_message() -> str:
    return (f"Too many requests with this token: its user may send {current_app.config['API_RATE_LIMIT']}. "
            "Nothing was done; wait the seconds in Retry-After, then send it again.")


@limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=_token_user_key,
                      error_message=_rate_limited_message)
def _count_request() -> None:
    """One request on the user's count, shared by every endpoint; past API_RATE_LIMIT, a 429 (RateLimitExceeded)."""


def limit_per_token() -> None:
    """After ``authenticate``: count the request against its token's user, so an unauthenticated request is a
    401 and never counted, and the public document, which needs no token, is never limited."""
    if "api_user" in g:
        _count_request()


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
