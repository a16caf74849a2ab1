"""Wholesaler pages: retailers' accounts and ledgers, payments, adjustments, limits, CSV export, catalogue."""

from collections.abc import Callable
from datetime import date

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from app.auth.forms import EmptyForm
from app.auth.roles import role_required
from app.exports import ageing_csv, ledger_csv
from app.extensions import db
from app.formatting import day
from app.forms import IdempotentForm
from app.models import CreditAccount, LedgerEntry, OverduePolicy, Product, Role, WebhookEndpoint
from app.pages import note_refusal, render_form, show_refusal, submit
from app.pagination import keyset_page
from app.services import (
    account_list,
    accounts,
    ageing,
    catalogue,
    clock,
    dunning,
    limit_requests,
    limits,
    receivables,
    reports,
    statement_mail,
    tenancy,
)
from app.services.errors import IdempotencyKeyReused, NotFound, Refusal, ValidationError
from app.wholesalers import bp
from app.wholesalers.chart import balance_chart
from app.wholesalers.forms import (
    AdjustmentForm,
    AgeingForm,
    DashboardForm,
    EditProductForm,
    IncreaseForm,
    LedgerFilterForm,
    LimitForm,
    PaymentForm,
    ProductForm,
    ReminderLevelForm,
    TermsForm,
)

LEDGER_PAGE_SIZE = 50
AGEING_PAGE_SIZE = DASHBOARD_PAGE_SIZE = 50
#: How each entry form's outcome reads: its verb, and how its amount is written (an adjustment's has a sign).
_ENTRY_WORDS = {"payment": ("recorded", "{:,.2f}"), "adjustment": ("posted", "{:+,.2f}")}
#: The dashboard's ?sort= whitelist: each key names a column expression, never text from the URL.
@bp.route("/")
@role_required(Role.WHOLESALER)
def dashboard():
    form = DashboardForm()
    form.validate()
    today = clock.business_date(current_user.wholesaler.time_zone)
    wanted = {"sort": form.value("sort") or "retailer", "search": form.value("q") or "",
              "show": form.value("show") or ""}
    try:
        listed = account_list.page(current_user, today, after=form.value("after"), size=DASHBOARD_PAGE_SIZE, **wanted)
    except ValidationError:  # a mangled cursor: the first page, as a mangled filter shows the whole list
        listed = account_list.page(current_user, today, size=DASHBOARD_PAGE_SIZE, **wanted)
    summary = account_list.summary(current_user, today)
    return render_template("wholesalers/dashboard.html", form=form, sort=wanted["sort"], listed=listed,
                           accounts=listed.accounts, summary=summary,
                           overdue=receivables.overdue_by_account(listed.accounts),
                           currency=current_user.wholesaler.currency,
                           first_steps=None if summary.accounts else _first_steps())


def _first_steps() -> dict[str, int]:
    """What a new wholesaler has set up so far (shown until its first account is open): products, reminder levels,
    webhook endpoints."""
    wholesaler_id = current_user.wholesaler_id
    return {"products": _count(Product, Product.wholesaler_id == wholesaler_id),
            "levels": len(dunning.levels_of(wholesaler_id)),
            "endpoints": _count(WebhookEndpoint, WebhookEndpoint.wholesaler_id == wholesaler_id,
                                WebhookEndpoint.deleted_at.is_(None))}


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@bp.route("/accounts/<id:account_id>")
@role_required(Role.WHOLESALER)
def account(account_id: int):
    return _account_page(tenancy.managed_account_for(current_user, account_id))


@bp.route("/accounts/<id:account_id>/payment", methods=["POST"])
@role_required(Role.WHOLESALER)
def record_payment(account_id: int):
    credit_account = tenancy.managed_account_for(current_user, account_id)
    form = PaymentForm(prefix="payment")
    return _post_entry(credit_account, form, "payment", lambda: accounts.record_payment(
        current_user, credit_account.id, amount=form.amount.data, reference=form.reference.data,
        allocations=form.allocations.data, idempotency_key=form.idempotency_key.data))


@bp.route("/accounts/<id:account_id>/adjustment", methods=["POST"])
@role_required(Role.WHOLESALER)
def post_adjustment(account_id: int):
    credit_account = tenancy.managed_account_for(current_user, account_id)
    form = AdjustmentForm(prefix="adjustment")
    return _post_entry(credit_account, form, "adjustment", lambda: accounts.post_adjustment(
        current_user, credit_account.id, amount=form.amount.data, reason=form.reason.data,
        idempotency_key=form.idempotency_key.data))


@bp.route("/accounts/<id:account_id>/limit", methods=["POST"])
@role_required(Role.WHOLESALER)
def set_limit(account_id: int):
    return _update_account(account_id, LimitForm(prefix="limit"), "limit", ("credit_limit",), lambda changed: (
        f"Credit limit set to {changed.credit_limit:,.2f} {changed.currency}."))


@bp.route("/accounts/<id:account_id>/increase", methods=["POST"])
@role_required(Role.WHOLESALER)
def grant_increase(account_id: int):
    credit_account = tenancy.managed_account_for(current_user, account_id)
    form = IncreaseForm(prefix="increase")

    def said(granted: limits.IncreaseResult) -> str:
        increase, currency = granted.increase, credit_account.currency
        return (f"Limit raised by {increase.amount:,.2f} {currency} until the end of {day(increase.ends_on)}: "
                f"{granted.account.effective_limit:,.2f} {currency} in all until then.")

    return submit(form, lambda: limits.grant_increase(current_user, credit_account.id, amount=form.amount.data,
                                                      ends_on=form.ends_on.data, reason=form.reason.data),
                  success=said, redirect_to=lambda _: url_for("wholesalers.account", account_id=credit_account.id),
                  page=lambda: _account_page(credit_account, increase=form))


@bp.route("/increases/<id:increase_id>/end", methods=["POST"])
@role_required(Role.WHOLESALER)
def end_increase(increase_id: int):
    account_id = tenancy.managed_increase_for(current_user, increase_id).credit_account_id
    if EmptyForm().validate_on_submit():  # a button with no form to show again: a refusal is the error page
        ended = limits.end_increase(current_user, increase_id)
        flash("This increase had already ended." if ended.repeated else
              f"Increase ended: the limit is now {ended.account.effective_limit:,.2f} {ended.account.currency}.",
              "info" if ended.repeated else "success")
    return redirect(url_for("wholesalers.account", account_id=account_id))


@bp.route("/accounts/<id:account_id>/terms", methods=["POST"])
@role_required(Role.WHOLESALER)
def set_terms(account_id: int):
    return _update_account(account_id, TermsForm(prefix="terms"), "terms", TERMS_FIELDS, _terms_said)


#: The TermsForm fields, each the update_account argument of its name.
TERMS_FIELDS = ("payment_terms_days", "overdue_policy", "overdue_grace_days", "overdue_min_amount")


def _terms_said(changed: CreditAccount) -> str:
    hold = (f"new orders are held when more than {changed.overdue_min_amount:,.2f} {changed.currency} is "
            f"{changed.overdue_grace_days} days past due" if changed.overdue_policy == OverduePolicy.HOLD
            else "overdue payments do not hold new orders")
    return (f"Payment terms set to {changed.payment_terms_days} days (orders placed from now on are due that long "
            f"after their order date); {hold}.")


@bp.route("/accounts/<id:account_id>/ledger.csv")
@role_required(Role.WHOLESALER)
def export_ledger(account_id: int):
    credit_account = tenancy.managed_account_for(current_user, account_id)
    filters = LedgerFilterForm()
    filters.validate()
    query = _filtered_ledger(credit_account, filters)
    today = clock.business_date(credit_account.wholesaler.time_zone)
    filename = f"ledger-account-{credit_account.id}-{today:%Y%m%d}.csv"
    return Response(stream_with_context(ledger_csv(reports.ledger_batches(query))), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/ageing")
@role_required(Role.WHOLESALER)
def ageing_page():
    form, as_of = _ageing_query()
    sort = form.value("sort") or "retailer"
    try:
        book = ageing.book_ageing(current_user, as_of, sort=sort, after=form.value("after"), size=AGEING_PAGE_SIZE)
    except ValidationError:  # a mangled cursor: the first page, as a mangled filter shows the whole list
        book = ageing.book_ageing(current_user, as_of, sort=sort, size=AGEING_PAGE_SIZE)
    return render_template("wholesalers/ageing.html", book=book, form=form, buckets=ageing.BUCKETS,
                           currency=current_user.wholesaler.currency,
                           is_today=as_of == clock.business_date(current_user.wholesaler.time_zone))


@bp.route("/ageing.csv")
@role_required(Role.WHOLESALER)
def export_ageing():
    form, as_of = _ageing_query()
    filename = f"ageing-{as_of:%Y%m%d}.csv"
    return Response(stream_with_context(ageing_csv(current_user, as_of, form.value("sort") or "retailer")),
                    mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _ageing_query() -> tuple[AgeingForm, date]:
    """The ageing page's query (a bad date or cursor reads as none) and its day: today in the wholesaler's zone."""
    form = AgeingForm()
    form.validate()
    return form, form.value("as_of") or clock.business_date(current_user.wholesaler.time_zone)


@bp.route("/catalogue", methods=["GET", "POST"], endpoint="catalogue")
@role_required(Role.WHOLESALER)
def catalogue_page():
    form = ProductForm()

    def page():
        products = db.session.scalars(tenancy.products_visible_to(current_user)
                                      .order_by(Product.active.desc(), Product.name, Product.id)).all()
        return render_form("wholesalers/catalogue.html", form, products=products, form=form)

    return submit(form, lambda: catalogue.add_product(current_user, sku=form.sku.data, name=form.name.data,
                                                      unit_price=form.unit_price.data),
                  success=lambda product: f"{product.name} ({product.sku}) added at {product.unit_price:,.2f} "
                                          f"{current_user.wholesaler.currency}.",
                  redirect_to=lambda _: url_for("wholesalers.catalogue"), page=page)


@bp.route("/catalogue/<id:product_id>/edit", methods=["GET", "POST"])
@role_required(Role.WHOLESALER)
def edit_product(product_id: int):
    product = tenancy.catalogue_product_for(current_user, product_id)
    form = EditProductForm(obj=product)  # a submitted value wins over the stored one
    return submit(form, lambda: catalogue.update_product(current_user, product.id, name=form.name.data,
                                                         unit_price=form.unit_price.data),
                  success=lambda saved: f"{saved.name} saved: {saved.unit_price:,.2f} "
                                        f"{current_user.wholesaler.currency}. Orders already placed keep their prices.",
                  redirect_to=lambda _: url_for("wholesalers.catalogue"),
                  page=lambda: render_form("wholesalers/edit_product.html", form, product=product, form=form))


@bp.route("/catalogue/<id:product_id>/deactivate", methods=["POST"])
@role_required(Role.WHOLESALER)
def deactivate_product(product_id: int):
    return _set_product_active(product_id, False)


@bp.route("/catalogue/<id:product_id>/reactivate", methods=["POST"])
@role_required(Role.WHOLESALER)
def reactivate_product(product_id: int):
    return _set_product_active(product_id, True)


@bp.route("/reminders", methods=["GET", "POST"])
@role_required(Role.WHOLESALER)
def reminders():
    form = ReminderLevelForm(prefix="new")
    return submit(form, lambda: dunning.save_level(current_user, days_after_due=form.days_after_due.data,
                                                   wording=form.wording.data),
                  success=lambda level: "Reminder level added.", redirect_to=lambda _: url_for("wholesalers.reminders"),
                  page=lambda: _reminders_page(added=form))


@bp.route("/reminders/<id:level_id>", methods=["POST"])
@role_required(Role.WHOLESALER)
def save_reminder_level(level_id: int):
    form = ReminderLevelForm(prefix=f"level-{level_id}")
    return submit(form, lambda: dunning.save_level(current_user, level_id=level_id,
                                                   days_after_due=form.days_after_due.data, wording=form.wording.data),
                  success=lambda level: "Reminder level saved.", redirect_to=lambda _: url_for("wholesalers.reminders"),
                  page=lambda: _reminders_page(edited={level_id: form}))


@bp.route("/reminders/<id:level_id>/remove", methods=["POST"])
@role_required(Role.WHOLESALER)
def remove_reminder_level(level_id: int):
    if EmptyForm(prefix=f"level-{level_id}").validate_on_submit():  # the Remove button of the level's own form
        dunning.remove_level(current_user, level_id)
        flash("Reminder level removed; what was sent at it stays on each account.", "success")
    return redirect(url_for("wholesalers.reminders"))


@bp.route("/reminders/statements", methods=["POST"])
@role_required(Role.WHOLESALER)
def statements_by_mail():
    """Switch the monthly statement mails on or off: the button's ``on`` is 1 or 0."""
    on = request.form.get("on")
    if EmptyForm(prefix="statements").validate_on_submit() and on in ("0", "1"):
        statement_mail.set_statements_by_mail(current_user, on=on == "1")
        flash("Each retailer will be mailed its statement of account on the first of every month." if on == "1"
              else "Statements are no longer mailed.", "success")
    return redirect(url_for("wholesalers.reminders"))


def _reminders_page(added: ReminderLevelForm | None = None, edited: dict | None = None):
    """The schedule, each level a form of its own; a form just refused is shown as submitted."""
    levels = dunning.levels_of(current_user.wholesaler_id)
    edited = edited or {}
    forms = {level.id: edited.get(level.id) or ReminderLevelForm(
        prefix=f"level-{level.id}", formdata=None, days_after_due=level.days_after_due, wording=level.wording)
        for level in levels}
    if edited.keys() - forms.keys():
        raise NotFound()  # another wholesaler's level, or one removed meanwhile
    refused = added if added is not None and added.is_submitted() else next(iter(edited.values()), None)
    return render_form("wholesalers/reminders.html", refused, levels=levels, forms=forms,
                       added=added or ReminderLevelForm(prefix="new", formdata=None),
                       statements_form=EmptyForm(prefix="statements", formdata=None))


def _set_product_active(product_id: int, active: bool):
    product = tenancy.catalogue_product_for(current_user, product_id)
    if EmptyForm().validate_on_submit():  # a button with no form to show again: a refusal is the error page
        catalogue.update_product(current_user, product.id, active=active)
        flash(f"{product.name} is {'back in' if active else 'no longer in'} the catalogue retailers see.", "success")
    return redirect(url_for("wholesalers.catalogue"))


def _filtered_ledger(credit_account: CreditAccount, filters: LedgerFilterForm):
    return reports.ledger_query(credit_account.id, entry_type=filters.value("type"),
                                time_zone=credit_account.wholesaler.time_zone,
                                since=filters.value("since"), until=filters.value("until"))


def _update_account(account_id: int, form: FlaskForm, name: str, fields: tuple[str, ...],
                    said: Callable[[CreditAccount], str]):
    """Submit the limit or terms form ``name``, whose ``fields`` are the ``update_account`` arguments it sets (one
    left blank is left as it is)."""
    credit_account = tenancy.managed_account_for(current_user, account_id)
    given = {field: None if form[field].data == "" else form[field].data for field in fields}
    return submit(form, lambda: accounts.update_account(current_user, credit_account.id, **given),
                  success=said,
                  redirect_to=lambda _: url_for("wholesalers.account", account_id=credit_account.id),
                  page=lambda: _account_page(credit_account, **{name: form}))


def _post_entry(credit_account: CreditAccount, form: IdempotentForm, name: str,
                post: Callable[[], accounts.PostedEntry]):
    """Submit the payment or adjustment form ``name``: the entry, or the account page with the form as sent."""
    done, amount_format = _ENTRY_WORDS[name]
    currency = credit_account.currency

    def success(entry: accounts.PostedEntry) -> str | tuple[str, str]:
        amount = f"{amount_format.format(entry.amount)} {currency}"
        if entry.replayed:
            return f"This {name} of {amount} was already {done} from this form; it was not {done} twice.", "info"
        return f"{name.capitalize()} of {amount} {done}. Balance now {entry.balance_after:,.2f} {currency}."

    return submit(form, post, success=success, refused=_entry_refused,
                  redirect_to=lambda _: url_for("wholesalers.account", account_id=credit_account.id),
                  page=lambda: _account_page(credit_account, **{name: form}))


def _entry_refused(form: IdempotentForm, error: Refusal) -> None:
    """Why a payment or adjustment was refused; a key that cannot be sent again is replaced (see IdempotentForm)."""
    if isinstance(error, IdempotencyKeyReused):
        note_refusal(form, error)
        flash("This form was already used for an entry with other details, so nothing more was recorded. "
              "Check the ledger below; submitting the form again records what it shows now.", "error")
    elif isinstance(error, ValidationError) and "idempotency_key" in error.field_errors:
        note_refusal(form, error)
    else:
        show_refusal(form, error)


def _account_page(credit_account: CreditAccount, **submitted):
    """The account page; a form that was just refused is shown as submitted, the others empty."""
    filters = LedgerFilterForm()
    filters.validate()
    page = keyset_page(_filtered_ledger(credit_account, filters), LedgerEntry.id, size=LEDGER_PAGE_SIZE,
                       after=filters.value("after"), before=filters.value("before"))
    balances, limit_changes = reports.balance_history(credit_account)
    chart = balance_chart(balances, limit_changes, until=clock.now(), currency=credit_account.currency) \
        if balances else None
    blank = {"payment": PaymentForm, "adjustment": AdjustmentForm, "limit": LimitForm, "increase": IncreaseForm,
             "terms": TermsForm}
    forms = {name: submitted[name] if name in submitted else form_class(prefix=name, formdata=None)
             for name, form_class in blank.items()}
    if "terms" not in submitted:  # shown as they are, to be changed in place
        forms["terms"] = TermsForm(prefix="terms", formdata=None, payment_terms_days=credit_account.payment_terms_days,
                                   overdue_policy=credit_account.overdue_policy.value,
                                   overdue_grace_days=credit_account.overdue_grace_days,
                                   overdue_min_amount=f"{credit_account.overdue_min_amount:.2f}")
    for name, form in forms.items():
        if name not in submitted and isinstance(form, IdempotentForm):
            form.new_key()  # each page shows its entry forms with keys of their own
    refused = next(iter(submitted.values()), None)
    today = clock.business_date(credit_account.wholesaler.time_zone)
    if getattr(refused, "key_lost", False):
        flash("The form was incomplete, so nothing was recorded. Check it and submit it again.", "error")
    return render_form("wholesalers/account.html", refused, account=credit_account, page=page, filters=filters,
                       items=reports.open_items(page.items), overdue=receivables.overdue(credit_account, today),
                       aged=ageing.account_ageing(credit_account.id, today), today=today, chart=chart,
                       reminders=dunning.sent_to(credit_account.id), increases=limits.increases_of(credit_account.id),
                       now=clock.now(), end_form=EmptyForm(formdata=None),
                       waiting=limit_requests.open_request(credit_account.id), **forms)
