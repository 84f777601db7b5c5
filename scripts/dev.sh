#!/usr/bin/env bash
# Runs Callboard locally: its own PostgreSQL in .local/dev-pg, migrated, with a local admin
# (token printed once, on first run), optional example requests (--seed), serving 127.0.0.1:8080
# with the email worker in the same process, writing every email as a .eml file to .local/emails.
set -euo pipefail
cd "$(dirname "$0")/.."

seed=false
for arg in "$@"; do
  case "$arg" in
    --seed) seed=true ;;
    *) echo "usage: scripts/dev.sh [--seed]" >&2; exit 2 ;;
  esac
done

port=${CALLBOARD_DEV_PG_PORT:-25429}
bash scripts/postgres.sh .local/dev-pg "$port"
psql_() { psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'callboard'")" != "1" ]; then
  psql_ -d postgres -c "CREATE DATABASE callboard"
fi
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/callboard"
export CALLBOARD_LOG_FORMAT=${CALLBOARD_LOG_FORMAT:-text}
export CALLBOARD_EMAIL_TRANSPORT=${CALLBOARD_EMAIL_TRANSPORT:-file}
export CALLBOARD_EMAIL_DIR=${CALLBOARD_EMAIL_DIR:-$PWD/.local/emails}
# The key that seals webhook signing secrets: made once, kept with the local database.
if [ ! -f .local/secret.key ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 > .local/secret.key)
fi
export CALLBOARD_SECRET_KEY_FILE=${CALLBOARD_SECRET_KEY_FILE:-$PWD/.local/secret.key}
export CALLBOARD_WEBHOOKS_ALLOW_HTTP=${CALLBOARD_WEBHOOKS_ALLOW_HTTP:-true}

# zlib's headers for the write API's gzip bodies (compress-nio links libz).
if [ ! -f /usr/include/zlib.h ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq zlib1g-dev >/dev/null
fi
echo "Building callboard (the first build takes a few minutes)…"
swift build --product callboard
cb=.build/debug/callboard
$cb migrate

admin=${CALLBOARD_DEV_ADMIN:-admin@localhost.localdomain}
if [ -z "$(psql_ -d callboard -c "SELECT 1 FROM staff WHERE lower(email) = lower('$admin')")" ]; then
  $cb admin create-staff --email "$admin" --role admin --name "Local admin"
  token=$($cb admin create-token --email "$admin" --name local-dev)
  echo
  echo "Your admin API token (shown once; make another with: $cb admin create-token --email $admin):"
  echo "  $token"
  echo "Try: curl -H \"Authorization: Bearer $token\" http://127.0.0.1:8080/api/v1/requests"
  echo
fi
if $seed && [ "$(psql_ -d callboard -c "SELECT count(*) FROM requests")" = "0" ]; then
  echo "Seeding example requests:"
  $cb seed
fi

echo "Serving on http://127.0.0.1:8080; emails go to $CALLBOARD_EMAIL_DIR (Ctrl-C stops; PostgreSQL keeps running in .local/dev-pg)"
exec $cb serve --hostname 127.0.0.1 --port 8080 --with-worker
