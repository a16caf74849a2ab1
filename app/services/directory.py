"""Organisations and users: created and deactivated by admins, audited."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import NO_PASSWORD, Retailer, Role, User, Wholesaler
from app.services import audit, clock, dunning, password_links
from app.services.actors import Actor, require_role
from app.services.errors import ValidationError
from app.services.passwords import new_password_hash
from app.services.tenancy import user_for
from app.services.text import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH, one_line
from app.services.transactions import transaction


def create_wholesaler(actor: Actor, *, name: str, currency: str = "EUR", time_zone: str = "UTC",
                      default_payment_terms_days: object = clock.DEFAULT_PAYMENT_TERMS_DAYS) -> Wholesaler:
    """A new wholesaler, counting its business dates in ``time_zone``, giving new accounts the default terms, and
    reminding of unpaid items on the default dunning schedule.

    Raises Forbidden, ValidationError (a blank or taken name, a bad currency code, time zone or terms).
    """
    require_role(actor, Role.ADMIN)
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise ValidationError("Currency is a three-letter ISO code such as EUR.",
                              field_errors={"currency": "three letters"})
    wholesaler = Wholesaler(name=_name(name), currency=currency, time_zone=clock.time_zone_name(time_zone),
                            default_payment_terms_days=clock.payment_terms(default_payment_terms_days,
                                                                           field="default_payment_terms_days"),
                            reminder_levels=dunning.default_levels())
    return _create_organisation(actor, wholesaler, "wholesaler")


def create_retailer(actor: Actor, *, name: str) -> Retailer:
    """A new retailer. Raises Forbidden, ValidationError (a blank or taken name)."""
    require_role(actor, Role.ADMIN)
    return _create_organisation(actor, Retailer(name=_name(name)), "retailer")


def create_user(actor: Actor, *, email: str, password: str, role: Role | str,
                organisation_id: int | None = None) -> User:
    """A user of a role with a password the admin passes on; retailers and wholesalers belong to an organisation
    of that kind, admins to none.

    Raises Forbidden, ValidationError (a bad or taken email, a role without its organisation; a password of the
    wrong length, only spaces, one character repeated or a common one).
    """
    require_role(actor, Role.ADMIN)
    email, password_hash = _email(email), new_password_hash(password)
    with transaction():
        return _add_user(actor, email=email, password_hash=password_hash, role=role, organisation_id=organisation_id)


def invite_user(actor: Actor, *, email: str, role: Role | str | None = None,
                organisation_id: int | None = None) -> User:
    """A user who chooses a password through a link mailed to them (valid 72 hours). Admins invite anyone to any
    organisation; wholesaler and retailer users invite colleagues to their own (``role`` and ``organisation_id``
    are then theirs). Inviting an invited user again mails a new link and voids the old one.

    Raises Forbidden, ValidationError (a bad email, an email taken by a user who is in, a role without its
    organisation).
    """
    require_role(actor, Role.ADMIN, Role.WHOLESALER, Role.RETAILER)
    if actor.role != Role.ADMIN:
        role, organisation_id = actor.role, actor.retailer_id or actor.wholesaler_id
    email = _email(email)
    inviter = db.session.get(User, actor.id) if actor.id is not None else None
    with transaction():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None and user.invited and user.role.value == str(role) and \
                (user.retailer_id or user.wholesaler_id) == organisation_id:  # the same invitation, sent again
            audit.record(actor_id=actor.id, action="user.reinvite", entity_type="user", entity_id=user.id)
        else:
            user = _add_user(actor, email=email, password_hash=NO_PASSWORD, role=role, organisation_id=organisation_id)
        organisation = user.retailer or user.wholesaler
        password_links.send_invitation(user, invited_by=inviter, organisation_name=organisation.name if organisation
                                       else None)
    return user


def _email(email: object) -> str:
    email = (email if isinstance(email, str) else "").strip().lower()
    if "@" not in email or len(email) > EMAIL_MAX_LENGTH or " " in email or not email.isprintable():
        raise ValidationError("Enter a valid email address.", field_errors={"email": "invalid"})
    return email


def _add_user(actor: Actor, *, email: str, password_hash: str, role: Role | str, organisation_id: int | None) -> User:
    """Insert the user in the caller's transaction, audited. Raises ValidationError."""
    try:
        role = Role(role)
    except ValueError:
        raise ValidationError("Role is retailer, wholesaler or admin.", field_errors={"role": "invalid"}) from None
    organisation = {Role.RETAILER: Retailer, Role.WHOLESALER: Wholesaler}.get(role)
    if organisation is None and organisation_id is not None:
        raise ValidationError("Admins belong to no organisation.", field_errors={"organisation_id": "none"})
    user = User(email=email, password_hash=password_hash, role=role)
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
    audit.record(actor_id=actor.id, action="user.invite" if password_hash == NO_PASSWORD else "user.create",
                 entity_type="user", entity_id=user.id,
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
