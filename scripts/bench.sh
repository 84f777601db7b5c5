#!/usr/bin/env bash
# API benchmark (issue: core). Builds the release binary, starts PostgreSQL in .local/bench-pg,
# seeds 100,000 requests over all states, serves on a loopback port and runs bench/api_bench.py,
# which prints rates as ratios to pgbench measured on the same database in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${BENCH_PG_PORT:-25449}
http_port=${BENCH_HTTP_PORT:-18080}
seconds=${BENCH_SECONDS:-8}

[ -n "${BENCH_SKIP_BUILD:-}" ] || swift build -c release --product callboard
cb=.build/release/callboard

rm -rf .local/bench-pg
bash scripts/postgres.sh .local/bench-pg "$pg_port"
stop() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  bash scripts/postgres.sh stop .local/bench-pg
}
trap stop EXIT
psql_() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bench" CALLBOARD_LOG_LEVEL=warning
$cb migrate
echo "Seeding 100,000 requests…"
psql_ -d bench -v n=100000 -f bench/seed.sql
$cb admin create-staff --email bench@callboard.local --role admin >/dev/null
token=$($cb admin create-token --email bench@callboard.local)
psql_ -d bench -c "SELECT id FROM requests WHERE state = 'info_complete' ORDER BY random() LIMIT 2000" > .local/bench-ids.txt

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
# glibc's per-thread malloc arenas inflate RSS on many-threaded servers; two are plenty here.
# No metrics listener: it would need port 9090 free, and the benchmark does not read it.
CALLBOARD_METRICS_PORT=0 MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} $cb serve --hostname 127.0.0.1 --port "$http_port" &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$http_port/health/ready" >/dev/null && break; sleep 0.1; done
python3 bench/api_bench.py --port "$http_port" --token "$token" --server-pid "$server" --pg-port "$pg_port" \
  --seconds "$seconds" --ids .local/bench-ids.txt --client "${BENCH_CLIENT:-wrk}"
