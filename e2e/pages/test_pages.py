"""The pages in a real headless Chromium (Debian's chromium + chromedriver).

The whole journey: a request created over the API, the service contact completes the items through
the link in the email actually sent (the file transport's .eml), the team requests sign-off, the
owner approves through their emailed link with the keyboard only, and the team takes the dashboard
live. Also: every input labelled, validation errors in the error summary, CSRF
refused, a reused link shows the decision, an expired link offers a new one (rate limited), and the
security headers. Screenshots of each page go to $SCREENSHOT_DIR (default .local/screenshots).
axe-core checks every page the browser shows (axe_check.py), error pages included.
"""
from __future__ import annotations

import datetime
import email
import email.policy
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import WebDriverWait as _WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from conftest import ADMIN_EMAIL, API, database_url_for, psql, run_cli, running_callboard  # noqa: E402
from axe_check import assert_accessible  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", REPO / ".local" / "screenshots"))
OWNER = "grace@dvla.gov.uk"


def provided(value):
    return {"status": "provided", "value": value}


ITEMS = {
    "contact": provided({"name": "Ada Lovelace", "email": "ada@dvla.gov.uk", "phone": "020 7946 0000"}),
    "sign_off_contact": provided({"name": "Grace Hopper", "email": OWNER, "phone": "020 7946 0001"}),
    "service": provided({"name": "Renew your driving licence", "description": "Drivers renew their licence online",
                         "start_page_url": "https://www.gov.uk/renew-driving-licence"}),
}


class Server:
    """The running server and the folder its emails are written to."""

    def __init__(self, info, emails: Path):
        self.info, self.emails = info, emails

    def __getattr__(self, name):
        return getattr(self.info, name)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("pages")
    saved = dict(os.environ)
    os.environ.update(CALLBOARD_WITH_WORKER="true", CALLBOARD_EMAIL_TRANSPORT="file", CALLBOARD_EMAIL_DIR=str(work / "emails"),
                      CALLBOARD_WORKER_POLL_SECONDS="0.2")
    try:
        with running_callboard(work) as info:
            yield Server(info, work / "emails")
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")), options=options)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def api(server) -> API:
    return API(server.host, server.port, server.token)


def fire(server, rid: str, name: str, body=None) -> dict:
    current = api(server).get(f"/api/v1/requests/{rid}")
    r = api(server).post(f"/api/v1/requests/{rid}/transitions/{name}", body, headers={"If-Match": current.header("ETag")})
    assert r.status == 200, str(r)
    return r.json()


def new_request(server, name: str) -> str:
    items = json.loads(json.dumps(ITEMS))
    items["service"]["value"]["name"] = name
    r = api(server).post("/api/v1/requests", {"kind": "non_transactional", "department": "DVLA", "items": items})
    assert r.status == 201, str(r)
    return r.json()["id"]


def sign_off_links(server, service_name: str, count: int, timeout: float = 20) -> list[str]:
    """The sign-off link paths in the emails actually sent to the owner about this service, oldest first."""
    return emailed_links(server, OWNER, service_name, "sign-off", count, timeout)


def emailed_links(server, to: str, subject_part: str, page: str, count: int, timeout: float = 20) -> list[str]:
    """The /<page>/<token> paths in the emails actually sent to `to` whose subject has `subject_part`."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for path in sorted(server.emails.glob("*.eml"), key=lambda p: p.stat().st_mtime):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if msg["To"] != to or subject_part not in str(msg["Subject"]):
                continue
            text = msg.get_body(preferencelist=("plain",)).get_content()
            found += re.findall(r"https?://[^/\s]+(/" + page + r"/[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])", text)
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"expected {count} {page} emails to {to} about {subject_part}, found {found}"
            return found
        time.sleep(0.1)  # the worker delivers asynchronously; this waits for a file, not for time to pass


def raw(server, method: str, path: str, form: dict | None = None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    body = urllib.parse.urlencode(form) if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, dict(resp.getheaders()), resp.read().decode()


def WebDriverWait(browser, seconds):  # noqa: N802 - selenium's wait, tolerant of the page changing under it
    # While a form post navigates, elements found a moment ago can vanish in several ways.
    return _WebDriverWait(browser, seconds, ignored_exceptions=(StaleElementReferenceException, WebDriverException))


def wait_for(browser, css: str):
    """The element, once the page that has it has loaded (a form post navigates asynchronously)."""
    return WebDriverWait(browser, 10).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def shot(browser, name: str):
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    assert_accessible(browser, name)


def submit_forged(browser, h1: str):
    """Posts the page's form from the browser with a forged CSRF token; axe checks the refusal page."""
    browser.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.value = 'forged')")
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == h1)
    assert_accessible(browser, h1)


def test_owner_approves_by_keyboard_from_the_emailed_link_and_the_dashboard_goes_live(server, browser):
    rid = new_request(server, "Renew your driving licence")
    fire(server, rid, "request_sign_off")
    [link] = sign_off_links(server, "Renew your driving licence", 1)
    browser.get(server.base_url + link)
    assert browser.title == "Approve the Renew your driving licence dashboard – GOV.UK Performance Platform"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Approve the Renew your driving licence dashboard"
    # Every input a person can use has a label.
    for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), textarea"):
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']"), field.get_attribute("outerHTML")
    shot(browser, "01-sign-off")

    # Sending nothing: the error summary lists the problem and links to the field.
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").send_keys(Keys.ENTER)
    summary = wait_for(browser, ".error-summary")
    assert "Select whether you approve the dashboard" in summary.text
    assert summary.find_element(By.TAG_NAME, "a").get_attribute("href").endswith("#decision")
    assert browser.title.startswith("Error: ")
    shot(browser, "02-sign-off-errors")

    # Keyboard only: tab to the first radio, select it with space, submit with enter.
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(30):
        if browser.switch_to.active_element.get_attribute("id") == "decision":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "decision"
    browser.switch_to.active_element.send_keys(Keys.SPACE)
    while browser.switch_to.active_element.tag_name != "button":
        browser.switch_to.active_element.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    assert wait_for(browser, ".panel-title").text == "Dashboard approved"
    shot(browser, "03-approved")

    r = api(server).get(f"/api/v1/requests/{rid}").json()
    assert r["sign_off_decision"] == "approved"
    events = api(server).get(f"/api/v1/requests/{rid}/events", query={"limit": 200}).json()["items"]
    approval = [e for e in events if e["kind"] == "transitioned" and e["data"]["transition"] == "approve_sign_off"]
    assert [(e["actor"]["kind"], e["actor"]["id"]) for e in approval] == [("sign_off_owner", OWNER)]

    # The link used again shows the decision; a GET changes nothing.
    browser.get(server.base_url + link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "This dashboard has already been decided"
    assert f"approved by {OWNER}" in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "04-already-decided")

    fire(server, rid, "mark_built")
    fire(server, rid, "publish_preview", {"preview_url": "https://preview.gov.uk/renew"})
    assert fire(server, rid, "go_live", {"live_url": "https://www.gov.uk/performance/renew"})["state"] == "live"


def test_changes_need_a_reason_and_forms_need_their_csrf_token(server, browser):
    rid = new_request(server, "Tax your vehicle")
    fire(server, rid, "request_sign_off")
    [link] = sign_off_links(server, "Tax your vehicle", 1)
    status, headers, _ = raw(server, "POST", link, {"decision": "approve", "csrf": "forged"})
    assert status == 403
    browser.get(server.base_url + link)
    browser.find_element(By.ID, "decision").click()
    submit_forged(browser, "This form has expired")
    assert api(server).get(f"/api/v1/requests/{rid}").json()["sign_off_decision"] is None

    # The team changes the request after asking: the owner is shown what changed.
    current = api(server).get(f"/api/v1/requests/{rid}")
    assert api(server).patch(f"/api/v1/requests/{rid}", {"department": "DVLA Digital"},
                             headers={"If-Match": current.header("ETag")}).status == 200
    browser.get(server.base_url + link)
    assert "These details have changed since we emailed you: department." in browser.find_element(By.CSS_SELECTOR, ".notification-banner").text
    assert_accessible(browser, "sign-off with changed details")
    browser.find_element(By.ID, "decision-changes").click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert "Enter what needs to change" in wait_for(browser, ".error-summary").text
    assert browser.find_element(By.ID, "decision-changes").is_selected()
    shot(browser, "05-request-changes-error")
    browser.find_element(By.ID, "reason").send_keys("Show the completion rate by channel")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_for(browser, ".panel-title").text == "Changes requested"
    assert_accessible(browser, "changes requested")
    r = api(server).get(f"/api/v1/requests/{rid}").json()
    assert r["sign_off_decision"] == "changes_requested"


def test_an_expired_link_emails_a_new_one_and_refreshing_is_rate_limited(server, browser):
    rid = new_request(server, "Book a theory test")
    fire(server, rid, "request_sign_off")
    [link] = sign_off_links(server, "Book a theory test", 1)
    psql(database_url_for(server.pg_url, server.dbname),
         f"UPDATE links SET expires_at = now() - interval '1 minute' WHERE request_id = '{rid}'")
    browser.get(server.base_url + link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link has expired"
    shot(browser, "06-link-expired")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Check your email")
    shot(browser, "07-new-link-sent")
    first, fresh = sign_off_links(server, "Book a theory test", 2)
    assert first == link and fresh != link
    browser.get(server.base_url + fresh)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Approve the Book a theory test dashboard"
    assert_accessible(browser, "sign-off from a fresh link")

    # The expired link's page carries its CSRF token; two more refreshes are allowed, then 429.
    _, _, page = raw(server, "GET", link)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    statuses = [raw(server, "POST", link + "/refresh", {"csrf": csrf}) for _ in range(3)]
    assert [s for s, _, _ in statuses] == [200, 200, 429]
    assert int(statuses[2][1]["Retry-After"]) > 0
    browser.get(server.base_url + link)
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Too many requests")
    assert_accessible(browser, "too many refreshes (429)")


def test_pages_carry_security_headers_and_unknown_links_are_404(server, browser):
    status, headers, body = raw(server, "GET", "/sign-off/" + "x" * 43)
    assert status == 404 and "Page not found" in body
    browser.get(server.base_url + "/sign-off/" + "x" * 43)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Page not found"
    assert_accessible(browser, "page not found (404)")
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    status, headers, _ = raw(server, "GET", "/assets/callboard.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    # A form posted from another site is refused before anything else (login CSRF included).
    for path in ("/staff/sign-in", "/staff/sign-in/" + "x" * 43, "/sign-off/" + "x" * 43):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("POST", path, body="email=a%40b.gov.uk", headers={"Content-Type": "application/x-www-form-urlencoded",
                                                                       "Origin": "https://evil.example"})
        assert conn.getresponse().status == 403, path


def fill(browser, values: dict[str, str]):
    assert_accessible(browser, f"the form on {browser.title!r}")
    for field_id, value in values.items():
        element = browser.find_element(By.ID, field_id)
        if element.tag_name == "select":
            element.find_element(By.CSS_SELECTOR, f"option[value='{value}']").click()
        elif element.get_attribute("type") in ("checkbox", "radio"):
            if not element.is_selected():
                element.click()
        else:
            element.clear()
            element.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_the_whole_journey_from_request_to_live(server, browser):
    contact = "ada@dvla.gov.uk"
    r = api(server).post("/api/v1/requests", {"kind": "transactional", "department": "DVLA", "items": {
        "contact": ITEMS["contact"],
        "service": provided({"name": "Apply for a blue badge", "description": "Disabled people apply for parking",
                             "start_page_url": "https://www.gov.uk/apply-blue-badge"})}})
    assert r.status == 201, str(r)
    rid = r.json()["id"]
    [tasks] = emailed_links(server, contact, "Apply for a blue badge", "tasks", 1)
    browser.get(server.base_url + tasks)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Information for the Apply for a blue badge dashboard"
    assert "You have completed 2 of 8 sections." in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "10-task-list")

    # A bad address: the error summary names the field and links to it; nothing is saved.
    browser.find_element(By.LINK_TEXT, "Sign-off contact").click()
    for field in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), textarea, select"):
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']"), field.get_attribute("outerHTML")
    fill(browser, {"name": "Grace Hopper", "email": "grace-at-dvla", "phone": "020 7946 0001"})
    summary = wait_for(browser, ".error-summary")
    assert "Email address must be an email address, like name@example.gov.uk" in summary.text
    assert summary.find_element(By.TAG_NAME, "a").get_attribute("href").endswith("#email")
    assert browser.find_element(By.ID, "name").get_attribute("value") == "Grace Hopper"
    shot(browser, "11-item-errors")
    assert api(server).get(f"/api/v1/requests/{rid}").json()["items"]["sign_off_contact"]["status"] == "missing"
    fill(browser, {"email": OWNER})
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text.startswith("Information for"))

    # "Save and come back later" keeps unfinished answers, unchecked: the task shows in progress.
    browser.find_element(By.LINK_TEXT, "Service availability").click()
    assert_accessible(browser, "service availability form")
    browser.find_element(By.ID, "health_check_url").send_keys("https://www.gov.uk/apply-blue")
    browser.find_element(By.CSS_SELECTOR, "button[value=draft]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "service_availability-status").text == "In progress")
    browser.find_element(By.LINK_TEXT, "Service availability").click()
    assert browser.find_element(By.ID, "health_check_url").get_attribute("value") == "https://www.gov.uk/apply-blue"
    browser.find_element(By.LINK_TEXT, "Back to the task list").click()

    answers = [
        ("Cost per transaction", {"transactions_explorer_url": "https://www.gov.uk/performance/transactions-explorer/blue-badge"}),
        ("User satisfaction", {"availability-no": "x", "reason": "We have no done page yet"}),
        ("Completion rate", {"analytics_provider": "piwik"}),
        ("Digital take-up", {"spreadsheet_reference": "blue-badge-volumes.xlsx", "uploader_1_name": "Sam Patel",
                             "uploader_1_email": "sam@dvla.gov.uk"}),
    ]
    for title, values in answers:
        browser.find_element(By.LINK_TEXT, title).click()
        fill(browser, values)
        WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text.startswith("Information for"))
    shot(browser, "12-task-list-in-progress")
    browser.find_element(By.LINK_TEXT, "Service availability").click()
    fill(browser, {"health_check_url": "https://www.gov.uk/apply-blue-badge/health"})
    # The last item completes the information by itself and lands on check-your-answers.
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Check your answers")
    assert "We have no done page yet" in browser.find_element(By.TAG_NAME, "main").text
    assert len(browser.find_elements(By.CSS_SELECTOR, ".summary-list-actions a")) == 8
    shot(browser, "13-check-answers")
    request = api(server).get(f"/api/v1/requests/{rid}").json()
    assert request["state"] == "info_complete" and request["missing_items"] == []
    events = api(server).get(f"/api/v1/requests/{rid}/events", query={"limit": 200}).json()["items"]
    assert {e["actor"]["kind"] for e in events if e["kind"] == "updated"} == {"service_contact"}
    browser.get(server.base_url + tasks)
    assert "Information complete" in browser.find_element(By.TAG_NAME, "main").text
    assert_accessible(browser, "task list, information complete")

    # The team signs in and asks for sign-off from the request page.
    staff_sign_in(server, browser, ADMIN_EMAIL)
    open_request(server, browser, rid)
    shot(browser, "20-staff-request")
    press(browser, "request_sign_off")
    # The owner approves through their own emailed link.
    [link] = sign_off_links(server, "Apply for a blue badge", 1)
    browser.get(server.base_url + link)
    assert_accessible(browser, "sign-off of a transactional dashboard")
    browser.find_element(By.ID, "decision").click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_for(browser, ".panel-title").text == "Dashboard approved"
    # The team builds, publishes the preview and takes it live from the request page.
    open_request(server, browser, rid)
    press(browser, "mark_built")
    press(browser, "publish_preview", {"publish_preview-preview_url": "https://preview.gov.uk/blue-badge"})
    press(browser, "go_live", {"go_live-live_url": "https://www.gov.uk/performance/blue-badge"})
    assert "Live" in browser.find_element(By.CSS_SELECTOR, ".summary-list").text
    shot(browser, "21-staff-request-live")
    request = api(server).get(f"/api/v1/requests/{rid}").json()
    assert request["state"] == "live" and request["live_url"] == "https://www.gov.uk/performance/blue-badge"
    staff_moves = [e["data"]["transition"] for e in api(server).get(f"/api/v1/requests/{rid}/events", query={"limit": 200}).json()["items"]
                   if e["kind"] == "transitioned" and e["actor"]["kind"] == "admin"]
    assert staff_moves == ["request_sign_off", "mark_built", "publish_preview", "go_live"]


def staff_sign_in(server, browser, address: str):
    """Signs in through the pages with the link from the email actually sent."""
    browser.delete_all_cookies()
    before = len(emailed_links(server, address, "Sign in to Callboard", "staff/sign-in", 0, timeout=0))
    browser.get(server.base_url + "/staff")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in to Callboard"
    fill(browser, {"email": address})
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Check your email")
    assert_accessible(browser, "staff sign-in: check your email")
    link = emailed_links(server, address, "Sign in to Callboard", "staff/sign-in", before + 1)[-1]
    browser.get(server.base_url + link)
    assert_accessible(browser, "staff sign-in: confirm")
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Dashboard requests")
    assert_accessible(browser, "triage board")
    return link


def open_request(server, browser, rid: str):
    browser.get(f"{server.base_url}/staff/requests/{rid}")


def press(browser, transition: str, inputs: dict[str, str] | None = None):
    form = browser.find_element(By.CSS_SELECTOR, f"form[action$='/transitions/{transition}']")
    for field_id, value in (inputs or {}).items():
        browser.find_element(By.ID, field_id).send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    done = f"Done: {transition.replace('_', ' ')}."
    WebDriverWait(browser, 10).until(lambda b: done in b.find_element(By.CSS_SELECTOR, ".notification-banner").text)
    assert_accessible(browser, f"staff request after {transition}")


def test_contact_forms_need_their_csrf_token_and_expired_links_offer_a_new_one(server, browser):
    r = api(server).post("/api/v1/requests", {"kind": "non_transactional", "department": "DVLA", "items": {"contact": ITEMS["contact"]}})
    rid = r.json()["id"]
    [tasks] = emailed_links(server, "ada@dvla.gov.uk", "your service", "tasks", 1)
    status, _, _ = raw(server, "POST", tasks + "/items/service_availability", {"csrf": "forged", "health_check_url": "https://x.gov.uk/h"})
    assert status == 403
    browser.get(server.base_url + tasks + "/items/service_availability")
    browser.find_element(By.ID, "health_check_url").send_keys("https://x.gov.uk/h")
    submit_forged(browser, "This form has expired")
    assert api(server).get(f"/api/v1/requests/{rid}").json()["items"]["service_availability"]["status"] == "missing"
    psql(database_url_for(server.pg_url, server.dbname),
         f"UPDATE links SET expires_at = now() - interval '1 minute' WHERE request_id = '{rid}'")
    browser.get(server.base_url + tasks)
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link has expired"
    assert_accessible(browser, "task list link expired (410)")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Check your email")
    assert_accessible(browser, "new task list link sent")
    first, fresh = emailed_links(server, "ada@dvla.gov.uk", "your service", "tasks", 2)
    browser.get(server.base_url + fresh)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Information for")
    assert_accessible(browser, "task list from a fresh link")


def test_staff_sign_in_sessions_board_and_permissions(server, browser):
    browser.delete_all_cookies()
    browser.get(server.base_url + "/staff/requests/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in to Callboard"
    fill(browser, {"email": "not-an-address"})
    assert "Enter an email address in the correct format" in wait_for(browser, ".error-summary").text
    shot(browser, "22-staff-sign-in-error")

    link = staff_sign_in(server, browser, ADMIN_EMAIL)
    cookie = browser.get_cookie("cb_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False
    shot(browser, "23-triage-board")
    # The board: counts per state, filters, soonest preview due first.
    counts = browser.find_element(By.CSS_SELECTOR, ".state-counts").text
    assert "Live" in counts and "Requested" in counts
    browser.find_element(By.ID, "state").find_element(By.CSS_SELECTOR, "option[value='live']").click()
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(browser, 10).until(lambda b: "state=live" in b.current_url)
    column = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table thead th")].index("State")
    states = {row.find_elements(By.TAG_NAME, "td")[column].text for row in browser.find_elements(By.CSS_SELECTOR, "table tbody tr")}
    assert states == {"Live"}
    assert_accessible(browser, "triage board filtered to live")

    # A sign-in link works once; a used one says so.
    browser.get(server.base_url + link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "This sign-in link has already been used"
    assert_accessible(browser, "sign-in link already used")

    # A viewer sees the request but is offered nothing to fire and no comment box.
    run_cli(server.bin, server.env, "admin", "create-staff", "--email", "viewer@callboard.test", "--role", "viewer")
    rid = new_request(server, "Check your State Pension")
    staff_sign_in(server, browser, "viewer@callboard.test")
    open_request(server, browser, rid)
    assert "Nothing: no transition is open to you in this state." in browser.find_element(By.TAG_NAME, "main").text
    assert not browser.find_elements(By.ID, "comment")
    shot(browser, "24-viewer-request")

    # Signing out ends the session: the pages ask to sign in again.
    browser.find_element(By.CSS_SELECTOR, ".header-account button").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "You have signed out")
    assert_accessible(browser, "signed out")
    browser.get(server.base_url + "/staff")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in to Callboard"

    # An expired sign-in link, and too many sign-in requests for one address.
    psql(database_url_for(server.pg_url, server.dbname), "UPDATE staff_sign_in_links SET expires_at = now() - interval '1 second'")
    browser.get(server.base_url + staff_sign_in_link_after_request(server, "viewer@callboard.test"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "This sign-in link has expired"
    assert_accessible(browser, "sign-in link expired (410)")
    statuses = [raw(server, "POST", "/staff/sign-in", {"email": "limit@callboard.test"})[0] for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 429]
    browser.get(server.base_url + "/staff")
    fill(browser, {"email": "limit@callboard.test"})
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Too many sign-in requests")
    assert_accessible(browser, "too many sign-in requests (429)")


def staff_sign_in_link_after_request(server, address: str) -> str:
    """Asks for a link, expires it in the database, and returns it: its page must say it has expired."""
    before = len(emailed_links(server, address, "Sign in to Callboard", "staff/sign-in", 0, timeout=0))
    assert raw(server, "POST", "/staff/sign-in", {"email": address})[0] == 200
    link = emailed_links(server, address, "Sign in to Callboard", "staff/sign-in", before + 1)[-1]
    psql(database_url_for(server.pg_url, server.dbname), "UPDATE staff_sign_in_links SET expires_at = now() - interval '1 second'")
    status, _, body = raw(server, "GET", link)
    assert status == 410 and "This sign-in link has expired" in body
    return link


def multipart(fields: dict[str, str], file_bytes: bytes) -> tuple[bytes, str]:
    boundary = "----callboard-test-boundary"
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="data.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n").encode() + file_bytes + f"\r\n--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def post_raw(server, path: str, body: bytes, content_type: str):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer (413) and stop reading a large body
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def test_uploader_uploads_a_csv_from_the_emailed_link(server, browser, tmp_path):
    rid = new_request(server, "Renew a passport")
    ds = api(server).post(f"/api/v1/requests/{rid}/data-sets", {
        "name": "Channel volumes", "cadence": "monthly", "fields": ["visits", "completions"],
        "uploaders": [{"name": "Sam Patel", "email": "sam@hmpo.gov.uk"}]}).json()
    assert ds["fields"] == [{"name": "visits", "type": "number"}, {"name": "completions", "type": "number"}]
    start = datetime.date.fromisoformat(ds["current_period"]["start"])
    [link] = emailed_links(server, "sam@hmpo.gov.uk", "Channel volumes", "upload", 1)
    browser.get(server.base_url + link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Upload Channel volumes data"
    assert browser.find_elements(By.CSS_SELECTOR, "label[for='file']")
    shot(browser, "30-upload")

    # A file with bad rows: every one listed with its line; nothing is stored.
    outside = start - datetime.timedelta(days=1)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"_timestamp,visits,completions\n{start},100,80\n{outside},1,2\n{start},lots,2\n")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    summary = wait_for(browser, ".error-summary").text
    assert f"Line 3: _timestamp {outside} is outside the period" in summary
    assert 'Line 4: visits "lots" must be a number' in summary
    shot(browser, "31-upload-errors")
    assert api(server).get(f"/api/v1/requests/{rid}/data-sets").json()["items"][0]["last_upload"] is None

    good = tmp_path / "good.csv"
    good.write_text(f"_timestamp,visits,completions\n{start},100,80\n{start + datetime.timedelta(days=7)},120,90\n")
    browser.find_element(By.ID, "file").send_keys(str(good))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_for(browser, ".panel-title").text == "Upload received"
    assert browser.find_element(By.CSS_SELECTOR, ".panel-body").text == "2 rows"
    shot(browser, "32-upload-received")
    listed = api(server).get(f"/api/v1/requests/{rid}/data-sets").json()["items"][0]
    assert listed["status"] == "received" and listed["last_upload"]["source"] == "csv"
    assert listed["last_upload"]["period_start"] == ds["current_period"]["start"]
    events = api(server).get(f"/api/v1/requests/{rid}/events", query={"limit": 200}).json()["items"]
    uploads = [e for e in events if e["kind"] == "upload_recorded"]
    assert [(e["actor"]["kind"], e["actor"]["id"], e["data"]["source"]) for e in uploads] == [("uploader", "sam@hmpo.gov.uk", "csv")]

    # A forged CSRF token, and a file over 1 MB, are refused.
    body, ctype = multipart({"csrf": "forged"}, good.read_bytes())
    assert post_raw(server, link, body, ctype)[0] == 403
    browser.get(server.base_url + link)
    browser.find_element(By.ID, "file").send_keys(str(good))
    submit_forged(browser, "This form has expired")
    _, _, page = raw(server, "GET", link)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    big, ctype = multipart({"csrf": csrf}, b"_timestamp,visits,completions\n" + b"x" * 1_100_000)
    status, page = post_raw(server, link, big, ctype)
    assert status == 413 and "The file must be smaller than 1 MB" in page and "<html" in page


def test_a_link_acts_only_for_the_person_who_holds_the_role_now(server):
    rid = new_request(server, "Get a fishing licence")
    fire(server, rid, "request_sign_off")
    [link] = sign_off_links(server, "Get a fishing licence", 1)
    assert raw(server, "GET", link)[0] == 200
    current = api(server).get(f"/api/v1/requests/{rid}")
    new_owner = provided({"name": "Hedy Lamarr", "email": "hedy@dvla.gov.uk", "phone": "020 7946 0002"})
    assert api(server).patch(f"/api/v1/requests/{rid}", {"items": {"sign_off_contact": new_owner}},
                             headers={"If-Match": current.header("ETag")}).status == 200
    status, _, body = raw(server, "GET", link)
    assert status == 404 and "Page not found" in body


def test_no_link_secret_is_in_the_database_the_logs_or_the_api(server):
    """Runs last, after every journey above: every token in every email actually delivered (sign-off,
    task list, upload, staff sign-in) is absent from a pg_dump of the database, from the server's
    log, and from what the API gives a viewer or an admin."""
    tokens = set()
    for path in server.emails.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in ("plain", "html"):
            body = msg.get_body(preferencelist=(part,))
            if body is not None:
                tokens |= set(re.findall(r"/(?:sign-off|tasks|upload|staff/sign-in)/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])",
                                         body.get_content()))
    assert len(tokens) >= 10, f"only {len(tokens)} tokens delivered"
    dump = subprocess.run(["pg_dump", "--data-only", database_url_for(server.pg_url, server.dbname)],
                          capture_output=True, text=True, timeout=120, check=True).stdout
    assert "cblink_" in dump and len(dump) > 10_000
    log = server.log_path.read_text(errors="replace")
    admin = api(server)
    server.cli("admin", "create-staff", "--email", "viewer-secrets@callboard.test", "--role", "viewer")
    viewer_token = server.cli("admin", "create-token", "--email", "viewer-secrets@callboard.test").stdout.strip()
    viewer = admin.with_token(viewer_token)
    seen = []
    for client in (admin, viewer):
        emails = client.get("/api/v1/emails", query={"limit": 100}).json()["items"]
        seen.append(json.dumps(emails))
        for e in emails:
            seen.append(client.get(f"/api/v1/emails/{e['id']}").body.decode())
            if e["request_id"]:
                seen.append(client.get(f"/api/v1/requests/{e['request_id']}/events", query={"limit": 100}).body.decode())
                seen.append(client.get(f"/api/v1/requests/{e['request_id']}").body.decode())
    readable = "\n".join(seen)
    assert "/sign-off/redacted" in readable
    leaked = {t for t in tokens if t in dump or t in log or t in readable}
    assert leaked == set(), f"{len(leaked)} of {len(tokens)} tokens found"
