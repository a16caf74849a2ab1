"""The long runs of the model-based and bank tests: collected only by `make stress` (CREDITLINE_STRESS=1).

They reuse the CI-sized tests' machinery (tests/test_model_based.py, tests/test_bank.py), which
import as top-level modules because pytest puts tests/ on sys.path for its conftest.py.
"""

import logging
import os

import pytest

if not os.environ.get("CREDITLINE_STRESS"):
    collect_ignore_glob = ["test_*.py"]  # `make test` and CI stay CI-sized


@pytest.fixture(autouse=True)
def quiet_credit_log():
    """A JSON line per credit decision would bury the figures: only warnings while these run."""
    logger = logging.getLogger("app.credit")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)
