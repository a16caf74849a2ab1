"""The machine's Redis as the tests that need it use it: the database kept for them, and what to do without it."""

import os

import pytest

#: Database 15 of the machine's Redis, kept for tests; the keys a test writes carry a prefix of its run's own,
#: so runs side by side never share a count.
REDIS_URL = "redis://127.0.0.1:6379/15"


def without_redis(reason: str) -> None:
    """Skip a test that needs Redis, or fail it when CREDITLINE_REQUIRE_REDIS is set (CI sets it and
    starts Redis, so a missing server there is a failure, never a silent skip)."""
    __tracebackhide__ = True  # the skip or failure is reported at the test that needed Redis
    if os.environ.get("CREDITLINE_REQUIRE_REDIS"):
        pytest.fail(f"{reason}, and CREDITLINE_REQUIRE_REDIS is set: this run must test with Redis")
    pytest.skip(f"{reason} (set CREDITLINE_REQUIRE_REDIS=1 to make this a failure)")
