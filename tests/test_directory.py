"""Organisations, users and catalogues through the service layer; who may see what."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.models import AuditEvent, Role, User
from app.services import catalogue, directory, tenancy
from app.services.actors import SYSTEM
from app.services.errors import NotFound, ValidationError
from app.services.orders import place_order
from tests.support.actors import acting_retailer, acting_wholesaler


def test_organisations_and_users_are_created_once_and_audited(make):
    admin = make.user(Role.ADMIN)
    wholesaler = directory.create_wholesaler(admin, name="  Baltic Fish ", currency="sek")
    assert (wholesaler.name, wholesaler.currency) == ("Baltic Fish", "SEK")
    with pytest.raises(ValidationError, match="already exists"):
        directory.create_wholesaler(admin, name="Baltic Fish")
    user = directory.create_user(admin, email="Ann@Baltic.example", password="long enough pass", role="wholesaler",
                                 organisation_id=wholesaler.id)
    assert (user.email, user.role, user.wholesaler_id) == ("ann@baltic.example", Role.WHOLESALER, wholesaler.id)
    with pytest.raises(ValidationError, match="already exists"):
        directory.create_user(SYSTEM, email="ANN@baltic.example", password="long enough pass", role="admin")
    actions = _db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["wholesaler.create", "user.create"]


@pytest.mark.parametrize("fields, message", [
    (dict(email="no-at-sign", password="long enough pass", role="admin"), "valid email"),
    (dict(email="a@b.example", password="short", role="admin"), "password"),
    (dict(email="a@b.example", password="long enough pass", role="owner"), "Role"),
    (dict(email="a@b.example", password="long enough pass", role="retailer"), "Choose the retailer"),
    (dict(email="a@b.example", password="long enough pass", role="retailer", organisation_id=999),
     "Choose the retailer"),
    (dict(email="a@b.example", password="long enough pass", role="admin", organisation_id=1),
     "no organisation"),
])
def test_bad_users_are_refused(db, fields, message):
    with pytest.raises(ValidationError, match=message):
        directory.create_user(SYSTEM, **fields)


@pytest.mark.parametrize("password, reason", [
    (" " * 12, "only whitespace"),
    ("\t \u3000" * 4, "only whitespace"),
    ("a" * 12, "one character repeated"),
    ("aAaAaAaAaAaA", "one character repeated"),
    ("111111111111111", "one character repeated"),
    ("password1234", "too common"),
    ("Password1234", "too common"),
    (" PASSWORD1234 ", "too common"),
    ("passwordpassword", "too common"),
    ("qwertyuiop123", "too common"),
    ("1qaz2wsx3edc", "too common"),
    ("123456789012", "too common"),
    ("iloveyou2024!", "too common"),
    ("Creditline123", "too common"),
    ("correct horse battery staple", "too common"),
])
def test_passwords_easy_to_guess_are_refused_with_a_clear_message(db, password, reason):
    with pytest.raises(ValidationError) as refused:
        directory.create_user(SYSTEM, email="a@b.example", password=password, role="admin")
    assert refused.value.field_errors == {"password": reason}
    assert "choose another, such as a few unrelated words" in refused.value.message
    assert _db.session.scalar(select(_db.func.count(User.id))) == 0


def test_the_passwords_the_project_uses_are_not_refused(db):
    """The demo data's, the test users', and passphrases of a few unrelated words."""
    from app.cli import DEMO_PASSWORD
    from tests.support.factory import PASSWORD

    for i, password in enumerate([DEMO_PASSWORD, PASSWORD, "long enough pass", "long enough password",
                                  "a long enough password", "a long admin password", "typed admin password",
                                  "Tr0mbone-Quarry-Lilac", "aaaaaaaaaaab"]):
        directory.create_user(SYSTEM, email=f"user{i}@example.com", password=password, role="admin")


def test_the_common_password_list_is_shipped_and_large(db):
    from app.services.passwords import COMMON_PASSWORDS

    entries = [line for line in COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
               if line and not line.startswith("#")]
    assert len(entries) > 5000 and len(set(entries)) == len(entries)
    assert all(entry == entry.casefold() for entry in entries)  # compared in the case-insensitive form


def test_a_deactivated_user_cannot_sign_in(client, auth, make):
    admin, user = make.user(Role.ADMIN), make.user(Role.ADMIN)
    with pytest.raises(ValidationError, match="yourself"):
        directory.set_user_active(admin, admin.id, active=False)
    directory.set_user_active(admin, user.id, active=False)
    assert auth.login(user).status_code == 422  # back to the form: refused
    with pytest.raises(NotFound):
        directory.set_user_active(SYSTEM, 9999, active=False)


def test_catalogue_changes_keep_old_prices_on_old_orders(make):
    account = make.account()
    wid = account.wholesaler_id
    product = catalogue.add_product(SYSTEM, wholesaler_id=wid, sku="TEA-1", name="Green tea", unit_price="4.50")
    with pytest.raises(ValidationError, match="already in the catalogue"):
        catalogue.add_product(SYSTEM, wholesaler_id=wid, sku="TEA-1", name="Again", unit_price="1.00")
    placed = place_order(acting_retailer(account.retailer_id), wholesaler_id=wid, lines=[(product.id, 2)])
    catalogue.update_product(acting_wholesaler(wid), product.id, unit_price="5.00")
    assert placed.total_amount == Decimal("9.00")
    with pytest.raises(NotFound):
        catalogue.update_product(acting_wholesaler(make.wholesaler().id), product.id, active=False)
    with pytest.raises(ValidationError, match="two decimal"):
        catalogue.update_product(acting_wholesaler(wid), product.id, unit_price="5.001")


def test_each_role_sees_only_its_own_accounts_orders_and_products(make):
    mine, theirs = make.account(), make.account()
    retailer = make.user(Role.RETAILER, retailer=mine.retailer)
    wholesaler = make.user(Role.WHOLESALER, wholesaler=mine.wholesaler)
    admin = make.user(Role.ADMIN)
    make.product(mine.wholesaler)
    make.product(mine.wholesaler, active=False)
    make.product(theirs.wholesaler)

    def ids(query):
        return sorted(_db.session.scalars(query).all(), key=lambda o: o.id)

    assert [a.id for a in ids(tenancy.accounts_visible_to(retailer))] == [mine.id]
    assert [a.id for a in ids(tenancy.accounts_visible_to(wholesaler))] == [mine.id]
    assert len(ids(tenancy.accounts_visible_to(admin))) == 2
    assert len(ids(tenancy.products_visible_to(retailer))) == 1  # active, from its own supplier
    assert len(ids(tenancy.products_visible_to(wholesaler))) == 2  # its own, inactive too
    for user in (retailer, wholesaler):
        with pytest.raises(NotFound):
            tenancy.account_for(user, theirs.id)
    with pytest.raises(NotFound):
        tenancy.managed_account_for(retailer, mine.id)
    assert tenancy.managed_account_for(wholesaler, mine.id).id == mine.id


def test_a_product_for_a_wholesaler_that_does_not_exist_is_refused(db):
    with pytest.raises(ValidationError) as refused:
        catalogue.add_product(SYSTEM, wholesaler_id=9999, sku="X-1", name="Nothing", unit_price="1.00")
    assert refused.value.field_errors == {"wholesaler_id": "not found"}
