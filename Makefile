# The two commands of the README: `make run` and `make test`. Everything else
# here is what they need; nothing assumes more than Python 3.11 on the machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint mutate screenshots bench-sync messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runshop

# Two pytest-xdist workers, one per core of the machine (each has its own test database and Redis databases).
TEST_WORKERS ?= 2
test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Mutation testing of the money and order-state code (issue 18; not part of `make test`).
# PostgreSQL when DATABASE_URL is set, like the tests (each child on its own test database, tests/mutmut_slot.py);
# without Redis, so the children share no cache.
# Prints the per-module table and fails below 98% of non-equivalent mutants killed.
mutate: $(VENV)/.dev-installed
	rm -rf mutants
	REDIS_URL= $(BIN)/mutmut run --max-children 2
	$(BIN)/python tests/mutation_report.py

# Screenshots of every customer page at 1366 and 390 px, and of the admin dashboard, into var/screenshots/
# (tests/browser/test_pages.py takes them while it checks the pages; it needs PostgreSQL and Debian's Chromium).
screenshots: $(VENV)/.dev-installed
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/smmshop} $(BIN)/python -m pytest -q -p no:randomly tests/browser/test_pages.py
	@echo "Screenshots: var/screenshots/"

# Gather marked text into locale/*/LC_MESSAGES/*.po (needs gettext: apt install gettext) and compile the .mo files.
messages: $(VENV)/.dev-installed
	$(BIN)/python manage.py messages_update

bench-sync: $(VENV)/.dev-installed
	$(BIN)/python bench/catalogue_sync.py

clean:
	rm -rf $(VENV) var .pytest_cache mutants
