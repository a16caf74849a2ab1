# Two commands for a fresh machine: `make run` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask
export FLASK_APP := wsgi

.PHONY: run test stress bench bench-quick lint check install clean

$(VENV)/installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/installed

## run: set up, migrate, load demo data once, serve on http://127.0.0.1:5000
run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) run --host 127.0.0.1 --port 5000

## test: set up, then the whole test suite (embedded PostgreSQL, or TEST_DATABASE_URL)
test: install
	$(BIN)/pytest

## stress: the long model-based, bank, fault, scale-out and fuzz runs (tests/stress), printing their figures
##   STRESS_SECONDS (bank, per account count; 30), STRESS_EXAMPLES (200), STRESS_STEPS (50), BANK_SEED,
##   STRESS_API_FUZZ_EXAMPLES (300 per API operation)
stress: install
	CREDITLINE_STRESS=1 $(BIN)/pytest -s tests/stress

$(VENV)/bench-installed: $(VENV)/installed requirements-bench.txt
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

## bench: the full benchmarks; writes BENCHMARKS.md and plots under bench/results/
bench: $(VENV)/bench-installed
	$(BIN)/python -m bench.run

## bench-quick: about a minute, a smoke test of the same code (CI runs it)
bench-quick: $(VENV)/bench-installed
	BENCH_QUICK=1 $(BIN)/python -m bench.run

lint: install
	$(BIN)/ruff check .

## check: lint, and no drift between the models and the migrations
check: lint
	$(FLASK) db check

clean:
	rm -rf $(VENV) .pytest_cache
