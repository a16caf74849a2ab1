"""What the tests share that is not a fixture: clients, factories, harnesses, checks (the fixtures: conftest.py)."""
