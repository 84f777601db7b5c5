#!/usr/bin/env bash
# CSV export benchmark (issue 12): 100,000 requests (bench/seed.sql, each with its `created`
# event) exported over HTTP as /api/v1/requests.csv and /api/v1/events.csv, timing each and
# sampling the server's RSS every 50 ms: an export streamed in batches keeps it flat.
#
# Usage: bench/export_bench.sh            release build, 100,000 requests
#        bench/export_bench.sh --smoke    the debug binary, 10,000 requests: checks the rows and the flat memory
# Environment: BENCH_SKIP_BUILD=1 (use the binary as built), BENCH_BIN (this binary instead, never built),
#              BENCH_PG_PORT, BENCH_HTTP_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${BENCH_PG_PORT:-25451}
http_port=${BENCH_HTTP_PORT:-18082}
if [ "${1:-}" = --smoke ]; then
  mode=debug rows=10000 build=(swift build --product callboard)
else
  mode=release rows=100000 build=(bash scripts/build-release.sh)
fi
if [ -n "${BENCH_BIN:-}" ]; then
  cb=$BENCH_BIN
else
  [ -n "${BENCH_SKIP_BUILD:-}" ] || "${build[@]}"
  cb=$PWD/.build/$mode/callboard
fi

rm -rf .local/export-pg
bash scripts/postgres.sh .local/export-pg "$pg_port"
stop() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  bash scripts/postgres.sh stop .local/export-pg
}
trap stop EXIT
psql_() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bench" CALLBOARD_LOG_LEVEL=warning
$cb migrate >/dev/null
psql_ -d bench -v n="$rows" -f bench/seed.sql
$cb admin create-staff --email bench@callboard.local --role admin >/dev/null
token=$($cb admin create-token --email bench@callboard.local)

CALLBOARD_METRICS_PORT=0 MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} $cb serve --hostname 127.0.0.1 --port "$http_port" &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$http_port/health/ready" >/dev/null && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }

export_one() {
  local path=$1 out=.local/export-bench.csv
  # One small export first, so the pool and code paths are warm before the baseline.
  curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:$http_port$path?state=withdrawn" -o /dev/null || true
  local before peak=0 start end lines
  before=$(rss)
  ( while kill -0 "$server" 2>/dev/null; do rss; sleep 0.05; done ) > .local/export-rss.txt &
  local sampler=$!
  start=$(date +%s.%N)
  curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:$http_port$path" -o "$out"
  end=$(date +%s.%N)
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  peak=$(sort -n .local/export-rss.txt | tail -1)
  lines=$(($(wc -l < "$out") - 1))
  printf '%s: %d rows, %s MB, %.2f s; server RSS %d MB before, peak %d MB during (+%d MB)\n' \
    "$path" "$lines" "$(($(stat -c %s "$out") / 1048576))" "$(echo "$end - $start" | bc)" \
    $((before / 1024)) $((peak / 1024)) $(((peak - before) / 1024))
  [ "$lines" -ge "$rows" ] || { echo "expected at least $rows rows" >&2; exit 1; }
  # Flat memory: the export must not hold the result (100,000 rows are about 30 MB of CSV).
  [ $((peak - before)) -lt $((40 * 1024)) ] || { echo "RSS grew by more than 40 MB" >&2; exit 1; }
}
export_one /api/v1/requests.csv
export_one /api/v1/events.csv
