# kabinet — two commands: `make run` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
APT_PACKAGES := chromium gettext libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils postgresql-client kannel kannel-extras
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint bench setup system-packages messages static migrate clean

run: setup migrate messages static ## venv, dependencies, migrations, demo clinic, web + worker + clock
	@$(PY) manage.py seed_demo
	@echo
	@echo "kabinet is starting at http://127.0.0.1:8000  (staff: /  patients: /my/  admin: /admin/  API: /api/v1/docs)"
	@echo "Stop with Ctrl+C."
	@$(VENV)/bin/honcho start -f Procfile

test: setup messages lint ## the whole suite on SQLite (set DATABASE_URL for PostgreSQL)
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup messages
	$(PY) bench/run.py

setup: system-packages $(STAMP) .env

$(STAMP):
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# Debian packages: Chromium for browser tests, gettext for translations, Pango for PDFs, Kannel (SMS gateway with
# its fake SMSC) for the SMS tests.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# A local .env with a random SECRET_KEY, made once; the environment wins over it.
.env:
	@printf 'SECRET_KEY=%s\nDEBUG=true\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "created .env with a random SECRET_KEY"

messages: setup
	@$(PY) manage.py compilemessages --ignore=.venv -v0

static: setup
	@$(PY) manage.py collectstatic --noinput -v0

migrate: setup
	@$(PY) manage.py migrate --noinput -v0

clean:
	rm -rf $(VENV) var/*.sqlite3* var/static
