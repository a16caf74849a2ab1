"""Admin pages through the real forms: blocking, organisations, users, accounts and the audit log."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import AccountStatus, AuditEvent, CreditAccount, Retailer, Role, User, Wholesaler
from tests.support.page_forms import post_with_token, readable, submit


@pytest.fixture
def admin(make, auth):
    user = make.user(Role.ADMIN, email="admin@example.com")
    auth.login(user)
    return user


def status(db, account):
    db.session.expire_all()
    return db.session.get(CreditAccount, account.id).status


def test_all_accounts_show_both_parties(client, admin, make):
    make.account(retailer=make.retailer(name="Corner Shop"), wholesaler=make.wholesaler(name="Acme Foods"),
                 credit_limit="12500.00", balance="2500.00")
    page = readable(client.get("/admin/"))
    assert "Corner Shop" in page and "Acme Foods" in page
    assert "12,500.00 EUR" in page and "10,000.00 EUR" in page and "20%" in page


def test_blocking_needs_a_reason_and_unblocking_restores(client, admin, make, db):
    account = make.account()
    blank = submit(client, "/admin/", {"reason": "  "}, action=f"/accounts/{account.id}/block")
    assert "Give a reason: it is recorded with the change." in readable(blank)
    assert status(db, account) == AccountStatus.ACTIVE

    done = submit(client, "/admin/", {"reason": "Payments 60 days overdue"}, action=f"/accounts/{account.id}/block",
                  follow_redirects=True)
    assert "is blocked: new orders are refused until it is unblocked" in readable(done)
    assert "Payments 60 days overdue" in readable(done)
    assert status(db, account) == AccountStatus.BLOCKED

    submit(client, "/admin/", action=f"/accounts/{account.id}/unblock")
    assert status(db, account) == AccountStatus.ACTIVE
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["credit_account.block", "credit_account.unblock"]


def test_a_refused_block_shows_on_its_own_row_only(client, admin, make):
    first, second = make.account(), make.account()
    page = submit(client, "/admin/", {"reason": ""}, action=f"/accounts/{second.id}/block").get_data(as_text=True)
    assert page.count("Give a reason") == 1
    # Newest first: the second account's row, its message, then the first account's row.
    assert page.index(f'id="reason-{second.id}"') < page.index("Give a reason") < page.index(f'id="reason-{first.id}"')


def test_creating_organisations_users_and_an_account(client, admin, db):
    submit(client, "/admin/organisations", {"name": "Acme Foods", "currency": "eur"},
           action="/organisations/wholesalers", prefix="wholesaler")
    submit(client, "/admin/organisations", {"name": "Corner Shop"}, action="/organisations/retailers",
           prefix="retailer")
    wholesaler = db.session.scalars(select(Wholesaler)).one()
    retailer = db.session.scalars(select(Retailer)).one()
    assert wholesaler.currency == "EUR"

    taken = submit(client, "/admin/organisations", {"name": "Corner Shop"}, action="/organisations/retailers",
                   prefix="retailer")
    assert "A retailer with this name already exists." in readable(taken)

    def new_user(**values):
        return submit(client, "/admin/users", values, action="/users", follow_redirects=True)

    response = new_user(email="buyer@corner.example", password="long enough password", role="retailer",
                        retailer_id=str(retailer.id))
    assert "User buyer@corner.example created as retailer." in readable(response)
    user = db.session.scalars(select(User).where(User.email == "buyer@corner.example")).one()
    assert user.retailer_id == retailer.id

    no_org = new_user(email="w@acme.example", password="long enough password", role="wholesaler")
    assert "Choose the wholesaler this user works for." in readable(no_org)
    short = new_user(email="w@acme.example", password="short", role="admin")
    assert "Use 12 to 200 characters." in readable(short)

    opened = submit(client, "/admin/accounts/new", {"retailer_id": str(retailer.id),
                                                    "wholesaler_id": str(wholesaler.id),
                                                    "credit_limit": "25000.00"}, follow_redirects=True)
    assert "Credit account opened: Corner Shop with Acme Foods, limit 25,000.00 EUR." in readable(opened)
    assert db.session.scalars(select(CreditAccount)).one().credit_limit == Decimal("25000.00")

    twice = submit(client, "/admin/accounts/new", {"retailer_id": str(retailer.id),
                                                   "wholesaler_id": str(wholesaler.id), "credit_limit": "1.00"})
    assert "Corner Shop already has a credit account with Acme Foods." in readable(twice)
    bad_limit = submit(client, "/admin/accounts/new", {"retailer_id": str(retailer.id),
                                                       "wholesaler_id": str(wholesaler.id),
                                                       "credit_limit": "1,000"})
    assert "Enter a number such as 1234.50" in readable(bad_limit)
    assert db.session.scalar(select(func.count(CreditAccount.id))) == 1


@pytest.mark.parametrize("password, message", [
    ("aaaaaaaaaaaa", "A password cannot be one character repeated"),
    ("Password1234", "This password is on the list of common passwords that attackers try first"),
    ("iloveyou2024!", "This password is on the list of common passwords that attackers try first"),
])
def test_the_user_form_refuses_a_password_easy_to_guess(client, admin, db, password, message):
    response = submit(client, "/admin/users", {"email": "new@example.com", "password": password, "role": "admin"},
                      action="/users")
    assert response.status_code == 422
    page = readable(response)
    assert message in page and "choose another, such as a few unrelated words" in page
    assert password not in response.get_data(as_text=True)  # a password is never sent back
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "new@example.com")) == 0


def test_an_organisation_id_in_other_digits_is_no_choice(client, admin, make, db):
    """int() reads "١" as 1: a tampered select must not open an account for retailer 1 through it."""
    retailer, wholesaler = make.retailer(), make.wholesaler()
    assert (retailer.id, wholesaler.id) == (1, 1)
    for retailer_id, wholesaler_id in (("١", "1"), ("1", "１")):
        response = submit(client, "/admin/accounts/new", {"retailer_id": retailer_id, "wholesaler_id": wholesaler_id,
                                                          "credit_limit": "100.00"})
        assert response.status_code == 422
        assert "Not a valid choice" in readable(response) or "could not coerce" in readable(response)
    assert db.session.scalar(select(func.count(CreditAccount.id))) == 0


def test_deactivating_a_user_signs_them_out_and_self_deactivation_is_refused(client, admin, make, db):
    user = make.user(Role.RETAILER, retailer=make.retailer(), email="leaver@example.com")
    submit(client, "/admin/users", action=f"/users/{user.id}/deactivate")
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    assert "Deactivated" in readable(client.get("/admin/users"))
    submit(client, "/admin/users", action=f"/users/{user.id}/reactivate")
    db.session.expire_all()
    assert db.session.get(User, user.id).active is True
    # No button is offered for oneself; a hand-made request is refused by the service.
    response = post_with_token(client, f"/admin/users/{admin.id}/deactivate")
    assert response.status_code == 422 and "You cannot deactivate yourself." in readable(response)
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is True


def test_the_audit_log_filters_by_action_and_entity_and_pages_by_id(client, admin, make, db, monkeypatch):
    from app.admin import routes
    from app.services import accounts

    monkeypatch.setattr(routes, "PAGE_SIZE", 3)
    account = make.account()
    for i in range(4):
        accounts.update_account(admin, account.id, credit_limit=f"{2000 + i}.00")
    accounts.block_account(admin, account.id, reason="Overdue")

    first = readable(client.get("/admin/audit"))
    assert "credit_account.block" in first and "admin@example.com" in first and "Older" in first
    blocks = readable(client.get("/admin/audit?action=credit_account.block"))
    assert "credit_account.set_limit" not in blocks.split("Change")[-1]
    assert "status ACTIVE → BLOCKED" in blocks
    rows, url = [], "/admin/audit?action=credit_account.set_limit"
    while url:
        response = client.get(url)
        rows += re.findall(r"credit limit [\d.]+ → ([\d.]+)", readable(response))
        match = re.search(r'<a class="older" href="([^"]+)"', response.get_data(as_text=True))
        url = match.group(1).replace("&amp;", "&") if match else None
    assert rows == ["2003.00", "2002.00", "2001.00", "2000.00"]  # two pages, each change once
    assert "No events match" in readable(client.get("/admin/audit?entity_type=credit_account&entity_id=999"))


def test_the_admin_pages_have_empty_states(client, admin):
    assert "No credit accounts yet" in readable(client.get("/admin/"))
    assert "No wholesalers yet" in readable(client.get("/admin/organisations"))
    assert "First create at least one retailer and one wholesaler" in readable(client.get("/admin/accounts/new"))
