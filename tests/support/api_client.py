"""A test client for /api/v1 that sends a bearer token and checks every answer against the OpenAPI document."""

import re
from datetime import timedelta

from jsonschema import Draft202012Validator

from app.api.openapi import DOCUMENT
from app.services.actors import SYSTEM
from app.services.tokens import issue_token

PREFIX = "/api/v1"


def _template_pattern(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")


_OPERATIONS = [(_template_pattern(path), path, methods) for path, methods in DOCUMENT["paths"].items()]


def documented_operation(method: str, url: str) -> dict:
    """The document's operation for a concrete URL such as /api/v1/orders/7/cancel."""
    path = url.split("?", 1)[0].removeprefix(PREFIX)
    for pattern, _, methods in _OPERATIONS:
        if pattern.match(path) and method.lower() in methods:
            return methods[method.lower()]
    raise AssertionError(f"{method} {url} is not in the OpenAPI document")


def _resolve(node: dict) -> dict:
    while "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = DOCUMENT["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


def assert_documented(response, method: str, url: str) -> None:
    """The status is one the operation documents, and a JSON body matches that response's schema."""
    operation = documented_operation(method, url)
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, f"{method} {url} answered {response.status_code}, which is not documented"
    content = _resolve(documented).get("content", {})
    if response.mimetype != "application/json" and response.mimetype in content:
        return  # a documented download (a statement's PDF): not JSON, nothing to match
    schema = content.get("application/json", {}).get("schema")
    assert response.is_json, f"{method} {url} answered {response.content_type}"
    if schema is not None:
        # The whole document is the root, so the schema's #/components/... references resolve.
        validator = Draft202012Validator(DOCUMENT | schema)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.json)]
        assert not errors, f"{method} {url} {response.status_code} does not match its schema: {errors}"


class ApiClient:
    """Calls the API as one user (or anonymously); each response is checked against the document."""

    def __init__(self, app, user=None, token: str | None = None):
        self.client = app.test_client()
        self.token = token or (issue_token(SYSTEM, user_id=user.id).secret if user is not None else None)
        self.user = user

    def request(self, method: str, path: str, *, json=None, data=None, headers=None, check=True):
        headers = dict(headers or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        url = PREFIX + path
        response = self.client.open(url, method=method, json=json, data=data, headers=headers)
        if check:
            assert_documented(response, method, url)
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, json=None, **kw):
        return self.request("DELETE", path, json=json, **kw)


class World:
    """Two tenants: retailer r1 buys from wholesaler w1 on ``account``; r2 from w2 on ``other_account``.
    One API client per role (admin, r1's retailer, w1's wholesaler) plus the other tenant's two."""

    def __init__(self, app, make, credit_limit="1000.00"):
        from app.models import Role
        from app.services import webhooks

        self.w1, self.w2 = make.wholesaler(), make.wholesaler()
        self.r1, self.r2 = make.retailer(), make.retailer()
        self.account = make.account(retailer=self.r1, wholesaler=self.w1, credit_limit=credit_limit)
        self.other_account = make.account(retailer=self.r2, wholesaler=self.w2, credit_limit=credit_limit)
        self.product = make.product(self.w1, unit_price="10.00")
        self.other_product = make.product(self.w2, unit_price="10.00")
        self.admin = ApiClient(app, make.user(Role.ADMIN))
        self.retailer = ApiClient(app, make.user(Role.RETAILER, retailer=self.r1))
        self.wholesaler = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=self.w1))
        self.other_retailer = ApiClient(app, make.user(Role.RETAILER, retailer=self.r2))
        self.other_wholesaler = ApiClient(app, make.user(Role.WHOLESALER, wholesaler=self.w2))
        # Plain ids: worker threads must not touch the test session's objects.
        self.account_id, self.other_account_id = self.account.id, self.other_account.id
        self.w1_id, self.w2_id, self.product_id = self.w1.id, self.w2.id, self.product.id
        # A webhook endpoint per tenant user, for an event these worlds never cause.
        self.endpoint_ids, self.other_endpoint_ids = ({
            role: webhooks.register_endpoint(getattr(self, f"{side}{role}").user, url="http://127.0.0.1:9/hook",
                                             events=["account.overdue_released"])[0].id
            for role in ("retailer", "wholesaler")} for side in ("", "other_"))

    def hold(self, *, other=False, quantity=2) -> int:
        """A live hold of an hour by r1 (or with ``other``, r2) on its account: its id."""
        from app.services import holds

        client, wholesaler_id, product_id = ((self.other_retailer, self.w2_id, self.other_product.id) if other
                                             else (self.retailer, self.w1_id, self.product_id))
        return holds.place_hold(client.user, wholesaler_id=wholesaler_id, lines=[(product_id, quantity)],
                                expires_in_seconds=3600).hold.id

    def approval_hold(self) -> int:
        """An order by r1 waiting for an approver (as one above a buyer's limit would): its hold's id."""
        from app.models import HoldPurpose
        from app.services import holds

        return holds.place_hold(self.retailer.user, wholesaler_id=self.w1_id, lines=[(self.product_id, 1)],
                                expires_in_seconds=3600, purpose=HoldPurpose.APPROVAL).hold.id

    def increase(self, *, other=False) -> int:
        """A live temporary increase of 100.00 on r1's account (or with ``other``, r2's) until tomorrow: its id."""
        from app.services import clock, limits

        client, account_id = (self.other_wholesaler, self.other_account_id) if other else (self.wholesaler,
                                                                                           self.account_id)
        return limits.grant_increase(client.user, account_id, amount="100.00", reason="Busy week",
                                     ends_on=clock.business_date("UTC") + timedelta(days=1)).increase.id

    def limit_request(self, *, other=False) -> int:
        """An open request by r1 (or with ``other``, r2) for 4,000.00 more than its account's limit: its id."""
        from app.extensions import db
        from app.models import CreditAccount
        from app.services import limit_requests

        client, account_id = (self.other_retailer, self.other_account_id) if other else (self.retailer,
                                                                                         self.account_id)
        wanted = db.session.get(CreditAccount, account_id).effective_limit + 4000
        return limit_requests.request_limit(client.user, account_id, requested_limit=str(wanted),
                                            note="A bigger shop").request.id

    def order_body(self, quantity=1, product_id=None):
        return {"wholesaler_id": self.w1_id, "lines": [{"product_id": product_id or self.product_id,
                                                        "quantity": quantity}]}
