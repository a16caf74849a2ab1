"""Order list, order detail and cancellation, for retailers, wholesalers and admins alike; shipping, for the
wholesaler's side."""

from flask import render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.roles import role_required
from app.extensions import db
from app.models import Order, OrderLine, OrderStatus, Role
from app.orders import bp
from app.orders.forms import CancelForm, OrderFilterForm, ShipForm
from app.pages import render_form, submit
from app.pagination import keyset_page
from app.services import orders, tenancy
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
    order = tenancy.order_for(current_user, order_id)
    return render_template("orders/detail.html", order=order, lines=_lines(order), ship_form=ShipForm())


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
                  page=lambda: render_form("orders/detail.html", form, order=order, lines=_lines(order),
                                           ship_form=form))


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
