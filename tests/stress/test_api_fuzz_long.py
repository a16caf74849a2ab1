"""The API fuzzing, long (make stress): every property of tests/test_api_fuzz.py with STRESS_API_FUZZ_EXAMPLES (300)
examples per operation instead of the CI-sized count; the named bad values are sent once, as in CI."""

import importlib
import os

import pytest

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

os.environ.setdefault("CREDITLINE_API_FUZZ_EXAMPLES", os.environ.get("STRESS_API_FUZZ_EXAMPLES", "300"))
_short = importlib.import_module("test_api_fuzz")  # reads the count when it is first imported

# The properties and the fixtures they use, collected here under the long example count.
globals().update({name: getattr(_short, name) for name in dir(_short)
                  if (name.startswith("test_") and hasattr(getattr(_short, name), "hypothesis"))
                  or name in ("world", "rich_world")})
