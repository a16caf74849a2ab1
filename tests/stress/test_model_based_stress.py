"""The model-based test, long: STRESS_EXAMPLES examples (200) of up to STRESS_STEPS steps (50) each."""

import os

import pytest

from tests.support.model import run_machine

pytestmark = pytest.mark.usefixtures("quiet_credit_log")

EXAMPLES = int(os.environ.get("STRESS_EXAMPLES", "200"))
STEPS = int(os.environ.get("STRESS_STEPS", "50"))


def test_the_credit_service_behaves_like_the_model_over_many_examples(app):
    run_machine(EXAMPLES, STEPS, f"model-based stress test, {EXAMPLES} examples of up to {STEPS} steps")
