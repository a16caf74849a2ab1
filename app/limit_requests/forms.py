"""Forms for the limit request pages: the list's filter, asking, approving, declining."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from app.forms import QueryForm, money_field, note_field
from app.models import LimitRequestStatus


class RequestFilterForm(QueryForm):
    status = SelectField("Status", default="",
                         choices={"": "All requests"} | {s.value: s.value.capitalize() for s in LimitRequestStatus})


class AskForm(FlaskForm):
    requested_limit = money_field("Limit you would like")
    ends_on = DateField("Only until (optional)", validators=[Optional()])
    note = note_field("Why", required="Say why: the wholesaler reads it.",
                      placeholder="e.g. a second shop opens in March")


class ApproveForm(FlaskForm):
    """Filled in with what was asked: changed, it approves another limit; its last day cleared, for good."""

    limit = money_field("Approve a limit of")
    ends_on = DateField("Until (blank: for good)", validators=[Optional()])
    note = note_field("Note for the retailer (optional)")


class DeclineForm(FlaskForm):
    note = note_field("Why not", required="Say why: the retailer reads it.",
                      placeholder="e.g. once the March invoices are paid")
