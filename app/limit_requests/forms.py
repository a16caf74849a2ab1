"""Forms for the limit request pages: the list's filter, asking, approving, declining."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.forms import QueryForm, money_field
from app.models import LimitRequestStatus
from app.services.text import FREE_TEXT_MAX_LENGTH


class RequestFilterForm(QueryForm):
    status = SelectField("Status", default="",
                         choices={"": "All requests"} | {s.value: s.value.capitalize() for s in LimitRequestStatus})


class AskForm(FlaskForm):
    requested_limit = money_field("Limit you would like")
    ends_on = DateField("Only until (optional)", validators=[Optional()])
    note = StringField("Why", validators=[DataRequired(message="Say why: the wholesaler reads it."),
                                          Length(max=FREE_TEXT_MAX_LENGTH)],
                       render_kw={"placeholder": "e.g. a second shop opens in March",
                                  "maxlength": FREE_TEXT_MAX_LENGTH})


class ApproveForm(FlaskForm):
    """Filled in with what was asked: changed, it approves another limit; its last day cleared, for good."""

    limit = money_field("Approve a limit of")
    ends_on = DateField("Until (blank: for good)", validators=[Optional()])
    note = StringField("Note for the retailer (optional)", validators=[Length(max=FREE_TEXT_MAX_LENGTH)],
                       render_kw={"maxlength": FREE_TEXT_MAX_LENGTH})


class DeclineForm(FlaskForm):
    note = StringField("Why not", validators=[DataRequired(message="Say why: the retailer reads it."),
                                              Length(max=FREE_TEXT_MAX_LENGTH)],
                       render_kw={"placeholder": "e.g. once the March invoices are paid",
                                  "maxlength": FREE_TEXT_MAX_LENGTH})


class WithdrawForm(FlaskForm):
    """One button; the CSRF token is all it carries."""
