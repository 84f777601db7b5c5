"""The front door, "Apply for a dashboard", in a real headless Chromium and over raw HTTP.

A keyboard-only applicant (TAB, SPACE, ENTER and an arrow key, never a click) goes from the start
page through a transactional application with bad input first, adds a fourth uploader, leaves an
item for later, saves and carries on in a fresh session through the emailed link, changes an
answer from check your answers, sends, and confirms through the emailed link; the request then
has its reference, is on the API's list and the staff board, and the sign-off owner and the team
were emailed. Raw HTTP (the cb_apply cookie, the form's CSRF token, an X-Forwarded-For the server
trusts from 127.0.0.1) covers: nothing before confirmation, duplicates, the honeypot, the limits
per address and per client, posts from another site. Then the accessibility, privacy and cookies
pages, and that no cookie value or link token is in the database or the server's log (trace level).
axe-core checks every page the browser shows, errors included; screenshots go to $SCREENSHOT_DIR.
"""
from __future__ import annotations

import email
import email.policy
import hashlib
import http.client
import json
import math
import os
import re
import subprocess
import time
import urllib.parse
from dataclasses import dataclass

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions

from test_pages import (  # noqa: F401 - browser is a fixture
    ADMIN_EMAIL, ITEMS, Server, WebDriverWait, api, browser, database_url_for, fire, running_callboard, shot, staff_sign_in,
)

REFERENCE = re.compile(r"^CB-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$")
TEAM = "performance-platform@localhost.localdomain"
DOMAINS = "gov.uk, nhs.uk, nhs.net, police.uk, mod.uk, gov.scot, gov.wales, llyw.cymru or nics.gov.uk"
DOMAIN_RULE = (f"Email address must be a public sector address ending in {DOMAINS}. "
               f"If yours is not, email the team at {TEAM}")
APPLY_LINK = r"/apply/(?:confirm|resume)/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])"
ANY_LINK = r"/(?:apply/confirm|apply/resume|sign-off|tasks|upload|staff/sign-in)/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])"
# Every cb_apply value the server handed out in this module, for the secrets test at the end.
COOKIES: set[str] = set()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server whose log is at trace level (so the secrets test reads everything it could write)
    and which believes X-Forwarded-For from 127.0.0.1, so each raw applicant is a client of its own."""
    work = tmp_path_factory.mktemp("apply")
    saved = dict(os.environ)
    os.environ.update(CALLBOARD_WITH_WORKER="true", CALLBOARD_EMAIL_TRANSPORT="file", CALLBOARD_EMAIL_DIR=str(work / "emails"),
                      CALLBOARD_WORKER_POLL_SECONDS="0.2", CALLBOARD_TRUSTED_PROXIES="127.0.0.1", CALLBOARD_LOG_LEVEL="trace")
    try:
        with running_callboard(work) as info:
            yield Server(info, work / "emails")
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ------------------------------------------------------------------------------------------ raw HTTP


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def http_call(server, method: str, path: str, form: dict | None = None, headers: dict | None = None) -> Answer:
    """One request, no Origin header unless given (as curl sends); remembers any cb_apply handed out."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    sent = dict(headers or {})
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=sent)
    resp = conn.getresponse()
    raw_headers = resp.getheaders()
    answer = Answer(resp.status, dict(raw_headers), resp.read().decode())
    for k, v in raw_headers:
        if k.lower() == "set-cookie" and v.startswith("cb_apply="):
            value = v.split(";", 1)[0].split("=", 1)[1]
            if value:
                COOKIES.add(value)
    conn.close()
    return answer


class Applicant:
    """One applicant over HTTP: its cb_apply cookie and CSRF token, and the client address it comes
    from (X-Forwarded-For, which the server trusts from 127.0.0.1)."""

    def __init__(self, server, client: str | None):
        self.server, self.client = server, client
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.after_service: str | None = None

    def call(self, method: str, path: str, form: dict | None = None, headers: dict | None = None) -> Answer:
        sent = dict(headers or {})
        if self.cookie:
            sent["Cookie"] = f"cb_apply={self.cookie}"
        if self.client:
            sent["X-Forwarded-For"] = self.client
        r = http_call(self.server, method, path, form, sent)
        for k, v in r.headers.items():
            if k.lower() == "set-cookie" and v.startswith("cb_apply="):
                self.cookie = v.split(";", 1)[0].split("=", 1)[1] or None
        return r

    def start(self) -> "Applicant":
        r = self.call("POST", "/apply/start")
        assert (r.status, r.header("Location")) == (303, "/apply/kind"), (r.status, r.body[:500])
        page = self.call("GET", "/apply/kind")
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page.body).group(1)
        return self

    def post(self, step: str, form: dict) -> Answer:
        return self.call("POST", f"/apply/{step}", {"csrf": self.csrf, **form})

    def answer(self, step: str, form: dict) -> str:
        r = self.post(step, form)
        assert r.status == 303, f"{step}: {r.status} {errors_in(r.body)}"
        return r.header("Location")

    def required(self, service: str, start_page: str, contact: str, *, kind: str = "non_transactional",
                 department: str = "Driver and Vehicle Licensing Agency", owner: str = "owner@dvla.gov.uk") -> "Applicant":
        """Answers the five questions needed before sending (where the service step led: after_service)."""
        assert self.answer("kind", {"kind": kind}) == "/apply/organisation"
        assert self.answer("organisation", {"department": department, "division": "england-and-wales"}) == "/apply/contact"
        assert self.answer("contact", {"name": "Ada Lovelace", "email": contact, "phone": "020 7946 0000"}) == "/apply/sign_off_contact"
        assert self.answer("sign_off_contact", {"name": "Grace Hopper", "email": owner, "phone": "020 7946 0001"}) == "/apply/service"
        self.after_service = self.answer("service", {"name": service, "description": f"People {service.lower()}",
                                                     "start_page_url": start_page})
        return self

    def send(self) -> Answer:
        return self.call("POST", "/apply/check", {"csrf": self.csrf})


def errors_in(page: str) -> list[str]:
    return re.findall(r'<li><a href="#[^"]*">([^<]*)</a></li>', page)


def h1_of(page: str) -> str:
    m = re.search(r"<h1[^>]*>([^<]*)</h1>", page)
    return m.group(1) if m else ""


def query(server, sql: str) -> str:
    db = database_url_for(server.pg_url, server.dbname)
    return subprocess.run(["psql", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True, text=True, check=True).stdout.strip()


def sha256_hex(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def by_session(cookie: str) -> str:
    return f"session_hash = '\\x{sha256_hex(cookie)}'::bytea"


def answers_of(server, cookie: str) -> dict:
    return json.loads(query(server, f"SELECT answers FROM applications WHERE {by_session(cookie)}"))


def request_count(server) -> int:
    return int(query(server, "SELECT count(*) FROM requests"))


# ------------------------------------------------------------------------------------------ emails


def mails(server, to: str) -> list[tuple[str, str]]:
    """(subject, plain text) of every email written to `to`, oldest first."""
    out = []
    for path in sorted(server.emails.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["To"] == to:
            out.append((str(msg["Subject"]), msg.get_body(preferencelist=("plain",)).get_content()))
    return out


def wait_mail(server, to: str, subject: str, timeout: float = 20) -> str:
    """The plain text of the first email to `to` whose subject is exactly `subject`."""
    deadline = time.monotonic() + timeout
    while True:
        found = [text for s, text in mails(server, to) if s == subject]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no email to {to} with subject {subject!r}: {[s for s, _ in mails(server, to)]}"
        time.sleep(0.1)  # the worker delivers asynchronously; this waits for a file


def apply_links(server, to: str, page: str, count: int, timeout: float = 20) -> list[str]:
    """The /apply/<page>/<token> paths emailed to `to`, oldest first, once there are `count`."""
    pattern = r"https?://[^/\s]+(/apply/" + page + r"/[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])"
    deadline = time.monotonic() + timeout
    while True:
        found = [m for _, text in mails(server, to) for m in re.findall(pattern, text)]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"expected {count} {page} links to {to}, found {found}"
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------ keyboard


def press(browser, *keys):
    """Keys to whatever has focus, as a person types them: no element is targeted or clicked."""
    ActionChains(browser).send_keys(*keys).perform()


def describe(el) -> str:
    return f"<{el.tag_name} id={el.get_attribute('id')!r}> {el.text[:40]!r}"


def tab_to(browser, *, id: str | None = None, text: str | None = None, limit: int = 80):
    """Presses TAB until the focused element has this id, or is a button or link with this text.
    The honeypot (display: none) must never take focus."""
    seen = []
    for _ in range(limit):
        press(browser, Keys.TAB)
        el = browser.switch_to.active_element
        assert el.get_attribute("id") != "website", "the honeypot took keyboard focus"
        if id is not None and el.get_attribute("id") == id:
            return el
        if text is not None and el.tag_name in ("button", "a") and el.text.strip() == text:
            return el
        seen.append(describe(el))
    raise AssertionError(f"TAB never reached {id or text!r} on {browser.current_url}: {seen}")


def type_at(browser, field_id: str, value: str, *, replace: bool = False):
    tab_to(browser, id=field_id)
    if replace:
        ActionChains(browser).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()
    press(browser, value)


def enter(browser):
    """ENTER on what has focus, and wait for the next page."""
    old = browser.find_element(By.TAG_NAME, "html")
    press(browser, Keys.ENTER)
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(old))


def enter_on(browser, text: str):
    """TAB to the button or link, ENTER, and wait for the next page."""
    tab_to(browser, text=text)
    enter(browser)


def h1(browser) -> str:
    return browser.find_element(By.TAG_NAME, "h1").text


def summary(browser) -> list[str]:
    return [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".error-summary a")]


def paragraphs(browser) -> list[str]:
    return [p.text for p in browser.find_elements(By.CSS_SELECTOR, "main > p")]


def statuses(browser) -> list[str]:
    return [d.text for d in browser.find_elements(By.XPATH, "//dt[.='Status']/following-sibling::dd[1]")]


def check_rows(browser) -> dict[str, str]:
    return {r.find_element(By.CSS_SELECTOR, "dt").text: r.find_element(By.CSS_SELECTOR, "dd").text
            for r in browser.find_elements(By.CSS_SELECTOR, ".summary-list-row")}


def summary_has_focus(browser) -> bool:
    WebDriverWait(browser, 5).until(lambda b: b.execute_script(
        "return document.activeElement.classList.contains('error-summary')"))
    return browser.execute_script("return document.activeElement.getAttribute('role') === 'alert' "
                                  "&& document.activeElement.hasAttribute('autofocus')")


def content(browser, element_id: str) -> str:
    """An element's text as a screen reader reads it (visually hidden parts included), spaces collapsed."""
    return " ".join(browser.find_element(By.ID, element_id).get_attribute("textContent").split())


def value(browser, field_id: str) -> str:
    return browser.find_element(By.ID, field_id).get_attribute("value")


def use_cookie(browser, server, cookie: str):
    """Gives the browser a raw applicant's session (cb_apply, path /apply)."""
    browser.delete_all_cookies()
    browser.get(server.base_url + "/cookies")
    browser.add_cookie({"name": "cb_apply", "value": cookie, "path": "/apply"})


# ------------------------------------------------------------------------------------------ journeys


def test_a_keyboard_only_applicant_applies_and_the_request_reaches_the_board(server, browser):
    browser.delete_all_cookies()
    browser.get(server.base_url + "/apply")
    assert browser.title == "Apply for a Performance Platform dashboard – GOV.UK Performance Platform"
    assert h1(browser) == "Apply for a Performance Platform dashboard"
    shot(browser, "apply-01-start")
    enter_on(browser, "Start now")
    cookie = browser.get_cookie("cb_apply")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"], cookie["path"]) == (True, "Lax", False, "/apply")
    first_cookie = cookie["value"]
    COOKIES.add(first_cookie)

    # The kind sent empty: the error summary has focus and names the question.
    assert h1(browser) == "Is your service transactional?"
    assert not browser.find_element(By.ID, "website").is_displayed()
    enter_on(browser, "Save and continue")
    assert browser.title == "Error: Is your service transactional? – GOV.UK Performance Platform"
    assert summary(browser) == ["Select yes if your service is transactional"]
    assert content(browser, "kind-error") == "Error: Select yes if your service is transactional"
    assert summary_has_focus(browser)
    shot(browser, "apply-02-kind-error")
    tab_to(browser, id="kind")  # the first radio: "Yes"
    press(browser, Keys.SPACE)
    assert browser.find_element(By.ID, "kind").is_selected()
    enter_on(browser, "Save and continue")

    assert h1(browser) == "Your organisation"
    shot(browser, "apply-03-organisation")
    type_at(browser, "department", "Driver and Vehicle Licensing Agency")
    tab_to(browser, id="division")  # England and Wales
    press(browser, Keys.SPACE)
    enter_on(browser, "Save and continue")

    # An address outside the allowed domains: the rule beside the field and in the summary.
    assert h1(browser) == "Your contact details"
    shot(browser, "apply-04-contact")
    type_at(browser, "name", "Ada Lovelace")
    type_at(browser, "email", "ada@example.com")
    type_at(browser, "phone", "020 7946 0000")
    enter_on(browser, "Save and continue")
    assert summary(browser) == [DOMAIN_RULE]
    assert content(browser, "email-error") == "Error: " + DOMAIN_RULE
    assert browser.find_element(By.ID, "email").get_attribute("aria-describedby") == "email-error"
    assert (value(browser, "name"), value(browser, "email")) == ("Ada Lovelace", "ada@example.com")
    assert summary_has_focus(browser)
    shot(browser, "apply-05-contact-error")
    type_at(browser, "email", "ada@dvla.gov.uk", replace=True)
    enter_on(browser, "Save and continue")

    assert h1(browser) == "Who will sign off the dashboard?"
    shot(browser, "apply-06-sign-off-contact")
    type_at(browser, "name", "Grace Hopper")
    type_at(browser, "email", "grace@supplier.example")
    type_at(browser, "phone", "020 7946 0001")
    enter_on(browser, "Save and continue")

    assert h1(browser) == "Tell us about your service"
    shot(browser, "apply-07-service")
    type_at(browser, "name", "Renew a tachograph card")
    type_at(browser, "description", "Drivers renew their tachograph card")
    type_at(browser, "start_page_url", "https://www.gov.uk/renew-tachograph")
    enter_on(browser, "Save and continue")

    assert h1(browser) == "Cost per transaction"
    shot(browser, "apply-08-cost")
    type_at(browser, "transactions_explorer_url", "https://www.gov.uk/performance/transactions-explorer/renew-tachograph")
    enter_on(browser, "Save and continue")

    # "No, we do not capture this" with a reason: the second radio of its group, by arrow key.
    assert h1(browser) == "User satisfaction"
    shot(browser, "apply-09-satisfaction")
    tab_to(browser, id="availability")
    press(browser, Keys.ARROW_DOWN)
    assert browser.find_element(By.ID, "availability-no").is_selected()
    type_at(browser, "reason", "We do not survey users yet")
    enter_on(browser, "Save and continue")

    # One item left for later.
    assert h1(browser) == "Completion rate"
    shot(browser, "apply-10-completion")
    enter_on(browser, "I will give this later")

    # Three uploaders, then "Add another uploader": a fourth row, the first three kept; its answer survives.
    assert h1(browser) == "Digital take-up"
    shot(browser, "apply-11-take-up")
    type_at(browser, "spreadsheet_reference", "Tachograph take-up")
    people = [("Sam Patel", "sam@dvla.gov.uk"), ("Kim Lee", "kim@supplier.example"), ("Lou Reed", "lou@dvla.gov.uk")]
    for n, (name, address) in enumerate(people, 1):
        type_at(browser, f"uploader_{n}_name", name)
        type_at(browser, f"uploader_{n}_email", address)
    assert not browser.find_elements(By.ID, "uploader_4_email")
    enter_on(browser, "Add another uploader")
    assert h1(browser) == "Digital take-up"
    assert [(value(browser, f"uploader_{n}_name"), value(browser, f"uploader_{n}_email")) for n in (1, 2, 3)] == people
    assert (value(browser, "uploader_4_name"), value(browser, "uploader_4_email")) == ("", "")
    assert value(browser, "spreadsheet_reference") == "Tachograph take-up"
    shot(browser, "apply-12-take-up-fourth-row")
    type_at(browser, "uploader_4_name", "Max Born")
    type_at(browser, "uploader_4_email", "max@supplier.example")
    enter_on(browser, "Save and continue")

    # Half an answer, then save and come back later: the email form has the applicant's address.
    assert h1(browser) == "Service availability"
    shot(browser, "apply-13-availability")
    type_at(browser, "health_check_url", "https://status.dvla.gov.uk/tacho")
    enter_on(browser, "Save and come back later")
    assert h1(browser) == "Save and come back later"
    assert value(browser, "email") == "ada@dvla.gov.uk"
    shot(browser, "apply-14-save")
    enter_on(browser, "Email me a link")
    assert h1(browser) == "Check your email"
    assert paragraphs(browser)[:2] == [
        "We have sent a link to ada@dvla.gov.uk. Use it to continue your application on any device.",
        "Your answers are kept for 7 days from when you started."]
    shot(browser, "apply-15-save-sent")
    [resume] = apply_links(server, "ada@dvla.gov.uk", "resume", 1)
    assert api(server).get("/api/v1/requests", query={"q": "tachograph"}).json()["items"] == []

    # A fresh session (another device) carries on through the emailed link; the old cookie stops working.
    browser.delete_all_cookies()
    browser.get(server.base_url + resume)
    assert h1(browser) == "Continue your application"
    shot(browser, "apply-16-resume")
    enter_on(browser, "Continue your application")
    assert h1(browser) == "Check your answers before sending your application"
    assert browser.current_url == server.base_url + "/apply/check"
    second_cookie = browser.get_cookie("cb_apply")["value"]
    COOKIES.add(second_cookie)
    assert second_cookie != first_cookie
    old = http_call(server, "GET", "/apply/check", headers={"Cookie": f"cb_apply={first_cookie}"})
    assert (old.status, old.header("Location")) == (303, "/apply")
    shot(browser, "apply-17-check")
    assert statuses(browser) == ["Answered"] * 7 + ["You will give this later", "Answered", "Not answered"]
    rows = check_rows(browser)
    assert (rows["Transactional"], rows["Department or agency"], rows["Bank holidays"]) == (
        "Yes", "Driver and Vehicle Licensing Agency", "England and Wales")
    assert (rows["Why not"], rows["Uploader 4: name"], rows["Uploader 4: email address"]) == (
        "We do not survey users yet", "Max Born", "max@supplier.example")
    changes = browser.find_elements(By.CSS_SELECTOR, ".summary-list-actions a")
    steps = ["kind", "organisation", "contact", "sign_off_contact", "service", "cost_per_transaction", "user_satisfaction",
             "completion_rate", "digital_take_up", "service_availability"]
    assert [a.get_attribute("href") for a in changes] == [f"{server.base_url}/apply/{s}" for s in steps]
    assert changes[-1].get_attribute("textContent") == "Change Service availability"

    # Change: the half answer kept by "Save and come back later" is there to finish.
    tab_to(browser, id="service_availability")
    enter(browser)
    assert h1(browser) == "Service availability"
    assert value(browser, "health_check_url") == "https://status.dvla.gov.uk/tacho"
    tab_to(browser, id="health_check_url")  # TAB selects the kept answer: END, then add to it
    press(browser, Keys.END, "/health")
    enter_on(browser, "Save and continue")
    assert h1(browser) == "Check your answers before sending your application"
    assert statuses(browser)[-1] == "Answered"
    assert check_rows(browser)["Health check address"] == "https://status.dvla.gov.uk/tacho/health"
    shot(browser, "apply-18-check-complete")

    enter_on(browser, "Send application")
    assert h1(browser) == "Check your email"
    assert paragraphs(browser)[:2] == [
        "We have sent a link to ada@dvla.gov.uk. Select it to confirm your email address and send your application.",
        "The link works once, for 24 hours. Nothing reaches the team until you select it."]
    shot(browser, "apply-19-sent-check-email")
    [confirm] = apply_links(server, "ada@dvla.gov.uk", "confirm", 1)
    assert api(server).get("/api/v1/requests", query={"q": "tachograph"}).json()["items"] == []

    # The emailed link's GET (a mail scanner's too) changes nothing; its button sends the application.
    browser.get(server.base_url + confirm)
    assert h1(browser) == "Confirm your email address"
    assert api(server).get("/api/v1/requests", query={"q": "tachograph"}).json()["items"] == []
    shot(browser, "apply-20-confirm")
    enter_on(browser, "Confirm and send")
    assert browser.find_element(By.CSS_SELECTOR, ".panel-title").text == "Application sent"
    body = browser.find_element(By.CSS_SELECTOR, ".panel-body").text
    assert body.startswith("Your reference is ")
    reference = body.removeprefix("Your reference is ")
    assert REFERENCE.fullmatch(reference), reference
    assert paragraphs(browser)[1:3] == [
        "We have also emailed you a link to give the rest of the information. We build a preview within 5 working days of having all of it.",
        "We have told grace@supplier.example that they will be asked to approve publication."]
    assert browser.get_cookie("cb_apply") is None
    shot(browser, "apply-21-application-sent")

    # Over the API: the request, its reference, requested with the skipped item missing.
    [found] = api(server).get("/api/v1/requests", query={"q": reference}).json()["items"]
    request = api(server).get(f"/api/v1/requests/{found['id']}").json()
    assert (request["reference"], request["state"], request["kind"], request["department"], request["division"]) == (
        reference, "requested", "transactional", "Driver and Vehicle Licensing Agency", "england-and-wales")
    assert request["missing_items"] == ["completion_rate"]
    items = request["items"]
    assert items["contact"]["value"] == {"name": "Ada Lovelace", "email": "ada@dvla.gov.uk", "phone": "020 7946 0000"}
    assert items["sign_off_contact"]["value"] == {"name": "Grace Hopper", "email": "grace@supplier.example", "phone": "020 7946 0001"}
    assert items["service"]["value"] == {"name": "Renew a tachograph card", "description": "Drivers renew their tachograph card",
                                         "start_page_url": "https://www.gov.uk/renew-tachograph"}
    assert (items["user_satisfaction"]["status"], items["user_satisfaction"]["reason"]) == ("not_available", "We do not survey users yet")
    assert [u["email"] for u in items["digital_take_up"]["value"]["uploaders"]] == [
        "sam@dvla.gov.uk", "kim@supplier.example", "lou@dvla.gov.uk", "max@supplier.example"]
    assert items["service_availability"]["value"] == {"health_check_url": "https://status.dvla.gov.uk/tacho/health"}
    assert items["completion_rate"]["status"] == "missing"
    events = api(server).get(f"/api/v1/requests/{found['id']}/events").json()["items"]
    assert (events[0]["kind"], events[0]["actor"]) == ("created", {"kind": "service_contact", "id": "ada@dvla.gov.uk"})

    # The sign-off owner's heads-up (no link to decide with) and the team's email.
    heads_up = wait_mail(server, "grace@supplier.example", "You have been named as sign-off owner for the Renew a tachograph card dashboard")
    assert ("Ada Lovelace (ada@dvla.gov.uk) at Driver and Vehicle Licensing Agency has applied for a GOV.UK Performance Platform "
            f"dashboard for Renew a tachograph card and named you as its sign-off owner (reference {reference}).") in heads_up
    assert "/sign-off/" not in heads_up
    team = wait_mail(server, TEAM, f"New dashboard application: Renew a tachograph card ({reference})")
    assert f"It is on the triage board as {reference}." in team and f"/staff/requests/{found['id']}" in team
    # The applicant, now the service contact, is asked for the rest; the uploaders hear nothing yet.
    tasks = wait_mail(server, "ada@dvla.gov.uk", "Tell us about Renew a tachograph card for its Performance Platform dashboard")
    assert re.search(r"/tasks/[A-Za-z0-9_-]{43}", tasks)
    assert mails(server, "max@supplier.example") == []

    # The confirmation link works once.
    again = http_call(server, "POST", confirm)
    assert (again.status, h1_of(again.body)) == (410, "This link has already been used")
    assert http_call(server, "GET", confirm).status == 410
    browser.get(server.base_url + confirm)
    assert h1(browser) == "This link has already been used"
    shot(browser, "apply-22-confirm-used")
    assert len(api(server).get("/api/v1/requests", query={"q": reference}).json()["items"]) == 1

    # The staff board lists it, found by its reference.
    staff_sign_in(server, browser, ADMIN_EMAIL)
    browser.get(f"{server.base_url}/staff?q={reference}")
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == 1
    cells = [td.text for td in rows[0].find_elements(By.TAG_NAME, "td")]
    # (The board of c88872c finds a request by its reference but shows none; the back office's board shows it in a column.)
    assert "Renew a tachograph card\nDriver and Vehicle Licensing Agency" in cells, cells
    assert {"Requested", "Completion rate", "Unassigned"} <= set(cells), cells
    shot(browser, "apply-23-board")


def test_nothing_reaches_the_board_before_the_address_is_confirmed(server):
    before = request_count(server)
    a = Applicant(server, "10.0.5.1").start().required("Register a trailer", "https://www.gov.uk/register-trailer", "ada@dvsa.gov.uk")
    assert a.after_service == "/apply/check"
    sent = a.send()
    assert (sent.status, h1_of(sent.body)) == (200, "Check your email")
    [confirm] = apply_links(server, "ada@dvsa.gov.uk", "confirm", 1)
    assert http_call(server, "GET", confirm).status == 200  # what a mail scanner does
    assert api(server).get("/api/v1/requests", query={"q": "trailer"}).json()["items"] == []
    assert request_count(server) == before
    assert query(server, f"SELECT status FROM applications WHERE {by_session(a.cookie)}") == "submitted"
    assert not [s for s, _ in mails(server, TEAM) if "Register a trailer" in s]
    assert mails(server, "owner@dvla.gov.uk") == []
    done = http_call(server, "POST", confirm)
    assert (done.status, h1_of(done.body)) == (200, "Application sent")
    [made] = api(server).get("/api/v1/requests", query={"q": "trailer"}).json()["items"]
    # Every item a non-transactional request needs was given: the information is complete.
    assert (made["state"], made["missing_items"]) == ("info_complete", [])
    assert request_count(server) == before + 1


def test_a_second_application_for_the_same_service_makes_no_request(server, browser):
    items = json.loads(json.dumps(ITEMS))
    items["service"]["value"].update(name="Book your MOT", start_page_url="https://www.gov.uk/book-your-mot")
    r = api(server).post("/api/v1/requests", {"kind": "non_transactional", "department": "DVSA", "items": items})
    assert r.status == 201, str(r)
    existing = r.json()
    before = request_count(server)

    # The same start page, written differently (case, trailing slash), under another name.
    a = Applicant(server, "10.0.6.1").start().required("MOT booking", "https://www.GOV.uk/Book-Your-MOT/", "kai@dvsa.gov.uk",
                                                       department="Driver and Vehicle Standards Agency", owner="owner@dvsa.gov.uk")
    assert a.send().status == 200
    [confirm] = apply_links(server, "kai@dvsa.gov.uk", "confirm", 1)
    browser.delete_all_cookies()
    browser.get(server.base_url + confirm)
    enter_on(browser, "Confirm and send")
    assert h1(browser) == "A dashboard has already been requested for this service"
    assert paragraphs(browser)[0] == "We have not made a new request. We have told the team you asked, and they will contact you."
    shot(browser, "apply-30-duplicate")
    assert request_count(server) == before
    assert query(server, "SELECT status || ' ' || duplicate_of FROM applications WHERE email = 'kai@dvsa.gov.uk'") == f"duplicate {existing['id']}"
    team = wait_mail(server, TEAM, "Another application for MOT booking")
    assert ("Ada Lovelace (kai@dvsa.gov.uk) at Driver and Vehicle Standards Agency applied for a dashboard for MOT booking, "
            f"which has already been requested ({existing['reference']}). No new request was made") in team
    assert f"/staff/requests/{existing['id']}" in team
    assert mails(server, "owner@dvsa.gov.uk") == []  # no heads-up for a request that was not made

    # The same name in the same department (case aside), another start page: a duplicate too.
    b = Applicant(server, "10.0.6.2").start().required("book your mot", "https://www.gov.uk/mot-booking", "lee@dvsa.gov.uk",
                                                       department="dvsa")
    assert b.send().status == 200
    [confirm] = apply_links(server, "lee@dvsa.gov.uk", "confirm", 1)
    page = http_call(server, "POST", confirm)
    assert (page.status, h1_of(page.body)) == (200, "A dashboard has already been requested for this service")
    wait_mail(server, TEAM, "Another application for book your mot")
    assert request_count(server) == before

    # A withdrawn request does not count: applying for its service again makes a new request.
    fire(server, existing["id"], "withdraw", {"reason": "Asked twice"})
    c = Applicant(server, "10.0.6.3").start().required("Book your MOT", "https://www.gov.uk/book-your-mot", "mo@dvsa.gov.uk",
                                                       department="DVSA")
    assert c.send().status == 200
    [confirm] = apply_links(server, "mo@dvsa.gov.uk", "confirm", 1)
    page = http_call(server, "POST", confirm)
    assert (page.status, h1_of(page.body)) == (200, "Application sent")
    assert request_count(server) == before + 1


def test_a_post_with_the_honeypot_filled_keeps_nothing(server, browser):
    a = Applicant(server, "10.0.7.1").start()
    trap = {"website": "https://cheap-pills.example"}
    r = a.post("kind", {"kind": "transactional", **trap})
    assert (r.status, r.header("Location")) == (303, "/apply/organisation")  # a robot is shown the next page
    r = a.post("organisation", {"department": "Robots Ltd", "division": "scotland", **trap})
    assert (r.status, r.header("Location")) == (303, "/apply/contact")
    r = a.post("contact", {"name": "Robot", "email": "robot@dvla.gov.uk", "phone": "020 7946 0000", **trap})
    assert (r.status, r.header("Location")) == (303, "/apply/sign_off_contact")
    assert answers_of(server, a.cookie) == {}
    assert query(server, f"SELECT coalesce(email, 'none') FROM applications WHERE {by_session(a.cookie)}") == "none"
    check = a.call("GET", "/apply/check")
    assert re.findall(r'<dt class="summary-list-key">Status</dt><dd class="summary-list-value">([^<]*)</dd>', check.body) == [
        "Not answered"] * 5
    use_cookie(browser, server, a.cookie)
    browser.get(server.base_url + "/apply/check")
    assert statuses(browser) == ["Not answered"] * 5
    shot(browser, "apply-31-honeypot-check")
    # The same post without the trap is kept (so the trap, not something else, kept it out).
    assert a.answer("kind", {"kind": "transactional", "website": ""}) == "/apply/organisation"
    assert answers_of(server, a.cookie)["kind"] == "transactional"


def test_the_sixth_email_to_one_address_within_the_hour_is_429(server, browser):
    a = Applicant(server, "10.0.8.1").start().required("Check a vehicle", "https://www.gov.uk/check-vehicle", "limit@dvla.gov.uk")
    sent = [a.call("POST", "/apply/save", {"csrf": a.csrf, "email": "limit@dvla.gov.uk"}).status for _ in range(5)]
    assert sent == [200] * 5
    sixth = a.call("POST", "/apply/save", {"csrf": a.csrf, "email": "Limit@DVLA.gov.uk"})  # the same address, whatever its case
    assert (sixth.status, h1_of(sixth.body)) == (429, "Too many attempts")
    retry = int(sixth.header("Retry-After"))
    assert 0 < retry <= 3600
    minutes = int(re.search(r"Try again in (\d+) minutes\.", sixth.body).group(1))
    assert math.ceil(retry / 60) <= minutes <= retry // 60 + 1
    # Sending the application is an email to that address too; another address is still fine.
    assert a.send().status == 429
    assert a.call("POST", "/apply/save", {"csrf": a.csrf, "email": "other@dvla.gov.uk"}).status == 200
    assert query(server, "SELECT count(*) FROM emails WHERE lower(recipient) = 'limit@dvla.gov.uk'") == "5"
    # The refusal page as a person sees it.
    use_cookie(browser, server, a.cookie)
    browser.get(server.base_url + "/apply/save")
    assert h1(browser) == "Save and come back later"
    type_at(browser, "email", "limit@dvla.gov.uk", replace=True)
    enter_on(browser, "Email me a link")
    assert h1(browser) == "Too many attempts"
    shot(browser, "apply-32-too-many")


def test_twenty_starts_an_hour_per_client_then_429_and_only_trusted_proxies_name_the_client(server):
    started = [http_call(server, "POST", "/apply/start", headers={"X-Forwarded-For": "10.0.9.1"}).status for _ in range(20)]
    assert started == [303] * 20
    refused = http_call(server, "POST", "/apply/start", headers={"X-Forwarded-For": "10.0.9.1"})
    assert refused.status == 429 and 0 < int(refused.header("Retry-After")) <= 3600
    # The list is read from the right: what a client writes to the left of its proxy's hop is ignored,
    # and a trusted proxy's own hop is skipped.
    assert http_call(server, "POST", "/apply/start", headers={"X-Forwarded-For": "10.9.9.9, 10.0.9.1"}).status == 429
    assert http_call(server, "POST", "/apply/start", headers={"X-Forwarded-For": "10.0.9.1, 127.0.0.1"}).status == 429
    assert http_call(server, "POST", "/apply/start", headers={"X-Forwarded-For": "10.0.9.2"}).status == 303


def test_a_post_from_another_site_is_refused(server):
    assert http_call(server, "POST", "/apply/start", headers={"Origin": "https://evil.example"}).status == 403
    assert http_call(server, "POST", "/apply/start", headers={"Origin": "null"}).status == 403
    ok = http_call(server, "POST", "/apply/start", headers={"Origin": server.base_url, "X-Forwarded-For": "10.0.9.3"})
    assert (ok.status, ok.header("Location")) == (303, "/apply/kind")


def test_the_accessibility_privacy_and_cookies_pages(server, browser):
    browser.delete_all_cookies()
    browser.get(server.base_url + "/apply")
    footer = [(a.text, a.get_attribute("href")) for a in browser.find_elements(By.CSS_SELECTOR, "footer a")]
    assert footer == [("Accessibility statement", server.base_url + "/accessibility"), ("Privacy notice", server.base_url + "/privacy"),
                      ("Cookies", server.base_url + "/cookies")]
    for path, title in (("/accessibility", "Accessibility statement"), ("/privacy", "Privacy notice"), ("/cookies", "Cookies")):
        r = http_call(server, "GET", path)
        assert (r.status, r.header("Content-Type").split(";")[0], h1_of(r.body)) == (200, "text/html", title)
        browser.get(server.base_url + path)
        assert h1(browser) == title
        assert browser.title == f"{title} – GOV.UK Performance Platform"
        shot(browser, "apply-40" + path.replace("/", "-"))
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "cb_apply" in main and "cb_session" in main


# ------------------------------------------------------------------------------------------ bugs seen


def test_a_question_shows_no_error_before_it_is_answered(server, browser):
    """Each item page, shown fresh, has no error message and no field marked in error."""
    a = Applicant(server, "10.0.10.1").start().required("Tax a trailer", "https://www.gov.uk/tax-trailer", "tax@dvla.gov.uk",
                                                        kind="transactional")
    use_cookie(browser, server, a.cookie)
    shown = {}
    for step in ("cost_per_transaction", "user_satisfaction", "completion_rate", "digital_take_up", "service_availability"):
        browser.get(f"{server.base_url}/apply/{step}")
        shot(browser, f"apply-50-{step}")
        shown[step] = [e.get_attribute("id") + ": " + e.text for e in browser.find_elements(By.CSS_SELECTOR, ".error-message")]
        shown[step] += [g.get_attribute("innerHTML")[:60] for g in browser.find_elements(By.CSS_SELECTOR, ".form-group-error")]
    assert shown == {step: [] for step in shown}, "bug: a fresh item page shows an error beside the reason"


def test_enter_in_a_field_saves_the_step(server, browser):
    """A keyboard user who presses Enter in a field saves the step (the form's first submit button
    is "Save and continue"), not "Add another uploader"."""
    a = Applicant(server, "10.0.10.2").start().required("Tow a caravan", "https://www.gov.uk/tow-caravan", "tow@dvla.gov.uk",
                                                        kind="transactional")
    for step in ("cost_per_transaction", "user_satisfaction", "completion_rate"):
        assert a.post(step, {"action": "skip"}).status == 303
    use_cookie(browser, server, a.cookie)
    browser.get(server.base_url + "/apply/digital_take_up")
    type_at(browser, "spreadsheet_reference", "Caravan towing")
    type_at(browser, "uploader_1_name", "Sam Patel")
    type_at(browser, "uploader_1_email", "sam@dvla.gov.uk")
    enter(browser)
    shot(browser, "apply-51-enter-in-a-field")
    assert h1(browser) == "Service availability", "bug: Enter in a field pressed 'Add another uploader' instead of saving"


def test_the_sent_page_promises_only_what_was_emailed(server, browser):
    """The pages after confirming say what the applicant will find in their mailbox: if they say the
    reference was emailed to them, an email to them carries it."""
    a = Applicant(server, "10.0.10.3").start().required("Renew a bus pass", "https://www.gov.uk/renew-bus-pass", "bus@dvla.gov.uk")
    assert a.send().status == 200
    [confirm] = apply_links(server, "bus@dvla.gov.uk", "confirm", 1)
    browser.delete_all_cookies()
    browser.get(server.base_url + confirm)
    enter_on(browser, "Confirm and send")
    reference = browser.find_element(By.CSS_SELECTOR, ".panel-body").text.removeprefix("Your reference is ")
    assert REFERENCE.fullmatch(reference)
    said = paragraphs(browser)
    assert "You have given us all the information we need. We build a preview within 5 working days." in said
    shot(browser, "apply-52-sent-complete")
    wait_mail(server, TEAM, f"New dashboard application: Renew a bus pass ({reference})")  # the confirmation's emails are written
    browser.get(server.base_url + confirm)
    said_again = paragraphs(browser)
    shot(browser, "apply-53-confirm-used-again")
    emailed_reference = any(reference in text for _, text in mails(server, "bus@dvla.gov.uk"))
    claims = [p for p in said + said_again if "emailed you this reference" in p or "emailed you its reference" in p]
    assert emailed_reference or not claims, f"bug: the pages say {claims} but no email to the applicant has {reference}"


# ------------------------------------------------------------------------------------------ secrets


def test_no_cookie_or_link_secret_is_in_the_database_or_the_log(server):
    """Runs last: every cb_apply value handed out in this module and every token emailed (apply
    confirm and resume, task list, staff sign-in…) is absent from a pg_dump of the whole database
    (applications, application_links, emails, link_tokens…), from the server's trace-level log and
    from what the API shows of the emails; the database holds their SHA-256 instead."""
    a = Applicant(server, "10.0.11.1").start().required("Drive a lorry", "https://www.gov.uk/drive-lorry", "lorry@dvla.gov.uk")
    assert a.call("POST", "/apply/save", {"csrf": a.csrf, "email": "lorry@dvla.gov.uk"}).status == 200
    assert a.send().status == 200
    apply_links(server, "lorry@dvla.gov.uk", "confirm", 1)
    apply_links(server, "lorry@dvla.gov.uk", "resume", 1)
    tokens, apply_tokens = set(), set()
    for path in server.emails.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in ("plain", "html"):
            body = msg.get_body(preferencelist=(part,))
            if body is not None:
                tokens |= set(re.findall(ANY_LINK, body.get_content()))
                apply_tokens |= set(re.findall(APPLY_LINK, body.get_content()))
    assert len(apply_tokens) >= 3 and len(COOKIES) >= 3, (len(apply_tokens), len(COOKIES))
    secrets = tokens | COOKIES

    db = database_url_for(server.pg_url, server.dbname)
    dump = subprocess.run(["pg_dump", "--data-only", db], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "COPY public.applications" in dump and "COPY public.application_links" in dump and "/apply/confirm/cblink_" in dump
    log = server.log_path.read_text(errors="replace")
    assert len(log) > 100_000, "the trace log is too short to mean anything"
    seen = []
    for e in api(server).get("/api/v1/emails", query={"limit": 100}).json()["items"]:
        seen.append(json.dumps(e))
        seen.append(api(server).get(f"/api/v1/emails/{e['id']}").body.decode())
    readable = "\n".join(seen)
    leaked = {"database": {s for s in secrets if s in dump}, "log": {s for s in secrets if s in log},
              "api": {s for s in secrets if s in readable}}
    assert leaked == {"database": set(), "log": set(), "api": set()}, {k: len(v) for k, v in leaked.items()}

    # What is stored instead: the SHA-256 of every emailed apply token, and of each live session's cookie.
    stored = set(query(server, "SELECT encode(token_hash, 'hex') FROM link_tokens").split())
    assert {sha256_hex(t) for t in apply_tokens} <= stored
    sessions = set(query(server, "SELECT encode(session_hash, 'hex') FROM applications").split())
    assert sha256_hex(a.cookie) in sessions
