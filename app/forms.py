"""Form pieces the page blueprints share: money amounts, whole numbers, required reasons, idempotent forms,
query-string forms."""

import secrets

from flask import request
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FieldError

from app.services.clock import MAX_PAYMENT_TERMS_DAYS
from app.services.errors import IdempotencyKeyReused, Refusal, ValidationError
from app.services.money import parse_amount
from app.services.text import FREE_TEXT_MAX_LENGTH, IDEMPOTENCY_KEY_MAX_LENGTH, ascii_digits, other_digits


class MoneyAmount:
    """Accepts exactly what the services accept (``parse_amount``), so the form and the service never disagree."""

    def __init__(self, *, positive: bool = True, allow_zero: bool = False):
        self.positive, self.allow_zero = positive, allow_zero

    def __call__(self, form, field) -> None:
        try:
            parse_amount(field.data or "", field=field.name, positive=self.positive, allow_zero=self.allow_zero)
        except ValidationError as error:
            why = next(iter(error.field_errors.values()), error.message)
            raise FieldError(why[:1].upper() + why[1:]) from None


def money_field(label: str, **rules) -> StringField:
    """A text input for an amount such as 1234.50: text, because a float would already be inexact."""
    return StringField(label, validators=[MoneyAmount(**rules)],
                       render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"})


class WholeNumberField(IntegerField):
    """A whole number typed with the digits 0 to 9 and an optional sign. IntegerField's int() also reads other
    scripts' digits ("١٠" is 10), full-width ones ("１２") and underscores ("1_000")."""

    def process_formdata(self, valuelist) -> None:
        if valuelist and valuelist[0]:  # blank is left to IntegerField (and Optional)
            text = valuelist[0].strip()
            if not ascii_digits(text[1:] if text[:1] in ("+", "-") else text):
                self.data = None
                raise ValueError("Enter the number with the digits 0 to 9." if other_digits(text)
                                 else self.gettext("Not a valid integer value."))
            valuelist = [text]
        super().process_formdata(valuelist)


def reason_field(label: str, placeholder: str = "") -> StringField:
    """Free text a service records with the change; blank or whitespace-only is refused."""
    return StringField(label, validators=[DataRequired(message="Give a reason: it is recorded with the change."),
                                          Length(max=FREE_TEXT_MAX_LENGTH)],
                       render_kw={"placeholder": placeholder, "maxlength": FREE_TEXT_MAX_LENGTH})


def note_field(label: str, *, required: str | None = None, placeholder: str = "") -> StringField:
    """Free text the other side reads (a request's why, a decision's note): optional, or refused blank with the
    message ``required``."""
    first = DataRequired(message=required) if required else Optional()
    shown = {"maxlength": FREE_TEXT_MAX_LENGTH} | ({"placeholder": placeholder} if placeholder else {})
    return StringField(label, validators=[first, Length(max=FREE_TEXT_MAX_LENGTH)], render_kw=shown)


def text_field(label: str, max_length: int, *, message: str | None = None, placeholder: str = "",
               default: str | None = None) -> StringField:
    """A required line of text of at most ``max_length`` characters (the operation checks the rest)."""
    return StringField(label, validators=[DataRequired(message=message), Length(max=max_length)], default=default,
                       render_kw={"placeholder": placeholder} if placeholder else {})


def terms_field(label: str, default: int | None = None) -> WholeNumberField:
    """Payment terms in whole days, 0 to 365 (the operation applies the same range)."""
    return WholeNumberField(label, default=default,
                            validators=[InputRequired(message="Give the terms in days, 0 for cash."),
                                        NumberRange(min=0, max=MAX_PAYMENT_TERMS_DAYS)],
                            render_kw={"inputmode": "numeric", "min": 0, "max": MAX_PAYMENT_TERMS_DAYS})


class IdempotentForm(FlaskForm):
    """A form that makes its change once however often it is sent: a double click, a reload or a resubmit
    after a lost answer sends the same key again, and the operation answers with what the first one did."""

    #: Made on the server when the form is shown.
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=IDEMPOTENCY_KEY_MAX_LENGTH)])
    #: True when the form came back without a usable key (lost or tampered with); it then holds a fresh one.
    key_lost = False

    def new_key(self) -> None:
        self.idempotency_key.data = secrets.token_urlsafe(24)

    def validate_on_submit(self, extra_validators=None) -> bool:
        if super().validate_on_submit(extra_validators):
            return True
        if self.is_submitted() and self.idempotency_key.errors:
            self._replace_lost_key()
        return False

    def replace_spent_key(self, refusal: Refusal) -> None:
        """After a refusal that names the key (used for another request, or unusable), a fresh one, so that
        submitting the form again is a new request."""
        if isinstance(refusal, IdempotencyKeyReused):
            self.new_key()
        elif isinstance(refusal, ValidationError) and "idempotency_key" in refusal.field_errors:
            self._replace_lost_key()

    def _replace_lost_key(self) -> None:
        self.key_lost = True
        self.new_key()


class QueryForm(FlaskForm):
    """Filters and page cursors read from the query string: no CSRF token, because a GET changes nothing."""

    class Meta:
        csrf = False

    #: Keyset cursors: the id of the last row seen (older page) or of the first (newer page).
    after = WholeNumberField(validators=[Optional(), NumberRange(min=1)])
    before = WholeNumberField(validators=[Optional(), NumberRange(min=1)])

    def __init__(self, **kwargs):
        super().__init__(formdata=request.args, **kwargs)

    def value(self, name: str):
        """The field's value when it is valid; None otherwise, so a mangled URL shows the unfiltered list."""
        field = self[name]
        return None if field.errors else field.data

    def query_args(self, **changes) -> dict:
        """The current filters as URL arguments, with ``changes`` applied (cursors dropped unless given)."""
        args = {name: field.data for name, field in self._fields.items()
                if name not in ("after", "before") and field.data not in (None, "") and not field.errors}
        args.update({k: v for k, v in changes.items() if v is not None})
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in args.items()}
