"""Organisations and users: created and deactivated by admins, audited."""

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Retailer, Role, User, Wholesaler
from app.services import audit, clock
from app.services.actors import Actor, require_role
from app.services.errors import ValidationError
from app.services.passwords import guessable, hash_password
from app.services.tenancy import user_for
from app.services.text import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, one_line
from app.services.transactions import transaction


def create_wholesaler(actor: Actor, *, name: str, currency: str = "EUR", time_zone: str = "UTC",
                      default_payment_terms_days: object = clock.DEFAULT_PAYMENT_TERMS_DAYS) -> Wholesaler:
    """A new wholesaler, counting its business dates in ``time_zone`` and giving new accounts the default terms.

    Raises Forbidden, ValidationError (a blank or taken name, a bad currency code, time zone or terms).
    """
    require_role(actor, Role.ADMIN)
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise ValidationError("Currency is a three-letter ISO code such as EUR.",
                              field_errors={"currency": "three letters"})
    wholesaler = Wholesaler(name=_name(name), currency=currency, time_zone=clock.time_zone_name(time_zone),
                            default_payment_terms_days=clock.payment_terms(default_payment_terms_days,
                                                                           field="default_payment_terms_days"))
    return _create_organisation(actor, wholesaler, "wholesaler")


def create_retailer(actor: Actor, *, name: str) -> Retailer:
    """A new retailer. Raises Forbidden, ValidationError (a blank or taken name)."""
    require_role(actor, Role.ADMIN)
    return _create_organisation(actor, Retailer(name=_name(name)), "retailer")


def create_user(actor: Actor, *, email: str, password: str, role: Role | str,
                organisation_id: int | None = None) -> User:
    """A user of a role; retailers and wholesalers belong to an organisation of that kind, admins to none.

    Raises Forbidden, ValidationError (a taken email; a password of the wrong length, only spaces, one character
    repeated or a common one).
    """
    require_role(actor, Role.ADMIN)
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > EMAIL_MAX_LENGTH or " " in email or not email.isprintable():
        raise ValidationError("Enter a valid email address.", field_errors={"email": "invalid"})
    if not isinstance(password, str) or not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise ValidationError(f"A password has {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
                              field_errors={"password": "length"})
    weakness = guessable(password)
    if weakness is not None:
        message, reason = weakness
        raise ValidationError(message, field_errors={"password": reason})
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError("Role is retailer, wholesaler or admin.", field_errors={"role": "invalid"}) from None
    organisation = {Role.RETAILER: Retailer, Role.WHOLESALER: Wholesaler}.get(role)
    if organisation is None and organisation_id is not None:
        raise ValidationError("Admins belong to no organisation.", field_errors={"organisation_id": "none"})
    user = User(email=email, password_hash=hash_password(password), role=role)
    with transaction():
        if organisation is not None:
            if organisation_id is None or db.session.get(organisation, organisation_id) is None:
                raise ValidationError(f"Choose the {role.value} this user belongs to.",
                                      field_errors={"organisation_id": f"no such {role.value}"})
            setattr(user, f"{role.value}_id", organisation_id)
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:
            raise ValidationError("A user with this email already exists.", field_errors={"email": "taken"}) from None
        audit.record(actor_id=actor.id, action="user.create", entity_type="user", entity_id=user.id,
                     after={"email": email, "role": role.value, "organisation_id": organisation_id})
    return user


def set_user_active(actor: Actor, user_id: int, *, active: bool) -> User:
    """Deactivate (their next request signs them out) or reactivate a user.

    Raises Forbidden, NotFound, ValidationError (an admin deactivating themselves).
    """
    require_role(actor, Role.ADMIN)
    with transaction():
        user = user_for(actor, user_id)
        if user.id == actor.id and not active:
            raise ValidationError("You cannot deactivate yourself.", field_errors={"user_id": "self"})
        if user.active != active:
            audit.record(actor_id=actor.id, action="user.activate" if active else "user.deactivate",
                         entity_type="user", entity_id=user.id, before={"active": user.active},
                         after={"active": active})
            user.active = active
            if not active:
                user.session_version += 1  # signed out everywhere, at once and for good
    return user


def _name(name: str | None) -> str:
    return one_line(name, field="name", max_length=NAME_MAX_LENGTH)


def _create_organisation(actor: Actor, organisation, kind: str):
    with transaction():
        db.session.add(organisation)
        try:
            db.session.flush()
        except IntegrityError:
            raise ValidationError(f"A {kind} with this name already exists.", field_errors={"name": "taken"}) from None
        audit.record(actor_id=actor.id, action=f"{kind}.create", entity_type=kind, entity_id=organisation.id,
                     after={"name": organisation.name})
    return organisation
