"""Security headers on every response (caching forbidden but for static files), and the sign-in rate limits."""

import logging

from flask import Flask, current_app, g, request
from flask.wrappers import Response
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import limiter
from app.services.text import EMAIL_MAX_LENGTH

log = logging.getLogger(__name__)

#: No inline script or style anywhere: templates link files from static/ only.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'self'",
    "object-src 'none'",
])

#: One year; sent only in production, where the app is served over HTTPS alone.
HSTS = "max-age=31536000"

#: Kept by no browser or proxy cache: pages and exports show one signed-in user's data (the back button after
#: signing out must not bring them back), the sign-in page carries its session's CSRF token, the API answers for
#: one token. Only the static files (the same for everyone) keep their caching.
NO_STORE = "no-store"


def register_security(app: Flask) -> None:
    """Trust the configured proxies, bind the rate limiter, and add the headers to every response."""
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        # Without this, behind a reverse proxy every client has the proxy's address and shares one limit.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    limiter.init_app(app)
    warn_if_limits_count_per_process(app)
    app.after_request(add_security_headers)


def warn_if_limits_count_per_process(app: Flask) -> None:
    """In production, a WARNING when several gunicorn workers each keep their own rate-limit counts.

    Not a refusal: each process still enforces every limit, only N workers let N times as much through, and
    refusing would make Redis a requirement of every production start, the ``flask`` commands included.
    """
    workers, storage = app.config["GUNICORN_WORKERS"], app.config["RATELIMIT_STORAGE_URI"]
    if app.config["ENV_NAME"] == "production" and workers > 1 and storage.startswith("memory://"):
        log.warning(
            "RATELIMIT_STORAGE_URI is memory:// with %d gunicorn workers (GUNICORN_WORKERS): each worker counts "
            "alone, so up to %d times every rate limit gets through; set RATELIMIT_STORAGE_URI=redis://host:6379/0 "
            "so all workers share one count", workers, workers,
            extra={"setting": "RATELIMIT_STORAGE_URI", "workers": workers})


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", NO_STORE)
    if current_app.config["ENV_NAME"] == "production":
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _address_key() -> str:
    return "address:" + (request.remote_addr or "unknown")


def _account_key() -> str:
    # Capped so a huge submitted value cannot become a huge storage key.
    return "account:" + request.form.get("email", "").strip().lower()[:EMAIL_MAX_LENGTH]


def _account_and_address_key() -> str:
    return f"{_account_key()}|{_address_key()}"


def note_failed_sign_in() -> None:
    """Mark this request as a refused password, the only kind the per-account limit counts."""
    g.sign_in_failed = True


def _sign_in_failed(response: Response) -> bool:
    return g.get("sign_in_failed", False)


#: Every sign-in POST from one client address counts, whatever the account.
limit_sign_in_per_address = limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"],
    key_func=_address_key, methods=["POST"])

#: Only refused passwords count per account, so a user who signs in often is never locked out. The tight limit
#: is per account and client address: guesses from elsewhere do not lock the owner out where they sign in.
limit_sign_in_per_account_and_address = limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_ADDRESS"],
    key_func=_account_and_address_key, methods=["POST"], deduct_when=_sign_in_failed)

#: A looser limit per account from anywhere still stops guesses spread over many addresses.
limit_sign_in_per_account = limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"],
    key_func=_account_key, methods=["POST"], deduct_when=_sign_in_failed)

#: Reset links asked for one address, from anywhere: a few an hour, so no one can fill another's mailbox with them.
#: Counted whether or not the address has an account, so the limit tells nothing either.
limit_reset_per_account = limiter.limit(
    lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT_PER_ACCOUNT"],
    key_func=_account_key, methods=["POST"])
