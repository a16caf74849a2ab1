"""Wholesaler forms: the ledger's filters, payments, adjustments, limits and the catalogue."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import Optional
from wtforms.validators import ValidationError as FieldError

from app.forms import IdempotentForm, QueryForm, money_field, reason_field, terms_field, text_field
from app.models import EntryType
from app.services.text import FREE_TEXT_MAX_LENGTH, NAME_MAX_LENGTH, SKU_MAX_LENGTH

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


class PaymentForm(IdempotentForm):
    amount = money_field("Amount received")
    reference = text_field("Reference", FREE_TEXT_MAX_LENGTH,
                           message="Give the payment's reference, such as the bank transfer id.",
                           placeholder="e.g. bank transfer 2024-118")


class AdjustmentForm(IdempotentForm):
    amount = money_field("Amount", positive=False)
    reason = reason_field("Reason", "e.g. damaged goods credited")


class LimitForm(FlaskForm):
    credit_limit = money_field("New credit limit", allow_zero=True)


class TermsForm(FlaskForm):
    payment_terms_days = terms_field("Payment terms (days)")


class EditProductForm(FlaskForm):
    name = text_field("Name", NAME_MAX_LENGTH)
    unit_price = money_field("Unit price")


class ProductForm(EditProductForm):
    sku = text_field("SKU", SKU_MAX_LENGTH)
