"""Form pieces the page blueprints share: money amounts, required reasons, query-string forms."""

from flask import request
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FieldError

from app.services.errors import ValidationError
from app.services.money import parse_amount
from app.services.text import FREE_TEXT_MAX_LENGTH


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


def reason_field(label: str, placeholder: str = "") -> StringField:
    """Free text a service records with the change; blank or whitespace-only is refused."""
    return StringField(label, validators=[DataRequired(message="Give a reason: it is recorded with the change."),
                                          Length(max=FREE_TEXT_MAX_LENGTH)],
                       render_kw={"placeholder": placeholder, "maxlength": FREE_TEXT_MAX_LENGTH})


class QueryForm(FlaskForm):
    """Filters and page cursors read from the query string: no CSRF token, because a GET changes nothing."""

    class Meta:
        csrf = False

    #: Keyset cursors: the id of the last row seen (older page) or of the first (newer page).
    after = IntegerField(validators=[Optional(), NumberRange(min=1)])
    before = IntegerField(validators=[Optional(), NumberRange(min=1)])

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
