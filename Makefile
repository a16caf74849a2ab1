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

## run: set up, migrate, load demo data once, serve on http://127.0.0.1:5000 with a job worker beside it
run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) dev-server --host 127.0.0.1 --port 5000

## test: set up, then the whole test suite (embedded PostgreSQL, or TEST_DATABASE_URL)
test: install
	$(BIN)/pytest

## stress: the long model-based, bank, fault and scale-out runs (tests/stress), printing their figures, then the
##   fuzzing modules again with many more examples
##   STRESS_SECONDS (bank, per account count; 30), STRESS_EXAMPLES (200), STRESS_STEPS (50), BANK_SEED,
##   STRESS_FUZZ_EXAMPLES (300 per page-form property), STRESS_API_FUZZ_EXAMPLES (300 per API operation),
##   STRESS_SCHEMATHESIS_EXAMPLES (200 per API operation)
STRESS_FUZZ_EXAMPLES ?= 300
STRESS_API_FUZZ_EXAMPLES ?= 300
STRESS_SCHEMATHESIS_EXAMPLES ?= 200
FUZZ_MODULES := tests/test_fuzz_http.py tests/test_api_fuzz.py tests/test_schemathesis.py
stress: install
	CREDITLINE_STRESS=1 $(BIN)/pytest -s tests/stress
	CREDITLINE_FUZZ_EXAMPLES=$(STRESS_FUZZ_EXAMPLES) CREDITLINE_API_FUZZ_EXAMPLES=$(STRESS_API_FUZZ_EXAMPLES) \
	  CREDITLINE_SCHEMATHESIS_EXAMPLES=$(STRESS_SCHEMATHESIS_EXAMPLES) $(BIN)/pytest -s $(FUZZ_MODULES)

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
