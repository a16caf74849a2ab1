"""Forms for the hold pages: the list's filter, a capture's quantities and the release button."""

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import NumberRange, Optional

from app.forms import QueryForm, WholeNumberField, note_field
from app.models import CreditHoldLine, HoldStatus

#: The list's filter beside the statuses: orders waiting for an approver (live holds of purpose APPROVAL).
AWAITING_APPROVAL = "AWAITING_APPROVAL"


class HoldFilterForm(QueryForm):
    status = SelectField("Status", default="", choices={"": "All holds"} | {
        s.value: s.value.capitalize() for s in HoldStatus} | {AWAITING_APPROVAL: "Awaiting approval"})


class ApproveForm(FlaskForm):
    note = note_field("Note for the buyer (optional)")


class DeclineForm(FlaskForm):
    note = note_field("Why not", required="Say why: the buyer reads it.",
                      placeholder="e.g. we have enough stock until May")


class ReleaseForm(FlaskForm):
    """One button; the CSRF token is all it carries."""


class CaptureForm(FlaskForm):
    """How many of each held line to order (at most what was held); the rest of the hold is released."""

    lines: Sequence[CreditHoldLine] = ()

    def quantity(self, line: CreditHoldLine) -> WholeNumberField:
        return self[f"quantity_{line.product_id}"]

    def captured(self) -> list[tuple[int, int]]:
        """(product id, quantity) for each line with something to order."""
        return [(line.product_id, self.quantity(line).data) for line in self.lines if self.quantity(line).data]


def capture_form(lines: Sequence[CreditHoldLine]) -> CaptureForm:
    """A ``quantity_<product id>`` field per held line, from 0 to what was held, the held quantity unless changed."""

    class HoldCaptureForm(CaptureForm):
        pass

    for line in lines:
        setattr(HoldCaptureForm, f"quantity_{line.product_id}", WholeNumberField(
            f"Quantity of {line.product.name} to order", default=line.quantity,
            validators=[Optional(), NumberRange(min=0, max=line.quantity,
                                                message=f"Enter a whole number from 0 to {line.quantity}.")],
            render_kw={"step": 1, "inputmode": "numeric", "min": 0, "max": line.quantity}))
    form = HoldCaptureForm()
    form.lines = lines
    return form
