"""The bank test, long: STRESS_CLIENTS threads (32) for STRESS_SECONDS (30) per account count.

Its figures (``make stress`` runs with ``-s``) include how many operations would have been a 5xx over
HTTP, which must be none, and how many lock waits took over half of CREDIT_LOCK_DEADLINE_SECONDS.
"""

import os

import pytest

from tests.support.bank import check_the_books, open_bank, run_bank

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

SECONDS = float(os.environ.get("STRESS_SECONDS", "30"))
CLIENTS = int(os.environ.get("STRESS_CLIENTS", "32"))


@pytest.mark.parametrize("n_accounts", [1, 4, 50])
def test_the_books_hold_under_a_long_run_of_mixed_operations(app, make, runner, n_accounts):
    bank = open_bank(make, n_accounts)
    run = run_bank(app, bank, SECONDS, clients=CLIENTS)
    check_the_books(run, bank, runner)
