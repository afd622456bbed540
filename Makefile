# effscale: two commands for users (make run, make test); for developers make check (the fast
# inner loop) and make bench.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test check bench lint install install-test browser postgres screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Re-install only when a requirements file changed (the stamp is older than it).
$(STAMP_RUN): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(STAMP_TEST): $(STAMP_RUN) requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

install: $(STAMP_RUN)
install-test: $(STAMP_TEST)

run: $(STAMP_RUN)
	@echo "effscale dashboard: http://localhost:$(PORT)  (Ctrl+C to stop)"
	HF_HUB_DISABLE_TELEMETRY=1 $(VENV)/bin/streamlit run app.py \
		--server.headless true --server.port $(PORT) \
		--server.fileWatcherType none --browser.gatherUsageStats false

# Debian's Chromium for the end-to-end browser test (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || \
		{ command -v apt-get >/dev/null 2>&1 && (apt-get install -y -q chromium >/dev/null 2>&1 || \
		  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) ; } || \
		echo "note: chromium not installed; the browser test will be skipped"

# Debian's PostgreSQL server binaries for the shared-store tests (each test session starts its own
# server on a free port of 127.0.0.1 and removes it; nothing here starts a server). Unlike the
# browser, they are required: the store's contract runs against both backends.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		command -v apt-get >/dev/null 2>&1 && (apt-get install -y -q postgresql >/dev/null 2>&1 || \
		  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1)) ; \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		  { echo "error: PostgreSQL's server binaries are missing (apt-get install postgresql)"; exit 1; } ; \
	fi

test: $(STAMP_TEST) browser postgres
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HF_HUB_OFFLINE=1 $(PY) -m pytest

# The fast inner loop: lint, then every test that needs no real model, browser, database server
# or cluster (the markers in pyproject.toml; tests/conftest.py applies them). Under 2 minutes.
CHECK_MARKS := not (model or browser or server or cluster)
check: $(STAMP_TEST)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "$(CHECK_MARKS)"

# Re-take the README's screenshots with the browser test (real measurements on this machine).
screenshots: $(STAMP_TEST) browser
	HF_HUB_OFFLINE=1 EFFSCALE_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -q tests/test_e2e_browser.py

lint: $(STAMP_TEST)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(STAMP_TEST)
	@for b in explorer_speed latency_protocol runtimes classify_overhead evaluate app_rerun load; do \
		echo "== python -m bench.$$b"; HF_HUB_OFFLINE=1 $(PY) -m bench.$$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
