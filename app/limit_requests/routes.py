"""The request list, asking on a credit line (the retailer's), a request's page with its decision (the wholesaler's)
or its withdrawal (the retailer's)."""

from flask import render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from app.auth.forms import EmptyForm
from app.auth.roles import role_required
from app.formatting import day
from app.limit_requests import bp
from app.limit_requests.forms import ApproveForm, AskForm, DeclineForm, RequestFilterForm
from app.models import CreditAccount, LimitRequest, LimitRequestStatus, Role
from app.pages import render_form, submit
from app.pagination import keyset_page
from app.services import limit_requests, tenancy
from app.services.limit_requests import Decision

PAGE_SIZE = 25


@bp.route("/")
@login_required
def index():
    filters = RequestFilterForm()
    filters.validate()
    status = filters.value("status")
    query = limit_requests.requests_query(current_user, status=LimitRequestStatus(status) if status else None).options(
        selectinload(LimitRequest.account).selectinload(CreditAccount.wholesaler),
        selectinload(LimitRequest.account).selectinload(CreditAccount.retailer))
    page = keyset_page(query, LimitRequest.id, size=PAGE_SIZE, after=filters.value("after"),
                       before=filters.value("before"))
    return render_template("limit_requests/index.html", page=page, filters=filters)


@bp.route("/ask/<id:account_id>", methods=["GET", "POST"])
@role_required(Role.RETAILER)
def ask(account_id: int):
    account = tenancy.account_for(current_user, account_id)
    form = AskForm()

    def asked(decision: Decision) -> str:
        request = decision.request
        until = f" until {day(request.ends_on)}" if request.ends_on else ""
        return (f"Request #{request.id} sent: a limit of {request.requested_limit:,.2f} {account.currency}{until}. "
                f"{account.wholesaler.name} will approve or decline it; you will get a mail when they do.")

    return submit(form, lambda: limit_requests.request_limit(
        current_user, account.id, requested_limit=form.requested_limit.data, ends_on=form.ends_on.data,
        note=form.note.data), success=asked, redirect_to=lambda _: url_for("limit_requests.ask", account_id=account.id),
        page=lambda: render_form("limit_requests/ask.html", form, **_line(account, form)))


@bp.route("/<id:request_id>")
@login_required
def detail(request_id: int):
    return render_template("limit_requests/detail.html", **_detail(tenancy.limit_request_for(current_user, request_id)))


@bp.post("/<id:request_id>/approve")
@role_required(Role.WHOLESALER)
def approve(request_id: int):
    request = tenancy.limit_request_for(current_user, request_id)
    form = ApproveForm(prefix="approve")

    def approved(decision: Decision) -> str:
        granted, account = decision.request, decision.account
        until = f" until the end of {day(granted.granted_ends_on)}" if granted.granted_ends_on else ""
        return f"Approved: {account.retailer.name}'s limit is {granted.granted_limit:,.2f} {account.currency}{until}."

    return _decide(request, form, approved, lambda: limit_requests.decide_request(
        current_user, request.id, approve=True, limit=form.limit.data, ends_on=form.ends_on.data or None,
        note=form.note.data), approve=form)


@bp.post("/<id:request_id>/decline")
@role_required(Role.WHOLESALER)
def decline(request_id: int):
    request = tenancy.limit_request_for(current_user, request_id)
    form = DeclineForm(prefix="decline")
    return _decide(request, form, lambda decision: f"Declined; {decision.account.retailer.name} is told why.",
                   lambda: limit_requests.decide_request(current_user, request.id, approve=False,
                                                         note=form.note.data), decline=form)


@bp.post("/<id:request_id>/withdraw")
@role_required(Role.RETAILER)
def withdraw(request_id: int):
    request = tenancy.limit_request_for(current_user, request_id)
    form = EmptyForm()
    return _decide(request, form, lambda _: f"Request #{request.id} withdrawn.",
                   lambda: limit_requests.withdraw_request(current_user, request.id), withdraw=form)


def _decide(request: LimitRequest, form, said, operation, **forms):
    """Submit one of a request's forms: back to its page, with the refusal shown on the form if any."""
    return submit(form, operation, success=said,
                  redirect_to=lambda _: url_for("limit_requests.detail", request_id=request.id),
                  page=lambda: render_form("limit_requests/detail.html", form, **_detail(request, **forms)))


def _detail(request: LimitRequest, **forms) -> dict:
    """A request's page: its account's figures, and the forms its viewer may use (as submitted when refused)."""
    approve = forms.get("approve") or ApproveForm(prefix="approve", formdata=None,
                                                  limit=f"{request.requested_limit:.2f}", ends_on=request.ends_on)
    return {"request": request, "account": request.account, "approve": approve,
            "decline": forms.get("decline") or DeclineForm(prefix="decline", formdata=None),
            "withdraw": forms.get("withdraw") or EmptyForm()}


def _line(account: CreditAccount, form: AskForm) -> dict:
    """The ask page of a credit line: its figures, its open request if any, its history."""
    history = limit_requests.requests_of(current_user, account.id)
    waiting = next((r for r in history if r.status == LimitRequestStatus.OPEN), None)
    return {"account": account, "form": form, "history": history, "waiting": waiting, "withdraw": EmptyForm()}

