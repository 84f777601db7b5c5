#!/usr/bin/env bash
# Scheduler benchmark (issue: reminders). Seeds 100,000 requests and 300,000 data sets, then times
# one scheduler tick when nothing is due and when 1,000 reminders are, beside two baselines on the
# same database in the same run: the bare due queries from the same process, and pgbench running
# those queries. Prints the figures and the ratios.
#
# Usage: bench/scheduler_bench.sh            release build, 100,000 requests, 300,000 data sets, 1,000 due
#        bench/scheduler_bench.sh --smoke    the debug binary, 2,000 requests, 6,000 data sets, 100 due,
#                                            1 s of pgbench: checks it runs and queues reminders
# Environment: BENCH_SKIP_BUILD=1 (use the binary as built), BENCH_REQUESTS, BENCH_DATA_SETS,
#              BENCH_DUE, BENCH_PG_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${BENCH_PG_PORT:-25457}
if [ "${1:-}" = --smoke ]; then
  mode=debug requests=${BENCH_REQUESTS:-2000} data_sets=${BENCH_DATA_SETS:-6000} due=${BENCH_DUE:-100} pg_seconds=1
  [ -n "${BENCH_SKIP_BUILD:-}" ] || swift build --product callboard
else
  mode=release requests=${BENCH_REQUESTS:-100000} data_sets=${BENCH_DATA_SETS:-300000} due=${BENCH_DUE:-1000} pg_seconds=5
  [ -n "${BENCH_SKIP_BUILD:-}" ] || bash scripts/build-release.sh
fi
cb=$PWD/.build/$mode/callboard

rm -rf .local/bench-scheduler-pg
bash scripts/postgres.sh .local/bench-scheduler-pg "$pg_port"
cleanup() {
  bash scripts/postgres.sh stop .local/bench-scheduler-pg
}
trap cleanup EXIT
psql -h 127.0.0.1 -p "$pg_port" -U postgres -qtA -c "CREATE DATABASE bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bench" CALLBOARD_LOG_LEVEL=error CALLBOARD_TEAM_EMAIL=team@example.gov.uk
$cb migrate >/dev/null

at=2026-12-02T10:00:00Z
result=$($cb bench-scheduler --at "$at" --requests "$requests" --data-sets "$data_sets" --due "$due")
echo "$result ($mode build)"

# pgbench: the same two due queries with nothing due, one client, on the same database.
# Vacuumed first: the due rounds' updates leave dead entries in the due index that a LIMIT scan
# would otherwise walk (36-65 ms a query instead of 0.1).
psql -h 127.0.0.1 -p "$pg_port" -U postgres -qtA -d bench -c "VACUUM ANALYZE request_schedule, data_sets"
cat > .local/bench-scheduler-pg/idle.sql <<SQL
SELECT request_id FROM request_schedule WHERE next_reminder_at <= '$at' ORDER BY next_reminder_at LIMIT 500 FOR UPDATE SKIP LOCKED;
SELECT id FROM data_sets WHERE next_reminder_at <= '$at' ORDER BY next_reminder_at LIMIT 500 FOR UPDATE SKIP LOCKED;
SQL
pg_ms=$(pgbench -n -f .local/bench-scheduler-pg/idle.sql -c 1 -T "$pg_seconds" -h 127.0.0.1 -p "$pg_port" -U postgres bench 2>/dev/null \
  | awk '/latency average/ {print $4}')
python3 - "$result" "$pg_ms" <<'PY'
import json, sys
r, pg = json.loads(sys.argv[1]), float(sys.argv[2])
# Something real happened: ticks were timed and the due rounds queued reminders.
assert r["idle_tick_ms_p50"] > 0 and r["due_tick_ms_p50"] > 0, "no tick was timed"
assert r["reminders_queued"] > 0, f"{r['due']} requests were due each round but no reminder was queued"
print(f"idle tick: p50 {r['idle_tick_ms_p50']} ms, p99 {r['idle_tick_ms_p99']} ms (target < 50 ms); "
      f"{r['idle_tick_ms_p50'] / r['baseline_due_queries_ms_p50']:.1f}x the bare due queries from the same process "
      f"({r['baseline_due_queries_ms_p50']} ms), {r['idle_tick_ms_p50'] / pg:.1f}x pgbench's {pg} ms")
print(f"{r['due']} due: tick p50 {r['due_tick_ms_p50']} ms, max {r['due_tick_ms_max']} ms (target < 1000 ms); "
      f"CPU a tick: callboard {r['due_tick_cpu_ms_callboard']} ms, PostgreSQL {r['due_tick_cpu_ms_postgres']} ms; "
      f"{r['reminders_queued']} reminders queued over the rounds; peak RSS {r['peak_rss_mb']} MB")
PY
