"""Schemathesis, long (make stress): every operation of /api/v1/openapi.json with STRESS_SCHEMATHESIS_EXAMPLES
(200) generated requests each instead of the CI-sized count."""

import importlib
import os

import pytest

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

os.environ.setdefault("CREDITLINE_SCHEMATHESIS_EXAMPLES", os.environ.get("STRESS_SCHEMATHESIS_EXAMPLES", "200"))
_short = importlib.import_module("test_schemathesis")  # reads the count when it is first imported

test_the_api_keeps_its_documented_contract = _short.test_the_api_keeps_its_documented_contract
world, wsgi = _short.world, _short.wsgi
