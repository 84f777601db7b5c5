#!/usr/bin/env bash
# Upload-page benchmark (issue "Safe to go live", item 5: quadratic multipart parsing). Serves the
# release binary on a throwaway database and POSTs 1 MB adversarial multipart bodies with curl, to
# /upload/<random token> (404, answered before the body is read) and to a real upload link (the body
# is read and parsed: 422, no file in it), then one real CSV upload (200). Prints each case's status
# and its per-request times; the target is < 50 ms a request in release.
#
# Usage: bench/multipart_bench.sh            release build (scripts/build-release.sh)
#        bench/multipart_bench.sh --smoke    the debug binary, one round: checks the statuses, times are not the target's
# Environment: BENCH_SKIP_BUILD=1 (use the binary as built), BENCH_ROUNDS (default 10), BENCH_PG_PORT, BENCH_HTTP_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${BENCH_PG_PORT:-25453}
http_port=${BENCH_HTTP_PORT:-18083}
target_ms=50
if [ "${1:-}" = --smoke ]; then
  mode=debug
  rounds=${BENCH_ROUNDS:-1}
  [ -n "${BENCH_SKIP_BUILD:-}" ] || swift build --product callboard
else
  mode=release
  rounds=${BENCH_ROUNDS:-10}
  [ -n "${BENCH_SKIP_BUILD:-}" ] || bash scripts/build-release.sh
fi
cb=$PWD/.build/$mode/callboard
work=.local/bench-multipart
pg=$work/pg

rm -rf "$work"
mkdir -p "$work"
bash scripts/postgres.sh "$pg" "$pg_port"
stop() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  bash scripts/postgres.sh stop "$pg"
}
trap stop EXIT
psql_() { psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bench" CALLBOARD_LOG_LEVEL=error CALLBOARD_TEAM_EMAIL=team@example.gov.uk
$cb migrate >/dev/null
$cb admin create-staff --email bench@callboard.local --role admin >/dev/null
admin=$($cb admin create-token --email bench@callboard.local)

# No metrics listener: it would need port 9090 free, and the benchmark does not read it.
CALLBOARD_METRICS_PORT=0 $cb serve --hostname 127.0.0.1 --port "$http_port" &
server=$!
base=http://127.0.0.1:$http_port
for _ in $(seq 1 100); do curl -fs "$base/health/ready" >/dev/null && break; sleep 0.1; done

# A request with a data set: creating it queues Sam's upload invitation, whose link is stored
# without a token (the worker mints one when it sends the email). Mint one here, as the worker would.
api() { curl -fsS -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"; }
request=$(api "$base/api/v1/requests" -d @- <<'JSON' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
{"kind": "transactional", "department": "DVLA", "items": {
  "contact": {"status": "provided", "value": {"name": "Ada Lovelace", "email": "ada@dvla.gov.uk", "phone": "020 7946 0000"}},
  "service": {"status": "provided", "value": {"name": "Renew your driving licence", "description": "Drivers renew their licence online",
              "start_page_url": "https://www.gov.uk/renew-driving-licence"}}}}
JSON
)
period_start=$(api "$base/api/v1/requests/$request/data-sets" -d @- <<'JSON' | python3 -c 'import json,sys; print(json.load(sys.stdin)["current_period"]["start"])'
{"name": "Channel volumes", "cadence": "monthly", "due_working_days_after_period": 5,
 "uploaders": [{"name": "Sam Patel", "email": "sam@dvla.gov.uk"}]}
JSON
)
token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
csrf=$(psql_ -d bench -v token="$token" <<'SQL'
INSERT INTO link_tokens (token_hash, link_id, created_at)
SELECT sha256(convert_to(:'token', 'UTF8')), id, now() FROM links WHERE purpose = 'upload' AND email = 'sam@dvla.gov.uk';
SELECT csrf FROM links WHERE purpose = 'upload' AND email = 'sam@dvla.gov.uk';
SQL
)

# The bodies: 1 MB each, built to make a naive delimiter search rescan (boundary in the file name).
python3 - "$work" "$csrf" "$period_start" <<'PY'
import sys
work, csrf, start = sys.argv[1:]
size = 1 << 20
long = "a" * 70
def fill(unit, prefix=""):
    b = (prefix + unit * (size // len(unit) + 1))[:size]
    return b.encode()
bodies = {
    "dashes": ("a", fill("--a")),                                            # "--a" repeated
    "crlf-dashes": ("a", fill("\r\n--a")),                                   # "\r\n--a" repeated
    "one-byte": (long, fill("a")),                                           # one byte, a 70-char boundary of it
    "near-misses": (long, fill("\r\n--" + long[:-1] + "b")),                 # delimiter but its last byte
    "open-part": ("a", fill("\r\n--", "--a\r\nContent-Disposition: form-data; name=file\r\n\r\n")),
}
for name, (boundary, body) in bodies.items():
    assert len(body) == size
    open(f"{work}/{name}.body", "wb").write(body)
    open(f"{work}/{name}.boundary", "w").write(boundary)
b = "----cbBenchBoundary7MA4YWxkTrZu0gW"
ok = (f"--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
      f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\nContent-Type: text/csv\r\n\r\n"
      f"_timestamp\n{start}\n\r\n--{b}--\r\n")
open(f"{work}/upload.body", "w", newline="").write(ok)
open(f"{work}/upload.boundary", "w").write(b)
PY

# One case: `rounds` POSTs of a body to a path; prints the status and the times. ("Expect:" stops curl
# waiting a second for a 100 Continue before sending a large body.)
failed=0
slow=0
run() {
  local label=$1 path=$2 body=$3 want=$4 statuses=() times=()
  for _ in $(seq 1 "$rounds"); do
    read -r code secs < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H 'Expect:' \
      -H "Content-Type: multipart/form-data; boundary=$(cat "$work/$body.boundary")" --data-binary "@$work/$body.body" "$base$path")
    statuses+=("$code")
    times+=("$secs")
  done
  python3 - "$label" "$want" "$target_ms" "$mode" "${statuses[*]}" "${times[*]}" <<'PY' || return 1
import statistics, sys
label, want, target, mode, statuses, times = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5].split(), sys.argv[6].split()
ms = sorted(float(t) * 1000 for t in times)
bad = [s for s in statuses if s != want]
note = "" if not bad else f"  WRONG STATUS {' '.join(sorted(set(bad)))} (want {want})"
over = mode == "release" and ms[-1] >= target
print(f"{label:<36} {statuses[0]}  median {statistics.median(ms):8.1f} ms  max {ms[-1]:8.1f} ms  "
      f"({' '.join(f'{m:.1f}' for m in ms)}){note}{'  OVER TARGET' if over else ''}")
sys.exit(2 if bad else (3 if over else 0))
PY
}
check() {
  local rc=0
  run "$@" || rc=$?
  case $rc in 0) ;; 3) slow=1 ;; *) failed=1 ;; esac
}

unknown=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
echo "POST 1 MB bodies, $rounds rounds each, $mode build (target < $target_ms ms a request in release)"
for body in dashes crlf-dashes one-byte near-misses open-part; do
  check "unknown link, $body" "/upload/$unknown" "$body" 404
  check "real link, $body" "/upload/$token" "$body" 422
done
check "real link, a CSV upload" "/upload/$token" upload 200

[ "$failed" = 0 ] || { echo "Some answers were not the expected status" >&2; exit 1; }
[ "$slow" = 0 ] || { echo "Some requests took $target_ms ms or more" >&2; exit 1; }
