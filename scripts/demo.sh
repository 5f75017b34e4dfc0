#!/usr/bin/env bash
# The first command of the README: install dli and Airflow 3, start the local stack
# (`dli dev up`) and walk the example project through register, run, backfill, history,
# pause/unpause and the code-over-manual override by `dli workflow publish`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3.11}
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Installing dli (.venv) and Airflow 3 (.venv-airflow)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints/dli.txt -e ".[server,s3]"
DLI_SRC="$ROOT" bash scripts/install-airflow.sh
export PATH="$ROOT/.venv/bin:$PATH"
export DLI_DEV_HOME="$ROOT/.dli-dev"
export DLI_AIRFLOW_VENV="$ROOT/.venv-airflow"
# The client configuration written by `dli dev up` is used through DLI_CONFIG, so that a
# configuration of your own is never touched.
export DLI_CONFIG="$DLI_DEV_HOME/client.yaml"

step "Starting the local stack"
show dli dev up --airflow-port "${DLI_DEV_AIRFLOW_PORT:-8080}" --server-port "${DLI_DEV_SERVER_PORT:-8081}"

cd examples/shop
step "Register two datasets of the example project as MANUAL workflows"
show dli workflow register shop.orders_raw --cron "0 6 * * *" --timezone Europe/Berlin --force --wait
show dli workflow register shop.daily_revenue --cron "30 7 * * *" --tz Asia/Seoul --force --wait
show dli workflow list

step "Run one now and follow it"
show dli workflow run shop.orders_raw -p execution_date=2025-01-01 --wait --timeout 600

step "Backfill three dates, in order"
show dli workflow backfill shop.orders_raw -s 2025-01-02 -e 2025-01-04 --wait --timeout 600
show dli workflow backfill shop.daily_revenue -s 2025-01-01 -e 2025-01-03 -p min_amount=50 --wait --timeout 600

step "History, with the dataset's metadata"
show dli workflow history -d shop.daily_revenue --show-dataset-info

step "Pause and unpause a schedule"
show dli workflow pause shop.orders_raw
show dli workflow list --status paused
show dli workflow unpause shop.orders_raw

step "CI/CD publishes the project as CODE workflows: code overrides manual"
show dli workflow publish --path . --store "file://$DLI_DEV_HOME/store"
sleep 6   # one override check of the server
show dli workflow list
step "The code spec left the project: prune it, and the manual workflow is active again"
show dli workflow publish --path "$ROOT/examples/empty" --store "file://$DLI_DEV_HOME/store" --prune
sleep 6
show dli workflow list

step "What the SQL wrote into the local database ($DLI_DEV_HOME/local.sqlite)"
"$ROOT/.venv/bin/python" - "$DLI_DEV_HOME/local.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for table in ("orders_raw", "daily_revenue"):
    print(table)
    for row in db.execute(f"SELECT * FROM {table} ORDER BY 1"):
        print("  ", row)
PY

step "Done. The stack keeps running: open the Airflow UI above, or stop it with: dli dev down"
