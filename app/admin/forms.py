"""Admin forms: blocking, opening accounts, organisations, users, and the audit log's filters."""

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FieldError

from app.forms import QueryForm, WholeNumberField, money_field, reason_field, terms_field, text_field
from app.models import AccountStatus, Role
from app.services.clock import DEFAULT_PAYMENT_TERMS_DAYS
from app.services.text import (
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    TIME_ZONE_MAX_LENGTH,
    ascii_digits,
)


def _id_or_none(value):
    """A chosen id, None for none chosen; an id not in the digits 0 to 9 (int() reads "١" as 1) is not a choice."""
    if value in ("", None):
        return None
    if isinstance(value, str) and not ascii_digits(value):
        raise ValueError("not an id")
    return int(value)


class AccountFilterForm(QueryForm):
    status = SelectField("Status", default="",
                         choices={"": "All statuses"} | {s.value: s.value.capitalize() for s in AccountStatus})


class BlockForm(FlaskForm):
    reason = reason_field("Reason for blocking", "Reason, e.g. payments overdue")


class OpenAccountForm(FlaskForm):
    retailer_id = SelectField("Retailer", coerce=_id_or_none)
    wholesaler_id = SelectField("Wholesaler", coerce=_id_or_none)
    credit_limit = money_field("Credit limit", allow_zero=True)

    def validate_retailer_id(self, field) -> None:
        if field.data is None:
            raise FieldError("Choose a retailer.")

    def validate_wholesaler_id(self, field) -> None:
        if field.data is None:
            raise FieldError("Choose a wholesaler.")


class WholesalerForm(FlaskForm):
    name = text_field("Name", NAME_MAX_LENGTH)
    currency = StringField("Currency", validators=[DataRequired(), Length(min=3, max=3)],
                           render_kw={"maxlength": 3, "placeholder": "EUR"})
    time_zone = text_field("Time zone", TIME_ZONE_MAX_LENGTH, placeholder="Europe/Berlin", default="UTC")
    default_payment_terms_days = terms_field("Payment terms for new accounts (days)",
                                             default=DEFAULT_PAYMENT_TERMS_DAYS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.currency.data:
            self.currency.data = current_app.config["DEFAULT_CURRENCY"]


class RetailerForm(FlaskForm):
    name = text_field("Name", NAME_MAX_LENGTH)


class UserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=EMAIL_MAX_LENGTH)])
    #: Blank: the user is invited by mail and chooses a password through the link.
    password = PasswordField("Initial password (optional)", validators=[
        Optional(), Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH,
                           message=f"Use {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.")],
        render_kw={"autocomplete": "new-password"})
    role = SelectField("Role", choices={r.value: r.value.capitalize() for r in Role})
    retailer_id = SelectField("Retailer", coerce=_id_or_none)
    wholesaler_id = SelectField("Wholesaler", coerce=_id_or_none)

    def validate_retailer_id(self, field) -> None:
        if self.role.data == Role.RETAILER.value and field.data is None:
            raise FieldError("Choose the retailer this user works for.")

    def validate_wholesaler_id(self, field) -> None:
        if self.role.data == Role.WHOLESALER.value and field.data is None:
            raise FieldError("Choose the wholesaler this user works for.")

    def organisation_id(self) -> int | None:
        """The organisation the chosen role belongs to; admins have none."""
        return {Role.RETAILER.value: self.retailer_id.data,
                Role.WHOLESALER.value: self.wholesaler_id.data}.get(self.role.data)


class OutboxFilterForm(QueryForm):
    show = SelectField("Show", choices={"": "Every mail", "unsent": "Not sent yet"}, default="")


class AuditFilterForm(QueryForm):
    action = SelectField("Action", default="")
    entity_type = SelectField("Entity", default="")
    entity_id = WholeNumberField("Entity id", validators=[Optional(), NumberRange(min=1)])
