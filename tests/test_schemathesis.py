"""Schemathesis against /api/v1/openapi.json, in process: every operation, with requests generated from the
document (valid ones and, in negative mode, ones that break it), each sent with a bearer token of a role the
operation allows; half of the path ids are the caller's own objects, so generated bodies reach the services.

Checks on every response: no server error (not_a_server_error), the status is one the operation documents
(status_code_conformance), the body is JSON as documented (content_type_conformance), and the body matches
the documented schema for that status (response_schema_conformance). Example counts are bounded for CI
(CREDITLINE_SCHEMATHESIS_EXAMPLES, 10 per operation); `make stress` runs 200 (STRESS_SCHEMATHESIS_EXAMPLES).

It found two app bugs, both fixed: PATCH /credit-accounts/{id} with an id outside the column's range answered
405 instead of 404 (test_an_id_outside_the_columns_range_is_404_for_every_operation), and a NUL character in
free text was a 500 (tests/test_fuzz_http.py).

tests/test_api_fuzz.py already throws arbitrary JSON at every endpoint; this adds inputs derived from the
document itself (boundaries, formats, the required/optional split) and checks the responses against it.
"""

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.openapi import DOCUMENT
from app.routing import MAX_ID
from tests.support.api_client import World

# The long runs (`make stress`) print figures that a JSON line per credit decision would bury.
pytestmark = pytest.mark.usefixtures("quiet_credit_log")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("CREDITLINE_SCHEMATHESIS_EXAMPLES", "10"))

# Loaded from the document the app serves (app/api/openapi.py), so each operation is a test of its own.
# (schemathesis.pytest.from_fixture would load it through a fixture, but its lazy parametrisation does not run
# under pytest 9: it sets Function._nodeid, which pytest 9 no longer has.)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
#: Operation id → its roles (x-roles).
ROLES = {op["operationId"]: op["x-roles"] for methods in DOCUMENT["paths"].values() for op in methods.values()}


@pytest.fixture
def world(app, make):
    """Two tenants with a token per role; credit high enough that generated orders are not all refused."""
    world = World(app, make, credit_limit="999999999.00")
    world.order_id = world.retailer.post("/orders", world.order_body(quantity=1)).json["id"]
    world.hold_id, world.increase_id, world.request_id = world.hold(), world.increase(), world.limit_request()
    return world


@pytest.fixture
def wsgi(app):
    """The app as gunicorn calls it: each request in an app context of its own (the test's own context would
    otherwise be shared by every request, with its database session)."""

    def isolated(environ, start_response):
        with app.app_context():
            return app.wsgi_app(environ, start_response)

    return isolated


def caller(world, operation_id: str):
    roles = ROLES[operation_id]
    role = "retailer" if "retailer" in roles else roles[0] if roles else None
    return {"admin": world.admin, "retailer": world.retailer, "wholesaler": world.wholesaler, None: None}[role]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_the_api_keeps_its_documented_contract(operation, world, wsgi):
    client = caller(world, operation.definition.raw["operationId"])
    headers = {"Authorization": f"Bearer {client.token}"} if client else {}
    own = {"order_id": world.order_id, "account_id": world.account_id, "hold_id": world.hold_id,
           "increase_id": world.increase_id, "request_id": world.request_id,
           "endpoint_id": world.endpoint_ids["retailer" if client is world.retailer else "wholesaler"]}
    cases = (operation.as_strategy(schemathesis.GenerationMode.POSITIVE)
             | operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=cases, aim_at_own=st.booleans())
    def sends(case, aim_at_own):
        if aim_at_own and case.path_parameters:  # the caller's own order or account: the body reaches the service
            case.path_parameters = {name: own[name] for name in case.path_parameters}
        response = case.call(app=wsgi, base_url="http://localhost/api/v1", headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    sends()


#: Operations whose path names an id, each with a role that may call it, and ids just outside the range.
WITH_IDS = [(path, method, op["x-roles"][0], value) for path, methods in DOCUMENT["paths"].items() if "{" in path
            for method, op in methods.items() for value in (0, MAX_ID + 1, 10**30)]


@pytest.mark.parametrize(("path", "method", "role", "value"), WITH_IDS,
                         ids=[f"{m.upper()} {p} id={v}" for p, m, _, v in WITH_IDS])
def test_an_id_outside_the_columns_range_is_404_for_every_operation(world, path, method, role, value):
    """Found by the fuzzing above: an id of 0, or past the Integer column's range."""
    client = {"admin": world.admin, "retailer": world.retailer, "wholesaler": world.wholesaler}[role]
    url = re.sub(r"\{\w+\}", str(value), path)
    response = client.request(method.upper(), url, json={}, check=False)
    assert response.status_code == 404 and response.json["error"] == "NOT_FOUND", \
        (response.status_code, response.headers.get("Allow"), response.json)
