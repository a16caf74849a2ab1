"""Error pages and JSON errors: the one place errors, domain refusals included, become responses."""

import logging
import math
import time

import sqlalchemy.exc
from flask import Flask, jsonify, render_template, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from app.extensions import limiter
from app.services.errors import DatabaseUnavailable, Refusal, SystemFailure

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    429: "Too many attempts: wait a minute, then try again",
    500: "Something went wrong",
    503: "Busy: please retry",
}


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Refusal, _refusal)
    # No free connection in the pool, or the database unreachable: busy for now, not broken.
    app.register_error_handler(sqlalchemy.exc.TimeoutError, _database_unavailable)
    app.register_error_handler(sqlalchemy.exc.OperationalError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected_error)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_body(error: Refusal) -> dict:
    """The API's error document: success false, the code, a message, and what else applies."""
    return {"success": False, "error": error.code, "message": error.message, **error.details()}


def retry_headers(error: Refusal) -> dict[str, str]:
    """Retry-After for the busy answers, nothing for the others."""
    return {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}


def _refusal(error: Refusal):
    if wants_json():
        return jsonify(error_body(error)), error.status, retry_headers(error)
    return _page(error.status, error.message), error.status, retry_headers(error)


def _http_error(error: HTTPException):
    status = error.code or 500
    # Keep what the exception says about itself (Allow on a 405), not its HTML content type.
    headers = [h for h in error.get_headers() if h[0].lower() != "content-type"]
    if isinstance(error, RateLimitExceeded):
        headers.append(("Retry-After", str(_seconds_until_the_limit_allows(error))))
    if wants_json():
        body = {"success": False, "error": error.name.upper().replace(" ", "_"), "message": error.description}
        return jsonify(body), status, headers
    return _page(status), status, headers


def _seconds_until_the_limit_allows(error: RateLimitExceeded) -> int:
    """Until the limit that refused this request lets one through again (its oldest counted request leaves
    the moving window), at least a second; a whole window if the limiter cannot say."""
    refused = limiter.current_limit
    if refused is None:
        return error.limit.limit.get_expiry()
    return max(1, math.ceil(refused.window.reset_time - time.time()))


def _database_unavailable(error: Exception):
    log.warning("database unavailable: %s", type(error).__name__, exc_info=error)
    return _refusal(DatabaseUnavailable())


def _unexpected_error(error: Exception):
    log.exception("unhandled error", exc_info=error)
    if wants_json():
        return jsonify(error_body(SystemFailure())), 500
    return _page(500), 500


def _page(status: int, message: str | None = None) -> str:
    return render_template("errors/error.html", code=status, title=_TITLES.get(status, "Error"),
                           message=message)
