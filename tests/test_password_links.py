"""Invitations and password resets: a mailed link, used once, within its hours, that ends every older session."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.models import AuditEvent, MailMessage, PasswordLink, Role, User
from app.services import directory, password_links
from app.services.actors import SYSTEM
from app.services.errors import Forbidden, ValidationError
from app.services.password_links import LinkNotValid
from tests.support.auth import Auth, csrf_token
from tests.support.factory import PASSWORD

NEW_PASSWORD = "plum kettle harbour seven"


def link_in(message: MailMessage, purpose: str) -> str:
    """The path of the link in a mail (links are absolute, on APP_BASE_URL)."""
    path = {"invitation": "invitation", "reset": "password-reset"}[purpose]
    return re.search(rf"http://creditline\.test(/{path}/[A-Za-z0-9_-]+)", message.text_body).group(1)


def last_mail(db, address: str) -> MailMessage:
    return db.session.scalars(select(MailMessage).where(MailMessage.to_address == address)
                              .order_by(MailMessage.id.desc())).first()


def choose(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post(path, data={"csrf_token": csrf_token(client, path), "password": password,
                                   "confirm": password if confirm is None else confirm})


def test_an_admin_invites_by_leaving_the_password_blank_and_the_invitee_chooses_one(client, auth, db, make):
    shop = make.retailer(name="Corner Grocery")
    admin = make.user(Role.ADMIN)
    auth.login(admin)
    answer = client.post("/admin/users", data={"csrf_token": csrf_token(client, "/admin/users"),
                                               "email": "New.Buyer@Corner.example", "password": "",
                                               "role": "retailer", "retailer_id": str(shop.id), "wholesaler_id": ""})
    assert answer.status_code == 302
    invited = db.session.scalar(select(User).where(User.email == "new.buyer@corner.example"))
    assert invited.invited and invited.retailer_id == shop.id
    invitation = last_mail(db, invited.email)
    assert invitation.kind == "invitation" and invitation.subject == "Corner Grocery invites you to Creditline"
    assert admin.email in invitation.text_body and "72 hours" in invitation.text_body
    visitor = client.application.test_client()
    assert Auth(visitor).login(invited, password="").status_code != 302  # no password, no way in
    path = link_in(invitation, "invitation")
    page = visitor.get(path)
    assert page.status_code == 200 and invited.email in page.text
    done = choose(visitor, path)
    assert done.status_code == 302 and done.headers["Location"] == "/retailer/"
    assert visitor.get("/retailer/").status_code == 200  # signed in
    assert visitor.get(path).status_code == 404  # used
    assert Auth(client.application.test_client()).login(invited, password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("role", [Role.WHOLESALER, Role.RETAILER])
def test_a_user_invites_a_colleague_to_their_own_organisation_on_the_team_page(client, auth, db, make, role):
    organisation = make.wholesaler() if role == Role.WHOLESALER else make.retailer()
    inviter = make.user(role, **{role.value: organisation})
    auth.login(inviter)
    page = client.get("/team/")
    assert page.status_code == 200 and inviter.email in page.text
    answer = client.post("/team/", data={"csrf_token": csrf_token(client, "/team/"), "email": "colleague@example.com"})
    assert answer.status_code == 302
    colleague = db.session.scalar(select(User).where(User.email == "colleague@example.com"))
    assert (colleague.role, colleague.retailer_id or colleague.wholesaler_id) == (role, organisation.id)
    assert "Invited" in client.get("/team/").text


def test_inviting_again_voids_the_first_link(db, make):
    shop = make.retailer()
    first = directory.invite_user(SYSTEM, email="late@example.com", role="retailer", organisation_id=shop.id)
    old = link_in(last_mail(db, first.email), "invitation").rsplit("/", 1)[1]
    again = directory.invite_user(SYSTEM, email="late@example.com", role="retailer", organisation_id=shop.id)
    assert again.id == first.id
    new = link_in(last_mail(db, first.email), "invitation").rsplit("/", 1)[1]
    with pytest.raises(LinkNotValid):
        password_links.user_for_link(old, "invitation")
    assert password_links.user_for_link(new, "invitation").id == first.id


def test_an_invitation_works_for_72_hours(db, make):
    start = datetime(2027, 1, 31, 22, 0, tzinfo=UTC)  # across a month end
    with time_machine.travel(start, tick=False) as traveller:
        invited = directory.invite_user(SYSTEM, email="slow@example.com", role="retailer",
                                        organisation_id=make.retailer().id)
        token = link_in(last_mail(db, invited.email), "invitation").rsplit("/", 1)[1]
        traveller.move_to(start + timedelta(hours=72, seconds=-1))
        assert password_links.user_for_link(token, "invitation").id == invited.id
        traveller.move_to(start + timedelta(hours=72))
        with pytest.raises(LinkNotValid):
            password_links.choose_password(token, "invitation", password=NEW_PASSWORD)
    assert db.session.get(User, invited.id).invited


def test_nobody_invites_to_another_organisation_or_over_a_user_who_is_in(db, make):
    mine, theirs = make.wholesaler(), make.wholesaler()
    inviter = make.user(Role.WHOLESALER, wholesaler=mine)
    taken = make.user(Role.WHOLESALER, wholesaler=mine, email="taken@example.com")
    colleague = directory.invite_user(inviter, email="new@example.com", role="admin", organisation_id=theirs.id)
    assert (colleague.role, colleague.wholesaler_id) == (Role.WHOLESALER, mine.id)  # their own, whatever is asked
    with pytest.raises(ValidationError):
        directory.invite_user(inviter, email=taken.email)
    with pytest.raises(ValidationError):
        directory.invite_user(inviter, email="not an address")
    with pytest.raises(Forbidden):
        directory.create_user(inviter, email="x@example.com", password=NEW_PASSWORD, role="wholesaler",
                              organisation_id=mine.id)
    assert db.session.scalar(select(func.count()).select_from(User)) == 3
    assert not db.session.get(User, taken.id).invited


def test_forgot_password_answers_the_same_whether_or_not_the_address_has_an_account(client, db, make):
    user = make.user(Role.RETAILER, retailer=make.retailer(), email="owner@shop.example")
    assert "Forgot your password?" in client.get("/login").text
    answers = []
    for email in ("owner@shop.example", "nobody@shop.example"):
        answer = client.post("/password-reset", data={"csrf_token": csrf_token(client, "/password-reset"),
                                                      "email": email})
        answers.append((answer.status_code, answer.text.replace(email, "<address>")))
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert [m.to_address for m in db.session.scalars(select(MailMessage))] == [user.email]
    assert "60 minutes" in last_mail(db, user.email).text_body


def test_a_reset_changes_the_password_and_ends_every_other_session(app, client, db, make):
    user = make.user(Role.WHOLESALER, wholesaler=make.wholesaler(), email="desk@acme.example")
    elsewhere = app.test_client()
    Auth(elsewhere).login(user)
    assert elsewhere.get("/wholesaler/").status_code == 200
    password_links.request_reset(user.email)
    path = link_in(last_mail(db, user.email), "reset")
    assert choose(client, path).headers["Location"] == "/wholesaler/"
    assert client.get("/wholesaler/").status_code == 200  # the new session is in
    assert elsewhere.get("/wholesaler/").status_code == 302  # the old one is out
    assert Auth(app.test_client()).login(user, password=PASSWORD).status_code != 302
    assert Auth(app.test_client()).login(user, password=NEW_PASSWORD).status_code == 302
    assert client.get(path).status_code == 404


def test_a_reset_link_works_for_one_hour(db, make):
    user = make.user(Role.RETAILER, retailer=make.retailer())
    start = datetime(2027, 3, 31, 23, 30, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        password_links.request_reset(user.email)
        token = link_in(last_mail(db, user.email), "reset").rsplit("/", 1)[1]
        traveller.move_to(start + timedelta(minutes=60))
        with pytest.raises(LinkNotValid):
            password_links.choose_password(token, "reset", password=NEW_PASSWORD)


def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(client, db, make):
    user = make.user(Role.RETAILER, retailer=make.retailer())
    password_links.request_reset(user.email)
    path = link_in(last_mail(db, user.email), "reset")
    assert choose(client, path, password="password1234").status_code == 422
    assert choose(client, path, password=NEW_PASSWORD, confirm="something else").status_code == 422
    assert db.session.scalar(select(PasswordLink.used_at)) is None
    assert choose(client, path).status_code == 302


def test_one_link_chosen_twice_at_once_sets_one_password(db, make, in_parallel):
    user = make.user(Role.RETAILER, retailer=make.retailer())
    password_links.request_reset(user.email)
    token = link_in(last_mail(db, user.email), "reset").rsplit("/", 1)[1]
    results = in_parallel(lambda i: password_links.choose_password(token, "reset", password=f"{NEW_PASSWORD} {i}"), 4)
    assert sum(isinstance(r, User) for r in results) == 1
    assert all(isinstance(r, (User, LinkNotValid)) for r in results)


def test_a_deactivated_user_gets_no_reset_and_an_open_link_dies_with_the_account(db, make):
    user = make.user(Role.RETAILER, retailer=make.retailer())
    password_links.request_reset(user.email)
    token = link_in(last_mail(db, user.email), "reset").rsplit("/", 1)[1]
    directory.set_user_active(SYSTEM, user.id, active=False)
    with pytest.raises(LinkNotValid):
        password_links.user_for_link(token, "reset")
    password_links.request_reset(user.email)
    assert db.session.scalar(select(func.count()).select_from(MailMessage)) == 1


def test_reset_requests_for_one_address_are_rate_limited(app, client, make):
    make.user(Role.RETAILER, retailer=make.retailer(), email="target@example.com")
    limit = int(app.config["PASSWORD_RESET_RATE_LIMIT_PER_ACCOUNT"].split()[0])
    statuses = [client.post("/password-reset", data={"csrf_token": csrf_token(client, "/password-reset"),
                                                     "email": "target@example.com"}).status_code
                for _ in range(limit + 1)]
    assert statuses == [200] * limit + [429]


def test_the_invitation_arrives_by_smtp_and_its_link_works(app, client, db, make, smtp, run_jobs):
    invited = directory.invite_user(SYSTEM, email="far@example.com", role="wholesaler",
                                    organisation_id=make.wholesaler(name="Acme Foods").id)
    run_jobs()
    [received] = smtp.inbox.wait_for(1)
    assert received["Subject"] == "Acme Foods invites you to Creditline"
    path = re.search(r"http://creditline\.test(/invitation/\S+)", received.get_body(("plain",)).get_content()).group(1)
    assert choose(client, path).status_code == 302
    assert not db.session.get(User, invited.id).invited


def test_changing_one_s_password_ends_every_other_session_and_voids_open_links(app, client, auth, db, make):
    user = make.user(Role.RETAILER, retailer=make.retailer())
    elsewhere = app.test_client()
    Auth(elsewhere).login(user)
    password_links.request_reset(user.email)
    reset = link_in(last_mail(db, user.email), "reset")
    auth.login(user)
    form = {"csrf_token": csrf_token(client, "/settings/password"), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    wrong = client.post("/settings/password", data=form | {"current_password": "not my password"})
    assert wrong.status_code == 422 and "Your current password is not right." in wrong.text
    assert elsewhere.get("/retailer/").status_code == 200  # nothing changed
    done = client.post("/settings/password", data=form | {"current_password": PASSWORD})
    assert done.status_code == 302
    assert client.get("/retailer/").status_code == 200  # this session goes on
    assert elsewhere.get("/retailer/").status_code == 302  # the other one is out
    assert client.get(reset).status_code == 404
    assert Auth(app.test_client()).login(user, password=NEW_PASSWORD).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "user.password_change")) == 1
