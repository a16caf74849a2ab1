"""Settings, each read from an environment variable with a development default."""

import os
import tempfile
from collections.abc import Mapping

#: SECRET_KEY when none is set: fine for development and tests, public (it is in this file), so refused in
#: production.
DEVELOPMENT_SECRET_KEY = "dev-only-secret-change-me"
#: The shortest SECRET_KEY production accepts: sessions and CSRF tokens are signed with it, so it must not be
#: guessable offline.
MIN_SECRET_KEY_BYTES = 32
#: How to make a key, quoted in the refusal.
MAKE_A_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class ConfigurationError(RuntimeError):
    """A setting the app must not run with; create_app raises it before doing anything else."""


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Defaults for development; every value can be overridden from the environment."""

    #: production | development | testing; production turns on Secure cookies and HSTS.
    ENV_NAME = os.environ.get("APP_ENV", "development")
    #: Signs sessions and CSRF tokens; production refuses to start on the development value or a short one.
    SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)

    #: Unset: an embedded PostgreSQL server is started under instance/ (development only).
    DATABASE_URL = os.environ.get("DATABASE_URL")
    #: Database created on the embedded server when DATABASE_URL is unset.
    EMBEDDED_DATABASE_NAME = "credit"
    SQLALCHEMY_DATABASE_URI: str | None = None  # resolved from DATABASE_URL in create_app
    SQLALCHEMY_ENGINE_OPTIONS = {
        # Lock first, then read: the credit check is only correct under READ COMMITTED.
        "isolation_level": "READ COMMITTED",
        "pool_pre_ping": True,
        "pool_size": int(os.environ.get("DB_POOL_SIZE", "10")),
        "max_overflow": int(os.environ.get("DB_MAX_OVERFLOW", "10")),
        "pool_timeout": float(os.environ.get("DB_POOL_TIMEOUT_SECONDS", "5")),
    }

    #: How long a credit operation waits for a busy account before MAX_RETRIES_EXCEEDED.
    CREDIT_LOCK_DEADLINE_SECONDS = float(os.environ.get("CREDIT_LOCK_DEADLINE_SECONDS", "2.0"))
    #: Largest request body, pages and API alike (Werkzeug answers 413 before parsing anything larger, chunked
    #: uploads included): an order of the maximum number of lines, or any page form, fits many times over.
    MAX_CONTENT_LENGTH = 256 * 1024

    #: Largest quantity accepted on one order line.
    MAX_LINE_QUANTITY = int(os.environ.get("MAX_LINE_QUANTITY", "100000"))
    DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY", "EUR")

    #: Level of the app's JSON log lines (DEBUG, INFO, WARNING, ERROR).
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
    #: In production /metrics answers only with ``Authorization: Bearer <this>``, and is 404 without it.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", ENV_NAME == "production")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    WTF_CSRF_ENABLED = _env_bool("WTF_CSRF_ENABLED", True)

    #: Refused sign-ins allowed per account (the submitted email) from one client address in the window.
    LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_ADDRESS = os.environ.get("LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_ADDRESS",
                                                              "5 per minute")
    #: Refused sign-ins allowed per account from all addresses together: looser, so that guesses from
    #: elsewhere must come from many addresses before they can lock the owner out.
    LOGIN_RATE_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_RATE_LIMIT_PER_ACCOUNT", "30 per minute")
    #: Sign-in attempts allowed per client address, successful or not.
    LOGIN_RATE_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_RATE_LIMIT_PER_ADDRESS", "20 per minute")
    #: Password-reset mails that may be asked for one email address in the window (the per-address sign-in limit
    #: applies to the reset form too).
    PASSWORD_RESET_RATE_LIMIT_PER_ACCOUNT = os.environ.get("PASSWORD_RESET_RATE_LIMIT_PER_ACCOUNT", "5 per hour")
    #: API requests allowed per token's user (all endpoints but the public document together), in the window.
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "1200 per minute")
    #: Where attempts are counted. memory:// is per process: with several gunicorn workers set
    #: redis://host:6379/0 so every worker sees the same count (production warns at start-up otherwise).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    #: gunicorn's worker processes, as gunicorn.conf.py reads them (the same variable and default): each
    #: counts attempts alone under memory://.
    GUNICORN_WORKERS = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
    #: A window that moves with each attempt, so no burst fits across a window boundary.
    RATELIMIT_STRATEGY = "moving-window"
    #: Off: Flask-Limiter's headers put its own Retry-After on every answer of a limited route, raising a 503's
    #: one-second pause to the end of the limit's window. A 429 gets its Retry-After in app/errors.py.
    RATELIMIT_HEADERS_ENABLED = False
    #: Outgoing mail, under Flask-Mail's setting names. No MAIL_SERVER: messages are kept, not sent (shown on the
    #: admin's Outbox page and written under instance/mail/), so development needs no mail server.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Creditline <no-reply@localhost>")
    #: How long one SMTP conversation may take before the attempt fails and is retried.
    MAIL_TIMEOUT_SECONDS = float(os.environ.get("MAIL_TIMEOUT_SECONDS", "30"))
    #: Where kept mails (no MAIL_SERVER) are written as .eml files; unset: instance/mail/.
    MAIL_KEPT_FOLDER = os.environ.get("MAIL_KEPT_FOLDER") or None
    #: Where the app is reached from outside: the links in mails are built on it.
    APP_BASE_URL = os.environ.get("APP_BASE_URL", "http://127.0.0.1:5000")
    #: Jobs one `flask worker` process runs at once (each on its own thread and database connection).
    WORKER_CONCURRENCY = int(os.environ.get("WORKER_CONCURRENCY", "2"))

    #: Webhooks may go to loopback, private and link-local addresses (a receiver on this machine or network):
    #: on in development and tests, off in production, where such a URL could reach the app's own network.
    WEBHOOK_ALLOW_PRIVATE_TARGETS = _env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", ENV_NAME != "production")
    #: One delivery attempt's limit, connecting and answering together; longer is a failed attempt, retried.
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))

    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted; 0 trusts none.
    TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))


class TestConfig(Config):
    """Used by the test suite: TEST_DATABASE_URL, or the embedded server when unset."""

    ENV_NAME = "testing"
    TESTING = True
    DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
    # One database per test run, so runs side by side on one embedded server never meet.
    EMBEDDED_DATABASE_NAME = f"credit_test_{os.getpid()}"
    SECRET_KEY = "test-secret"
    # Mail is kept unless a test starts its SMTP server (tests/support/smtp.py), whatever the environment says.
    MAIL_SERVER = None
    MAIL_KEPT_FOLDER = os.path.join(tempfile.gettempdir(), f"creditline-test-mail-{os.getpid()}")
    APP_BASE_URL = "http://creditline.test"


def refuse_development_secrets(config: Mapping) -> None:
    """In production, raise ConfigurationError when SECRET_KEY is unset, the development value, or under
    MIN_SECRET_KEY_BYTES; the message says how to make one. Other environments keep the development default.

    Anyone who knows the key can sign a session cookie for any user, so a production server on the public
    development value would let anyone sign in as anyone.
    """
    if config.get("ENV_NAME") != "production":
        return
    key = config.get("SECRET_KEY") or ""
    size = len(key.encode() if isinstance(key, str) else key)
    if key == DEVELOPMENT_SECRET_KEY:
        problem = "it is unset, so the development value would sign every session"
    elif size < MIN_SECRET_KEY_BYTES:
        problem = f"it has {size} bytes"
    else:
        return
    raise ConfigurationError(
        f"APP_ENV=production needs SECRET_KEY set to a random value of at least {MIN_SECRET_KEY_BYTES} bytes, "
        f"and {problem}. Make one with: {MAKE_A_SECRET} and give every instance the same one.")


def sqlalchemy_url(url: str) -> str:
    """Name the psycopg 3 driver in a plain postgres:// or postgresql:// URL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
