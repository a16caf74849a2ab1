"""Bank test: 32 client threads of mixed credit operations over 1, 4 and 50 accounts for a fixed time.

Clients place orders that fit and orders larger than any limit, re-send keyed orders (concurrent replays of
one idempotency key), cancel orders (also ones already cancelled), record payments, post signed
adjustments, change limits, block and unblock. Each client keeps what the service told it.

While they run, a checker thread reads the books on its own connection (READ COMMITTED: every
statement sees one committed snapshot) and records a violation whenever

* ``find_ledger_problems()`` names anything (each of its queries is one snapshot, and every credit
  write commits its balance and its entries together, so the books agree at every instant), or
* an order took its account over its limit, or was taken while it was blocked: for every DEBIT, the
  account's true exposure right after it (the sum of the account's entries up to and including it,
  not the ``balance_after`` the writer stored, which a lost update would leave looking fine) must be
  at most the limit in force when it was written, and the account open then. Limit and status are
  recorded by a trigger added to the test database for the run (``http_harness.recording_debits``:
  ``AFTER INSERT`` on ``ledger_entries``, in the writing transaction, whatever SQL the service uses
  to write), so limit changes during the run are allowed: a limit lowered below the balance or an
  adjustment that raises it do not count, only an order that went past the limit.

Afterwards: the books balance, every confirmed order has exactly one DEBIT and every cancelled one
exactly one REVERSAL, every order a client was told is confirmed exists with that total (and there
is no order nobody was told about), each cancellation was applied once, each idempotency key made
one order, each account's balance equals what the clients were told happened to it, no client saw
anything but a domain refusal, none got an outcome the API answers with a 5xx (MAX_RETRIES_EXCEEDED
included: a storm of busy refusals is a failure, not a pass), and ``flask verify-ledger`` exits 0.
The figures are printed (run with ``-s``); the long version is tests/stress/test_bank_stress.py
(``make stress``).
"""

import os

import pytest

from tests.support.bank import check_the_books, open_bank, run_bank

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

#: CI: seconds per account count; BANK_SECONDS overrides.
CI_SECONDS = float(os.environ.get("BANK_SECONDS", "3"))


@pytest.mark.parametrize("n_accounts", [1, 4, 50])
def test_the_books_hold_under_32_clients_of_mixed_operations(app, make, runner, n_accounts):
    bank = open_bank(make, n_accounts)
    run = run_bank(app, bank, CI_SECONDS)
    check_the_books(run, bank, runner)
