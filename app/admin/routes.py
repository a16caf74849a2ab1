"""Admin pages: every credit account with blocking, opening accounts, organisations, users, the audit log, the
mail outbox."""

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import NotFound

from app.admin import bp
from app.admin.forms import (
    AccountFilterForm,
    AuditFilterForm,
    BlockForm,
    OpenAccountForm,
    OutboxFilterForm,
    RetailerForm,
    UserForm,
    WholesalerForm,
)
from app.auth.forms import EmptyForm
from app.auth.roles import role_required
from app.extensions import db
from app.forms import QueryForm
from app.models import AccountStatus, AuditEvent, CreditAccount, MailMessage, Retailer, Role, User, Wholesaler
from app.pages import render_form, submit
from app.pagination import keyset_page
from app.services import accounts as accounts_service
from app.services import directory, mail, tenancy

PAGE_SIZE = 50
#: A mail's HTML shown on its own: inline style (as in every mail) and images inside it, nothing else.
MAIL_PREVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"


@bp.route("/")
@role_required(Role.ADMIN)
def accounts():
    return _accounts_page()


@bp.route("/accounts/<id:account_id>/block", methods=["POST"])
@role_required(Role.ADMIN)
def block(account_id: int):
    account = tenancy.account_for(current_user, account_id)
    form = BlockForm()
    return submit(form, lambda: accounts_service.block_account(current_user, account.id, reason=form.reason.data),
                  success=lambda _: f"Credit of {account.retailer.name} with {account.wholesaler.name} is blocked: "
                                    "new orders are refused until it is unblocked.",
                  redirect_to=lambda _: url_for("admin.accounts"),
                  page=lambda: _accounts_page(failed={account.id: form}))


@bp.route("/accounts/<id:account_id>/unblock", methods=["POST"])
@role_required(Role.ADMIN)
def unblock(account_id: int):
    account = tenancy.account_for(current_user, account_id)
    if EmptyForm().validate_on_submit():  # a button with no form to show again: a refusal is the error page
        accounts_service.unblock_account(current_user, account.id)
        flash(f"Credit of {account.retailer.name} with {account.wholesaler.name} is unblocked.", "success")
    return redirect(url_for("admin.accounts"))


@bp.route("/accounts/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def open_account():
    form = OpenAccountForm()
    form.retailer_id.choices = _choices(Retailer, "Choose a retailer")
    form.wholesaler_id.choices = _choices(Wholesaler, "Choose a wholesaler")
    return submit(form, lambda: accounts_service.open_account(
                      current_user, retailer_id=form.retailer_id.data, wholesaler_id=form.wholesaler_id.data,
                      credit_limit=form.credit_limit.data),
                  success=lambda account: f"Credit account opened: {account.retailer.name} with "
                                          f"{account.wholesaler.name}, limit {account.credit_limit:,.2f} "
                                          f"{account.currency}.",
                  redirect_to=lambda _: url_for("admin.accounts"),
                  page=lambda: render_form("admin/open_account.html", form, form=form))


@bp.route("/organisations")
@role_required(Role.ADMIN)
def organisations():
    return _organisations_page()


@bp.route("/organisations/wholesalers", methods=["POST"])
@role_required(Role.ADMIN)
def create_wholesaler():
    form = WholesalerForm(prefix="wholesaler")
    return submit(form, lambda: directory.create_wholesaler(
                      current_user, name=form.name.data, currency=form.currency.data, time_zone=form.time_zone.data,
                      default_payment_terms_days=form.default_payment_terms_days.data),
                  success=lambda created: f"Wholesaler {created.name} created, trading in {created.currency}, "
                                          f"business dates in {created.time_zone}, "
                                          f"{created.default_payment_terms_days} days' terms for new accounts.",
                  redirect_to=lambda _: url_for("admin.organisations"),
                  page=lambda: _organisations_page(wholesaler_form=form))


@bp.route("/organisations/retailers", methods=["POST"])
@role_required(Role.ADMIN)
def create_retailer():
    form = RetailerForm(prefix="retailer")
    return submit(form, lambda: directory.create_retailer(current_user, name=form.name.data),
                  success=lambda created: f"Retailer {created.name} created.",
                  redirect_to=lambda _: url_for("admin.organisations"),
                  page=lambda: _organisations_page(retailer_form=form))


@bp.route("/users", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def users():
    form = _user_form()

    def add():
        if form.password.data:
            return directory.create_user(current_user, email=form.email.data, password=form.password.data,
                                         role=form.role.data, organisation_id=form.organisation_id())
        return directory.invite_user(current_user, email=form.email.data, role=form.role.data,
                                     organisation_id=form.organisation_id())

    return submit(form, add,
                  success=lambda added: (f"Invitation sent to {added.email}, as {added.role.value}." if added.invited
                                         else f"User {added.email} created as {added.role.value}."),
                  redirect_to=lambda _: url_for("admin.users"), page=lambda: _users_page(form, submitted=form))


@bp.route("/users/<id:user_id>/deactivate", methods=["POST"])
@role_required(Role.ADMIN)
def deactivate_user(user_id: int):
    return _set_user_active(user_id, False)


@bp.route("/users/<id:user_id>/reactivate", methods=["POST"])
@role_required(Role.ADMIN)
def reactivate_user(user_id: int):
    return _set_user_active(user_id, True)


@bp.route("/audit")
@role_required(Role.ADMIN)
def audit_log():
    filters = AuditFilterForm()
    filters.action.choices = {"": "All actions"} | _distinct(AuditEvent.action)
    filters.entity_type.choices = {"": "All entities"} | _distinct(AuditEvent.entity_type)
    filters.validate()
    query = select(AuditEvent).options(selectinload(AuditEvent.actor))
    for name in ("action", "entity_type", "entity_id"):
        if filters.value(name):
            query = query.where(getattr(AuditEvent, name) == filters.value(name))
    page = keyset_page(query, AuditEvent.id, size=PAGE_SIZE, **_cursors(filters))
    return render_template("admin/audit.html", page=page, filters=filters, changes=_changes)


@bp.route("/outbox")
@role_required(Role.ADMIN)
def outbox():
    filters = OutboxFilterForm()
    filters.validate()
    query = select(MailMessage)
    if filters.value("show") == "unsent":
        query = query.where(MailMessage.sent_at.is_(None))
    page = keyset_page(query, MailMessage.id, size=PAGE_SIZE, **_cursors(filters))
    return render_template("admin/outbox.html", page=page, filters=filters,
                           keeping=not current_app.config["MAIL_SERVER"])


@bp.route("/outbox/<id:message_id>")
@role_required(Role.ADMIN)
def outbox_message(message_id: int):
    message = db.get_or_404(MailMessage, message_id)
    return render_template("admin/outbox_message.html", message=message, readable=_readable(message))


@bp.route("/outbox/<id:message_id>/body.html")
@role_required(Role.ADMIN)
def outbox_message_body(message_id: int):
    """The mail's HTML part alone, for the message page's frame: styled inline as mail is, so it gets a policy of
    its own that allows inline style and nothing else (no script, no request anywhere, framed by this site only)."""
    message = db.get_or_404(MailMessage, message_id)
    if not _readable(message):
        raise NotFound()
    return message.html_body, 200, {"Content-Type": "text/html; charset=utf-8",
                                    "Content-Security-Policy": MAIL_PREVIEW_POLICY, "X-Frame-Options": "SAMEORIGIN"}


@bp.route("/outbox/<id:message_id>/message.eml")
@role_required(Role.ADMIN)
def outbox_message_file(message_id: int):
    message = db.get_or_404(MailMessage, message_id)
    if not _readable(message):
        raise NotFound()
    return mail.email_for(message).as_bytes(), 200, {
        "Content-Type": "message/rfc822", "Content-Disposition": f'attachment; filename="message-{message.id}.eml"'}


def _readable(message: MailMessage) -> bool:
    """Whether the admin may read the message itself: only where the outbox is its delivery (no MAIL_SERVER). A
    mail sent to its reader may hold a sign-in link that is theirs alone."""
    return message.delivery == "kept" or (message.sent_at is None and not current_app.config["MAIL_SERVER"])


def _user_form(**kwargs) -> UserForm:
    form = UserForm(**kwargs)
    form.retailer_id.choices = _choices(Retailer, "—")
    form.wholesaler_id.choices = _choices(Wholesaler, "—")
    return form


def _users_page(form: UserForm, submitted: FlaskForm):
    """The users and the new-user form, answering ``submitted``: 200 when it was not sent, else its refusal."""
    query = select(User).options(selectinload(User.retailer), selectinload(User.wholesaler))
    cursors = QueryForm()
    cursors.validate()
    page = keyset_page(query, User.id, size=PAGE_SIZE, **_cursors(cursors))
    return render_form("admin/users.html", submitted, form=form, page=page)


def _accounts_page(failed: dict[int, BlockForm] | None = None):
    """All accounts; a block form that was just refused is shown on its row, as submitted."""
    filters = AccountFilterForm()
    filters.validate()
    query = select(CreditAccount).options(selectinload(CreditAccount.retailer),
                                          selectinload(CreditAccount.wholesaler))
    if filters.value("status"):
        query = query.where(CreditAccount.status == AccountStatus(filters.value("status")))
    page = keyset_page(query, CreditAccount.id, size=PAGE_SIZE, **_cursors(filters))
    refused = next(iter(failed.values()), None) if failed else None
    return render_form("admin/accounts.html", refused, page=page, filters=filters, failed=failed or {},
                       block_form=BlockForm(formdata=None))


def _organisations_page(wholesaler_form: WholesalerForm | None = None, retailer_form: RetailerForm | None = None):
    return render_form(
        "admin/organisations.html", wholesaler_form or retailer_form,
        wholesalers=db.session.scalars(select(Wholesaler).order_by(Wholesaler.name)).all(),
        retailers=db.session.scalars(select(Retailer).order_by(Retailer.name)).all(),
        wholesaler_form=wholesaler_form or WholesalerForm(prefix="wholesaler", formdata=None),
        retailer_form=retailer_form or RetailerForm(prefix="retailer", formdata=None))


def _set_user_active(user_id: int, active: bool):
    user = tenancy.user_for(current_user, user_id)
    button = EmptyForm()

    def page():
        if getattr(button, "refusal", None) is None:  # the button's token did not pass: back to the list
            return redirect(url_for("admin.users"))
        return _users_page(_user_form(formdata=None), submitted=button)

    return submit(button, lambda: directory.set_user_active(current_user, user.id, active=active),
                  success=lambda changed: f"{changed.email} is "
                                          f"{'active again' if active else 'deactivated and signed out'}.",
                  redirect_to=lambda _: url_for("admin.users"), page=page)


def _choices(model, blank: str) -> dict[str, str]:
    rows = db.session.execute(select(model.id, model.name).order_by(model.name)).all()
    return {"": blank} | {str(row.id): row.name for row in rows}


def _distinct(column) -> dict[str, str]:
    return {value: value for value in db.session.scalars(select(column).distinct().order_by(column))}


def _cursors(form) -> dict:
    return {"after": form.value("after"), "before": form.value("before")}


def _changes(event: AuditEvent) -> list[tuple[str, object, object]]:
    """(field, before, after) for each value the event changed, or recorded when there was no before."""
    before, after = event.before or {}, event.after or {}
    return [(key, before.get(key), after.get(key)) for key in {**before, **after}
            if before.get(key) != after.get(key)]
