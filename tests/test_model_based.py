"""Model-based test: Hypothesis drives the credit service on PostgreSQL against a small in-memory model.

Each example starts from empty tables: one retailer with credit accounts at two wholesalers. Rules
place orders (random products and quantities, with and without idempotency keys, retried with the
same key), cancel orders (also twice, also unknown ones), record payments, post signed adjustments,
change limits (also below the balance), block and unblock, place, capture and release credit holds while the
clock moves (and run their expiry job), grant temporary limit increases and end them early (and run their
recount job). After every step the outcome (confirmed,
replayed or the exact error code, with the available credit the service reports) must be the one the
model predicts, the accounts, the ledger and the orders must equal the model's, and
``find_ledger_problems()`` must be empty.

One rule runs two operations at the same time on two connections, with every write slowed down so
an unlocked read-decide-write would overlap. Their outcomes and the state after them must be those
of one of the two serial orders (linearizability of a pair): without the row lock, two orders that
each fit but not together would both be confirmed, or a balance update would be lost.

The long version is tests/stress/test_model_based_stress.py (``make stress``).
"""

import os

import pytest
from sqlalchemy import text

from app.extensions import db
from app.services import accounts
from app.services.actors import SYSTEM
from app.services.errors import ValidationError
from app.services.ledger_check import find_ledger_problems
from app.services.money import MAX_AMOUNT
from app.services.orders import cancel_order, place_order
from tests.support.actors import acting_retailer
from tests.support.model import run_machine

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

# CI-sized: about 15 s on a busy 2-core machine. MODEL_EXAMPLES / MODEL_STEPS override.
CI_EXAMPLES = int(os.environ.get("MODEL_EXAMPLES", "15"))
CI_STEPS = int(os.environ.get("MODEL_STEPS", "25"))


def test_the_credit_service_behaves_like_the_model(app):
    run_machine(CI_EXAMPLES, CI_STEPS, "model-based test")


def test_a_cancellation_that_would_take_the_balance_out_of_range_is_refused(make):
    """Found by this module's first runs as a raw DataError (a 500); refused since 8ee35d7."""
    account = make.account(credit_limit="1000.00")
    product = make.product(account.wholesaler, unit_price="10.00")
    placed = place_order(acting_retailer(account.retailer_id), wholesaler_id=account.wholesaler_id,
                         lines=[(product.id, 1)])
    # Paid far ahead: the balance ends at the most negative value a column holds.
    accounts.record_payment(SYSTEM, account.id, amount="999999999999.99", reference="Prepayment")
    accounts.record_payment(SYSTEM, account.id, amount="10.00", reference="Prepayment")
    with pytest.raises(ValidationError, match="beyond what an account can record"):
        cancel_order(SYSTEM, placed.order_id)
    db.session.rollback()
    assert db.session.scalar(text("SELECT balance FROM credit_accounts")) == -MAX_AMOUNT
    assert db.session.scalar(text("SELECT status FROM orders")) == "CONFIRMED"
    assert db.session.scalar(text("SELECT count(*) FROM ledger_entries")) == 3
    assert find_ledger_problems() == []
