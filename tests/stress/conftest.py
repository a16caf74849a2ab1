"""The long runs: collected only by `make stress` (CREDITLINE_STRESS=1).

The model-based, bank, fault and scale-out runs use the CI-sized tests' machinery from tests.support; each
module asks for quiet_credit_log (tests/conftest.py), so a JSON line per credit decision does not bury the figures.
"""

import os

if not os.environ.get("CREDITLINE_STRESS"):
    collect_ignore_glob = ["test_*.py"]  # `make test` and CI stay CI-sized
