"""Retailer pages: credit lines, and ordering from a wholesaler's catalogue on credit."""

from decimal import Decimal

from flask import Response, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.roles import role_required
from app.exports import statement_csv
from app.extensions import db
from app.models import CreditAccount, HoldPurpose, Product, Role, Wholesaler
from app.pages import note_refusal, render_form, submit
from app.retailers import bp
from app.retailers.explanations import INCOMPLETE_FORM, explain
from app.retailers.forms import OrderForm, order_form
from app.services import approvals, holds, receivables, statements, tenancy
from app.services.holds import HoldResult
from app.services.orders import PlacedOrder


@bp.route("/")
@role_required(Role.RETAILER)
def dashboard():
    accounts = db.session.scalars(tenancy.accounts_visible_to(current_user)
                                  .join(Wholesaler, CreditAccount.wholesaler_id == Wholesaler.id)
                                  .order_by(Wholesaler.name)).all()
    return render_template("retailers/dashboard.html", accounts=accounts,
                           overdue=receivables.overdue_by_account(accounts),
                           awaiting_approval=approvals.waiting_count(current_user))


@bp.route("/accounts/<id:account_id>/order", methods=["GET", "POST"])
@role_required(Role.RETAILER)
def order(account_id: int):
    account = tenancy.account_for(current_user, account_id)
    form = order_form(_catalogue(account))

    def page():
        refusal = getattr(form, "refusal", None)
        explanation = explain(refusal, account) if refusal else INCOMPLETE_FORM if form.key_lost else None
        return render_form("retailers/order.html", form, account=account, form=form, refusal=explanation,
                           overdue=receivables.overdue(account), total=_estimated_total(form))

    def operation() -> PlacedOrder | HoldResult:
        if form.hold.data:
            return holds.place_hold(current_user, wholesaler_id=account.wholesaler_id, lines=form.lines(),
                                    expires_in_seconds=int(form.hold_for.data),
                                    idempotency_key=form.idempotency_key.data)
        return approvals.place(current_user, wholesaler_id=account.wholesaler_id, lines=form.lines(),
                               idempotency_key=form.idempotency_key.data)

    return submit(form, operation, success=_placed, redirect_to=_placed_page,
                  page=page, refused=note_refusal)  # the page explains the refusal in a box of its own


@bp.route("/accounts/<id:account_id>/statement")
@role_required(Role.RETAILER)
def statement(account_id: int):
    account = tenancy.account_for(current_user, account_id)
    return render_template("retailers/statement.html", account=account, statement=statements.statement(account))


@bp.route("/accounts/<id:account_id>/statement.csv")
@role_required(Role.RETAILER)
def export_statement(account_id: int):
    account = tenancy.account_for(current_user, account_id)
    shown = statements.statement(account)
    filename = f"statement-{account.wholesaler.name.lower().replace(' ', '-')[:40]}-{shown.today:%Y%m%d}.csv"
    return Response(statement_csv(shown), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _placed(placed: PlacedOrder | HoldResult) -> str | tuple[str, str]:
    if isinstance(placed, HoldResult):
        hold = placed.hold
        if placed.repeated:
            what = "sent for approval" if hold.purpose == HoldPurpose.APPROVAL else "placed"
            return f"Hold #{hold.id} was already {what} from this form; it was not {what} twice.", "info"
        if hold.purpose == HoldPurpose.APPROVAL:
            return (f"This order of {hold.amount:,.2f} {hold.currency} is above your order limit of "
                    f"{current_user.order_limit:,.2f} {hold.currency}, so it waits for an approver. Its credit and "
                    f"prices are held until {hold.expires_at:%d %B %Y, %H:%M} UTC."), "info"
        return (f"Hold #{hold.id}: {hold.amount:,.2f} {hold.currency} of credit and today's prices are held until "
                f"{hold.expires_at:%d %B %Y, %H:%M} UTC. Available credit now {placed.available_credit:,.2f} "
                f"{hold.currency}.")
    if placed.replayed:
        return f"Order #{placed.order_id} was already placed from this form; it was not placed twice.", "info"
    return (f"Order #{placed.order_id} placed: {placed.total_amount:,.2f} {placed.currency}. "
            f"Available credit now {placed.available_credit:,.2f} {placed.currency}.")


def _placed_page(placed: PlacedOrder | HoldResult) -> str:
    if isinstance(placed, HoldResult):
        return url_for("holds.detail", hold_id=placed.hold.id)
    return url_for("orders.detail", order_id=placed.order_id)


def _catalogue(account: CreditAccount) -> list[Product]:
    """The wholesaler's whole catalogue (the page lists the active products); the account proves the link."""
    return db.session.scalars(select(Product).where(Product.wholesaler_id == account.wholesaler_id)
                              .order_by(Product.name, Product.id)).all()


def _estimated_total(form: OrderForm) -> Decimal:
    """What the entered quantities come to at today's prices; shown only, the service prices the order."""
    return sum((p.unit_price * (form.quantity(p).data or 0) for p in form.products
                if p.active and not form.quantity(p).errors), Decimal("0.00"))
