"""JSON API v1 (mounted at /api/v1): bearer tokens, a rate limit per token's user, strict JSON in and out,
the one error document."""

from flask import Blueprint

from app.api.auth import authenticate, limit_per_token

bp = Blueprint("api", __name__)

# The body size limit is the app's MAX_CONTENT_LENGTH (app/config.py), the same for pages; here too a larger
# body is a 413, as JSON (app/errors.py).
bp.before_request(authenticate)
bp.before_request(limit_per_token)  # after authenticate: the count is the token's user's

from app.api import accounts, admin, holds, limit_requests, orders, products, spec, webhooks  # noqa: E402, F401  (routes register on bp)
