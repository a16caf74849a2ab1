"""The hold list and a hold's page; capture (the retailer's) and release (anyone who may see it)."""

from flask import render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from app.auth.roles import role_required
from app.holds import bp
from app.holds.forms import (
    AWAITING_APPROVAL,
    ApproveForm,
    CaptureForm,
    DeclineForm,
    HoldFilterForm,
    ReleaseForm,
    capture_form,
)
from app.models import CreditHold, CreditHoldLine, HoldPurpose, HoldStatus, Role
from app.pages import render_form, submit
from app.pagination import keyset_page
from app.services import approvals, clock, holds, tenancy
from app.services.errors import ValidationError
from app.services.holds import CapturedHold, HoldResult

PAGE_SIZE = 25


@bp.route("/")
@login_required
def index():
    filters = HoldFilterForm()
    filters.validate()
    now = clock.now()
    query = tenancy.holds_visible_to(current_user).options(
        selectinload(CreditHold.retailer), selectinload(CreditHold.wholesaler),
        selectinload(CreditHold.lines).selectinload(CreditHoldLine.product))
    if filters.value("status") == AWAITING_APPROVAL:
        query = query.where(CreditHold.purpose == HoldPurpose.APPROVAL, holds.in_status(HoldStatus.ACTIVE, now))
    elif filters.value("status"):
        query = query.where(holds.in_status(HoldStatus(filters.status.data), now))
    page = keyset_page(query, CreditHold.id, size=PAGE_SIZE, after=filters.value("after"),
                       before=filters.value("before"))
    return render_template("holds/index.html", page=page, filters=filters, now=now, release_form=ReleaseForm())


@bp.route("/<id:hold_id>")
@login_required
def detail(hold_id: int):
    hold = tenancy.hold_for(current_user, hold_id)
    return render_template("holds/detail.html", **_detail(hold))


@bp.post("/<id:hold_id>/capture")
@role_required(Role.RETAILER)
def capture(hold_id: int):
    hold = tenancy.hold_for(current_user, hold_id)
    form = capture_form(hold.lines)

    def captured(result: CapturedHold) -> str | tuple[str, str]:
        order = result.order
        if result.repeated:
            return f"This hold was already ordered as order #{order.order_id}; nothing changed.", "info"
        return (f"Order #{order.order_id} placed from hold #{hold.id}: {order.total_amount:,.2f} {order.currency}. "
                f"Available credit now {order.available_credit:,.2f} {order.currency}.")

    def operation() -> CapturedHold:
        if not form.captured():
            raise ValidationError("Enter a quantity of at least one line to order.",
                                  field_errors={f"quantity_{hold.lines[0].product_id}": "nothing to order"})
        return holds.capture_hold(current_user, hold.id, lines=form.captured())

    return submit(form, operation, success=captured,
                  redirect_to=lambda result: url_for("orders.detail", order_id=result.order.order_id),
                  page=lambda: _again(hold, form, form=form))


@bp.post("/<id:hold_id>/release")
@login_required
def release(hold_id: int):
    hold = tenancy.hold_for(current_user, hold_id)
    form = ReleaseForm()

    def released(result: HoldResult) -> str | tuple[str, str]:
        if result.repeated:
            return f"Hold #{hold.id} was no longer holding credit; nothing changed.", "info"
        return (f"Hold #{hold.id} released: {hold.amount:,.2f} {hold.currency} of credit is free again. "
                f"Available credit now {result.available_credit:,.2f} {hold.currency}.")

    return submit(form, lambda: holds.release_hold(current_user, hold.id), success=released,
                  redirect_to=lambda _: url_for("holds.detail", hold_id=hold.id),
                  page=lambda: _again(hold, form, release_form=form))


@bp.post("/<id:hold_id>/approve")
@role_required(Role.RETAILER)
def approve(hold_id: int):
    hold = tenancy.hold_for(current_user, hold_id)
    form = ApproveForm(prefix="approve")

    def approved(result: CapturedHold) -> str | tuple[str, str]:
        if result.repeated:
            return f"This order was already approved as order #{result.order.order_id}; nothing changed.", "info"
        return (f"Approved: order #{result.order.order_id} placed for {result.order.total_amount:,.2f} "
                f"{result.order.currency}.")

    return submit(form, lambda: approvals.approve(current_user, hold.id, note=form.note.data), success=approved,
                  redirect_to=lambda result: url_for("orders.detail", order_id=result.order.order_id),
                  page=lambda: _again(hold, form, approve_form=form))


@bp.post("/<id:hold_id>/decline")
@role_required(Role.RETAILER)
def decline(hold_id: int):
    hold = tenancy.hold_for(current_user, hold_id)
    form = DeclineForm(prefix="decline")

    def declined(result: HoldResult) -> str | tuple[str, str]:
        if result.repeated:
            return f"Hold #{hold.id} was no longer waiting; nothing changed.", "info"
        return f"Declined: the buyer is told why, and {hold.amount:,.2f} {hold.currency} of credit is free again."

    return submit(form, lambda: approvals.decline(current_user, hold.id, note=form.note.data), success=declined,
                  redirect_to=lambda _: url_for("holds.detail", hold_id=hold.id),
                  page=lambda: _again(hold, form, decline_form=form))


def _again(hold: CreditHold, refused, **forms):
    """The hold's page after one of its forms was refused: that form as it was sent, the others fresh."""
    return render_form("holds/detail.html", refused, **_detail(hold, **forms))


def _detail(hold: CreditHold, form: CaptureForm | None = None, release_form: ReleaseForm | None = None,
            approve_form: ApproveForm | None = None, decline_form: DeclineForm | None = None) -> dict:
    return {"hold": hold, "form": form or capture_form(hold.lines), "release_form": release_form or ReleaseForm(),
            "now": clock.now(), "approve_form": approve_form or ApproveForm(prefix="approve", formdata=None),
            "decline_form": decline_form or DeclineForm(prefix="decline", formdata=None),
            "approver": approvals.is_approver(current_user)}
