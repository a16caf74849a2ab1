"""Forms for the order pages: the list's filter, the cancel confirmation and the shipped button."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length

from app.forms import QueryForm
from app.models import OrderStatus
from app.services.text import FREE_TEXT_MAX_LENGTH


class OrderFilterForm(QueryForm):
    status = SelectField("Status", default="",
                         choices={"": "All orders"} | {s.value: s.value.capitalize() for s in OrderStatus})


class ShipForm(FlaskForm):
    """One button; the CSRF token is all it carries."""


class CancelForm(FlaskForm):
    reason = StringField("Reason (optional)", validators=[Length(max=FREE_TEXT_MAX_LENGTH)],
                         render_kw={"placeholder": "e.g. ordered by mistake", "maxlength": FREE_TEXT_MAX_LENGTH})
