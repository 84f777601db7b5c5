#!/usr/bin/env bash
# Remakes docs/screenshots/performance.png: the Performance page over the demo data's 12 months
# (`callboard seed`, a back-dated history), in headless Chromium. Needs what scripts/test.sh
# installs (the venv with selenium, Chromium and its driver).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${CALLBOARD_SCREENSHOT_PG_PORT:-25437}
pgdir=.local/performance-pg
rm -rf "$pgdir"
PG_FSYNC=off bash scripts/postgres.sh "$pgdir" "$port"
trap 'kill $server 2>/dev/null || true; bash scripts/postgres.sh stop "$pgdir"' EXIT
swift build --product callboard
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres" CALLBOARD_LOG_LEVEL=error CALLBOARD_TEAM_EMAIL=team@example.gov.uk
cb=.build/debug/callboard
$cb migrate >/dev/null
$cb admin create-staff --email admin@example.gov.uk --role admin >/dev/null
$cb seed >/dev/null
CALLBOARD_METRICS_PORT=0 $cb serve --hostname 127.0.0.1 --port 18087 &
server=$!
for _ in $(seq 1 300); do curl -fs http://127.0.0.1:18087/health/ready >/dev/null && break; sleep 0.1; done
# A session for the admin, as the sign-in link would make (only its SHA-256 is stored).
session=$(python3 -c "import secrets; print(secrets.token_urlsafe(32))")
psql -h 127.0.0.1 -p "$port" -U postgres -qc "INSERT INTO staff_sessions (token_hash, staff_id, csrf, created_at, expires_at)
  SELECT sha256(convert_to('$session', 'UTF8')), id, 'csrf', now(), now() + interval '1 hour' FROM staff WHERE email = 'admin@example.gov.uk'"
mkdir -p docs/screenshots
.local/venv/bin/python - "$session" <<'PY'
import sys
from selenium import webdriver
options = webdriver.ChromeOptions()
for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1400"):
    options.add_argument(arg)
browser = webdriver.Chrome(options=options)
browser.get("http://127.0.0.1:18087/staff/sign-in")
browser.add_cookie({"name": "cb_session", "value": sys.argv[1], "path": "/"})
browser.get("http://127.0.0.1:18087/staff/performance")
height = browser.execute_script("return document.body.scrollHeight")
browser.set_window_size(1000, min(height + 100, 6000))
browser.save_screenshot("docs/screenshots/performance.png")
print(browser.find_element("id", "answer").text)
browser.quit()
PY
