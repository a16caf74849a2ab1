"""Order list, order detail and cancellation, for retailers, wholesalers and admins alike."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Order, OrderLine, OrderStatus
from app.orders import bp
from app.orders.forms import CancelForm, OrderFilterForm
from app.pages import render_form, show_refusal
from app.pagination import keyset_page
from app.services import access, orders
from app.services.errors import CreditError

PAGE_SIZE = 25


@bp.route("/")
@login_required
def index():
    filters = OrderFilterForm()
    filters.validate()
    query = access.orders_visible_to(current_user).options(
        selectinload(Order.retailer), selectinload(Order.wholesaler))
    if filters.value("status"):
        query = query.where(Order.status == OrderStatus(filters.status.data))
    page = keyset_page(query, Order.id, size=PAGE_SIZE, after=filters.value("after"),
                       before=filters.value("before"))
    return render_template("orders/index.html", page=page, filters=filters)


@bp.route("/<id:order_id>")
@login_required
def detail(order_id: int):
    order = access.order_for(current_user, order_id)
    lines = db.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                               .options(selectinload(OrderLine.product)).order_by(OrderLine.id)).all()
    return render_template("orders/detail.html", order=order, lines=lines)


@bp.route("/<id:order_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(order_id: int):
    order = access.order_for(current_user, order_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            result = orders.cancel_order(order_id=order.id, actor_id=current_user.id, reason=form.reason.data)
        except CreditError as error:
            show_refusal(form, error)
        else:
            if result.already_cancelled:
                flash(f"Order #{order.id} was already cancelled; nothing changed.", "info")
            else:
                flash(f"Order #{order.id} cancelled: {order.total_amount:,.2f} {order.currency} returned to the "
                      f"credit line. Available credit now {result.available_credit:,.2f} {order.currency}.",
                      "success")
            return redirect(url_for("orders.detail", order_id=order.id))
    return render_form("orders/cancel.html", form, order=order, form=form)

