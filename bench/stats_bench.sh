#!/usr/bin/env bash
# Team figures benchmark (issue "Team insight"): GET /api/v1/stats over 100,000 requests and
# 1,000,000 events spread over the past 12 months (target < 500 ms), with the plan of the
# heaviest query (the stage distributions).
#
# The history is written by SQL (generate_series) with the interval trigger off, then the
# migration's own backfill rule fills request_intervals, as it would for an old database.
#
# Usage: bench/stats_bench.sh            release build, 100,000 requests
#        bench/stats_bench.sh --smoke    the debug binary, 2,000 requests: checks it runs
# Environment: BENCH_SKIP_BUILD=1, BENCH_REQUESTS, BENCH_PG_PORT, BENCH_HTTP_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${BENCH_PG_PORT:-25455}
http_port=${BENCH_HTTP_PORT:-18085}
if [ "${1:-}" = --smoke ]; then
  mode=debug requests=${BENCH_REQUESTS:-2000} rounds=3
  [ -n "${BENCH_SKIP_BUILD:-}" ] || swift build --product callboard
else
  mode=release requests=${BENCH_REQUESTS:-100000} rounds=20
  [ -n "${BENCH_SKIP_BUILD:-}" ] || bash scripts/build-release.sh
fi
cb=$PWD/.build/$mode/callboard
work=.local/bench-stats
pg=$work/pg

rm -rf "$work"
mkdir -p "$work"
PG_FSYNC=off bash scripts/postgres.sh "$pg" "$pg_port"
stop() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  bash scripts/postgres.sh stop "$pg"
}
trap stop EXIT
psql_() { PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bench" CALLBOARD_LOG_LEVEL=error CALLBOARD_TEAM_EMAIL=team@example.gov.uk
$cb migrate >/dev/null
$cb admin create-staff --email bench@callboard.local --role viewer >/dev/null
token=$($cb admin create-token --email bench@callboard.local)

started=$(date +%s.%N)
psql_ -d bench -v n="$requests" <<'SQL'
ALTER TABLE request_events DISABLE TRIGGER request_intervals_on_transition;
-- Each request: created within the past year, then up to six transitions a few days apart
-- (sign-off slower than building), three comments; one in ten withdrawn after the first step.
CREATE TEMP TABLE plan AS
SELECT gen_random_uuid() AS id, g,
       now() - (random() * 365) * interval '1 day' AS created,
       (ARRAY['england-and-wales', 'scotland', 'northern-ireland'])[1 + g % 3] AS division,
       (ARRAY['DWP', 'HMRC', 'DVLA', 'Home Office', 'MOJ'])[1 + g % 5] AS department,
       1 + floor(random() * 6)::int AS steps,
       g % 10 = 0 AS withdrawn
FROM generate_series(1, :n) g;
CREATE TEMP TABLE steps AS
SELECT p.id, s.k, s.name, s.from_state, s.to_state,
       p.created + (sum(s.gap) OVER (PARTITION BY p.id ORDER BY s.k)) * interval '1 day' AS at
FROM plan p
CROSS JOIN LATERAL (
    SELECT k, name, from_state, to_state,
           CASE k WHEN 1 THEN random() * 10 WHEN 2 THEN random() * 4 WHEN 3 THEN 2 + random() * 20
                  WHEN 4 THEN 1 + random() * 4 WHEN 5 THEN random() * 3 ELSE 1 + random() * 8 END AS gap
    FROM (VALUES (1, 'complete_information', 'requested', 'info_complete'),
                 (2, 'request_sign_off', 'info_complete', 'signoff_pending'),
                 (3, 'approve_sign_off', 'signoff_pending', 'signoff_pending'),
                 (4, 'mark_built', 'signoff_pending', 'built'),
                 (5, 'publish_preview', 'built', 'preview_published'),
                 (6, 'go_live', 'preview_published', 'live')) AS t(k, name, from_state, to_state)
    WHERE k <= CASE WHEN p.withdrawn THEN 1 ELSE p.steps END
) s;
UPDATE steps s SET name = 'withdraw', to_state = 'withdrawn' FROM plan p WHERE p.id = s.id AND p.withdrawn;
INSERT INTO requests (id, kind, state, version, department, division, items, created_at, updated_at, state_entered_at,
                      sla_started_at, sla_due_at, sla_at_risk_at, sla_met_at, sla_calendar_version)
SELECT p.id, 'transactional', coalesce(last.to_state, 'requested'), 1 + coalesce(last.k, 0), p.department, p.division, '{}'::jsonb,
       p.created, coalesce(last.at, p.created), coalesce(last.at, p.created),
       ic.at, ic.at + interval '7 days', ic.at + interval '6 days', pv.at, CASE WHEN ic.at IS NOT NULL THEN 'bench' END
FROM plan p
LEFT JOIN (SELECT DISTINCT ON (id) id, k, to_state, at FROM steps ORDER BY id, k DESC) last ON last.id = p.id
LEFT JOIN steps ic ON ic.id = p.id AND ic.name = 'complete_information'
LEFT JOIN steps pv ON pv.id = p.id AND pv.name = 'publish_preview';
-- Events: created, the transitions, and comments to make ten a request.
INSERT INTO request_events (request_id, version, kind, actor_kind, actor_id, occurred_at, data)
SELECT id, 1, 'created', 'triager', NULL, created, '{}'::jsonb FROM plan
UNION ALL
SELECT id, 1 + k, 'transitioned', 'triager', NULL, at, jsonb_build_object('transition', name, 'from', from_state, 'to', to_state) FROM steps
UNION ALL
SELECT p.id, 1, 'comment', 'triager', NULL, p.created + c * interval '1 hour', jsonb_build_object('text', 'note')
FROM plan p CROSS JOIN LATERAL generate_series(1, 9 - CASE WHEN p.withdrawn THEN 1 ELSE p.steps END) c
ORDER BY 6;
ALTER TABLE request_events ENABLE TRIGGER request_intervals_on_transition;
SELECT request_intervals_backfill();
VACUUM ANALYZE;
SQL
loaded=$(date +%s.%N)
counts=$(psql_ -d bench -c "SELECT (SELECT count(*) FROM requests) || ' requests, ' || (SELECT count(*) FROM request_events) || ' events, ' || (SELECT count(*) FROM request_intervals) || ' intervals'")
echo "== stats: $counts (loaded in $(python3 -c "print(round($loaded - $started, 1))") s, $mode build)"

CALLBOARD_METRICS_PORT=0 $cb serve --hostname 127.0.0.1 --port "$http_port" &
server=$!
base=http://127.0.0.1:$http_port
# serve counts the stretches' working days before it opens: allow it a while on a cold start.
for _ in $(seq 1 1200); do curl -fs "$base/health/ready" >/dev/null && break; sleep 0.1; done
# serve counted the working days at start-up; the first call is reported apart all the same.
first=$(curl -fsS -o "$work/stats.json" -w '%{time_total}' -H "Authorization: Bearer $token" "$base/api/v1/stats")
times=()
for _ in $(seq 1 "$rounds"); do
  times+=("$(curl -fsS -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$base/api/v1/stats")")
done
python3 - "$work/stats.json" "$first" "${times[@]}" <<'PY'
import json, statistics, sys
figures = json.load(open(sys.argv[1]))
first = float(sys.argv[2]) * 1000
times = sorted(float(t) * 1000 for t in sys.argv[3:])
live = figures["end_to_end"]["count"]
assert live > 0, "no request went live: the generated history is wrong"
print(f"GET /api/v1/stats: first call {first:.0f} ms (cold), then median {statistics.median(times):.0f} ms, "
      f"max {times[-1]:.0f} ms over {len(times)} calls (target < 500 ms); {live} went live, "
      f"sign-off longer than building: {figures['where_time_goes']['sign_off_longer_than_building']}")
PY
echo "== the stage-durations query's plan (EXPLAIN ANALYZE, the same SQL, the last 12 months)"
psql_ -d bench -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)
SELECT stage, total_working, round(total_seconds / 8640)::int8, count(*)::int8 FROM request_intervals
WHERE stage IS NOT NULL AND NOT superseded AND left_at >= now() - interval '1 year' GROUP BY 1, 2, 3" | sed -n '1,40p'
