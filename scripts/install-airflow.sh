#!/usr/bin/env bash
# Create/refresh a dedicated virtualenv holding a real Apache Airflow 3.3.x for dli's tests.
#
#   AIRFLOW_VENV   venv path            (default: <repo>/.venv-airflow)
#   AIRFLOW_VERSION                     (default: 3.3.2)
#   AIRFLOW_PYTHON python interpreter   (default: python3.11)
#   DLI_SRC        if set, `pip install -e "$DLI_SRC[s3]"` into the venv as well (the DAG factory;
#                  boto3 lets it read an s3:// store)
#   WITH_DAG_FACTORY=1  also install dag-factory==1.1.0 (only for benchmarks/dag_factory.py)
#   AIRFLOW_LOCK   pip constraints file (default: <repo>/constraints/airflow.txt, written by
#                  scripts/lock.sh); "none" resolves the newest versions (what lock.sh does)
#
# Idempotent: an existing venv is brought to the locked versions (pip changes only what differs);
# without a lock, one that already has the wanted Airflow and providers is left as is.  Only PyPI is needed (no constraints file download).
set -euo pipefail

start=$(date +%s)
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AIRFLOW_VENV="${AIRFLOW_VENV:-$REPO_ROOT/.venv-airflow}"
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
PY="${AIRFLOW_PYTHON:-python3.11}"
AIRFLOW_LOCK="${AIRFLOW_LOCK:-$REPO_ROOT/constraints/airflow.txt}"
LOCK=()
if [ "$AIRFLOW_LOCK" != "none" ]; then LOCK=(-c "$AIRFLOW_LOCK"); fi

log() { echo "[install-airflow +$(( $(date +%s) - start ))s] $*"; }

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "install-airflow: interpreter '$PY' not found (set AIRFLOW_PYTHON)" >&2
  exit 1
fi

if [ ! -x "$AIRFLOW_VENV/bin/python" ]; then
  log "creating venv $AIRFLOW_VENV with $PY"
  "$PY" -m venv "$AIRFLOW_VENV"
  "$AIRFLOW_VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
fi
VPY="$AIRFLOW_VENV/bin/python"

# Pins we must make ourselves (no access to Airflow's constraints file). Keep this list short.
PINS=(
  "apache-airflow==${AIRFLOW_VERSION}"
  "apache-airflow-providers-common-sql"
  "apache-airflow-providers-sqlite"
  # OpenLineage run events of the DAG factory's SQL tasks (docs/operations.md, "Lineage").
  "apache-airflow-providers-openlineage"
  # The production-shaped e2e stack (tests/support/production_stack.py): CeleryExecutor with a
  # Redis broker and a PostgreSQL metadata database (psycopg2 for Airflow's sync engine, asyncpg
  # for its async one).
  "apache-airflow-providers-celery"
  # celery 5.7 dropped celery.backends.database.retry, which the Celery provider 3.26 imports.
  "celery<5.7"
  "psycopg2-binary"
  "asyncpg"
  "redis"
)

have() {
  "$VPY" - "$AIRFLOW_VERSION" <<'PYEOF'
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    ok = version("apache-airflow") == sys.argv[1]
    version("apache-airflow-providers-common-sql")
    version("apache-airflow-providers-sqlite")
    version("apache-airflow-providers-openlineage")
    version("apache-airflow-providers-celery")
    version("psycopg2-binary")
    version("asyncpg")
    ok = ok and int(version("celery").split(".")[1]) < 7
    version("redis")
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PYEOF
}

if [ ${#LOCK[@]} -eq 0 ] && have; then
  log "apache-airflow==${AIRFLOW_VERSION} and providers already installed"
else
  log "installing ${PINS[*]}"
  "$VPY" -m pip install -q "${LOCK[@]}" "${PINS[@]}"
fi

if [ -n "${DLI_SRC:-}" ]; then
  log "installing dli from $DLI_SRC (editable, with the s3 extra)"
  "$VPY" -m pip install -q "${LOCK[@]}" -e "$DLI_SRC[s3]"
fi

if [ "${WITH_DAG_FACTORY:-0}" = "1" ]; then
  log "installing dag-factory==1.1.0 (benchmark only)"
  "$VPY" -m pip install -q "${LOCK[@]}" "dag-factory==1.1.0"
fi

"$AIRFLOW_VENV/bin/airflow" version >/dev/null 2>&1 || { echo "install-airflow: 'airflow version' failed" >&2; "$AIRFLOW_VENV/bin/airflow" version; exit 1; }
log "done: $("$VPY" -c 'from importlib.metadata import version as v; print("apache-airflow", v("apache-airflow"), "common-sql", v("apache-airflow-providers-common-sql"), "sqlite", v("apache-airflow-providers-sqlite"), "celery", v("apache-airflow-providers-celery"))')"
log "venv: $AIRFLOW_VENV (airflow: $AIRFLOW_VENV/bin/airflow)"
