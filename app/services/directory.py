"""Organisations and users: created and deactivated by admins, audited."""

from sqlalchemy.exc import IntegrityError

from app.auth.passwords import hash_password
from app.extensions import db
from app.models import Retailer, Role, User, Wholesaler
from app.services import audit
from app.services.errors import NotFound, ValidationError

NAME_MAX_LENGTH = 200
PASSWORD_MIN_LENGTH = 12


def create_wholesaler(*, name: str, currency: str = "EUR", actor_id: int | None = None) -> Wholesaler:
    """A new wholesaler. Raises ValidationError on a blank or taken name or a bad currency code."""
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise ValidationError("Currency is a three-letter ISO code such as EUR.",
                              field_errors={"currency": "three letters"})
    return _create_organisation(Wholesaler(name=_name(name), currency=currency), "wholesaler", actor_id)


def create_retailer(*, name: str, actor_id: int | None = None) -> Retailer:
    """A new retailer. Raises ValidationError on a blank or taken name."""
    return _create_organisation(Retailer(name=_name(name)), "retailer", actor_id)


def create_user(*, email: str, password: str, role: Role | str, organisation_id: int | None = None,
                actor_id: int | None = None) -> User:
    """A user of a role; retailers and wholesalers belong to an organisation of that kind, admins to none.

    Raises ValidationError.
    """
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254 or " " in email or not email.isprintable():
        raise ValidationError("Enter a valid email address.", field_errors={"email": "invalid"})
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_LENGTH or len(password) > 200:
        raise ValidationError(f"A password has {PASSWORD_MIN_LENGTH} to 200 characters.",
                              field_errors={"password": "length"})
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError("Role is retailer, wholesaler or admin.", field_errors={"role": "invalid"}) from None
    organisation = {Role.RETAILER: Retailer, Role.WHOLESALER: Wholesaler}.get(role)
    user = User(email=email, password_hash=hash_password(password), role=role)
    if organisation is None:
        if organisation_id is not None:
            raise ValidationError("Admins belong to no organisation.", field_errors={"organisation_id": "none"})
    else:
        if organisation_id is None or db.session.get(organisation, organisation_id) is None:
            raise ValidationError(f"Choose the {role.value} this user belongs to.",
                                  field_errors={"organisation_id": f"no such {role.value}"})
        setattr(user, f"{role.value}_id", organisation_id)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("A user with this email already exists.", field_errors={"email": "taken"}) from None
    audit.record(actor_id=actor_id, action="user.create", entity_type="user", entity_id=user.id,
                 after={"email": email, "role": role.value, "organisation_id": organisation_id})
    db.session.commit()
    return user


def set_user_active(*, user_id: int, active: bool, actor_id: int | None = None) -> User:
    """Deactivate (their next request signs them out) or reactivate a user. Raises NotFound, ValidationError."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    if user.id == actor_id and not active:
        raise ValidationError("You cannot deactivate yourself.", field_errors={"user_id": "self"})
    if user.active != active:
        audit.record(actor_id=actor_id, action="user.activate" if active else "user.deactivate",
                     entity_type="user", entity_id=user.id, before={"active": user.active},
                     after={"active": active})
        user.active = active
    db.session.commit()
    return user


def _name(name: str | None) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH or not name.isprintable():
        raise ValidationError(f"A name has 1 to {NAME_MAX_LENGTH} printable characters.",
                              field_errors={"name": "invalid"})
    return name


def _create_organisation(organisation, kind: str, actor_id: int | None):
    db.session.add(organisation)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError(f"A {kind} with this name already exists.", field_errors={"name": "taken"}) from None
    audit.record(actor_id=actor_id, action=f"{kind}.create", entity_type=kind, entity_id=organisation.id,
                 after={"name": organisation.name})
    db.session.commit()
    return organisation
