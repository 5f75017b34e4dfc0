#!/usr/bin/env bash
# The test command: installs everything the tests need (the package with its extras, a separate
# Airflow 3 virtualenv with the DAG factory, the S3 servers) and runs the whole suite.
# Every server the tests use (Airflow standalone, Basecamp, moto, rclone, and for the production-shaped
# e2e suite PostgreSQL, Redis and Airflow with Celery) is started by the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints/dli.txt -e ".[all]"

if [ -x scripts/install-airflow.sh ] || [ -f scripts/install-airflow.sh ]; then
  DLI_SRC="$PWD" bash scripts/install-airflow.sh
fi

# The production-shaped e2e suite (tests/e2e/production) runs Debian's PostgreSQL and Redis; it fails,
# never skips, when they are missing.
have_initdb() { command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
if ! have_initdb || ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends postgresql redis-server >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y --no-install-recommends postgresql redis-server >/dev/null; }
fi

# The web console's browser tests (tests/integration/server/test_console_browser.py) drive Debian's
# Chromium with Playwright (no browser download); they fail, never skip, when it is missing.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends chromium >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y --no-install-recommends chromium >/dev/null; }
fi

export DLI_AIRFLOW_VENV="${DLI_AIRFLOW_VENV:-$PWD/.venv-airflow}"
.venv/bin/python -m pytest --cov=dli --cov-report=term-missing:skip-covered --durations=30 "$@"
.venv/bin/python -m coverage report --include='src/dli/domain/*' --fail-under=90 >/dev/null \
  && echo "domain coverage >= 90%" \
  || { .venv/bin/python -m coverage report --include='src/dli/domain/*'; echo "domain coverage below 90%"; exit 1; }
# Lint (rules in pyproject.toml [tool.ruff]), then types: strict for domain and ports, the
# pyproject.toml baseline for the rest.
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
.venv/bin/mypy src
.venv/bin/lint-imports
