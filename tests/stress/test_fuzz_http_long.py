"""The page-form fuzzing, long (make stress): every property of tests/test_fuzz_http.py with STRESS_FUZZ_EXAMPLES
(300) examples each instead of the CI-sized count."""

import importlib
import os

import pytest

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

os.environ.setdefault("CREDITLINE_FUZZ_EXAMPLES", os.environ.get("STRESS_FUZZ_EXAMPLES", "300"))
_short = importlib.import_module("test_fuzz_http")  # reads the count when it is first imported

# The properties and the fixtures they use, collected here under the long example count.
globals().update({name: getattr(_short, name) for name in dir(_short)
                  if (name.startswith("test_") and hasattr(getattr(_short, name), "hypothesis"))
                  or name in ("desk", "account_forms", "admin_forms", "page_forms")})
