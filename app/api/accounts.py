"""Credit account endpoints: read (any role, scoped), limits and temporary increases, payments and adjustments,
the ledger."""

from flask import request

from app.api import bp, documents
from app.api.auth import ANY_ROLE, allow, api_user
from app.api.bodies import (
    DEFAULT_PAGE_SIZE,
    MAX_BIG_ID,
    MAX_PAGE_SIZE,
    Field,
    json_body,
    page_args,
    query_args,
    query_choice,
    query_date,
    query_integer,
    text,
)
from app.api.schema import AdjustmentBody, CreditLimitBody, EmptyBody, LimitIncreaseBody, PaymentBody
from app.extensions import db
from app.models import CreditAccount, LedgerEntry, LimitIncrease, Role, Wholesaler
from app.pagination import keyset_page
from app.services import accounts, ageing, clock, limits, receivables, reports, statements, tenancy
from app.statement_pdf import statement_download

#: The book's sorts: each bucket, the total or the retailer's name, a leading "-" for descending.
BOOK_SORTS = tuple(f"{d}{k}" for k in ageing.SORTS for d in ("", "-"))


@bp.get("/credit-accounts")
@allow(*ANY_ROLE)
def list_credit_accounts():
    query_args()  # takes none: an unknown parameter is refused, not ignored
    query = tenancy.accounts_visible_to(api_user()).order_by(CreditAccount.id)
    found = db.session.scalars(query).all()
    overdue = receivables.overdue_by_account(found)
    return {"credit_accounts": [documents.account(a, overdue[a.id]) for a in found]}


@bp.get("/credit-accounts/<id:account_id>")
@allow(*ANY_ROLE)
def get_credit_account(account_id: int):
    query_args()
    return documents.account(tenancy.account_for(api_user(), account_id))


@bp.patch("/credit-accounts/<id:account_id>")
@allow(Role.WHOLESALER, Role.ADMIN)
def set_credit_limit(account_id: int):
    return documents.account(accounts.update_account(api_user(), account_id, **json_body(CreditLimitBody).model_dump()))


@bp.post("/credit-accounts/<id:account_id>/payments")
@allow(Role.WHOLESALER, Role.ADMIN)
def record_payment(account_id: int):
    body = json_body(PaymentBody)
    return entry_response(accounts.record_payment(api_user(), account_id, amount=body.amount,
                                                  reference=body.reference, allocations=body.named,
                                                  idempotency_key=request.headers.get("Idempotency-Key")))


@bp.post("/credit-accounts/<id:account_id>/adjustments")
@allow(Role.WHOLESALER, Role.ADMIN)
def post_adjustment(account_id: int):
    body = json_body(AdjustmentBody)
    return entry_response(accounts.post_adjustment(api_user(), account_id, amount=body.amount, reason=body.reason,
                                                   idempotency_key=request.headers.get("Idempotency-Key")))


def entry_response(entry: accounts.PostedEntry):
    """201 with the new entry and what it pays; a replay (the Idempotency-Key had recorded it) 200 with the same
    entry, as orders do."""
    return documents.posted_entry(entry), 200 if entry.replayed else 201


@bp.get("/credit-accounts/<id:account_id>/ageing")
@allow(*ANY_ROLE)
def account_ageing(account_id: int):
    args = query_args(as_of=Field(query_date, required=False))
    account = tenancy.account_for(api_user(), account_id)
    as_of = args["as_of"] or clock.business_date(account.wholesaler.time_zone)
    return documents.ageing(ageing.account_ageing(account.id, as_of), as_of)


@bp.get("/ageing")
@allow(Role.WHOLESALER, Role.ADMIN)
def book_ageing():
    args = query_args(as_of=Field(query_date, required=False),
                      limit=Field(query_integer(1, MAX_PAGE_SIZE), required=False),
                      sort=Field(query_choice(*BOOK_SORTS), required=False), after=Field(text(200), required=False))
    user = api_user()
    time_zone = db.session.get(Wholesaler, user.wholesaler_id).time_zone if user.wholesaler_id else "UTC"
    book = ageing.book_ageing(user, args["as_of"] or clock.business_date(time_zone), sort=args["sort"] or "retailer",
                              after=args["after"], size=args["limit"] or DEFAULT_PAGE_SIZE)
    return documents.book_ageing(book)


@bp.get("/credit-accounts/<id:account_id>/ledger")
@allow(*ANY_ROLE)
def ledger(account_id: int):
    args = query_args(limit=Field(query_integer(1, MAX_PAGE_SIZE), required=False),
                      after=Field(query_integer(1, MAX_BIG_ID), required=False))
    account = tenancy.account_for(api_user(), account_id)
    page = keyset_page(reports.ledger_query(account.id), LedgerEntry.id, size=args["limit"] or DEFAULT_PAGE_SIZE,
                       after=args["after"])
    return {"entries": [documents.ledger_entry(e) for e in page.items], "next_cursor": page.older}


@bp.get("/credit-accounts/<id:account_id>/statement")
@allow(*ANY_ROLE)
def statement(account_id: int):
    """The statement of account for a period as JSON, or as a PDF for ``Accept: application/pdf``."""
    args = query_args(**{"from": Field(query_date, required=False), "to": Field(query_date, required=False)})
    account = tenancy.account_for(api_user(), account_id)
    shown = statements.statement_of_account(account, *statements.period(
        args["from"], args["to"], time_zone=account.wholesaler.time_zone))
    if request.accept_mimetypes.best_match(["application/json", "application/pdf"]) == "application/pdf":
        return statement_download(shown)
    return documents.statement(shown)


@bp.post("/credit-accounts/<id:account_id>/limit-increases")
@allow(Role.WHOLESALER, Role.ADMIN)
def grant_limit_increase(account_id: int):
    body = json_body(LimitIncreaseBody)
    granted = limits.grant_increase(api_user(), account_id, amount=body.amount, ends_on=body.ends_on,
                                    reason=body.reason)
    return documents.limit_increase(granted.increase, granted.account), 201


@bp.get("/credit-accounts/<id:account_id>/limit-increases")
@allow(*ANY_ROLE)
def list_limit_increases(account_id: int):
    args = page_args()
    account = tenancy.account_for(api_user(), account_id)
    page = keyset_page(limits.increases_query(account.id), LimitIncrease.id, size=args["limit"], after=args["after"])
    return {"limit_increases": [documents.limit_increase(i, account) for i in page.items], "next_cursor": page.older}


@bp.post("/limit-increases/<id:increase_id>/end")
@allow(Role.WHOLESALER, Role.ADMIN)
def end_limit_increase(increase_id: int):
    json_body(EmptyBody)
    ended = limits.end_increase(api_user(), increase_id)
    return documents.limit_increase(ended.increase, ended.account)
