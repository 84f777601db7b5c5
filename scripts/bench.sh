#!/usr/bin/env bash
# API benchmark (issue: core). Builds the release binary, starts PostgreSQL in .local/bench-pg,
# seeds 100,000 requests over all states (bench/seed.sql), serves on a loopback port and runs
# bench/api_bench.py: transitions, triage lists and creates (POST /api/v1/requests with all eight
# items, each a distinct request) at 1, 4 and 16 clients, with rates as ratios to pgbench measured
# on the same database in the same run: transition3 and a replay of the SQL a transition sends, which
# api_bench.py first captures from PostgreSQL's log (docs/performance.md, "The SQL limit").
#
# Usage: scripts/bench.sh            release build, 100,000 requests, 8 s a phase, 1, 4 and 16 clients
#        scripts/bench.sh --smoke    the debug binary, 2,000 requests, 1 s a phase, 1 and 4 clients:
#                                    checks every phase made progress with no non-2xx answer
# Environment: BENCH_SKIP_BUILD=1 (use the binary as built), BENCH_REQUESTS, BENCH_SECONDS,
#              BENCH_CLIENTS (e.g. 1,4,16), BENCH_CLIENT (wrk, the default, or python),
#              BENCH_PG_PORT, BENCH_HTTP_PORT, BENCH_PROFILE=DIR (perf samples of the server in each wrk
#              phase: DIR/PHASE-CLIENTS.data and .txt, the top frames), BENCH_WITH_WORKER=1 (serve
#              --with-worker: the email worker, scheduler and retention job in the server's process, sending
#              the transitions' emails as files to .local/bench-api-mail, so RSS is measured with them).
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${BENCH_PG_PORT:-25449}
http_port=${BENCH_HTTP_PORT:-18080}
if [ "${1:-}" = --smoke ]; then
  mode=debug requests=${BENCH_REQUESTS:-2000} seconds=${BENCH_SECONDS:-1} clients=${BENCH_CLIENTS:-1,4} check=--check
  [ -n "${BENCH_SKIP_BUILD:-}" ] || swift build --product callboard
else
  mode=release requests=${BENCH_REQUESTS:-100000} seconds=${BENCH_SECONDS:-8} clients=${BENCH_CLIENTS:-1,4,16} check=
  [ -n "${BENCH_SKIP_BUILD:-}" ] || bash scripts/build-release.sh
fi
cb=$PWD/.build/$mode/callboard

rm -rf .local/bench-pg
bash scripts/postgres.sh .local/bench-pg "$pg_port"
stop() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  bash scripts/postgres.sh stop .local/bench-pg
}
trap stop EXIT
psql_() { PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bench" CALLBOARD_LOG_LEVEL=warning
$cb migrate >/dev/null
echo "Seeding $requests requests ($mode build)…"
psql_ -d bench -v n="$requests" -f bench/seed.sql
$cb admin create-staff --email bench@callboard.local --role admin >/dev/null
token=$($cb admin create-token --email bench@callboard.local)
psql_ -d bench -c "SELECT id FROM requests WHERE state = 'info_complete' ORDER BY random() LIMIT 2000" > .local/bench-ids.txt

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
# glibc's per-thread malloc arenas inflate RSS on many-threaded servers; two are plenty here.
# No metrics listener: it would need port 9090 free, and the benchmark does not read it.
with_worker=()
if [ -n "${BENCH_WITH_WORKER:-}" ]; then
  rm -rf .local/bench-api-mail && mkdir -p .local/bench-api-mail
  with_worker=(--with-worker)
  export CALLBOARD_EMAIL_TRANSPORT=file CALLBOARD_EMAIL_DIR=$PWD/.local/bench-api-mail
fi
CALLBOARD_METRICS_PORT=0 MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} $cb serve --hostname 127.0.0.1 --port "$http_port" "${with_worker[@]}" &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$http_port/health/ready" >/dev/null && break; sleep 0.1; done
python3 bench/api_bench.py --port "$http_port" --token "$token" --server-pid "$server" --pg-port "$pg_port" \
  --pg-log .local/bench-pg/server.log --seconds "$seconds" --clients "$clients" --ids .local/bench-ids.txt --client "${BENCH_CLIENT:-wrk}" ${BENCH_PROFILE:+--profile "$BENCH_PROFILE"} ${BENCH_WITH_WORKER:+--with-worker} $check
