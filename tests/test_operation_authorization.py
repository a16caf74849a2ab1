"""Every write operation, called directly (no HTTP, no view in front of it), refuses an actor of each role that
may not use it and an actor of another tenant, and writes nothing; the actor it is for succeeds.

The views and API handlers check roles too, but the operations must not rely on them: a new page that forgets a
check still cannot reach another tenant's rows.
"""

import inspect
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from app.models import HoldPurpose, Role
from app.services import (
    accounts,
    approvals,
    catalogue,
    directory,
    holds,
    limit_requests,
    limits,
    notifications,
    orders,
    sessions,
    statement_mail,
    tokens,
    webhooks,
)
from app.services.actors import SYSTEM
from app.services.errors import Refusal
from tests.support.factory import PASSWORD
from tests.support.table_digest import snapshot

#: Every module that holds write operations; an operation is a public function whose first parameter is the actor.
OPERATION_MODULES = (accounts, approvals, catalogue, directory, holds, limit_requests, limits, notifications, orders,
                     sessions, statement_mail, tokens, webhooks)


@pytest.fixture
def world(make):
    """Two tenants: retailer 1 buys on credit from wholesaler 1, retailer 2 from wholesaler 2."""
    w1, w2 = make.wholesaler(), make.wholesaler()
    r1, r2 = make.retailer(), make.retailer()
    a1, a2 = make.account(retailer=r1, wholesaler=w1), make.account(retailer=r2, wholesaler=w2)
    p1 = make.product(w1)
    make.product(w2)
    actors = {"admin": make.user(Role.ADMIN), "retailer": make.user(Role.RETAILER, retailer=r1),
              "wholesaler": make.user(Role.WHOLESALER, wholesaler=w1),
              "other retailer": make.user(Role.RETAILER, retailer=r2),
              "other wholesaler": make.user(Role.WHOLESALER, wholesaler=w2), "system": SYSTEM}
    endpoint, _ = webhooks.register_endpoint(actors["wholesaler"], url="http://127.0.0.1:9/hooks",
                                             events=["order.confirmed"])
    order = orders.place_order(actors["retailer"], wholesaler_id=w1.id, lines=[(p1.id, 1)])
    token = tokens.issue_token(SYSTEM, user_id=actors["wholesaler"].id).token
    hold = holds.place_hold(actors["retailer"], wholesaler_id=w1.id, lines=[(p1.id, 1)], expires_in_seconds=3600)
    approval = holds.place_hold(actors["retailer"], wholesaler_id=w1.id, lines=[(p1.id, 1)], expires_in_seconds=3600,
                                purpose=HoldPurpose.APPROVAL)
    increase = limits.grant_increase(actors["wholesaler"], a1.id, amount="10.00", ends_on=date.today() + timedelta(2),
                                     reason="Busy week")
    request = limit_requests.request_limit(actors["retailer"], a1.id, requested_limit="9000.00", note="More")
    a3 = make.account(retailer=r1, wholesaler=w2)  # a line of retailer 1's with no request waiting
    buyer = make.user(Role.RETAILER, retailer=r1, email="buyer@retailer-1.example")
    return SimpleNamespace(w1=w1.id, r1=r1.id, r2=r2.id, a1=a1.id, a2=a2.id, a3=a3.id, p1=p1.id, order=order.order_id,
                           hold=hold.hold.id, approval=approval.hold.id, increase=increase.increase.id,
                           request=request.request.id, buyer=buyer.id,
                           token=token.id, actors=actors, other_user=actors["other retailer"].id,
                           endpoint=endpoint.id, delivery=endpoint.id)  # the order's delivery is the first


@dataclass(frozen=True)
class Operation:
    name: str
    call: object  # (actor, world) -> result, aimed at tenant 1's rows
    allowed: frozenset[str]


def _op(name, call, *allowed):
    return Operation(name, call, frozenset(allowed))


ANYONE_OF_TENANT_1 = ("retailer", "wholesaler", "admin", "system")
MANAGERS = ("wholesaler", "admin", "system")
ADMINS = ("admin", "system")
USERS = ("admin", "retailer", "wholesaler", "other retailer", "other wholesaler")
ACTORS_ALL = (*USERS, "system")

OPERATIONS = [
    _op("place_order", lambda a, w: orders.place_order(a, wholesaler_id=w.w1, lines=[(w.p1, 1)]), "retailer"),
    _op("cancel_order", lambda a, w: orders.cancel_order(a, w.order, reason="Ordered twice"), *ANYONE_OF_TENANT_1),
    _op("ship_order", lambda a, w: orders.ship_order(a, w.order), *MANAGERS),
    _op("place_hold", lambda a, w: holds.place_hold(a, wholesaler_id=w.w1, lines=[(w.p1, 1)], expires_in_seconds=60),
        "retailer"),
    _op("capture_hold", lambda a, w: holds.capture_hold(a, w.hold), "retailer"),
    _op("release_hold", lambda a, w: holds.release_hold(a, w.hold), *ANYONE_OF_TENANT_1),
    _op("grant_increase", lambda a, w: limits.grant_increase(a, w.a1, amount="5.00", reason="Fair",
                                                             ends_on=date.today() + timedelta(days=3)), *MANAGERS),
    _op("end_increase", lambda a, w: limits.end_increase(a, w.increase), *MANAGERS),
    _op("request_limit", lambda a, w: limit_requests.request_limit(a, w.a3, requested_limit="9000.00", note="More"),
        "retailer"),
    _op("decide_request", lambda a, w: limit_requests.decide_request(a, w.request, approve=False, note="No"),
        *MANAGERS),
    _op("withdraw_request", lambda a, w: limit_requests.withdraw_request(a, w.request), "retailer"),
    # Buyer approvals: a retailer's own organisation's (retailer 1's user has no limit: an approver).
    _op("place", lambda a, w: approvals.place(a, wholesaler_id=w.w1, lines=[(w.p1, 1)]), "retailer"),
    _op("approve", lambda a, w: approvals.approve(a, w.approval), "retailer"),
    _op("decline", lambda a, w: approvals.decline(a, w.approval, note="Not now"), "retailer"),
    _op("set_order_limit", lambda a, w: approvals.set_order_limit(a, w.buyer, limit="10.00"), "retailer", *ADMINS),
    _op("credit_order", lambda a, w: accounts.credit_order(a, w.order, lines=[(w.p1, 1)], reason="Damaged"),
        *MANAGERS),
    _op("update_account", lambda a, w: accounts.update_account(a, w.a1, credit_limit="5.00"), *MANAGERS),
    _op("record_payment", lambda a, w: accounts.record_payment(a, w.a1, amount="1.00", reference="Transfer 1"),
        *MANAGERS),
    _op("post_adjustment", lambda a, w: accounts.post_adjustment(a, w.a1, amount="-1.00", reason="Damaged"),
        *MANAGERS),
    _op("block_account", lambda a, w: accounts.block_account(a, w.a1, reason="Overdue"), *ADMINS),
    _op("unblock_account", lambda a, w: accounts.unblock_account(a, w.a1), *ADMINS),
    _op("open_account", lambda a, w: accounts.open_account(a, retailer_id=w.r2, wholesaler_id=w.w1,
                                                           credit_limit="100.00"), *ADMINS),
    _op("add_product", lambda a, w: catalogue.add_product(a, wholesaler_id=w.w1, sku="NEW-1", name="New",
                                                          unit_price="2.00"), *MANAGERS),
    _op("update_product", lambda a, w: catalogue.update_product(a, w.p1, unit_price="3.00"), *MANAGERS),
    _op("create_wholesaler", lambda a, w: directory.create_wholesaler(a, name="Fresh Foods"), *ADMINS),
    _op("create_retailer", lambda a, w: directory.create_retailer(a, name="Fresh Shop"), *ADMINS),
    _op("create_user", lambda a, w: directory.create_user(a, email="new@example.com", password="long enough pass",
                                                          role="retailer", organisation_id=w.r1), *ADMINS),
    _op("set_user_active", lambda a, w: directory.set_user_active(a, w.other_user, active=False), *ADMINS),
    # Admins invite to any organisation; anyone else to their own, whatever the call names: no tenant to escape to.
    _op("invite_user", lambda a, w: directory.invite_user(a, email="invited@example.com", role="retailer",
                                                          organisation_id=w.r1), *ACTORS_ALL),
    # Each user's own mail settings; the system is no user and has none.
    _op("set_muted", lambda a, w: notifications.set_muted(a, muted=["payment"]), *USERS),
    # Tokens are personal: the wholesaler's own, or the system's (the operators' commands); an admin is no owner.
    _op("issue_token", lambda a, w: tokens.issue_token(a, user_id=w.actors["wholesaler"].id, name="ERP"),
        "wholesaler", "system"),
    _op("revoke_token", lambda a, w: tokens.revoke_token(a, w.token), "wholesaler", "system"),
    # Signing a user out everywhere: the user themselves, an admin or the system.
    _op("end_sessions", lambda a, w: sessions.end_sessions(a, w.actors["wholesaler"].id), "wholesaler", *ADMINS),
    # Webhooks: an organisation's own endpoints; an admin or the system has none.
    _op("register_endpoint", lambda a, w: webhooks.register_endpoint(a, url="https://erp.example.com/",
                                                                     events=["payment.recorded"]),
        "retailer", "wholesaler", "other retailer", "other wholesaler"),
    _op("rotate_secret", lambda a, w: webhooks.rotate_secret(a, w.endpoint), "wholesaler"),
    _op("delete_endpoint", lambda a, w: webhooks.delete_endpoint(a, w.endpoint), "wholesaler"),
    _op("redeliver", lambda a, w: webhooks.redeliver(a, w.delivery), "wholesaler"),
    # A wholesaler's own choice to mail statements; nobody else's to make.
    _op("set_statements_by_mail", lambda a, w: statement_mail.set_statements_by_mail(a, on=True), "wholesaler",
        "other wholesaler"),
    # One's own password, given the current one; the system has none.
    _op("change_password", lambda a, w: sessions.change_password(a, current_password=PASSWORD,
                                                                 new_password="a new long passphrase"), *USERS),
]
ACTORS = ("admin", "retailer", "wholesaler", "other retailer", "other wholesaler", "system")


def cases(allowed: bool):
    for operation in OPERATIONS:
        for actor in ACTORS:
            if (actor in operation.allowed) == allowed:
                yield pytest.param(operation, actor, id=f"{operation.name}-by-{actor.replace(' ', '-')}")


def test_every_write_operation_is_checked():
    found = {name for module in OPERATION_MODULES for name, function in inspect.getmembers(module, inspect.isfunction)
             if function.__module__ == module.__name__ and not name.startswith("_")
             and next(iter(inspect.signature(function).parameters), None) == "actor"}
    assert found == {operation.name for operation in OPERATIONS}


@pytest.mark.parametrize(("operation", "actor"), list(cases(allowed=False)))
def test_an_actor_who_may_not_is_refused_and_nothing_is_written(db, world, operation, actor):
    before = snapshot(db)
    with pytest.raises(Refusal) as refused:
        operation.call(world.actors[actor], world)
    assert refused.value.code in {"FORBIDDEN", "NOT_FOUND", "CREDIT_ACCOUNT_NOT_FOUND"}, refused.value.code
    assert snapshot(db) == before


@pytest.mark.parametrize(("operation", "actor"), list(cases(allowed=True)))
def test_the_actor_it_is_for_goes_through(db, world, operation, actor):
    if operation.name == "unblock_account":
        accounts.block_account(SYSTEM, world.a1, reason="Overdue")
    before = snapshot(db)
    operation.call(world.actors[actor], world)
    assert snapshot(db) != before
