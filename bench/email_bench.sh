#!/usr/bin/env bash
# Email delivery benchmark (issue: email outbox). Drains 20,000 queued emails through the file
# transport (to this disk, and to memory: tmpfs) and through a local SMTP sink with 1 and 4
# `callboard worker` processes, beside a pgbench one-insert-per-transaction baseline on the same
# database in the same run and the disk's and the sink's own ceilings, then measures
# enqueue-to-sent latency on an idle queue (LISTEN/NOTIFY wake-up). Prints rates and ratios, and
# checks the idle worker stops within 3 s of SIGTERM (it fails when it does not).
#
# Usage: bench/email_bench.sh            release build, 20,000 emails
#        bench/email_bench.sh --smoke    the debug binary, 500 emails, 2 s of pgbench: checks it runs
# Environment: BENCH_SKIP_BUILD=1, BENCH_EMAILS, BENCH_PG_PORT, BENCH_SINK_PORT, BENCH_PROFILE=DIR (perf
#              samples of the single file-transport worker: DIR/drain-file-1.data and .txt, its top frames).
set -euo pipefail
cd "$(dirname "$0")/.."
pg_port=${BENCH_PG_PORT:-25459}
# Below 32768, outside Linux's ephemeral range (a client socket once held 52600 in CI).
sink_port=${BENCH_SINK_PORT:-25600}
if [ "${1:-}" = --smoke ]; then
  mode=debug n=${BENCH_EMAILS:-500} pg_seconds=2 idle=20 drain_limit=120
  [ -n "${BENCH_SKIP_BUILD:-}" ] || swift build --product callboard
else
  mode=release n=${BENCH_EMAILS:-20000} pg_seconds=8 idle=200 drain_limit=600
  [ -n "${BENCH_SKIP_BUILD:-}" ] || bash scripts/build-release.sh
fi
cb=$PWD/.build/$mode/callboard

rm -rf .local/bench-email-pg .local/bench-mail
mkdir -p .local/bench-mail/files .local/bench-mail/smtp
bash scripts/postgres.sh .local/bench-email-pg "$pg_port"
pids=()
# The same transport writing to memory (tmpfs): the queue's own cost, without the disk's.
memory_dir=$(mktemp -d /dev/shm/callboard-bench-mail.XXXXXX)
cleanup() {
  rm -rf "$memory_dir"
  # Stopped and reaped before PostgreSQL stops, so nothing of theirs outlives the run (or prints into the next command's output).
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash scripts/postgres.sh stop .local/bench-email-pg
}
trap cleanup EXIT
psql_() { PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bench" CALLBOARD_LOG_LEVEL=error
$cb migrate >/dev/null

# The SMTP sink (plain, no auth, counts only) from the test server.
[ -x .local/venv/bin/python ] || { python3 -m venv .local/venv; .local/venv/bin/pip install -q aiosmtpd; }
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout .local/bench-mail/key.pem -out .local/bench-mail/cert.pem 2>/dev/null
.local/venv/bin/python e2e/support/smtp_server.py --port $((sink_port + 1)) --tls-port $((sink_port + 2)) --sink-port "$sink_port" \
  --dir .local/bench-mail/smtp --cert .local/bench-mail/cert.pem --key .local/bench-mail/key.pem >.local/bench-mail/sink.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q "smtp ready" .local/bench-mail/sink.log && break; sleep 0.1; done
grep -q "smtp ready" .local/bench-mail/sink.log || { cat .local/bench-mail/sink.log >&2; echo "FAILED: the SMTP sink did not start" >&2; exit 1; }

cat > .local/bench-mail/insert.sql <<'SQL'
INSERT INTO emails (id, kind, recipient, subject, body_text, body_html, run_at, message_id, created_at, updated_at)
VALUES (gen_random_uuid(), 'live', 'bench@example.gov.uk', 'Benchmark', 'Hello', '<p>Hello</p>', now(), gen_random_uuid()::text, now(), now());
SQL
pg_tps=$(pgbench -n -f .local/bench-mail/insert.sql -c 16 -j 2 -T "$pg_seconds" -h 127.0.0.1 -p "$pg_port" -U postgres bench 2>/dev/null | awk '/^tps =/ {print int($3)}')

# The file transport's own ceiling on this disk: files of a bench message's size written as the
# transport writes them (open, write, fsync, close, rename) into one folder, 32 at a time (one
# worker's two loops of 16 sends), for the same number of files as the drain.
fsync_ceiling=$(python3 - ".local/bench-mail/ceiling" "$n" <<'PY'
import os, sys, threading, time
d, n, threads = sys.argv[1], int(sys.argv[2]), 32
os.makedirs(d, exist_ok=True)
body = b"x" * 2600
def write(k):
    for i in range(k, n, threads):
        tmp = f"{d}/{i}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, body); os.fsync(fd); os.close(fd)
        os.rename(tmp, f"{d}/{i}.eml")
start = time.monotonic()
ts = [threading.Thread(target=write, args=(k,)) for k in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(int(n / (time.monotonic() - start)))
PY
)
# Its files stay until the next run: deleting 20,000 files just before a drain slows ext4's inode
# allocation for the drain (a profile showed the kernel skipping recently deleted inodes).
# The SMTP sink's own ceiling: messages of the same size sent by 4 processes, one connection each
# (smtplib, no TLS), for the same number of messages as the drain; the sink counts them.
sink_ceiling=$(python3 - "$sink_port" "$n" <<'PY'
import multiprocessing, smtplib, sys, time
port, n, clients = int(sys.argv[1]), int(sys.argv[2]), 4
message = ("Subject: ceiling\r\n\r\n" + "x" * 76 + "\r\n") * 34
def send(k):
    with smtplib.SMTP("127.0.0.1", port) as s:
        for i in range(k, n, clients): s.sendmail("bench@example.gov.uk", [f"c{i}@example.gov.uk"], message)
start = time.monotonic()
with multiprocessing.Pool(clients) as p: p.map(send, range(clients))
print(int(n / (time.monotonic() - start)))
PY
)

enqueue() {
  psql_ -d bench -c "TRUNCATE emails, email_attempts CASCADE"
  psql_ -d bench -c "INSERT INTO emails (id, kind, recipient, subject, body_text, body_html, run_at, message_id, created_at, updated_at)
    SELECT gen_random_uuid(), 'live', 'bench' || g || '@example.gov.uk', 'Benchmark ' || g, repeat('Hello. ', 100), '<p>' || repeat('Hello. ', 100) || '</p>',
           now(), '<' || gen_random_uuid() || '@bench>', now(), now() FROM generate_series(1, $n) g"
  psql_ -d bench -c "VACUUM ANALYZE emails"
}

# CPU seconds of the processes given, and of the whole cluster (its live processes plus what its
# exited ones used: the postmaster's cutime and cstime), from /proc, in clock ticks.
ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{t += $1} END {print t + 0}'; }
cluster_ticks() {
  local pm; pm=$(head -1 .local/bench-email-pg/data/postmaster.pid)
  echo $(( $(ticks $(pgrep -P "$pm")) + $(awk '{print $16 + $17}' "/proc/$pm/stat") ))
}
hz=$(getconf CLK_TCK)

# Drains the queue with $2 worker processes ($1 names their logs, the rest is their environment);
# prints emails per second. Each worker logs to .local/bench-mail/worker-*.log; if every worker
# exits, or the queue is not drained within $drain_limit seconds, it prints the counts by status,
# the last errors and the workers' logs, and the script fails.
drain() {
  local name=$1 workers=$2; shift 2
  enqueue
  local start end wp=() logs=() deadline failure=""
  local pg0; pg0=$(cluster_ticks)
  start=$(date +%s.%N)
  deadline=$(($(date +%s) + drain_limit))
  for w in $(seq 1 "$workers"); do
    local log=.local/bench-mail/worker-$name-$workers-$w.log
    logs+=("$log")
    env "$@" CALLBOARD_LOG_LEVEL=warning CALLBOARD_WORKER_BATCH=200 CALLBOARD_WORKER_CONCURRENCY=16 $cb worker </dev/null >"$log" 2>&1 & wp+=($!)
  done
  local perf=""
  if [ -n "${BENCH_PROFILE:-}" ] && [ "$name-$workers" = file-1 ]; then
    mkdir -p "$BENCH_PROFILE"
    perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -q -p "${wp[0]}" -o "$BENCH_PROFILE/drain-file-1.data" >/dev/null 2>&1 & perf=$!
  fi
  while [ "$(psql_ -d bench -c "SELECT count(*) FROM emails WHERE status <> 'sent'")" != "0" ]; do
    local alive=0
    for p in "${wp[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || { failure="every worker exited"; break; }
    [ "$(date +%s)" -lt "$deadline" ] || { failure="not drained within $drain_limit s"; break; }
    sleep 0.05
  done
  end=$(date +%s.%N)
  local cpu_worker cpu_pg; cpu_worker=$(ticks "${wp[@]}") cpu_pg=$(( $(cluster_ticks) - pg0 ))
  if [ -n "$perf" ]; then
    kill -INT "$perf"; wait "$perf" || true
    perf report -i "$BENCH_PROFILE/drain-file-1.data" --stdio --no-children --sort dso,symbol --percent-limit 0.7 -g none \
      >"$BENCH_PROFILE/drain-file-1.txt" 2>/dev/null
  fi
  kill "${wp[@]}" 2>/dev/null; wait "${wp[@]}" 2>/dev/null || true
  local sent; sent=$(psql_ -d bench -c "SELECT count(*) FROM emails WHERE status = 'sent'")
  if [ "$sent" != "$n" ]; then
    {
      echo "FAILED: only $sent of $n sent by $workers worker(s) ($*): ${failure:-the queue emptied but not as sent}"
      echo "emails by status:"; psql_ -d bench -c "SELECT status, count(*), max(attempts) FROM emails GROUP BY 1 ORDER BY 1"
      echo "last errors:"; psql_ -d bench -c "SELECT DISTINCT coalesce(last_error, '-') FROM emails LIMIT 5"
      for log in "${logs[@]}"; do echo "--- $log (last 40 lines)"; tail -n 40 "$log"; done
    } >&2
    exit 1
  fi
  # Emails a second, then the CPU an email of the workers and of PostgreSQL, in microseconds.
  echo "$n $start $end $cpu_worker $cpu_pg $hz" | awk '{printf "%.0f %.0f %.0f", $1 / ($3 - $2), $4 / $6 / $1 * 1e6, $5 / $6 / $1 * 1e6}'
}

file_env=(CALLBOARD_EMAIL_TRANSPORT=file CALLBOARD_EMAIL_DIR=$PWD/.local/bench-mail/files)
smtp_env=(CALLBOARD_EMAIL_TRANSPORT=smtp CALLBOARD_SMTP_HOST=127.0.0.1 CALLBOARD_SMTP_PORT=$sink_port CALLBOARD_SMTP_SECURITY=none)
file1=$(drain file 1 "${file_env[@]}")
file4=$(drain file 4 "${file_env[@]}")
memory_env=(CALLBOARD_EMAIL_TRANSPORT=file CALLBOARD_EMAIL_DIR=$memory_dir)
memory1=$(drain memory 1 "${memory_env[@]}")
memory4=$(drain memory 4 "${memory_env[@]}")
smtp1=$(drain smtp 1 "${smtp_env[@]}")
smtp4=$(drain smtp 4 "${smtp_env[@]}")

# Idle latency: one worker waiting on LISTEN; $idle emails queued one at a time, 50 ms apart.
psql_ -d bench -c "TRUNCATE emails, email_attempts CASCADE"
env "${file_env[@]}" CALLBOARD_WORKER_POLL_SECONDS=30 $cb worker </dev/null >.local/bench-mail/worker-idle.log 2>&1 & idle_worker=$!
pids+=("$idle_worker")
sleep 1
for i in $(seq 1 "$idle"); do
  echo "BEGIN; INSERT INTO emails (id, kind, recipient, subject, body_text, body_html, run_at, message_id, created_at, updated_at)
        VALUES (gen_random_uuid(), 'live', 'idle$i@example.gov.uk', 's', 't', 'h', clock_timestamp(), gen_random_uuid()::text, clock_timestamp(), clock_timestamp());
        SELECT pg_notify('callboard_email', ''); COMMIT; SELECT pg_sleep(0.05);"
done | psql_ -d bench >/dev/null
for _ in $(seq 1 100); do [ "$(psql_ -d bench -c "SELECT count(*) FROM emails WHERE status <> 'sent'")" = "0" ] && break; sleep 0.05; done
sent=$(psql_ -d bench -c "SELECT count(*) FROM emails WHERE status = 'sent'")
[ "$sent" = "$idle" ] || { echo "FAILED: idle queue: only $sent of $idle sent" >&2; tail -n 40 .local/bench-mail/worker-idle.log >&2; exit 1; }
latency=$(psql_ -d bench -c "SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) * 1000)::numeric, 1) || ' ' ||
                                    round((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)) * 1000)::numeric, 1)
                             FROM emails WHERE status = 'sent'")

# Stop the idle worker as a deployment would (SIGTERM), allowing it 3 s. Its wait for work is
# cancelled at once; an earlier worker slept out its poll interval (30 s here) and was ended by
# ServiceLifecycle's fatal error ("Cancellation took longer than allowed") 9 s later.
kill -TERM "$idle_worker"
for _ in $(seq 1 30); do kill -0 "$idle_worker" 2>/dev/null || break; sleep 0.1; done
idle_stop="stopped within 3 s of SIGTERM"
if kill -0 "$idle_worker" 2>/dev/null; then
  echo "FAILED: the idle-latency callboard worker (pid $idle_worker) is still running 3 s after SIGTERM" >&2
  kill -KILL "$idle_worker"
  exit 1
fi
wait "$idle_worker" || { echo "FAILED: the idle worker's exit status after SIGTERM was $?" >&2; exit 1; }

echo
echo "pgbench, one INSERT into emails per transaction, 16 clients: $pg_tps tx/s"
echo "the disk's ceiling for the file transport (write, fsync, rename; 32 at a time): $fsync_ceiling files/s"
echo "the SMTP sink's own ceiling (4 smtplib clients, one connection each): $sink_ceiling messages/s"
printf "%-22s %10s %10s %18s %18s\n" "drain $n emails" "emails/s" "vs pgbench" "worker CPU/email" "PostgreSQL CPU/email"
for row in "file, 1 worker:$file1" "file, 4 workers:$file4" "tmpfs, 1 worker:$memory1" "tmpfs, 4 workers:$memory4" "smtp sink, 1 worker:$smtp1" "smtp sink, 4 workers:$smtp4"; do
  name=${row%%:*}; read -r rate cpu_w cpu_p <<<"${row##*:}"
  printf "%-22s %10s %10s %15s µs %15s µs\n" "$name" "$rate" "$(echo "$rate $pg_tps" | awk '{printf "%.2f", $1 / $2}')" "$cpu_w" "$cpu_p"
done
echo "enqueue-to-sent on an idle queue (file transport, LISTEN wake-up): p50 ${latency% *} ms, p99 ${latency#* } ms"
echo "the idle worker: $idle_stop"
