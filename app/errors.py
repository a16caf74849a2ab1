"""Error pages and JSON errors: the one place errors, domain refusals included, become responses."""

import logging

import sqlalchemy.exc
from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from app.services.errors import CreditError, CreditSystemError, DatabaseUnavailable, ValidationError

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

#: HTTP status of each domain code; every other code is a 400 (the seed's route answers 400 too).
STATUS_BY_CODE = {
    "NOT_FOUND": 404,
    "IDEMPOTENCY_KEY_REUSED": 409,
    "MAX_RETRIES_EXCEEDED": 503,
    "DATABASE_UNAVAILABLE": 503,
    "SYSTEM_ERROR": 500,
}
#: Seconds a client should wait before retrying MAX_RETRIES_EXCEEDED.
RETRY_AFTER_SECONDS = 1


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CreditError, _domain_error)
    # No free connection in the pool, or the database unreachable: busy for now, not broken.
    app.register_error_handler(sqlalchemy.exc.TimeoutError, _database_unavailable)
    app.register_error_handler(sqlalchemy.exc.OperationalError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected_error)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_body(error: CreditError) -> dict:
    """The API's error document: success false, the code, a message, and what else applies."""
    body = {"success": False, "error": error.code, "message": error.message}
    if error.available_credit is not None:
        body["available_credit"] = f"{error.available_credit:.2f}"
    if isinstance(error, ValidationError) and error.field_errors:
        body["field_errors"] = error.field_errors
    return body


def _domain_error(error: CreditError):
    status = STATUS_BY_CODE.get(error.code, 400)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
    if wants_json():
        return jsonify(error_body(error)), status, headers
    return _page(status, error.message), status, headers


def _http_error(error: HTTPException):
    status = error.code or 500
    # Keep what the exception says about itself (Allow on a 405), not its HTML content type.
    headers = [h for h in error.get_headers() if h[0].lower() != "content-type"]
    if wants_json():
        body = {"success": False, "error": error.name.upper().replace(" ", "_"), "message": error.description}
        return jsonify(body), status, headers
    return _page(status), status, headers


def _database_unavailable(error: Exception):
    log.warning("database unavailable: %s", type(error).__name__, exc_info=error)
    return _domain_error(DatabaseUnavailable())


def _unexpected_error(error: Exception):
    log.exception("unhandled error", exc_info=error)
    if wants_json():
        return jsonify(error_body(CreditSystemError())), 500
    return _page(500), 500


def _page(status: int, message: str | None = None) -> str:
    return render_template("errors/error.html", code=status, title=_TITLES.get(status, "Error"),
                           message=message)
