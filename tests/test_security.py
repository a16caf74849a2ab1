"""Production settings, security headers, cookie flags, rate limits, password upgrades, deactivation and CSRF."""

import io
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import create_app
from app.config import DEVELOPMENT_SECRET_KEY, MAKE_A_SECRET, ConfigurationError, TestConfig
from app.extensions import db as _db
from app.extensions import limiter
from app.models import CreditAccount, Role, User
from app.security import CONTENT_SECURITY_POLICY
from app.services.actors import SYSTEM
from app.services.passwords import needs_rehash, verify_password
from app.services.tokens import issue_token
from tests.support.api_client import ApiClient
from tests.support.auth import csrf_token
from tests.support.factory import PASSWORD
from tests.support.page_forms import form_on, readable
from tests.support.redis_server import REDIS_URL, without_redis
from tests.support.table_digest import snapshot

ROOT = Path(__file__).resolve().parent.parent


def attempt(client, email, password="wrong", address="10.0.0.1", forwarded_for=None):
    """One sign-in through the real form, from the given client address (and proxy header)."""
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(client)},
                       environ_base={"REMOTE_ADDR": address},
                       headers={"X-Forwarded-For": forwarded_for} if forwarded_for else {})


def assert_told_to_wait(response):
    assert response.status_code == 429
    assert b"wait a minute" in response.data
    assert int(response.headers["Retry-After"]) > 0


def cookie_attributes(response, name="session") -> set[str]:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return {part.strip() for part in header.split(";")[1:]}
    raise AssertionError(f"no {name} cookie set")


@pytest.fixture
def another_app(app):
    """Builds a second app on the same database; afterwards the limiter counts for the session app
    again (Flask-Limiter's one limiter object takes the storage of the app bound last)."""
    built = []

    def build(**settings):
        config = type("Config", (TestConfig,), {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], **settings})
        # init_app keeps the first RATELIMIT_KEY_PREFIX it was given; each app built here takes its own.
        limiter._key_prefix = ""
        built.append(create_app(config))
        return built[-1]

    yield build
    for other in built:
        with other.app_context():
            _db.engine.dispose()  # the session's teardown drops the database: no connection may linger
    limiter._key_prefix = ""
    limiter.init_app(app)


# --- Production settings -------------------------------------------------------------------------

#: A key made the way the refusal says to make one.
PRODUCTION_KEY = secrets.token_urlsafe(48)


def production(**settings) -> type:
    """The test configuration as production runs it (APP_ENV=production, a proper key), with ``settings``."""
    return type("Production", (TestConfig,), {"ENV_NAME": "production", "SECRET_KEY": PRODUCTION_KEY, **settings})


@pytest.mark.parametrize("key", [DEVELOPMENT_SECRET_KEY, "", "k" * 31, "ü" * 15],
                         ids=["the development value", "empty", "31 bytes", "15 characters of 2 bytes"])
def test_production_refuses_to_start_on_a_development_or_short_secret_key(key):
    with pytest.raises(ConfigurationError, match="SECRET_KEY") as refused:
        create_app(production(SECRET_KEY=key))
    assert MAKE_A_SECRET in str(refused.value)  # and says how to make a proper one


def test_production_starts_with_a_random_key_and_development_with_the_default(another_app):
    assert another_app(ENV_NAME="production", SECRET_KEY=PRODUCTION_KEY).config["SECRET_KEY"] == PRODUCTION_KEY
    assert another_app(ENV_NAME="development", SECRET_KEY=DEVELOPMENT_SECRET_KEY).config["ENV_NAME"] == "development"


def test_a_production_worker_without_secret_key_fails_to_boot_and_says_how_to_make_one(app):
    """What gunicorn's worker does (import wsgi:app), from the environment an operator sets."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "APP_ENV", "TEST_DATABASE_URL")}
    env |= {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "GUNICORN_WORKERS": "1", "LOG_LEVEL": "WARNING"}

    def boot(**settings) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", "import wsgi"], env=env | settings, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    refused = boot(APP_ENV="production")
    assert refused.returncode != 0
    assert "ConfigurationError" in refused.stderr and MAKE_A_SECRET in refused.stderr
    assert boot(APP_ENV="production", SECRET_KEY="k" * 20).returncode != 0
    assert boot(APP_ENV="production", SECRET_KEY=PRODUCTION_KEY).returncode == 0
    assert boot().returncode == 0  # development keeps its default key


def storage_warnings(capsys) -> list[dict]:
    """The JSON lines on stderr since the last call that warn about RATELIMIT_STORAGE_URI."""
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    return [line for line in lines if line["level"] == "WARNING" and line.get("setting") == "RATELIMIT_STORAGE_URI"]


def test_production_warns_at_start_when_each_worker_would_count_rate_limits_alone(another_app, capsys):
    capsys.readouterr()
    another_app(ENV_NAME="production", SECRET_KEY=PRODUCTION_KEY, GUNICORN_WORKERS=3)
    [warning] = storage_warnings(capsys)
    assert warning["workers"] == 3 and "set RATELIMIT_STORAGE_URI=redis://" in warning["message"]

    # One worker, counts shared in Redis, or not production: nothing to say.
    another_app(ENV_NAME="production", SECRET_KEY=PRODUCTION_KEY, GUNICORN_WORKERS=1)
    another_app(ENV_NAME="production", SECRET_KEY=PRODUCTION_KEY, GUNICORN_WORKERS=3, RATELIMIT_STORAGE_URI=REDIS_URL)
    another_app(GUNICORN_WORKERS=3)
    assert storage_warnings(capsys) == []


def test_the_app_counts_gunicorns_workers_as_gunicorn_conf_does(tmp_path):
    """Unset, GUNICORN_WORKERS is gunicorn.conf.py's default (2 × cores + 1); the app must assume the same."""
    script = ("import json, runpy; from app.config import Config; "
              "print(json.dumps([runpy.run_path('gunicorn.conf.py')['workers'], Config.GUNICORN_WORKERS]))")
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_WORKERS"} | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for workers in (None, "1", "4"):
        given = {"GUNICORN_WORKERS": workers} if workers else {}
        run = subprocess.run([sys.executable, "-c", script], env=env | given, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        gunicorn_workers, app_workers = json.loads(run.stdout)
        assert app_workers == gunicorn_workers == (int(workers) if workers else 2 * (os.cpu_count() or 1) + 1)


# --- Headers and cookies ---------------------------------------------------------------------------

def test_every_response_carries_the_security_headers(client):
    for url, status in [("/login", 200), ("/", 302), ("/no-such-page", 404), ("/static/css/app.css", 200)]:
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in response.headers  # not production: may be plain HTTP
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"


def test_signed_in_pages_exports_and_the_api_are_never_stored_by_a_cache(app, client, auth, make):
    wholesaler = make.wholesaler()
    account = make.account(wholesaler=wholesaler)
    user = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    api = ApiClient(app, user)
    auth.login(user)
    responses = {
        "signed-in page": client.get(f"/wholesaler/accounts/{account.id}"),
        "ledger export": client.get(f"/wholesaler/accounts/{account.id}/ledger.csv"),
        "API": api.get(f"/credit-accounts/{account.id}"),
        "API refusal": ApiClient(app).get("/credit-accounts", check=False),
    }
    assert responses["ledger export"].mimetype == "text/csv"
    for name, response in responses.items():
        assert response.status_code in (200, 401), name
        assert response.headers["Cache-Control"] == "no-store", name


def test_the_sign_in_page_is_not_stored_but_static_files_may_be(client):
    # The sign-in page holds a CSRF token of this session only; the stylesheet is the same for everyone.
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    stylesheet = client.get("/static/css/app.css")
    assert stylesheet.status_code == 200 and "no-store" not in stylesheet.headers.get("Cache-Control", "")


def test_no_template_needs_inline_script_or_style(app):
    """The policy blocks inline script, inline style and event-handler attributes: none may be used."""
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+\s*=|javascript:", re.IGNORECASE)
    # Mails are not pages: no policy applies in a mail program, which drops style sheets, so they style inline.
    templates = sorted(p for p in (ROOT / "templates").rglob("*.html") if "mail" not in p.relative_to(ROOT).parts)
    assert templates
    offenders = [f"{path.relative_to(ROOT)}: {match.group()!r}"
                 for path in templates for match in inline.finditer(path.read_text())]
    assert offenders == []


def test_session_cookie_is_httponly_and_samesite_lax(auth, make):
    response = auth.login(make.user())
    assert response.status_code == 302
    flags = cookie_attributes(response)
    assert {"HttpOnly", "SameSite=Lax"} <= flags
    assert "Secure" not in flags  # development and tests run over plain HTTP


def test_production_sends_secure_cookies_and_hsts(app, auth, make, monkeypatch):
    # Settings are read from the environment at import: ask a fresh interpreter what APP_ENV=production gives.
    env = {k: v for k, v in os.environ.items() if k != "SESSION_COOKIE_SECURE"} | {"APP_ENV": "production"}
    names = ["ENV_NAME", "SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"]
    script = ("import json; from app.config import Config; "
              f"print(json.dumps({{n: getattr(Config, n) for n in {names}}}))")
    production = json.loads(subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                                           capture_output=True, text=True, check=True).stdout)
    assert production == {"ENV_NAME": "production", "SESSION_COOKIE_SECURE": True,
                          "REMEMBER_COOKIE_SECURE": True}

    for name, value in production.items():
        monkeypatch.setitem(app.config, name, value)
    response = auth.login(make.user())
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= cookie_attributes(response)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


# --- Sign-in rate limits ---------------------------------------------------------------------------

def test_guesses_from_one_address_do_not_lock_the_owner_out_elsewhere(app, client, make):
    user = make.user()
    for _ in range(5):  # the default: 5 refused passwords per account and address per minute
        refused = attempt(client, user.email, address="10.0.0.1")
        assert refused.status_code == 422 and "Retry-After" not in refused.headers  # only a limited answer waits
    # A sixth try from that address is refused, even with the right password and odd casing ...
    assert_told_to_wait(attempt(client, user.email.upper(), PASSWORD, address="10.0.0.1"))
    # ... while the owner, elsewhere, signs in; another account from the guessing address is unaffected.
    assert attempt(app.test_client(), user.email, PASSWORD, address="10.0.0.2").status_code == 302
    assert attempt(client, "someone.else@example.com", address="10.0.0.1").status_code == 422


def test_the_looser_per_account_limit_trips_across_addresses(app, client, make, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_PER_ACCOUNT", "3 per minute")
    user = make.user()
    for i in range(3):  # one refused password from each of three addresses
        assert attempt(client, user.email, address=f"10.0.1.{i}").status_code == 422
    assert_told_to_wait(attempt(client, user.email, PASSWORD, address="10.0.1.9"))
    assert attempt(client, "someone.else@example.com", address="10.0.1.9").status_code == 422


def test_successful_sign_ins_do_not_count_toward_the_account_limit(app, client, auth, make, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_PER_ACCOUNT", "2 per minute")
    user = make.user()
    for _ in range(3):
        assert attempt(client, user.email, PASSWORD).status_code == 302
        auth.logout()
    assert attempt(client, user.email).status_code == 422
    assert attempt(client, user.email).status_code == 422
    assert_told_to_wait(attempt(client, user.email))


def test_per_address_limit_trips_across_accounts(app, client, monkeypatch):
    # Every POST counts here; a small limit keeps the test quick (each attempt costs an Argon2 verify).
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_PER_ADDRESS", "3 per minute")
    for i in range(3):
        assert attempt(client, f"guess{i}@example.com", address="10.0.0.9").status_code == 422
    assert_told_to_wait(attempt(client, "guess3@example.com", address="10.0.0.9"))
    assert attempt(client, "guess3@example.com", address="10.0.0.10").status_code == 422


def test_the_default_limits_are_the_documented_ones(app):
    assert app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT_AND_ADDRESS"] == "5 per minute"
    assert app.config["LOGIN_RATE_LIMIT_PER_ACCOUNT"] == "30 per minute"
    assert app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"] == "20 per minute"
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(app, client, another_app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_PER_ADDRESS", "2 per minute")
    # Trusting no proxy (the default), a client cannot dodge the limit by inventing X-Forwarded-For.
    for i in range(2):
        attempt(client, "a@example.com", forwarded_for=f"203.0.113.{i}")
    assert_told_to_wait(attempt(client, "a@example.com", forwarded_for="203.0.113.99"))

    # Behind one trusted proxy every client has the proxy's address; the forwarded one tells them apart.
    proxied = another_app(TRUSTED_PROXY_COUNT=1, LOGIN_RATE_LIMIT_PER_ADDRESS="2 per minute").test_client()

    def via_proxy(client_address):
        return attempt(proxied, "a@example.com", address="10.1.1.1", forwarded_for=client_address)

    assert [via_proxy("198.51.100.1").status_code for _ in range(2)] == [422, 422]
    assert_told_to_wait(via_proxy("198.51.100.1"))
    assert via_proxy("198.51.100.2").status_code == 422


# A second worker process, as gunicorn would run it, on the same database and rate-limit storage.
SECOND_WORKER = """
import sys
from app import create_app
from app.config import DEVELOPMENT_SECRET_KEY, MAKE_A_SECRET, ConfigurationError, TestConfig

class Worker(TestConfig):
    SQLALCHEMY_DATABASE_URI, RATELIMIT_STORAGE_URI, RATELIMIT_KEY_PREFIX = sys.argv[1:4]
    LOGIN_RATE_LIMIT_PER_ACCOUNT = "2 per minute"
    WTF_CSRF_ENABLED = False  # only the limit is under test here

client = create_app(Worker).test_client()
for email in sys.argv[4:]:
    response = client.post("/login", data={"email": email, "password": "wrong"},
                           environ_base={"REMOTE_ADDR": "10.2.2.2"})
    print(response.status_code)
"""


@pytest.fixture
def shared_counts():
    """The Redis server, and a key prefix of this test's own (other runs on the machine may share the server);
    the test's keys are deleted afterwards."""
    store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        store.ping()
    except redis.exceptions.RedisError as error:
        without_redis(f"no Redis server answering at {REDIS_URL} ({error}): workers sharing the count is not tested")
    prefix = f"test-{uuid.uuid4().hex}"
    yield store, prefix
    for key in store.scan_iter(f"*{prefix}*"):
        store.delete(key)


def test_workers_share_the_count_through_redis(app, make, another_app, shared_counts):
    _, prefix = shared_counts
    user = make.user()
    first = another_app(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix,
                        LOGIN_RATE_LIMIT_PER_ACCOUNT="2 per minute").test_client()
    assert [attempt(first, user.email).status_code for _ in range(2)] == [422, 422]

    second = subprocess.run(
        [sys.executable, "-c", SECOND_WORKER, app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL, prefix,
         user.email, "someone.else@example.com"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    # The other process has never seen this account, yet refuses it; other accounts go through.
    assert second.stdout.split() == ["429", "422"]


# A second worker sending API requests with one token, on the same database and rate-limit storage.
SECOND_API_WORKER = """
import sys
from app import create_app
from app.config import TestConfig

class Worker(TestConfig):
    SQLALCHEMY_DATABASE_URI, RATELIMIT_STORAGE_URI, RATELIMIT_KEY_PREFIX = sys.argv[1:4]
    API_RATE_LIMIT = "2 per minute"

client = create_app(Worker).test_client()
for token in sys.argv[4:]:
    print(client.get("/api/v1/credit-accounts", headers={"Authorization": "Bearer " + token}).status_code)
"""


def test_workers_share_the_api_count_per_token_through_redis(app, make, another_app, shared_counts):
    store, prefix = shared_counts
    token, other_token = (issue_token(SYSTEM, user_id=make.user(Role.RETAILER, retailer=make.retailer()).id).secret
                          for _ in range(2))
    first = another_app(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix,
                        API_RATE_LIMIT="2 per minute").test_client()
    sent = [first.get("/api/v1/credit-accounts", headers={"Authorization": f"Bearer {token}"}).status_code
            for _ in range(2)]
    assert sent == [200, 200]
    assert list(store.scan_iter(f"*{prefix}*api-user*"))  # the count is in Redis

    second = subprocess.run(
        [sys.executable, "-c", SECOND_API_WORKER, app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL, prefix,
         token, other_token],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    # The other process has never seen this token, yet refuses it; another user's token goes through.
    assert second.stdout.split() == ["429", "200"]


# --- Passwords and deactivation --------------------------------------------------------------------

def stored_hash(db, user_id) -> str:
    """The hash as committed, read on a connection of its own."""
    with db.engine.connect() as conn:
        return conn.execute(select(User.password_hash).where(User.id == user_id)).scalar_one()


def test_a_weaker_hash_is_upgraded_at_the_next_sign_in(auth, make, db):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert needs_rehash(weak)
    user = make.user()
    user.password_hash = weak
    db.session.commit()

    assert auth.login(user, password="wrong").status_code == 422
    assert stored_hash(db, user.id) == weak  # a refused password changes nothing

    assert auth.login(user).status_code == 302
    upgraded = stored_hash(db, user.id)
    assert upgraded != weak
    assert not needs_rehash(upgraded)
    assert verify_password(upgraded, PASSWORD)


def test_a_deactivated_user_is_signed_out_on_the_next_request(app, client, auth, make, db):
    user = make.user(Role.RETAILER, retailer=make.retailer())
    assert auth.login(user).status_code == 302
    assert client.get("/retailer/").status_code == 200

    with Session(db.engine) as admin_elsewhere:
        admin_elsewhere.execute(update(User).where(User.id == user.id).values(active=False))
        admin_elsewhere.commit()

    # An app context of its own, as every real request has: test-client requests otherwise share
    # this test's, and with it Flask-Login's cached user (g._login_user) and the database session.
    with app.app_context():
        response = client.get("/retailer/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    with app.app_context():
        again = auth.login(user)
    assert again.status_code == 422 and b"Email or password is not right" in again.data


# --- CSRF ------------------------------------------------------------------------------------------

def _csrf_token_of(client) -> str:
    page = client.get("/", follow_redirects=True).get_data(as_text=True)  # sign-in page, or sign-out form
    return re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("token", ["missing", "garbage", "another session's"])
def test_every_post_route_refuses_a_request_without_its_own_csrf_token(app, client, auth, make, token):
    """Walks the URL map, so a route added later is covered without touching this test. A token that
    is valid for someone else's session (an attacker's own) is as good as none."""
    auth.login(make.user())  # CSRF matters for a signed-in victim
    data = {"email": "x@example.com", "password": "x"}
    if token == "garbage":
        data["csrf_token"] = "IjEyMyI.aaaa.bbbb"
    elif token == "another session's":
        data["csrf_token"] = _csrf_token_of(app.test_client())
    urls = app.url_map.bind("localhost")
    checked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        url = urls.build(rule.endpoint, dict.fromkeys(rule.arguments, 1), method="POST")
        response = client.post(url, data=data)
        # The API takes bearer tokens only, so the signed-in session cookie gets nowhere: 401.
        expected = 401 if rule.endpoint.startswith("api.") else 400
        assert response.status_code == expected, f"POST {url} with a {token} CSRF token gave {response.status_code}"
        checked.append(rule.endpoint)
    assert {"auth.login", "auth.logout"} <= set(checked)
    assert _csrf_token_of(client) != data.get("csrf_token")  # the victim's own token differs from the one sent


# --- Request size ----------------------------------------------------------------------------------

#: The documented limit for every request body, pages and API alike.
LIMIT = 256 * 1024


def assert_too_large_page(response):
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    page = readable(response)
    assert "413 · Request too large" in page and "Nothing was saved" in page


def signed_in(client) -> bool:
    return client.get("/").headers["Location"] != "/login"


def test_pages_and_the_api_share_one_body_size_limit(app):
    assert app.config["MAX_CONTENT_LENGTH"] == LIMIT


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart", "chunked"])
def test_a_sign_in_over_the_size_limit_is_a_413_page_and_signs_nobody_in(client, make, db, encoding):
    """The right password, but a body over the limit: refused before anything is parsed or checked."""
    user = make.user()
    fields = {"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    before = snapshot(db)
    if encoding == "urlencoded":
        response = client.post("/login", data=fields | {"padding": "x" * LIMIT})
    elif encoding == "multipart":
        response = client.post("/login", data=fields | {"upload": (io.BytesIO(b"x" * 4 * LIMIT), "big.bin")},
                               content_type="multipart/form-data")
    else:  # no Content-Length: the limit stops the read itself
        body = "&".join(f"{k}={v}" for k, v in fields.items()).encode() + b"&padding=" + b"x" * LIMIT
        response = client.post("/login", input_stream=io.BytesIO(body),
                               content_type="application/x-www-form-urlencoded",
                               environ_overrides={"wsgi.input_terminated": True})
    assert_too_large_page(response)
    assert not signed_in(client)
    assert snapshot(db) == before


@pytest.fixture
def wholesaler_desk(make, auth):
    """A signed-in wholesaler with one retailer's account, on the account's page."""
    wholesaler = make.wholesaler()
    account = make.account(wholesaler=wholesaler)
    auth.login(make.user(Role.WHOLESALER, wholesaler=wholesaler))
    return account


def test_a_signed_in_form_over_the_size_limit_is_a_413_page_and_writes_nothing(client, db, wholesaler_desk):
    url = f"/wholesaler/accounts/{wholesaler_desk.id}"
    form = form_on(client, url, "/payment")
    before = snapshot(db)
    response = client.post(form.action, data=form.fields | {"payment-amount": "10.00",
                                                            "payment-reference": "x" * LIMIT})
    assert_too_large_page(response)
    assert "Sign out" in response.get_data(as_text=True)  # the page of a signed-in user, with its menu
    assert snapshot(db) == before


def test_forms_within_the_size_limit_still_work(client, make, db, wholesaler_desk):
    url = f"/wholesaler/accounts/{wholesaler_desk.id}"
    form = form_on(client, url, "/payment")
    response = client.post(form.action, data=form.fields | {"payment-amount": "10.00",
                                                            "payment-reference": "Transfer 1"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(CreditAccount, wholesaler_desk.id).balance == -10
    # A sign-in just under the limit is read as usual: unknown fields are ignored.
    other = client.application.test_client()
    user = make.user()
    fields = {"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(other)}
    assert other.post("/login", data=fields | {"padding": "x" * (LIMIT - 1000)}).status_code == 302
    assert signed_in(other)
