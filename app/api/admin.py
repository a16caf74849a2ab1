"""Admin endpoints: organisations, users, opening credit accounts, blocking and unblocking."""

from flask import current_app

from app.api import bp, documents
from app.api.auth import allow, api_user
from app.api.bodies import json_body
from app.api.schema import BlockBody, EmptyBody, NameBody, OpenAccountBody, UserBody, WholesalerBody
from app.models import Role
from app.services import accounts, directory


@bp.post("/wholesalers")
@allow(Role.ADMIN)
def create_wholesaler():
    body = json_body(WholesalerBody)
    given = body.model_dump(include={"time_zone", "default_payment_terms_days"}, exclude_none=True)
    wholesaler = directory.create_wholesaler(api_user(), name=body.name,
                                             currency=current_app.config["DEFAULT_CURRENCY"], **given)
    return documents.wholesaler(wholesaler), 201


@bp.post("/retailers")
@allow(Role.ADMIN)
def create_retailer():
    retailer = directory.create_retailer(api_user(), name=json_body(NameBody).name)
    return documents.organisation(retailer), 201


@bp.post("/users")
@allow(Role.ADMIN)
def create_user():
    user = directory.create_user(api_user(), **json_body(UserBody).model_dump())
    return documents.user(user), 201


@bp.post("/credit-accounts")
@allow(Role.ADMIN)
def open_credit_account():
    account = accounts.open_account(api_user(), **json_body(OpenAccountBody).model_dump())
    return documents.account(account), 201


@bp.post("/credit-accounts/<id:account_id>/block")
@allow(Role.ADMIN)
def block_credit_account(account_id: int):
    return documents.account(accounts.block_account(api_user(), account_id, reason=json_body(BlockBody).reason))


@bp.post("/credit-accounts/<id:account_id>/unblock")
@allow(Role.ADMIN)
def unblock_credit_account(account_id: int):
    json_body(EmptyBody)  # no fields; an empty body or {} (anything else is refused, not ignored)
    return documents.account(accounts.unblock_account(api_user(), account_id))
