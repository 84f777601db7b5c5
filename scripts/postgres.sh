#!/usr/bin/env bash
# Starts a private PostgreSQL 15 cluster in a project folder (created on first use).
# Ports: callers use 25400-25499, below Linux's ephemeral range (32768-60999), so a client
# socket of an earlier test can never hold a cluster's port.
# Usage: scripts/postgres.sh DIR PORT   — prints nothing on success; the server listens on
# 127.0.0.1:PORT and on the socket DIR/socket/.s.PGSQL.PORT, user postgres, trust auth (local only).
#        scripts/postgres.sh stop DIR   — stops it (fast), if it runs.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin

# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "$1" = stop ]; then
  [ -f "$2/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$2/data" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi
dir=$1
port=$2

if [ ! -x "$bin/initdb" ]; then
  echo "Installing PostgreSQL 15 (apt-get)…" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 postgresql-client-15 >&2
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
  as_pg mkdir -p "$dir/data" "$dir/socket"
  as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
as_pg mkdir -p "$dir/socket"
if ! as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  # A failed start says why (the server's own log), so a CI log is enough to act on.
  if ! as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
    -o "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${PG_FSYNC:-on}" >/dev/null; then
    echo "PostgreSQL did not start on port $port; the end of $dir/server.log:" >&2
    tail -n 20 "$dir/server.log" >&2 || true
    (ss -ltnp 2>/dev/null || true) | grep ":$port " >&2 || true
    exit 1
  fi
fi
