"""Sessions end for good: a cookie saved before a sign-out or a deactivation signs no one in afterwards; and
signing in does the same password work whoever asks."""

import pytest

from app.models import Role
from app.services import directory, sessions
from app.services.actors import SYSTEM
from tests.support.auth import csrf_token
from tests.support.factory import PASSWORD


@pytest.fixture
def buyer(make):
    wholesaler = make.wholesaler()
    account = make.account(wholesaler=wholesaler)
    make.product(wholesaler)
    return make.user(Role.RETAILER, retailer=account.retailer), account


def saved_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A browser that kept a copy of the cookie."""
    copy = app.test_client()
    copy.set_cookie("session", cookie)
    return copy


def test_a_cookie_saved_before_signing_out_is_signed_out_too(app, client, auth, buyer):
    user, account = buyer
    auth.login(user)
    cookie = saved_cookie(client)
    assert replay(app, cookie).get("/retailer/").status_code == 200
    assert auth.logout().status_code == 302

    kept = replay(app, cookie)
    page = kept.get("/retailer/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    order = kept.post(f"/retailer/accounts/{account.id}/order", data={"csrf_token": "x", "idempotency_key": "k"})
    assert order.status_code in (302, 400) and "/orders/" not in order.headers.get("Location", "")
    # Signing in again gives a session that works.
    assert auth.login(user).status_code == 302
    assert client.get("/retailer/").status_code == 200


def test_signing_out_ends_the_users_sessions_on_every_device_and_no_one_elses(app, client, auth, buyer, make):
    user, _ = buyer
    other_device = app.test_client()
    other_device.post("/login", data={"email": user.email, "password": PASSWORD,
                                      "csrf_token": csrf_token(other_device)})
    someone_else = make.user(Role.ADMIN)
    elsewhere = app.test_client()
    elsewhere.post("/login", data={"email": someone_else.email, "password": PASSWORD,
                                   "csrf_token": csrf_token(elsewhere)})
    auth.login(user)
    auth.logout()
    assert other_device.get("/retailer/").status_code == 302
    assert elsewhere.get("/admin/").status_code == 200


def test_a_deactivated_users_old_cookie_stays_dead_after_reactivation(app, client, auth, buyer, db):
    user, _ = buyer
    auth.login(user)
    cookie = saved_cookie(client)
    directory.set_user_active(SYSTEM, user.id, active=False)
    directory.set_user_active(SYSTEM, user.id, active=True)
    assert replay(app, cookie).get("/retailer/").status_code == 302


def test_a_cookie_without_a_session_version_or_with_a_forged_one_signs_no_one_in(app, buyer, db):
    user, _ = buyer
    with app.app_context():
        assert sessions.user_for_session(str(user.id)) is None  # a cookie from before versions
        assert sessions.user_for_session(f"{user.id}:2") is None
        assert sessions.user_for_session(f"{user.id}:x") is None
        assert sessions.user_for_session(f"{user.id}:1").id == user.id


@pytest.mark.parametrize("who", ["unknown email", "deactivated user", "wrong password", "right password"])
def test_every_sign_in_does_one_password_verification(app, make, monkeypatch, who):
    """The time an answer takes must not tell a deactivated user from an active or unknown one."""
    user = make.user()
    if who == "deactivated user":
        directory.set_user_active(SYSTEM, user.id, active=False)
    verifications = []
    real = sessions.verify_password
    monkeypatch.setattr(sessions, "verify_password", lambda *args: verifications.append(1) or real(*args))
    email = "nobody@example.com" if who == "unknown email" else user.email
    password = "wrong password!" if who == "wrong password" else PASSWORD
    with app.app_context():
        signed_in = sessions.authenticate(email, password)
    assert (signed_in is not None) == (who == "right password")
    assert verifications == [1]
