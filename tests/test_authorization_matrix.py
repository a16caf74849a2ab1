"""Every route of the page blueprints × every role × another tenant's ids, walked from app.url_map so a
route added later is covered without touching this test.

Wrong role → 403 (anonymous → the sign-in page); another tenant's object → 404; never 200 with another
tenant's data; and no request here, refused or not, changes another tenant's books. A GET changes nothing.
"""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from app.models import (
    AuditEvent,
    CreditAccount,
    CreditHold,
    LedgerEntry,
    LimitIncrease,
    LimitRequest,
    MailMessage,
    Order,
    Product,
    ReminderLevel,
    Role,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.services import accounts, clock, dunning, holds, limit_requests, limits, orders, webhooks
from app.services.actors import SYSTEM
from tests.support.actors import acting_retailer
from tests.support.auth import Auth, csrf_token
from tests.support.pdf import pdf_text

#: Who may open each page blueprint; the tenant check inside then narrows it to their own objects.
ROLES_BY_BLUEPRINT = {
    "retailers": {Role.RETAILER},
    "wholesalers": {Role.WHOLESALER},
    "admin": {Role.ADMIN},
    "orders": {Role.RETAILER, Role.WHOLESALER, Role.ADMIN},
    "team": {Role.RETAILER, Role.WHOLESALER},
    "integrations": {Role.RETAILER, Role.WHOLESALER},
    "statements": {Role.RETAILER, Role.WHOLESALER, Role.ADMIN},
    "holds": {Role.RETAILER, Role.WHOLESALER, Role.ADMIN},
    "limit_requests": {Role.RETAILER, Role.WHOLESALER, Role.ADMIN},
}
#: Blueprints that are not pages, each covered by its own tests.
NOT_PAGES = {"auth", "api", "ops", "static"}


ROLES = [None, Role.RETAILER, Role.WHOLESALER, Role.ADMIN]  # None: not signed in

#: What another tenant's name looks like in a page: none may appear in tenant A's pages.
FOREIGN_MARKERS = ["Bravo Wholesale", "Bravo Retail", "Bravo secret product", "bravo-"]


def tenant(make, letter: str, name: str) -> dict:
    """A wholesaler and a retailer with a credit account, a product, an order, and a user of each role."""
    wholesaler = make.wholesaler(name=f"{name} Wholesale")
    retailer = make.retailer(name=f"{name} Retail")
    account = make.account(retailer=retailer, wholesaler=wholesaler, credit_limit="1000.00")
    product = make.product(wholesaler, unit_price="10.00", sku=f"{letter}-SKU")
    product.name = f"{name} secret product"
    order = orders.place_order(acting_retailer(retailer.id), wholesaler_id=wholesaler.id, lines=[(product.id, 2)])
    users = {Role.RETAILER: make.user(Role.RETAILER, retailer=retailer, email=f"{name.lower()}-shop@example.com"),
             Role.WHOLESALER: make.user(Role.WHOLESALER, wholesaler=wholesaler,
                                        email=f"{name.lower()}-desk@example.com")}
    endpoint, _ = webhooks.register_endpoint(users[Role.WHOLESALER], url=f"http://127.0.0.1:9/{letter}",
                                             events=["account.limit_changed"])
    accounts.update_account(SYSTEM, account.id, credit_limit="1500.00")  # a mail to the retailer's user, an event
    message_id = make.db.session.scalar(select(MailMessage.id).where(MailMessage.user_id == users[Role.RETAILER].id))
    level = dunning.save_level(users[Role.WHOLESALER], days_after_due="30", wording=f"{name}: a month overdue")
    delivery_id = make.db.session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id))
    hold = holds.place_hold(users[Role.RETAILER], wholesaler_id=wholesaler.id, lines=[(product.id, 1)],
                            expires_in_seconds=3600).hold
    increase = limits.grant_increase(users[Role.WHOLESALER], account.id, amount="100.00",
                                     ends_on=clock.business_date(wholesaler.time_zone) + timedelta(days=30),
                                     reason=f"{name}: a busy month").increase
    request = limit_requests.request_limit(users[Role.RETAILER], account.id, requested_limit="9000.00",
                                           note=f"{name}: a second shop").request
    return {"account_id": account.id, "hold_id": hold.id, "increase_id": increase.id, "request_id": request.id,
            "order_id": order.order_id, "product_id": product.id,
            "user_id": users[Role.RETAILER].id, "message_id": message_id, "level_id": level.id,
            "endpoint_id": endpoint.id, "delivery_id": delivery_id, "users": users}


@pytest.fixture
def world(make, db):
    own, foreign = tenant(make, "A", "Alpha"), tenant(make, "B", "Bravo")
    db.session.commit()
    own["users"][Role.ADMIN] = make.user(Role.ADMIN, email="admin@example.com")
    return own, foreign


@pytest.fixture
def clients(app, world):
    """One client per role, each signed in through the real form (None: a visitor who is not)."""
    own, _ = world
    signed_in = {}
    for role in ROLES:
        client = app.test_client()
        if role is not None:
            assert Auth(client).login(own["users"][role]).status_code == 302
        signed_in[role] = client
    return signed_in


def page_rules(app):
    rules = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if blueprint in NOT_PAGES:
            continue
        assert blueprint in ROLES_BY_BLUEPRINT, (
            f"{rule.endpoint}: say who may open the {blueprint!r} blueprint in ROLES_BY_BLUEPRINT")
        rules.append(rule)
    return sorted(rules, key=lambda r: r.rule)


def url_for_rule(app, rule, ids: dict) -> str:
    missing = rule.arguments - ids.keys()
    assert not missing, f"{rule.endpoint}: which object is {missing}? Add it to tenant()"
    return app.url_map.bind("localhost").build(rule.endpoint, {name: ids[name] for name in rule.arguments})


def plausible_form(foreign: dict) -> dict:
    """Valid values for every form the pages have, so a missing tenant check would let the change through."""
    fields = {"amount": "1.00", "reference": "ref", "reason": "because", "credit_limit": "5.00",
              "sku": "NEW", "name": "Renamed", "unit_price": "0.01", "idempotency_key": "matrix-key",
              "ends_on": (date.today() + timedelta(days=7)).isoformat(),
              "requested_limit": "9500.00", "note": "matrix", "limit": "9000.00",
              "email": "new@example.com", "password": "long enough password", "role": "admin",
              f"quantity_{foreign['product_id']}": "1"}
    prefixed = {f"{p}-{k}": v for p in ("payment", "adjustment", "limit", "increase", "wholesaler", "retailer",
                                        "approve", "decline")
                for k, v in fields.items()}
    levels = {f"{p}-{k}": v for p in ("new", f"level-{foreign['level_id']}")
              for k, v in {"days_after_due": "45", "wording": "Pay up"}.items()}
    return fields | prefixed | levels


def with_token(client, data: dict) -> dict:
    """``data`` with the CSRF token under every form prefix it uses."""
    token = csrf_token(client, "/")
    prefixes = {name.rsplit("-", 1)[0] for name in data if "-" in name}
    return data | {"csrf_token": token} | {f"{prefix}-csrf_token": token for prefix in prefixes}


def books(db, foreign: dict) -> dict:
    """Everything a request could change, read fresh from the database."""
    db.session.expire_all()
    account = db.session.get(CreditAccount, foreign["account_id"])
    product = db.session.get(Product, foreign["product_id"])
    return {
        "account": (account.balance, account.credit_limit, account.temporary_increase, account.status,
                    account.blocked_reason),
        "order": db.session.get(Order, foreign["order_id"]).status,
        "product": (product.name, product.unit_price, product.active),
        "user": db.session.get(User, foreign["user_id"]).active,
        "entries": db.session.scalar(select(func.count(LedgerEntry.id))),
        "orders": db.session.scalar(select(func.count(Order.id))),
        "audit": db.session.scalar(select(func.count(AuditEvent.id))),
        "levels": db.session.scalars(select(ReminderLevel.days_after_due).where(
            ReminderLevel.id == foreign["level_id"])).all(),
        "endpoint": db.session.execute(select(WebhookEndpoint.secret, WebhookEndpoint.deleted_at).where(
            WebhookEndpoint.id == foreign["endpoint_id"])).one(),
        "jobs": db.session.scalar(text("SELECT count(*) FROM procrastinate_jobs")),
        "hold": db.session.get(CreditHold, foreign["hold_id"]).status,
        "increase": db.session.get(LimitIncrease, foreign["increase_id"]).ended_at,
        "requests": db.session.execute(select(LimitRequest.id, LimitRequest.status).order_by(LimitRequest.id)).all(),
    }


#: Objects of one side of a tenant only (a webhook endpoint is its wholesaler's): the other side gets 404 for them.
OWNED_BY = {"endpoint_id": Role.WHOLESALER, "delivery_id": Role.WHOLESALER}


def expected_refusal(app, rule, role, scoped_object: bool) -> int | None:
    """The status the matrix requires, or None when the request is allowed (a route's own role_required may be
    narrower than its blueprint)."""
    if role is None:
        return 302
    allowed = getattr(app.view_functions[rule.endpoint], "allowed_roles", None)
    if role not in (allowed or ROLES_BY_BLUEPRINT[rule.endpoint.split(".")[0]]):
        return 403
    if scoped_object and role != Role.ADMIN:  # admins see every tenant
        return 404
    return None


def test_every_page_route_refuses_wrong_roles_and_foreign_ids(app, db, world, clients):
    own, foreign = world
    before = books(db, foreign)
    checked = []
    for rule in page_rules(app):
        for method in sorted(rule.methods & {"GET", "POST"}):
            for role in ROLES:
                client = clients[role]
                for ids, scoped in [(foreign, bool(rule.arguments)), (own, False)]:
                    if not rule.arguments and ids is own:
                        continue  # no object in the URL: one request per role is enough
                    url = url_for_rule(app, rule, ids)
                    refusal = expected_refusal(app, rule, role, scoped or any(
                        role not in (OWNED_BY[name], Role.ADMIN) for name in rule.arguments & OWNED_BY.keys()))
                    if refusal is None and method == "POST":
                        continue  # allowed POSTs are each tested with their forms
                    data = with_token(client, plausible_form(foreign)) if method == "POST" else None
                    response = client.open(url, method=method, data=data)
                    where = f"{method} {url} as {role.value if role else 'visitor'}"
                    if refusal == 302:
                        assert response.status_code == 302, where
                        assert response.headers["Location"].startswith("/login"), where
                    elif refusal is not None:
                        assert response.status_code == refusal, f"{where}: {response.status_code}"
                    else:
                        assert response.status_code == 200, f"{where}: {response.status_code}"
                    if role not in (None, Role.ADMIN):
                        body = pdf_text(response.data) if response.mimetype == "application/pdf" else \
                            response.get_data(as_text=True)
                        leaked = [m for m in FOREIGN_MARKERS if m in body]
                        assert not leaked, f"{where} shows another tenant's data: {leaked}"
                    checked.append((rule.endpoint, method, role))
    assert books(db, foreign) == before, "a refused request changed another tenant's books, or a GET wrote"
    endpoints = {endpoint for endpoint, _, _ in checked}
    assert {"retailers.order", "wholesalers.record_payment", "admin.block", "orders.cancel"} <= endpoints
    assert len(checked) > 150


def test_admins_reach_every_tenant_and_an_unknown_id_is_404(app, world, clients):
    own, foreign = world
    admin = clients[Role.ADMIN]
    for path in [f"/orders/{foreign['order_id']}", f"/orders/{foreign['order_id']}/cancel", "/admin/"]:
        response = admin.get(path)
        assert response.status_code == 200 and "Bravo Retail" in response.get_data(as_text=True), path
    missing = {"account_id": 999_999, "order_id": 999_999, "product_id": 999_999, "user_id": 999_999,
               "message_id": 999_999, "level_id": 999_999, "endpoint_id": 999_999, "delivery_id": 999_999,
               "hold_id": 999_999, "request_id": 999_999}
    for rule in page_rules(app):
        if rule.arguments and expected_refusal(app, rule, Role.ADMIN, scoped_object=False) is None:
            method = "GET" if "GET" in rule.methods else "POST"
            data = with_token(admin, plausible_form(foreign)) if method == "POST" else None
            response = admin.open(url_for_rule(app, rule, missing), method=method, data=data)
            assert response.status_code == 404, f"{method} {rule.rule}: {response.status_code}"


def test_an_id_beyond_the_column_is_not_found_not_a_server_error(client, auth, make):
    auth.login(make.user(Role.ADMIN))
    for url in ("/orders/2147483648", "/orders/99999999999/cancel", "/wholesaler/accounts/2147483648"):
        assert client.get(url).status_code == 404, url
