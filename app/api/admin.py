"""Admin endpoints: organisations, users, opening credit accounts, blocking and unblocking."""

from flask import current_app

from app.api import bp, documents
from app.api.auth import allow, api_user
from app.api.bodies import Field, amount, days, identifier, json_body, text
from app.models import Role
from app.services import accounts, directory
from app.services.text import (
    EMAIL_MAX_LENGTH,
    FREE_TEXT_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    TIME_ZONE_MAX_LENGTH,
)


@bp.post("/wholesalers")
@allow(Role.ADMIN)
def create_wholesaler():
    body = json_body(name=Field(text(NAME_MAX_LENGTH)), time_zone=Field(text(TIME_ZONE_MAX_LENGTH), required=False),
                     default_payment_terms_days=Field(days, required=False))
    given = {name: body[name] for name in ("time_zone", "default_payment_terms_days") if body[name] is not None}
    wholesaler = directory.create_wholesaler(api_user(), name=body["name"],
                                             currency=current_app.config["DEFAULT_CURRENCY"], **given)
    return documents.wholesaler(wholesaler), 201


@bp.post("/retailers")
@allow(Role.ADMIN)
def create_retailer():
    body = json_body(name=Field(text(NAME_MAX_LENGTH)))
    retailer = directory.create_retailer(api_user(), name=body["name"])
    return documents.organisation(retailer), 201


@bp.post("/users")
@allow(Role.ADMIN)
def create_user():
    body = json_body(email=Field(text(EMAIL_MAX_LENGTH)), password=Field(text(PASSWORD_MAX_LENGTH)),
                     role=Field(text(16)), organisation_id=Field(identifier, required=False))
    user = directory.create_user(api_user(), email=body["email"], password=body["password"], role=body["role"],
                                 organisation_id=body["organisation_id"])
    return documents.user(user), 201


@bp.post("/credit-accounts")
@allow(Role.ADMIN)
def open_credit_account():
    body = json_body(retailer_id=Field(identifier), wholesaler_id=Field(identifier),
                     credit_limit=Field(amount), currency=Field(text(3), required=False))
    account = accounts.open_account(api_user(), retailer_id=body["retailer_id"], wholesaler_id=body["wholesaler_id"],
                                    credit_limit=body["credit_limit"], currency=body["currency"])
    return documents.account(account), 201


@bp.post("/credit-accounts/<id:account_id>/block")
@allow(Role.ADMIN)
def block_credit_account(account_id: int):
    body = json_body(reason=Field(text(FREE_TEXT_MAX_LENGTH)))
    return documents.account(accounts.block_account(api_user(), account_id, reason=body["reason"]))


@bp.post("/credit-accounts/<id:account_id>/unblock")
@allow(Role.ADMIN)
def unblock_credit_account(account_id: int):
    json_body()  # no fields; an empty body or {} (anything else is refused, not ignored)
    return documents.account(accounts.unblock_account(api_user(), account_id))
