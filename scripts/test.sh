#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing, starts a throwaway PostgreSQL
# (.local/test-pg) and a real SMTP server with STARTTLS, TLS and AUTH (e2e/support/smtp_server.py),
# runs the Swift suites (unit + integration), then the black-box API tests (e2e/api, pytest), the
# page tests in headless Chromium (e2e/pages, selenium), the fault and deploy tests, and every
# benchmark's smoke mode (tiny sizes, the debug binary, no build) so a change cannot break one silently.
set -euo pipefail
cd "$(dirname "$0")/.."

# Fixed ports sit below 32768, outside Linux's ephemeral range, so no outgoing connection holds one.
port=${CALLBOARD_TEST_PG_PORT:-25439}
smtp_port=${CALLBOARD_TEST_SMTP_PORT:-25525}
smtps_port=${CALLBOARD_TEST_SMTPS_PORT:-25465}
pgdir=.local/test-pg
smtp_pid=""

stop_all() {
  [ -n "$smtp_pid" ] && kill "$smtp_pid" 2>/dev/null || true
  bash scripts/postgres.sh stop "$pgdir"
}

# Python test tools (aiosmtpd, pytest, schemathesis) live in a project venv.
if [ ! -x .local/venv/bin/python ]; then
  python3 -m venv .local/venv 2>/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .local/venv
  }
fi
.local/venv/bin/pip install -q --disable-pip-version-check -r e2e/support/requirements.txt
# The Performance Platform's own client for e2e/api/test_write_api_client.py: Python-2-era code whose
# sdist does not install on Python 3 (it pins pytz==2013d), so it is downloaded in a venv with
# setuptools<60 and unpacked; e2e/support/pp_client.py puts it on the path with its one shim.
pp_client=.local/pp-client/performanceplatform-client-0.11.5
if [ ! -f "$pp_client/performanceplatform/client/data_set.py" ]; then
  rm -rf .local/pp-client .local/pp-download-venv
  python3 -m venv .local/pp-download-venv
  .local/pp-download-venv/bin/pip install -q --disable-pip-version-check 'setuptools<60' wheel
  .local/pp-download-venv/bin/pip download -q --disable-pip-version-check --no-deps --no-build-isolation \
    performanceplatform-client==0.11.5 -d .local/pp-client 2>/dev/null
  tar -xzf .local/pp-client/performanceplatform-client-0.11.5.tar.gz -C .local/pp-client
fi
export PP_CLIENT_DIR=$PWD/$pp_client
# zlib's headers for the write API's gzip bodies (compress-nio links libz).
[ -f /usr/include/zlib.h ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zlib1g-dev >/dev/null; }
command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
# Headless Chromium and its driver for the page tests (e2e/pages, selenium).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# A fresh cluster every run: no state leaks between runs. fsync off: test data is disposable.
stop_all
rm -rf "$pgdir" .local/test-smtp
PG_FSYNC=off bash scripts/postgres.sh "$pgdir" "$port"
trap stop_all EXIT
export CALLBOARD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"

# The SMTP server, with a throwaway certificate for localhost that the tests trust explicitly.
mkdir -p .local/test-smtp/inbox
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout .local/test-smtp/key.pem -out .local/test-smtp/cert.pem 2>/dev/null
.local/venv/bin/python e2e/support/smtp_server.py --port "$smtp_port" --tls-port "$smtps_port" --dir .local/test-smtp/inbox \
  --cert .local/test-smtp/cert.pem --key .local/test-smtp/key.pem > .local/test-smtp/server.log 2>&1 &
smtp_pid=$!
for _ in $(seq 1 50); do grep -q "smtp ready" .local/test-smtp/server.log 2>/dev/null && break; sleep 0.1; done
grep -q "smtp ready" .local/test-smtp/server.log || { cat .local/test-smtp/server.log; echo "SMTP test server did not start"; exit 1; }
export CALLBOARD_TEST_SMTP_PORT=$smtp_port CALLBOARD_TEST_SMTPS_PORT=$smtps_port
export CALLBOARD_TEST_SMTP_DIR=$PWD/.local/test-smtp/inbox CALLBOARD_TEST_SMTP_CA=$PWD/.local/test-smtp/cert.pem

echo "== swift format lint --strict (.swift-format)"
swift format lint --strict --recursive --parallel Sources Tests Package.swift
echo "== swift build (tests)"
swift build --build-tests
echo "== swift test"
# The rate-limit flood sends 50,000 random link keys and 50,000 random addresses (about a minute).
CALLBOARD_RATE_LIMIT_FLOOD=50000 swift test --skip-build
echo "== API tests (pytest: response schemas, schemathesis)"
CALLBOARD_BIN=.build/debug/callboard .local/venv/bin/python -m pytest -q e2e/api
echo "== page tests (pytest + selenium, headless Chromium; screenshots in .local/screenshots)"
CALLBOARD_BIN=.build/debug/callboard .local/venv/bin/python -m pytest -q e2e/pages
echo "== fault tests (pytest: PostgreSQL restart and outage under load, own cluster)"
CALLBOARD_BIN=.build/debug/callboard .local/venv/bin/python -m pytest -q e2e/faults
echo "== deploy files (pytest: compose, Dockerfile, env example, systemd unit, callboard health; no container engine)"
CALLBOARD_BIN=.build/debug/callboard .local/venv/bin/python -m pytest -q e2e/deploy
echo "== benchmark smoke (bench/multipart_bench.sh --smoke: 1 MB adversarial bodies against the debug build)"
BENCH_SKIP_BUILD=1 bash bench/multipart_bench.sh --smoke
echo "== benchmark smoke (bench/ingest_bench.sh --smoke: the write API's ingest and its baseline, debug build)"
BENCH_SKIP_BUILD=1 bash bench/ingest_bench.sh --smoke
echo "== benchmark smoke (bench/stats_bench.sh --smoke: the team figures over 2,000 generated requests, debug build)"
BENCH_SKIP_BUILD=1 bash bench/stats_bench.sh --smoke
echo "== benchmark smoke (scripts/bench.sh --smoke: transitions, lists and creates over 2,000 seeded requests at 1 and 4 clients, debug build)"
BENCH_SKIP_BUILD=1 bash scripts/bench.sh --smoke
echo "== benchmark smoke (bench/scheduler_bench.sh --smoke: scheduler ticks over 2,000 requests and 6,000 data sets, debug build)"
BENCH_SKIP_BUILD=1 bash bench/scheduler_bench.sh --smoke
echo "== benchmark smoke (bench/email_bench.sh --smoke: 500 emails drained by file and SMTP workers, debug build)"
BENCH_SKIP_BUILD=1 bash bench/email_bench.sh --smoke
echo "== benchmark smoke (bench/export_bench.sh --smoke: the CSV exports of 10,000 requests, debug build)"
BENCH_SKIP_BUILD=1 bash bench/export_bench.sh --smoke
