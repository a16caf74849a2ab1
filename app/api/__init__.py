"""JSON API v1 (mounted at /api/v1): bearer tokens, a rate limit per token's user, strict JSON in and out,
the one error document."""

from flask import Blueprint, request

from app.api.auth import authenticate, limit_per_token

bp = Blueprint("api", __name__)

#: Largest request body: an order of the maximum number of lines fits many times over.
MAX_BODY_BYTES = 256 * 1024


@bp.before_request
def limit_body_size() -> None:
    # Applies before the body is read, chunked uploads included; larger bodies get a JSON 413.
    request.max_content_length = MAX_BODY_BYTES


bp.before_request(authenticate)
bp.before_request(limit_per_token)  # after authenticate: the count is the token's user's

from app.api import accounts, admin, orders, products, spec  # noqa: E402, F401  (routes register on bp)
