"""The OpenAPI document is valid 3.1 and describes exactly the /api/v1 routes, methods and roles that exist."""

import re

from openapi_spec_validator import validate

from app.api.openapi import DOCUMENT

PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def routed(app) -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) → Flask endpoint, for every rule under /api/v1."""
    operations = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix(PREFIX))
            for method in rule.methods - IGNORED_METHODS:
                operations[(path, method.lower())] = rule.endpoint
    return operations


def documented() -> dict[tuple[str, str], dict]:
    return {(path, method): operation for path, methods in DOCUMENT["paths"].items()
            for method, operation in methods.items()}


def test_the_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"].startswith("3.1")
    validate(DOCUMENT)


def test_every_route_is_documented_and_every_documented_route_exists(app):
    assert set(routed(app)) == set(documented())


def test_each_operation_id_is_its_flask_endpoint(app):
    for key, endpoint in routed(app).items():
        assert "api." + documented()[key]["operationId"] == endpoint, key


def test_documented_roles_are_the_roles_the_code_allows(app):
    for key, endpoint in routed(app).items():
        view = app.view_functions[endpoint]
        allowed = sorted(role.value for role in getattr(view, "api_roles", ()))
        assert documented()[key]["x-roles"] == allowed, key


def test_path_parameters_match_the_routes():
    for (path, method), operation in documented().items():
        in_path = set(re.findall(r"\{([^}]+)\}", path))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == declared, (method, path)


def test_refusals_are_documented_where_they_can_happen():
    for (path, method), operation in documented().items():
        responses = operation["responses"]
        if operation.get("security") != []:
            assert "401" in responses, (method, path)
            assert "429" in responses, (method, path)  # every request with a token counts toward its limit
        else:
            assert "429" not in responses, (method, path)
        if len(operation["x-roles"]) < 3 and operation.get("security") != []:
            assert "403" in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert "400" in responses, (method, path)


def test_the_document_is_served_without_a_token(client):
    response = client.get(PREFIX + "/openapi.json")
    assert response.status_code == 200 and response.json == DOCUMENT
