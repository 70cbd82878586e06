# Every target creates .venv itself, so `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format typecheck messages browser-deps postgres migration clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: the embedded default with a demo network on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/vcs demo
	$(BIN)/vcs serve

AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json
	npm install --no-audit --no-fund --silent
	touch $(AXE)

## test: lint, format check, type check and every test (PostgreSQL and browser ones included)
test: $(STAMP) postgres browser-deps $(AXE)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

## browser-deps: Debian's chromium for the Playwright tests (needs root and the package registry)
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium"; fi; }

## postgres: start the local PostgreSQL cluster if it is down; a machine without one goes on
## (its PostgreSQL tests are then skipped, or fail in CI)
postgres:
	-@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start

## messages: extract translatable text and update the lv and en catalogues
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k gettext -k ngettext:1,2 --no-location --sort-output -o vcs/locale/messages.pot .
	$(BIN)/pybabel update -D messages -i vcs/locale/messages.pot -d vcs/locale --no-fuzzy-matching -w 100

## migration: a new Alembic migration from the models, e.g. make migration MESSAGE="add x"
migration: $(STAMP)
	$(BIN)/python -m vcs.storage.migrate "$(MESSAGE)"

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

## bench: the feeds benchmark, vcs against nginx under wrk (installs nginx and wrk when root)
## bench-page: the livestream page and the home page against a bare Starlette app (and behind
##             the documented nginx micro-cache against nginx serving the same file)
## bench-all: every benchmark, then one table (what, vcs, reference, ratio, goal, met)
## bench-mail: the outbox sender against a bare smtplib loop, 10,000 recipients
## bench-scale: two web workers on PostgreSQL under wrk while mail sends and materialize runs
.PHONY: bench bench-page bench-mail bench-scale bench-deps bench-all
bench: $(STAMP) bench-deps
	$(BIN)/python -m bench.feeds

bench-page: $(STAMP) bench-deps
	$(BIN)/python -m bench.page

bench-mail: $(STAMP)
	$(BIN)/python -m bench.mail

bench-scale: $(STAMP) bench-deps postgres
	$(BIN)/python -m bench.scale

bench-all: $(STAMP) bench-deps postgres
	$(BIN)/python -m bench.all

## bench-deps: nginx and wrk for the benchmarks (needs root and the package registry)
bench-deps:
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null || \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null; }; \
	  else echo "nginx or wrk is missing: sudo apt-get install nginx-light wrk"; fi; }
