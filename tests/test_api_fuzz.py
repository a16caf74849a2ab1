"""Arbitrary JSON, query strings and headers at every endpoint: never a 500, always the documented answer."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.openapi import DOCUMENT
from tests.api_client import World

#: Every field name any body or query knows, so generated objects often get past "unknown field".
FIELDS = sorted({name for schema in DOCUMENT["components"]["schemas"].values()
                 for name in schema.get("properties", {})} | {"limit", "after", "wholesaler_id"})

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=20) | st.from_regex(r"-?[0-9]{1,14}(\.[0-9]{0,3})?", fullmatch=True))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8),
                                                                 inner, max_size=5),
    max_leaves=12)
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values
queries = st.dictionaries(st.sampled_from(["limit", "after", "wholesaler_id", "page"]), st.text(max_size=25),
                          max_size=3)
#: Header values as a client can send them: Latin-1, no control characters.
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=120)

OPERATIONS = [(path, method, operation) for path, methods in DOCUMENT["paths"].items()
              for method, operation in methods.items() if operation["x-roles"]]


@pytest.fixture
def world(app, make):
    """Built once per test function and shared by its examples (hence the suppressed health check):
    users cost an Argon2 hash each. A high limit keeps random orders from running out of credit."""
    world = World(app, make, credit_limit="999999999.00")
    world.order_id = world.retailer.post("/orders", world.order_body(quantity=1)).json["id"]
    return world


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS,
                         ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, query=queries, path_id=st.sampled_from(["own", 1, 2**31, 2**63 + 5]), key=header_text)
def test_no_input_makes_an_endpoint_fail(world, path, method, operation, body, query, path_id, key):
    client = {"admin": world.admin, "retailer": world.retailer, "wholesaler": world.wholesaler}[
        "retailer" if "retailer" in operation["x-roles"] else operation["x-roles"][0]]
    own = world.order_id if "order_id" in path else world.account_id
    url = re.sub(r"\{[^}]+\}", str(own if path_id == "own" else path_id), path)
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    response = client.request(method.upper(), url.replace("#", "%23").replace(" ", "%20"), json=body,
                              headers={"Idempotency-Key": key}, check=False)
    assert response.status_code < 500, (response.status_code, response.json)
    assert response.is_json
