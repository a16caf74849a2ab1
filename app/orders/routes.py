"""Order list, order detail and cancellation, for retailers, wholesalers and admins alike; shipping, for the
wholesaler's side."""

from flask import render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.roles import role_required
from app.extensions import db
from app.models import EntryType, LedgerEntry, Order, OrderLine, OrderStatus, Role
from app.orders import bp
from app.orders.forms import CancelForm, CreditNoteForm, OrderFilterForm, ShipForm, credit_note_form
from app.pages import note_refusal, render_form, show_refusal, submit
from app.pagination import keyset_page
from app.services import accounts, orders, tenancy
from app.services.accounts import PostedEntry
from app.services.errors import Refusal, ValidationError
from app.services.orders import CancelledOrder, ShippedOrder

PAGE_SIZE = 25


@bp.route("/")
@login_required
def index():
    filters = OrderFilterForm()
    filters.validate()
    query = tenancy.orders_visible_to(current_user).options(
        selectinload(Order.retailer), selectinload(Order.wholesaler))
    if filters.value("status"):
        query = query.where(Order.status == OrderStatus(filters.status.data))
    page = keyset_page(query, Order.id, size=PAGE_SIZE, after=filters.value("after"),
                       before=filters.value("before"))
    return render_template("orders/index.html", page=page, filters=filters)


@bp.route("/<id:order_id>")
@login_required
def detail(order_id: int):
    return render_template("orders/detail.html", **_detail(tenancy.order_for(current_user, order_id), ShipForm()))


@bp.post("/<id:order_id>/ship")
@role_required(Role.WHOLESALER, Role.ADMIN)
def ship(order_id: int):
    order = tenancy.order_for(current_user, order_id)
    form = ShipForm()

    def shipped(result: ShippedOrder) -> str | tuple[str, str]:
        if result.already_shipped:
            return f"Order #{order.id} was already shipped; nothing changed.", "info"
        return f"Order #{order.id} marked shipped: {order.retailer.name} can no longer cancel it."

    return submit(form, lambda: orders.ship_order(current_user, order.id), success=shipped,
                  redirect_to=lambda _: url_for("orders.detail", order_id=order.id),
                  page=lambda: render_form("orders/detail.html", form, **_detail(order, form)))


@bp.route("/<id:order_id>/credit-note", methods=["GET", "POST"])
@role_required(Role.WHOLESALER, Role.ADMIN)
def credit_note(order_id: int):
    order = tenancy.order_for(current_user, order_id)
    lines = _lines(order)
    credited = accounts.credited_quantities(order.id)
    left = {line.id: line.quantity - credited.get(line.id, 0) for line in lines}
    form = credit_note_form(lines, left)

    def issued(note: PostedEntry) -> str:
        return (f"Credit note of {note.amount:,.2f} {order.currency} issued for order #{order.id}: "
                f"balance now {note.balance_after:,.2f} {order.currency}.")

    return submit(form, lambda: accounts.credit_order(current_user, order.id, lines=form.credited(),
                                                      reason=form.reason.data,
                                                      idempotency_key=form.idempotency_key.data),
                  success=issued, redirect_to=lambda _: url_for("orders.detail", order_id=order.id),
                  refused=_refused_lines,
                  page=lambda: render_form("orders/credit_note.html", form, order=order, form=form, lines=lines,
                                           credited=credited, left=left))


def _refused_lines(form: CreditNoteForm, error: Refusal) -> None:
    """The service names lines by their place in what was sent (lines[1].quantity): its reason goes under that
    line's quantity; any other refusal is shown as usual."""
    sent = form.credited()
    under = {}
    for name, why in (error.field_errors if isinstance(error, ValidationError) else {}).items():
        place = name.removeprefix("lines[").split("]")[0]
        if place.isdigit() and int(place) < len(sent):
            under[f"quantity_{sent[int(place)][0]}"] = why[:1].upper() + why[1:] + "."
    if not under:
        return show_refusal(form, error)
    note_refusal(form, error)
    for field, why in under.items():
        form[field].errors = [*form[field].errors, why]


def _detail(order: Order, ship_form: ShipForm) -> dict:
    """What the order page shows: its lines, how much of each was credited, its credit notes."""
    notes = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.order_id == order.id, LedgerEntry.of_type(EntryType.CREDIT_NOTE)).order_by(LedgerEntry.id)).all()
    return {"order": order, "lines": _lines(order), "ship_form": ship_form,
            "credited": accounts.credited_quantities(order.id), "credit_notes": notes}


def _lines(order: Order) -> list[OrderLine]:
    return db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                              .options(selectinload(OrderLine.product)).order_by(OrderLine.id)).all()


@bp.route("/<id:order_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(order_id: int):
    order = tenancy.order_for(current_user, order_id)
    form = CancelForm()

    def cancelled(result: CancelledOrder) -> str | tuple[str, str]:
        if result.already_cancelled:
            return f"Order #{order.id} was already cancelled; nothing changed.", "info"
        return (f"Order #{order.id} cancelled: {order.total_amount:,.2f} {order.currency} returned to the credit "
                f"line. Available credit now {result.available_credit:,.2f} {order.currency}.")

    return submit(form, lambda: orders.cancel_order(current_user, order.id, reason=form.reason.data),
                  success=cancelled, redirect_to=lambda _: url_for("orders.detail", order_id=order.id),
                  page=lambda: render_form("orders/cancel.html", form, order=order, form=form))
