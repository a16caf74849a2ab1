"""A credit line's statement of account: the page with its period form, and the same statement as a PDF."""

from flask import render_template
from flask_login import current_user
from wtforms import DateField
from wtforms.validators import Optional

from app.auth.roles import role_required
from app.forms import QueryForm
from app.models import CreditAccount, Role
from app.services import clock, statements, tenancy
from app.services.errors import ValidationError
from app.statement_pdf import statement_download
from app.statements import bp

EVERY_ROLE = (Role.RETAILER, Role.WHOLESALER, Role.ADMIN)


class PeriodForm(QueryForm):
    """The statement's first and last day; the month so far unless given."""

    start = DateField("From", name="from", validators=[Optional()])
    end = DateField("To", name="to", validators=[Optional()])


@bp.route("/<id:account_id>")
@role_required(*EVERY_ROLE)
def page(account_id: int):
    account = tenancy.account_for(current_user, account_id)
    form, start, end = _period(account)
    today = clock.business_date(account.wholesaler.time_zone)
    return render_template("statements/page.html", account=account, form=form,
                           shown=statements.statement_of_account(account, start, end),
                           this_month=(today.replace(day=1), today), last_month=statements.previous_month(today)), \
        400 if form.errors else 200


@bp.route("/<id:account_id>.pdf")
@role_required(*EVERY_ROLE)
def pdf(account_id: int):
    account = tenancy.account_for(current_user, account_id)
    form, start, end = _period(account)
    if form.errors:
        return page(account_id)
    return statement_download(statements.statement_of_account(account, start, end))


def _period(account: CreditAccount):
    """The form and the period it names; with an error on the form, the month so far instead."""
    form = PeriodForm()
    form.validate()
    try:
        start, end = statements.period(form.value("start"), form.value("end"),
                                       time_zone=account.wholesaler.time_zone)
    except ValidationError as error:
        for name, why in error.field_errors.items():
            form["start" if name == "from" else "end"].errors = [f"{error.message} ({why})"]
        start, end = statements.period(time_zone=account.wholesaler.time_zone)
    return form, start, end
