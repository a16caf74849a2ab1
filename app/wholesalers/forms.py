"""Wholesaler forms: the ledger's filters, payments, adjustments, limits, the catalogue and the reminder schedule."""

import re

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FieldError

from app.forms import (
    IdempotentForm,
    MoneyAmount,
    QueryForm,
    WholeNumberField,
    money_field,
    reason_field,
    terms_field,
    text_field,
)
from app.models import EntryType
from app.services import account_list, ageing
from app.services.clock import MAX_PAYMENT_TERMS_DAYS
from app.services.dunning import DAYS_RANGE, WORDING_MAX_LENGTH
from app.services.errors import ValidationError
from app.services.money import parse_amount
from app.services.text import FREE_TEXT_MAX_LENGTH, NAME_MAX_LENGTH, SKU_MAX_LENGTH

#: ?sort= values the dashboard accepts; a leading "-" sorts descending. Anything else sorts by retailer.


class DashboardForm(QueryForm):
    """The accounts list's search, filter, sort and page (a cursor the previous page gave)."""

    q = StringField("Retailer", validators=[Optional(), Length(max=200)],
                    render_kw={"placeholder": "Name contains…", "type": "search"})
    show = SelectField("Show", default="", choices={
        "": "All accounts", "active": "Active", "blocked": "Blocked", "on_hold": "On overdue hold",
        "nearly_full": f"Over {account_list.NEARLY_FULL_PERCENT} % used"})
    sort = SelectField(default="retailer", choices={f"{d}{k}": k for k in account_list.SORTS for d in ("", "-")})
    after = StringField(validators=[Optional()])


class AgeingForm(QueryForm):
    """The book's date, sort and page (a cursor the previous page gave)."""

    as_of = DateField("As of", validators=[Optional()])
    sort = SelectField(default="retailer", choices=[f"{d}{k}" for k in ageing.SORTS for d in ("", "-")])
    after = StringField(validators=[Optional()])


class LedgerFilterForm(QueryForm):
    type = SelectField("Type", default="", choices={"": "All types"} | {t.value: t.value for t in EntryType})
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise FieldError("The end date is before the start date.")


class RemittanceField(StringField):
    """The orders a payment names, typed as on a remittance advice: ``1042, 1050: 25.00`` pays order 1042 in full
    (or with what is left) and 25.00 of order 1050. ``data`` is a list of ``(order_id, amount or None)``."""

    _ITEM = re.compile(r"#?\s*([0-9]+)\s*(?::\s*(\S+))?")

    def process_formdata(self, valuelist) -> None:
        self.raw = (valuelist[0] if valuelist else "").strip()
        self.data = []
        for part in filter(None, (p.strip() for p in self.raw.split(","))):
            match = self._ITEM.fullmatch(part)  # [0-9] is ASCII only, unlike \d
            if match is None or len(match[1]) > 9:
                self.data = []
                raise ValueError(f"“{part}” is not an order: write order numbers such as 1042, or 1042: 25.00 for "
                                 "part of one, separated by commas.")
            try:
                amount = None if match[2] is None else parse_amount(match[2])
            except ValidationError as error:
                self.data = []
                raise ValueError(f"Order {match[1]}: {error.field_errors['amount']}") from None
            self.data.append((int(match[1]), amount))

    def _value(self) -> str:
        return getattr(self, "raw", "")


class PaymentForm(IdempotentForm):
    amount = money_field("Amount received")
    reference = text_field("Reference", FREE_TEXT_MAX_LENGTH,
                           message="Give the payment's reference, such as the bank transfer id.",
                           placeholder="e.g. bank transfer 2024-118")
    allocations = RemittanceField("Pays these orders first (optional)", render_kw={
        "placeholder": "e.g. 1042, 1050: 25.00", "autocomplete": "off"})


class AdjustmentForm(IdempotentForm):
    amount = money_field("Amount", positive=False)
    reason = reason_field("Reason", "e.g. damaged goods credited")


class LimitForm(FlaskForm):
    credit_limit = money_field("New credit limit", allow_zero=True)


class IncreaseForm(FlaskForm):
    """A temporary limit increase: how much, its last day (in the wholesaler's time zone) and why."""

    amount = money_field("Increase by")
    ends_on = DateField("Last day", validators=[InputRequired(message="Give the increase's last day.")])
    reason = reason_field("Reason", "e.g. Christmas stock")


class TermsForm(FlaskForm):
    """The account's terms and its overdue hold; the hold's fields left blank keep their values."""

    payment_terms_days = terms_field("Payment terms (days)")
    overdue_policy = SelectField("When a payment is overdue", validators=[Optional()],
                                 choices={"hold": "Hold new orders", "off": "Keep taking orders"})
    overdue_grace_days = WholeNumberField("Grace days",
                                          validators=[Optional(), NumberRange(min=0, max=MAX_PAYMENT_TERMS_DAYS)],
                                          render_kw={"inputmode": "numeric", "min": 0, "max": MAX_PAYMENT_TERMS_DAYS})
    overdue_min_amount = StringField("Ignore up to",
                                     validators=[Optional(), MoneyAmount(allow_zero=True)],
                                     render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"})


class EditProductForm(FlaskForm):
    name = text_field("Name", NAME_MAX_LENGTH)
    unit_price = money_field("Unit price")


class ProductForm(EditProductForm):
    sku = text_field("SKU", SKU_MAX_LENGTH)


class ReminderLevelForm(FlaskForm):
    """One level of the dunning schedule: when, from the due date, and what it says."""

    days_after_due = WholeNumberField("Days from the due date", validators=[
        InputRequired(message="Give a number of days: negative before the due date."),
        NumberRange(min=DAYS_RANGE[0], max=DAYS_RANGE[1],
                    message=f"From {DAYS_RANGE[0]} (before the due date) to {DAYS_RANGE[1]} (after it).")])
    wording = TextAreaField("What it says", validators=[
        InputRequired(message="Say what the reminder asks."), Length(max=WORDING_MAX_LENGTH)],
        render_kw={"rows": 3})
