"""Wholesaler forms: the ledger's filters, payments, adjustments, limits and the catalogue."""

import secrets

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.validators import ValidationError as FieldError

from app.forms import QueryForm, money_field, reason_field
from app.models import EntryType

#: ?sort= values the dashboard accepts; a leading "-" sorts descending. Anything else sorts by retailer.
SORT_KEYS = ("retailer", "limit", "balance", "available", "utilisation", "status")


class DashboardSortForm(QueryForm):
    sort = SelectField(default="retailer", choices={f"{d}{k}": k for k in SORT_KEYS for d in ("", "-")})


class LedgerFilterForm(QueryForm):
    type = SelectField("Type", default="", choices={"": "All types"} | {t.value: t.value for t in EntryType})
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise FieldError("The end date is before the start date.")


class LedgerEntryForm(FlaskForm):
    """A form that writes one ledger entry, and a key that makes a resubmit harmless."""

    #: Made on the server when the form is shown; a double click, a reload or a resubmit after a lost answer
    #: sends it again, and the service answers with the entry already recorded instead of a second one.
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=100)])

    def new_key(self) -> None:
        self.idempotency_key.data = secrets.token_urlsafe(24)


class PaymentForm(LedgerEntryForm):
    amount = money_field("Amount received")
    reference = StringField("Reference", validators=[
        DataRequired(message="Give the payment's reference, such as the bank transfer id."), Length(max=500)],
        render_kw={"placeholder": "e.g. bank transfer 2024-118"})


class AdjustmentForm(LedgerEntryForm):
    amount = money_field("Amount", positive=False)
    reason = reason_field("Reason", "e.g. damaged goods credited")


class LimitForm(FlaskForm):
    credit_limit = money_field("New credit limit", allow_zero=True)


class ProductForm(FlaskForm):
    sku = StringField("SKU", validators=[DataRequired(), Length(max=64)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    unit_price = money_field("Unit price")


class EditProductForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    unit_price = money_field("Unit price")
