"""Forms for the order pages: the list's filter, the cancel confirmation, the shipped button and the credit note."""

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from app.forms import IdempotentForm, QueryForm, WholeNumberField, reason_field
from app.models import OrderLine, OrderStatus
from app.services.text import FREE_TEXT_MAX_LENGTH


class OrderFilterForm(QueryForm):
    status = SelectField("Status", default="",
                         choices={"": "All orders"} | {s.value: s.value.capitalize() for s in OrderStatus})


class ShipForm(FlaskForm):
    """One button; the CSRF token is all it carries."""


class CancelForm(FlaskForm):
    reason = StringField("Reason (optional)", validators=[Length(max=FREE_TEXT_MAX_LENGTH)],
                         render_kw={"placeholder": "e.g. ordered by mistake", "maxlength": FREE_TEXT_MAX_LENGTH})


class CreditNoteForm(IdempotentForm):
    """How many of each line to credit back (blank or 0: none) and why; a resubmit writes one credit note."""

    lines: Sequence[OrderLine] = ()
    reason = reason_field("Reason", "e.g. two tins dented in transit")

    def quantity(self, line: OrderLine) -> WholeNumberField:
        return self[f"quantity_{line.product_id}"]

    def credited(self) -> list[tuple[int, int]]:
        """(product id, quantity) for each line with something to credit."""
        return [(line.product_id, self.quantity(line).data) for line in self.lines if self.quantity(line).data]


def credit_note_form(lines: Sequence[OrderLine], left: dict[int, int]) -> CreditNoteForm:
    """A ``quantity_<product id>`` field per order line, from 0 to what is left to credit of it."""

    class OrderCreditNoteForm(CreditNoteForm):
        pass

    for line in lines:
        most = left[line.id]
        setattr(OrderCreditNoteForm, f"quantity_{line.product_id}", WholeNumberField(
            f"Quantity of {line.product.name} to credit", default=0,
            validators=[Optional(), NumberRange(min=0, max=most, message=f"Enter a whole number from 0 to {most}.")],
            render_kw={"step": 1, "inputmode": "numeric", "min": 0, "max": most}))
    form = OrderCreditNoteForm()
    form.lines = lines
    if not form.is_submitted():
        form.new_key()
    return form
