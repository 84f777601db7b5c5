#!/usr/bin/env bash
# Write-API ingest benchmark (issue "Performance Platform write API"): 100,000 records in gzipped
# batches of 1,000, as the official client sends them, at 1 and 4 clients, against PostgreSQL's own
# multi-row INSERT of the same rows into a table of the same shape, on the same database in the same
# run (psql, 1 and 4 sessions). Reports records/s and the ratio (target >= 0.5), and the server's
# peak RSS during the load and during one 10 MB body (target < 100 MB).
#
# Usage: bench/ingest_bench.sh            release build (scripts/build-release.sh)
#        bench/ingest_bench.sh --smoke    the debug binary, 2,000 records and a 1 MB body: checks it runs
# Environment: BENCH_SKIP_BUILD=1, BENCH_RECORDS (default 100000), BENCH_PG_PORT, BENCH_HTTP_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${BENCH_PG_PORT:-25454}
http_port=${BENCH_HTTP_PORT:-18084}
if [ "${1:-}" = --smoke ]; then
  mode=debug records=${BENCH_RECORDS:-2000} big=1048576
  [ -n "${BENCH_SKIP_BUILD:-}" ] || swift build --product callboard
else
  mode=release records=${BENCH_RECORDS:-100000} big=10000000
  [ -n "${BENCH_SKIP_BUILD:-}" ] || bash scripts/build-release.sh
fi
batch=1000
cb=$PWD/.build/$mode/callboard
work=.local/bench-ingest
pg=$work/pg
python=$(command -v python3)

rm -rf "$work"
mkdir -p "$work"
PG_FSYNC=${PG_FSYNC:-on} bash scripts/postgres.sh "$pg" "$pg_port"
stop() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  bash scripts/postgres.sh stop "$pg"
}
trap stop EXIT
psql_() { PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bench" CALLBOARD_LOG_LEVEL=error CALLBOARD_TEAM_EMAIL=team@example.gov.uk
$cb migrate >/dev/null
$cb admin create-staff --email bench@callboard.local --role admin >/dev/null
admin=$($cb admin create-token --email bench@callboard.local)
CALLBOARD_METRICS_PORT=0 $cb serve --hostname 127.0.0.1 --port "$http_port" &
server=$!
base=http://127.0.0.1:$http_port
for _ in $(seq 1 100); do curl -fs "$base/health/ready" >/dev/null && break; sleep 0.1; done

api() { curl -fsS -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"; }
json() { $python -c "import json,sys; print(json.load(sys.stdin)$1)"; }
request=$(api "$base/api/v1/requests" -d '{"kind": "transactional", "department": "DWP"}' | json '["id"]')
token_for() {
  local type=$1
  local ds
  ds=$(api "$base/api/v1/requests/$request/data-sets" -d "{\"name\": \"$type\", \"cadence\": \"monthly\", \"data_group\": \"bench\",
    \"data_type\": \"$type\", \"fields\": [\"count\", {\"name\": \"channel\", \"type\": \"string\"}],
    \"uploaders\": [{\"name\": \"Sam\", \"email\": \"sam@dwp.gov.uk\"}]}" | json '["id"]')
  api -X POST "$base/api/v1/data-sets/$ds/write-tokens" | json '["token"]'
}

# Baseline: the same rows as multi-row INSERTs of 1,000 into a table shaped like data_set_records.
$python - "$work" "$records" "$batch" <<'PY'
import json, sys
work, records, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
files = [open(f"{work}/insert-{k}.sql", "w") for k in range(4)]
for n, start in enumerate(range(0, records, batch)):
    rows = []
    for i in range(start, min(records, start + batch)):
        data = json.dumps({"count": i % 997, "channel": ("online", "phone", "paper")[i % 3]}).replace("'", "''")
        rows.append(f"(:'ds', 'r{i}', '2026-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00+00:00', '{data}', now())")
    sql = ("INSERT INTO bench_rows VALUES " + ", ".join(rows)
           + " ON CONFLICT (data_set_id, record_id) DO UPDATE SET at = excluded.at, data = excluded.data, written_at = excluded.written_at;\n")
    files[n % 4].write(sql)
    with open(f"{work}/insert-all.sql", "a") as f:
        f.write(sql)
PY
baseline() {  # sessions
  psql_ -d bench -c "DROP TABLE IF EXISTS bench_rows" -c "CREATE TABLE bench_rows (LIKE data_set_records INCLUDING ALL)"
  local started ended
  started=$(date +%s.%N)
  if [ "$1" = 1 ]; then
    psql_ -d bench -v ds="$(cat /proc/sys/kernel/random/uuid)" -f "$work/insert-all.sql" >/dev/null
  else
    local ds
    ds=$(cat /proc/sys/kernel/random/uuid)
    for k in 0 1 2 3; do psql_ -d bench -v ds="$ds" -f "$work/insert-$k.sql" >/dev/null & done
    wait
  fi
  ended=$(date +%s.%N)
  $python -c "print(round($records / ($ended - $started)))"
}

echo "== ingest: $records records in gzipped batches of $batch ($mode build)"
rows=()
for clients in 1 4; do
  token=$(token_for "c$clients")
  out=$($python bench/ingest_client.py 127.0.0.1 "$http_port" "$token" "/data/bench/c$clients" "$records" "$batch" "$clients" "$server" \
    $([ "$clients" = 4 ] && echo "$big"))
  base_rps=$(baseline "$clients")
  stored=$(psql_ -d bench -c "SELECT count(*) FROM data_set_records d JOIN data_sets s ON s.id = d.data_set_id WHERE s.data_type = 'c$clients' AND d.record_id LIKE 'r%'")
  [ "$stored" = "$records" ] || { echo "expected $records records stored for c$clients, found $stored"; exit 1; }
  rows+=("$($python -c "
import json; r = json.loads('''$out'''); b = $base_rps
print(f\"| {r['clients']} | {r['records_per_s']:,} | {b:,} | {r['records_per_s'] / b:.2f} | {r['rss_peak_mb']} |\" + (f\" {r['rss_big_body_mb']} MB for a {r['big_body_bytes'] / 1e6:.1f} MB body |\" if r['big_body_bytes'] else ' |'))
")")
done
echo "| clients | API records/s | psql INSERT records/s | ratio | server RSS peak (MB) | one big body |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
