"""The operators' commands: create-admin, create-api-token, revoke-api-token."""

from sqlalchemy import select

from app.models import ApiToken, Role, User
from app.services.passwords import verify_password
from app.services.tokens import user_for_token


def test_create_admin_takes_the_password_from_the_environment(runner, db, monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "a long admin password")
    result = runner.invoke(args=["create-admin", "--email", "Root@Example.com"])
    assert result.exit_code == 0, result.output
    admin = db.session.scalars(select(User)).one()
    assert (admin.email, admin.role) == ("root@example.com", Role.ADMIN)
    assert verify_password(admin.password_hash, "a long admin password")


def test_create_admin_prompts_for_a_password_when_none_is_set(runner, db, monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    result = runner.invoke(args=["create-admin", "--email", "ops@example.com"],
                           input="typed admin password\ntyped admin password\n")
    assert result.exit_code == 0, result.output
    assert "typed admin password" not in result.output  # hidden input
    assert verify_password(db.session.scalars(select(User)).one().password_hash, "typed admin password")


def test_create_admin_refuses_a_short_password_or_a_taken_email(runner, db, monkeypatch, make):
    monkeypatch.setenv("ADMIN_PASSWORD", "short")
    result = runner.invoke(args=["create-admin", "--email", "ops@example.com"])
    assert result.exit_code == 1 and "password" in result.output.lower()
    make.user(email="taken@example.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "a long admin password")
    result = runner.invoke(args=["create-admin", "--email", "taken@example.com"])
    assert result.exit_code == 1 and "already exists" in result.output


def test_create_api_token_prints_a_working_token_once(runner, db, make):
    user = make.user(Role.RETAILER, retailer=make.retailer(), email="buyer@example.com")
    result = runner.invoke(args=["create-api-token", "--email", "Buyer@example.com", "--name", "shop till"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("cl_") and "\n" not in token  # alone on stdout, for scripts
    assert "only this once" in result.stderr
    assert user_for_token(token).id == user.id
    stored = db.session.scalars(select(ApiToken)).one()
    assert stored.name == "shop till" and token not in (stored.token_digest, stored.prefix)


def test_create_api_token_needs_an_existing_active_user(runner, make, db):
    assert runner.invoke(args=["create-api-token", "--email", "nobody@example.com"]).exit_code == 1
    user = make.user(email="gone@example.com")
    user.active = False
    db.session.commit()
    result = runner.invoke(args=["create-api-token", "--email", "gone@example.com"])
    assert result.exit_code == 1 and "No such active user" in result.output


def test_revoke_api_token_by_prefix(runner, make):
    make.user(email="erp@example.com", role=Role.WHOLESALER, wholesaler=make.wholesaler())
    token = runner.invoke(args=["create-api-token", "--email", "erp@example.com"]).stdout.strip()
    result = runner.invoke(args=["revoke-api-token", "--email", "erp@example.com", "--prefix", token[:11]])
    assert result.exit_code == 0, result.output
    assert user_for_token(token) is None
    again = runner.invoke(args=["revoke-api-token", "--email", "erp@example.com", "--prefix", token[:11]])
    assert again.exit_code == 1 and "no active token" in again.output
