"""Bearer tokens: stored as digests, revocable, acting as their user; 401 and 403 on every endpoint; the rate
limit per token's user."""

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.api.openapi import DOCUMENT
from app.extensions import db as _db
from app.models import ApiToken, AuditEvent, Order, Role
from app.services import directory
from app.services.actors import SYSTEM
from app.services.errors import NotFound
from app.services.tokens import issue_token, revoke_token, tokens_of, user_for_token
from tests.support.api_client import ApiClient, World

OPERATIONS = [(path, method, operation) for path, methods in DOCUMENT["paths"].items()
              for method, operation in methods.items()]


@pytest.fixture
def world(app, make):
    return World(app, make)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


# --- The token service ----------------------------------------------------------------------------

def test_a_token_is_random_shown_once_and_stored_only_as_its_digest(make):
    user = make.user(Role.WHOLESALER, wholesaler=make.wholesaler())
    issued = issue_token(SYSTEM, user_id=user.id, name="ERP sync")
    other = issue_token(SYSTEM, user_id=user.id)
    assert issued.secret.startswith("cl_") and len(issued.secret) == 46 and issued.secret != other.secret
    row = _db.session.get(ApiToken, issued.token.id)
    assert row.token_digest == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert row.prefix == issued.secret[:11] and row.name == "ERP sync"
    assert issued.secret not in {str(v) for v in vars(row).values()}  # nowhere in clear
    assert user_for_token(issued.secret).id == user.id
    assert [t.id for t in tokens_of(user.id)] == [other.token.id, issued.token.id]
    assert _db.session.scalar(select(AuditEvent.action).where(AuditEvent.entity_id == row.id)) == "api_token.create"


def test_unknown_revoked_and_oversized_tokens_find_no_user(make):
    user = make.user()
    issued = issue_token(SYSTEM, user_id=user.id)
    assert user_for_token(issued.secret + "x") is None
    assert user_for_token("x" * 10_000) is None
    revoke_token(user, issued.token.id)
    assert user_for_token(issued.secret) is None
    assert revoke_token(SYSTEM, issued.token.id).revoked_at is not None  # again: no error, no change


def test_a_token_is_revoked_only_by_its_owner_when_one_is_named(make):
    owner, stranger = make.user(), make.user()
    issued = issue_token(SYSTEM, user_id=owner.id)
    with pytest.raises(NotFound):
        revoke_token(stranger, issued.token.id)
    assert user_for_token(issued.secret) is not None


def test_last_used_is_noted_at_most_once_a_minute(make):
    issued = issue_token(SYSTEM, user_id=make.user().id)
    assert issued.token.last_used_at is None
    user_for_token(issued.secret)
    first = _db.session.get(ApiToken, issued.token.id).last_used_at
    assert first is not None
    user_for_token(issued.secret)
    _db.session.expire_all()
    assert _db.session.get(ApiToken, issued.token.id).last_used_at == first
    _db.session.execute(update(ApiToken).values(last_used_at=datetime.now(UTC) - timedelta(minutes=2)))
    _db.session.commit()
    user_for_token(issued.secret)
    _db.session.expire_all()
    assert _db.session.get(ApiToken, issued.token.id).last_used_at > first


def test_inactive_users_get_no_new_tokens(make):
    user = make.user()
    directory.set_user_active(SYSTEM, user.id, active=False)
    with pytest.raises(NotFound):
        issue_token(SYSTEM, user_id=user.id)


# --- Over HTTP ------------------------------------------------------------------------------------

def test_missing_malformed_bad_and_revoked_tokens_are_401(app, world):
    url = f"/credit-accounts/{world.account_id}"
    anonymous = ApiClient(app)
    missing = anonymous.get(url)
    assert missing.status_code == 401 and missing.json["error"] == "UNAUTHORIZED"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", world.retailer.token):
        response = anonymous.get(url, headers={"Authorization": header})
        assert response.status_code == 401, header
    bad = ApiClient(app, token="cl_" + "A" * 43).get(url)
    assert bad.status_code == 401 and "error=invalid_token" in bad.headers["WWW-Authenticate"]

    token_id = _db.session.scalars(select(ApiToken.id).where(ApiToken.user_id == world.retailer.user.id)).one()
    revoke_token(SYSTEM, token_id)
    assert world.retailer.get(url).status_code == 401


def test_a_deactivated_users_tokens_stop_working(world):
    url = f"/credit-accounts/{world.account_id}"
    assert world.wholesaler.get(url).status_code == 200
    directory.set_user_active(world.admin.user, world.wholesaler.user.id, active=False)
    assert world.wholesaler.get(url).status_code == 401
    directory.set_user_active(world.admin.user, world.wholesaler.user.id, active=True)
    assert world.wholesaler.get(url).status_code == 200


def test_a_signed_in_browser_session_is_not_an_api_credential(client, auth, make):
    user = make.user(Role.ADMIN)
    auth.login(user)
    assert client.get("/api/v1/credit-accounts").status_code == 401


def test_the_api_needs_no_csrf_token(app, world):
    # CSRF protection is on in this app (tests/test_foundation.py); bearer-token POSTs pass without a token.
    assert app.config["WTF_CSRF_ENABLED"]
    assert world.retailer.post("/orders", world.order_body()).status_code == 201


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS,
                         ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_every_endpoint_refuses_a_missing_token(app, path, method, operation):
    response = ApiClient(app).request(method.upper(), concrete(path), json={})
    expected = 200 if operation.get("security") == [] else 401
    assert response.status_code == expected
    assert response.is_json


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS,
                         ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_every_endpoint_refuses_the_roles_it_does_not_name(world, path, method, operation):
    clients = {"admin": world.admin, "retailer": world.retailer, "wholesaler": world.wholesaler}
    for role in set(clients) - set(operation["x-roles"]) if operation["x-roles"] else ():
        response = clients[role].request(method.upper(), concrete(path), json={})
        assert response.status_code == 403, role
        assert response.json["error"] == "FORBIDDEN" and role not in response.json["message"]


# --- The rate limit per token's user --------------------------------------------------------------

def assert_rate_limited(response):
    assert response.status_code == 429
    assert 50 < int(response.headers["Retry-After"]) <= 60  # the first of the three leaves the window in a minute
    assert response.json["success"] is False and response.json["error"] == "TOO_MANY_REQUESTS"
    assert "3 per minute" in response.json["message"] and "Retry-After" in response.json["message"]


def test_past_the_limit_a_tokens_requests_are_429_and_other_users_tokens_go_on(app, db, world, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    for path in ("/credit-accounts", "/products", "/orders"):  # every endpoint adds to one count
        response = world.retailer.get(path)
        assert response.status_code == 200 and "Retry-After" not in response.headers
    assert_rate_limited(world.retailer.post("/orders", world.order_body()))  # checked against the document too
    assert db.session.scalar(select(_db.func.count(Order.id))) == 0  # the refused order was not placed

    assert world.other_retailer.get("/credit-accounts").status_code == 200  # another user's token
    for _ in range(2):
        assert world.wholesaler.get("/credit-accounts").status_code == 200
    # The same user's other token shares the count: making more tokens does not raise the limit.
    another_token = ApiClient(app, token=issue_token(SYSTEM, user_id=world.retailer.user.id).secret)
    assert_rate_limited(another_token.get("/credit-accounts"))
    # No token or a bad one is still a 401, counted for no one; the public document needs no token at all.
    assert ApiClient(app).get("/credit-accounts").status_code == 401
    assert ApiClient(app, token="cl_" + "A" * 43).get("/credit-accounts").status_code == 401
    assert world.retailer.get("/openapi.json").status_code == 200


def test_the_limit_counts_per_user_not_per_client_address(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    for i in range(3):  # three addresses (a client behind several proxies, say) share the user's count
        response = world.retailer.client.get("/api/v1/credit-accounts", environ_base={"REMOTE_ADDR": f"10.9.0.{i}"},
                                             headers={"Authorization": f"Bearer {world.retailer.token}"})
        assert response.status_code == 200
    assert_rate_limited(world.retailer.get("/credit-accounts"))


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS,
                         ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_every_endpoint_with_a_token_counts_toward_the_limit(app, world, monkeypatch, path, method, operation):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "1 per minute")
    assert world.admin.get("/credit-accounts").status_code == 200
    response = world.admin.request(method.upper(), concrete(path), json={})
    assert response.status_code == (200 if operation.get("security") == [] else 429)


def test_the_default_api_limit_is_the_documented_one(app):
    assert app.config["API_RATE_LIMIT"] == "1200 per minute"
