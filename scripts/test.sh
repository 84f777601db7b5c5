#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing, starts a throwaway PostgreSQL
# in .local/test-pg, then runs the Swift test suites (unit + integration against that server).
set -euo pipefail
cd "$(dirname "$0")/.."

port=${CALLBOARD_TEST_PG_PORT:-54339}
pgdir=.local/test-pg
bin=/usr/lib/postgresql/15/bin

stop_pg() {
  if [ -f "$pgdir/data/postmaster.pid" ]; then
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$bin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true
    else "$bin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true; fi
  fi
}

# A fresh cluster every run: no state leaks between runs. fsync off: test data is disposable.
stop_pg
rm -rf "$pgdir"
PG_FSYNC=off bash scripts/postgres.sh "$pgdir" "$port"
trap stop_pg EXIT
export CALLBOARD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"

echo "== swift build (tests)"
swift build --build-tests
echo "== swift test"
swift test --skip-build
