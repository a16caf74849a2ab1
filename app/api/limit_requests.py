"""Limit request endpoints: retailers ask for a higher limit and may withdraw the request; wholesalers decide it;
both sides list them."""

from flask import url_for

from app.api import bp, documents
from app.api.auth import ANY_ROLE, allow, api_user
from app.api.bodies import Field, json_body, page_args, query_args, query_choice
from app.api.schema import EmptyBody, LimitDecisionBody, LimitRequestBody
from app.models import LimitRequest, LimitRequestStatus, Role
from app.pagination import keyset_page
from app.services import limit_requests, tenancy


@bp.post("/credit-accounts/<id:account_id>/limit-requests")
@allow(Role.RETAILER)
def request_limit(account_id: int):
    body = json_body(LimitRequestBody)
    made = limit_requests.request_limit(api_user(), account_id, requested_limit=body.requested_limit,
                                        ends_on=body.ends_on, note=body.note)
    return (documents.limit_request(made.request), 201,
            {"Location": url_for("api.get_limit_request", request_id=made.request.id)})


@bp.get("/credit-accounts/<id:account_id>/limit-requests")
@allow(*ANY_ROLE)
def list_account_limit_requests(account_id: int):
    args = page_args()
    tenancy.account_for(api_user(), account_id)
    return _page(limit_requests.requests_query(api_user(), account_id=account_id), args)


@bp.get("/limit-requests")
@allow(*ANY_ROLE)
def list_limit_requests():
    args = page_args(status=Field(query_choice(*LimitRequestStatus), required=False))
    status = LimitRequestStatus(args["status"]) if args["status"] else None
    return _page(limit_requests.requests_query(api_user(), status=status), args)


@bp.get("/limit-requests/<id:request_id>")
@allow(*ANY_ROLE)
def get_limit_request(request_id: int):
    query_args()
    return documents.limit_request(tenancy.limit_request_for(api_user(), request_id))


@bp.post("/limit-requests/<id:request_id>/decision")
@allow(Role.WHOLESALER, Role.ADMIN)
def decide_limit_request(request_id: int):
    body = json_body(LimitDecisionBody)
    decided = limit_requests.decide_request(api_user(), request_id, approve=body.approve, limit=body.limit,
                                            ends_on=body.ends_on, note=body.note)
    return documents.limit_request(decided.request)


@bp.post("/limit-requests/<id:request_id>/withdraw")
@allow(Role.RETAILER)
def withdraw_limit_request(request_id: int):
    json_body(EmptyBody)
    return documents.limit_request(limit_requests.withdraw_request(api_user(), request_id).request)


def _page(query, args: dict) -> dict:
    page = keyset_page(query, LimitRequest.id, size=args["limit"], after=args["after"])
    return {"limit_requests": [documents.limit_request(r) for r in page.items], "next_cursor": page.older}
