"""Wholesaler pages: retailers' accounts and ledgers, payments, adjustments, limits, CSV export, catalogue."""

from datetime import UTC, datetime

from flask import Response, flash, redirect, render_template, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import func, nulls_last

from app.auth.access import role_required
from app.auth.forms import EmptyForm
from app.extensions import db
from app.models import CreditAccount, LedgerEntry, Product, Retailer, Role
from app.pages import note_refusal, render_form, show_refusal
from app.pagination import keyset_page
from app.services import access, accounts, catalogue, reports
from app.services.errors import CreditError, NotFound
from app.wholesalers import bp
from app.wholesalers.chart import balance_chart
from app.wholesalers.export import ledger_csv
from app.wholesalers.forms import (
    AdjustmentForm,
    DashboardSortForm,
    EditProductForm,
    LedgerEntryForm,
    LedgerFilterForm,
    LimitForm,
    PaymentForm,
    ProductForm,
)

LEDGER_PAGE_SIZE = 50
#: The dashboard's ?sort= whitelist: each key names a column expression, never text from the URL.
SORT_COLUMNS = {
    "retailer": Retailer.name,
    "limit": CreditAccount.credit_limit,
    "balance": CreditAccount.balance,
    "available": CreditAccount.credit_limit - CreditAccount.balance,
    "utilisation": CreditAccount.balance / func.nullif(CreditAccount.credit_limit, 0),
    "status": CreditAccount.status,
}


@bp.route("/")
@role_required(Role.WHOLESALER)
def dashboard():
    form = DashboardSortForm()
    sort = form.sort.data if form.validate() else "retailer"
    column = SORT_COLUMNS[sort.lstrip("-")]
    order = nulls_last(column.desc() if sort.startswith("-") else column.asc())
    rows = db.session.scalars(access.accounts_visible_to(current_user)
                              .join(Retailer, CreditAccount.retailer_id == Retailer.id)
                              .order_by(order, CreditAccount.id)).all()
    return render_template("wholesalers/dashboard.html", accounts=rows, sort=sort)


@bp.route("/accounts/<id:account_id>")
@role_required(Role.WHOLESALER)
def account(account_id: int):
    return _account_page(access.managed_account_for(current_user, account_id))


@bp.route("/accounts/<id:account_id>/payment", methods=["POST"])
@role_required(Role.WHOLESALER)
def record_payment(account_id: int):
    credit_account = access.managed_account_for(current_user, account_id)
    form = PaymentForm(prefix="payment")
    if form.validate_on_submit():
        try:
            entry = accounts.record_payment(account_id=credit_account.id, amount=form.amount.data,
                                            reference=form.reference.data, actor_id=current_user.id,
                                            idempotency_key=form.idempotency_key.data)
        except CreditError as error:
            _entry_refused(form, error)
        else:
            if entry.replayed:
                flash(f"This payment of {entry.amount:,.2f} {credit_account.currency} was already recorded from "
                      "this form; it was not recorded twice.", "info")
            else:
                flash(f"Payment of {entry.amount:,.2f} {credit_account.currency} recorded. Balance now "
                      f"{entry.balance_after:,.2f} {credit_account.currency}.", "success")
            return redirect(url_for("wholesalers.account", account_id=credit_account.id))
    else:
        _check_key(form)
    return _account_page(credit_account, payment=form)


@bp.route("/accounts/<id:account_id>/adjustment", methods=["POST"])
@role_required(Role.WHOLESALER)
def post_adjustment(account_id: int):
    credit_account = access.managed_account_for(current_user, account_id)
    form = AdjustmentForm(prefix="adjustment")
    if form.validate_on_submit():
        try:
            entry = accounts.post_adjustment(account_id=credit_account.id, amount=form.amount.data,
                                             reason=form.reason.data, actor_id=current_user.id,
                                             idempotency_key=form.idempotency_key.data)
        except CreditError as error:
            _entry_refused(form, error)
        else:
            if entry.replayed:
                flash(f"This adjustment of {entry.amount:+,.2f} {credit_account.currency} was already posted from "
                      "this form; it was not posted twice.", "info")
            else:
                flash(f"Adjustment of {entry.amount:+,.2f} {credit_account.currency} posted. Balance now "
                      f"{entry.balance_after:,.2f} {credit_account.currency}.", "success")
            return redirect(url_for("wholesalers.account", account_id=credit_account.id))
    else:
        _check_key(form)
    return _account_page(credit_account, adjustment=form)


@bp.route("/accounts/<id:account_id>/limit", methods=["POST"])
@role_required(Role.WHOLESALER)
def set_limit(account_id: int):
    credit_account = access.managed_account_for(current_user, account_id)
    form = LimitForm(prefix="limit")
    if form.validate_on_submit():
        try:
            changed = accounts.set_credit_limit(account_id=credit_account.id, credit_limit=form.credit_limit.data,
                                                actor_id=current_user.id)
        except CreditError as error:
            show_refusal(form, error)
        else:
            flash(f"Credit limit set to {changed.credit_limit:,.2f} {changed.currency}.", "success")
            return redirect(url_for("wholesalers.account", account_id=credit_account.id))
    return _account_page(credit_account, limit=form)


@bp.route("/accounts/<id:account_id>/ledger.csv")
@role_required(Role.WHOLESALER)
def export_ledger(account_id: int):
    credit_account = access.managed_account_for(current_user, account_id)
    filters = LedgerFilterForm()
    filters.validate()
    query = _filtered_ledger(credit_account, filters)
    filename = f"ledger-account-{credit_account.id}-{datetime.now(UTC):%Y%m%d}.csv"
    return Response(stream_with_context(ledger_csv(reports.ledger_batches(query))), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/catalogue", methods=["GET", "POST"], endpoint="catalogue")
@role_required(Role.WHOLESALER)
def catalogue_page():
    form = ProductForm()
    if form.validate_on_submit():
        try:
            product = catalogue.add_product(wholesaler_id=current_user.wholesaler_id, sku=form.sku.data,
                                            name=form.name.data, unit_price=form.unit_price.data,
                                            actor_id=current_user.id)
        except CreditError as error:
            show_refusal(form, error)
        else:
            flash(f"{product.name} ({product.sku}) added at {product.unit_price:,.2f} "
                  f"{current_user.wholesaler.currency}.", "success")
            return redirect(url_for("wholesalers.catalogue"))
    products = db.session.scalars(access.products_visible_to(current_user)
                                  .order_by(Product.active.desc(), Product.name, Product.id)).all()
    return render_form("wholesalers/catalogue.html", form, products=products, form=form)


@bp.route("/catalogue/<id:product_id>/edit", methods=["GET", "POST"])
@role_required(Role.WHOLESALER)
def edit_product(product_id: int):
    product = _own_product(product_id)
    form = EditProductForm(obj=product)  # a submitted value wins over the stored one
    if form.validate_on_submit():
        try:
            catalogue.update_product(wholesaler_id=current_user.wholesaler_id, product_id=product.id,
                                     name=form.name.data, unit_price=form.unit_price.data, actor_id=current_user.id)
        except CreditError as error:
            show_refusal(form, error)
        else:
            flash(f"{product.name} saved: {product.unit_price:,.2f} {current_user.wholesaler.currency}. "
                  "Orders already placed keep their prices.", "success")
            return redirect(url_for("wholesalers.catalogue"))
    return render_form("wholesalers/edit_product.html", form, product=product, form=form)


@bp.route("/catalogue/<id:product_id>/deactivate", methods=["POST"])
@role_required(Role.WHOLESALER)
def deactivate_product(product_id: int):
    return _set_product_active(product_id, False)


@bp.route("/catalogue/<id:product_id>/reactivate", methods=["POST"])
@role_required(Role.WHOLESALER)
def reactivate_product(product_id: int):
    return _set_product_active(product_id, True)


def _set_product_active(product_id: int, active: bool):
    product = _own_product(product_id)
    if EmptyForm().validate_on_submit():
        catalogue.update_product(wholesaler_id=current_user.wholesaler_id, product_id=product.id, active=active,
                                 actor_id=current_user.id)
        flash(f"{product.name} is {'back in' if active else 'no longer in'} the catalogue retailers see.",
              "success")
    return redirect(url_for("wholesalers.catalogue"))


def _own_product(product_id: int) -> Product:
    product = db.session.scalar(access.products_visible_to(current_user).where(Product.id == product_id))
    if product is None:
        raise NotFound("No such product in your catalogue.")
    return product


def _filtered_ledger(credit_account: CreditAccount, filters: LedgerFilterForm):
    return reports.ledger_query(credit_account.id, entry_type=filters.value("type"),
                                since=filters.value("since"), until=filters.value("until"))


def _entry_refused(form: LedgerEntryForm, error: CreditError) -> None:
    """Show why a payment or adjustment was refused; a key that cannot be sent again is replaced."""
    if error.code == "IDEMPOTENCY_KEY_REUSED":
        note_refusal(form, error)
        flash("This form was already used for an entry with other details, so nothing more was recorded. "
              "Check the ledger below; submitting the form again records what it shows now.", "error")
        form.new_key()
    elif "idempotency_key" in getattr(error, "field_errors", {}):
        note_refusal(form, error)
        _replace_lost_key(form)
    else:
        show_refusal(form, error)


def _check_key(form: LedgerEntryForm) -> None:
    """A submitted form whose key was lost or tampered with gets a fresh one, so the next submit is safe."""
    if form.is_submitted() and form.idempotency_key.errors:
        _replace_lost_key(form)


def _replace_lost_key(form: LedgerEntryForm) -> None:
    form.new_key()
    flash("The form was incomplete, so nothing was recorded. Check it and submit it again.", "error")


def _account_page(credit_account: CreditAccount, **submitted):
    """The account page; a form that was just refused is shown as submitted, the others empty."""
    filters = LedgerFilterForm()
    filters.validate()
    page = keyset_page(_filtered_ledger(credit_account, filters), LedgerEntry.id, size=LEDGER_PAGE_SIZE,
                       after=filters.value("after"), before=filters.value("before"))
    balances, limits = reports.balance_history(credit_account)
    chart = balance_chart(balances, limits, until=datetime.now(UTC), currency=credit_account.currency) \
        if balances else None
    blank = {"payment": PaymentForm, "adjustment": AdjustmentForm, "limit": LimitForm}
    forms = {name: submitted[name] if name in submitted else form_class(prefix=name, formdata=None)
             for name, form_class in blank.items()}
    for name, form in forms.items():
        if name not in submitted and isinstance(form, LedgerEntryForm):
            form.new_key()  # each page shows its entry forms with keys of their own
    refused = next(iter(submitted.values()), None)
    return render_form("wholesalers/account.html", refused, account=credit_account, page=page, filters=filters,
                       chart=chart, **forms)
