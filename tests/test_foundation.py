"""The app starts, serves the sign-in page, and seeds its demo data once."""

from app.models import AccountStatus, CreditAccount, EntryType, LedgerEntry, OpenItem, Order, OrderStatus, Role, User
from app.services import clock, receivables


def test_root_sends_visitors_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    page = client.get("/login")
    assert page.status_code == 200
    assert b"Sign in" in page.data


def test_seed_demo_loads_once_and_prints_logins(runner, db):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "admin@example.com" in first.output and "demo-password" in first.output
    assert {u.role for u in db.session.scalars(db.select(User))} == set(Role)
    accounts = db.session.scalars(db.select(CreditAccount)).all()
    assert len({a.credit_limit for a in accounts}) > 1
    assert [a.status for a in accounts].count(AccountStatus.BLOCKED) == 1
    # Months of trading on terms: one account on overdue hold, and the open items of every age.
    assert [receivables.overdue(a).on_hold for a in accounts].count(True) == 1
    late = [(clock.business_date("UTC") - i.due_date).days
            for i in db.session.scalars(db.select(OpenItem).where(OpenItem.open_amount > 0, OpenItem.side == "CHARGE"))]
    assert min(late) <= 0 and max(late) > 90 and {(d - 1) // 30 for d in late if d > 0} == {0, 1, 2, 3}
    # Older orders shipped, the latest still to ship, one credited in part.
    assert {o.status for o in db.session.scalars(db.select(Order))} == {OrderStatus.SHIPPED, OrderStatus.CONFIRMED}
    assert db.session.scalar(db.select(db.func.count()).where(LedgerEntry.type == EntryType.CREDIT_NOTE)) == 1
    assert runner.invoke(args=["verify-ledger"]).exit_code == 0

    second = runner.invoke(args=["seed-demo"])
    assert "already loaded" in second.output
    assert db.session.query(User).count() == 3


def test_each_role_signs_in_to_its_own_start_page(client, auth, make):
    users = {
        "/retailer/": make.user(Role.RETAILER, retailer=make.retailer()),
        "/wholesaler/": make.user(Role.WHOLESALER, wholesaler=make.wholesaler()),
        "/admin/": make.user(Role.ADMIN),
    }
    for home, user in users.items():
        response = auth.login(user)
        assert response.status_code == 302 and response.headers["Location"] == home
        assert client.get(home).status_code == 200
        assert auth.logout().status_code == 302
        assert client.get(home).status_code == 302  # signed out: back to the sign-in page


def test_a_wrong_password_is_refused(client, auth, make):
    response = auth.login(make.user(), password="wrong")
    assert response.status_code == 422
    assert b"Email or password is not right" in response.data


def test_sign_in_without_a_csrf_token_is_refused(client, make):
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 400


def test_one_clients_sign_in_is_not_another_clients(app, client, auth, make):
    auth.login(make.user(Role.RETAILER, retailer=make.retailer()))
    assert client.get("/retailer/").status_code == 200
    stranger = app.test_client()
    assert stranger.get("/retailer/").status_code == 302
