"""Retailer pages: credit lines, and ordering from a wholesaler's catalogue on credit."""

from decimal import Decimal

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.access import role_required
from app.extensions import db
from app.models import CreditAccount, Product, Role, Wholesaler
from app.pages import note_refusal, render_form
from app.retailers import bp
from app.retailers.forms import OrderForm, order_form
from app.retailers.refusals import Refusal, explain
from app.services import access, orders
from app.services.errors import CreditError, NotFound


@bp.route("/")
@role_required(Role.RETAILER)
def dashboard():
    accounts = db.session.scalars(access.accounts_visible_to(current_user)
                                  .join(Wholesaler, CreditAccount.wholesaler_id == Wholesaler.id)
                                  .order_by(Wholesaler.name)).all()
    return render_template("retailers/dashboard.html", accounts=accounts)


@bp.route("/accounts/<id:account_id>/order", methods=["GET", "POST"])
@role_required(Role.RETAILER)
def order(account_id: int):
    account = access.account_for(current_user, account_id)
    form = order_form(_catalogue(account))
    refusal = None
    if form.validate_on_submit():
        try:
            placed = orders.place_order(retailer_id=current_user.retailer_id, wholesaler_id=account.wholesaler_id,
                                        lines=form.lines(), idempotency_key=form.idempotency_key.data,
                                        placed_by=current_user.id)
        except CreditError as error:
            if isinstance(error, NotFound):
                raise
            note_refusal(form, error)
            refusal = explain(error, account)
            if error.code == "IDEMPOTENCY_KEY_REUSED":
                form.new_key()
        else:
            if placed.replayed:
                flash(f"Order #{placed.order_id} was already placed from this form; it was not placed twice.",
                      "info")
            else:
                flash(f"Order #{placed.order_id} placed: {placed.total_amount:,.2f} {placed.currency}. "
                      f"Available credit now {placed.available_credit:,.2f} {placed.currency}.", "success")
            return redirect(url_for("orders.detail", order_id=placed.order_id))
    elif form.is_submitted() and form.idempotency_key.errors:
        form.new_key()  # a missing key was tampered with or lost; a fresh one keeps the next submit safe
        refusal = Refusal("VALIDATION_ERROR", "The form was incomplete", "Nothing was ordered.",
                          "Check the quantities and place the order again.")
    return render_form("retailers/order.html", form, account=account, form=form, refusal=refusal,
                       total=_estimated_total(form))


def _catalogue(account: CreditAccount) -> list[Product]:
    """The wholesaler's whole catalogue (the page lists the active products); the account proves the link."""
    return db.session.scalars(select(Product).where(Product.wholesaler_id == account.wholesaler_id)
                              .order_by(Product.name, Product.id)).all()


def _estimated_total(form: OrderForm) -> Decimal:
    """What the entered quantities come to at today's prices; shown only, the service prices the order."""
    return sum((p.unit_price * (form.quantity(p).data or 0) for p in form.products
                if p.active and not form.quantity(p).errors), Decimal("0.00"))
