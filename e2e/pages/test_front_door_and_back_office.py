"""The front door and the back office in a real headless Chromium, axe-core on every page.

An applicant applies (bad input, add another uploader, skip an item, save and come back later by
the emailed link in a fresh session, check answers, confirm the emailed link) and the request
appears on the board with the sign-off owner's heads-up and the team's email sent. A staff member
creates a request with the keyboard and a data set, retries a failed email, adds a staff member and
revokes a token, and withdraws two requests in bulk. Screenshots go to $SCREENSHOT_DIR.
"""
from __future__ import annotations

import email
import email.policy
import re
import subprocess
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions

from test_pages import (  # noqa: F401 - fixtures
    ADMIN_EMAIL, api, browser, database_url_for, emailed_links, new_request, psql, raw, server, shot, staff_sign_in,
    WebDriverWait,
)

REFERENCE = re.compile(r"CB-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}")


class Navigating:
    """An element whose click or keys load a new page: they return once the old one is gone."""

    def __init__(self, browser, element):
        self.browser, self.element = browser, element

    def _wait(self, old):
        WebDriverWait(self.browser, 10).until(expected_conditions.staleness_of(old))

    def click(self):
        old = self.browser.find_element(By.TAG_NAME, "html")
        self.element.click()
        self._wait(old)

    def send_keys(self, *keys):
        old = self.browser.find_element(By.TAG_NAME, "html")
        self.element.send_keys(*keys)
        self._wait(old)


def button(browser, text: str):
    return Navigating(browser, browser.find_element(By.XPATH, f"//main//button[normalize-space()='{text}']"))


def h1(browser) -> str:
    return browser.find_element(By.TAG_NAME, "h1").text


def type_into(browser, values: dict[str, str]):
    for field_id, value in values.items():
        element = browser.find_element(By.ID, field_id)
        if element.get_attribute("type") in ("checkbox", "radio"):
            if not element.is_selected():
                element.click()
        elif element.tag_name == "select":
            element.find_element(By.CSS_SELECTOR, f"option[value='{value}']").click()
        else:
            element.clear()
            element.send_keys(value)


def answer(browser, name: str, values: dict[str, str], press: str = "Save and continue"):
    shot(browser, name)
    type_into(browser, values)
    button(browser, press).click()


def subjects_to(server, to: str) -> list[str]:
    out = []
    for path in sorted(server.emails.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["To"] == to:
            out.append(str(msg["Subject"]))
    return out


def wait_subject(server, to: str, part: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not any(part in s for s in subjects_to(server, to)):
        assert time.monotonic() < deadline, f"no email to {to} about {part!r}: {subjects_to(server, to)}"
        time.sleep(0.1)  # the worker delivers asynchronously; this waits for a file


def query(db: str, sql: str) -> str:
    return subprocess.run(["psql", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True, text=True, check=True).stdout.strip()


def errors(browser) -> list[str]:
    return [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".error-summary a")]


def test_an_applicant_applies_and_the_request_reaches_the_board(server, browser):
    browser.delete_all_cookies()
    browser.get(server.base_url + "/apply")
    assert h1(browser) == "Apply for a Performance Platform dashboard"
    shot(browser, "40-apply-start")
    button(browser, "Start now").click()
    assert h1(browser) == "Is your service transactional?"
    # Keyboard only: the first question sent empty with Enter; the error summary has focus.
    button(browser, "Save and continue").send_keys(Keys.ENTER)
    assert errors(browser) == ["Select yes if your service is transactional"]
    assert "error-summary" in browser.execute_script("return document.activeElement.className")
    shot(browser, "41-apply-error")
    browser.find_element(By.ID, "kind").send_keys(Keys.SPACE)
    button(browser, "Save and continue").send_keys(Keys.ENTER)
    answer(browser, "42-apply-organisation", {"department": "Driver and Vehicle Licensing Agency", "division": "x"})
    assert h1(browser) == "Your contact details"
    answer(browser, "43-apply-contact", {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "020 7946 0000"})
    assert errors(browser)[0].startswith("Email address must be a public sector address ending in gov.uk")
    assert browser.find_element(By.ID, "email-error").text.split(None, 1)[1].startswith("Email address must be a public sector address")
    shot(browser, "44-apply-contact-error")
    answer(browser, "43-apply-contact", {"email": "ada@dvla.gov.uk"})
    answer(browser, "45-apply-sign-off", {"name": "Grace Hopper", "email": "grace@supplier.example", "phone": "020 7946 0001"})
    answer(browser, "46-apply-service", {"name": "Renew a tachograph card", "description": "Drivers renew their card",
                                         "start_page_url": "https://www.gov.uk/renew-tachograph"})
    assert h1(browser) == "Cost per transaction"
    answer(browser, "47-apply-cost", {}, press="I will give this later")
    answer(browser, "48-apply-satisfaction", {"availability-no": "", "reason": "We do not survey users yet"})
    answer(browser, "49-apply-completion", {}, press="I will give this later")
    assert h1(browser) == "Digital take-up"
    # "Add another uploader" adds a row past the three shown; the fourth row's answer is kept.
    type_into(browser, {"spreadsheet_reference": "Tacho take-up", "uploader_1_name": "Sam Patel",
                        "uploader_1_email": "sam@dvla.gov.uk"})
    button(browser, "Add another uploader").click()
    assert browser.find_element(By.ID, "uploader_1_email").get_attribute("value") == "sam@dvla.gov.uk"
    answer(browser, "50-apply-add-another", {"uploader_4_name": "Kim Lee", "uploader_4_email": "kim@supplier.example"})
    assert h1(browser) == "Service availability"
    answer(browser, "51-apply-availability", {}, press="Save and come back later")
    assert h1(browser) == "Save and come back later"
    assert browser.find_element(By.ID, "email").get_attribute("value") == "ada@dvla.gov.uk"
    shot(browser, "52-apply-save")
    button(browser, "Email me a link").click()
    assert h1(browser) == "Check your email"
    [resume] = emailed_links(server, "ada@dvla.gov.uk", "Continue your dashboard application", "apply/resume", 1)

    # Nothing reaches the board before the address is confirmed.
    assert api(server).get("/api/v1/requests", query={"q": "tachograph"}).json()["items"] == []

    # A fresh session (another device) carries on through the emailed link.
    browser.delete_all_cookies()
    browser.get(server.base_url + resume)
    shot(browser, "53-apply-resume")
    button(browser, "Continue your application").click()
    assert h1(browser) == "Check your answers before sending your application"
    shot(browser, "54-apply-check")
    rows = {r.find_element(By.CSS_SELECTOR, "dt").text: r.find_element(By.CSS_SELECTOR, "dd").text
            for r in browser.find_elements(By.CSS_SELECTOR, ".summary-list-row")}
    assert rows["Uploader 2: email address"] == "kim@supplier.example"
    assert rows["Why not"] == "We do not survey users yet"
    statuses = [d.text for d in browser.find_elements(By.XPATH, "//dt[.='Status']/following-sibling::dd[1]")]
    assert statuses == ["Answered"] * 5 + ["You will give this later", "Answered", "You will give this later", "Answered",
                                           "Not answered"]
    assert len(browser.find_elements(By.LINK_TEXT, "Change")) == 0  # the link text includes the hidden section name
    assert len(browser.find_elements(By.PARTIAL_LINK_TEXT, "Change")) == 10
    button(browser, "Send application").click()
    assert h1(browser) == "Check your email"
    [confirm] = emailed_links(server, "ada@dvla.gov.uk", "Confirm your email address", "apply/confirm", 1)
    assert api(server).get("/api/v1/requests", query={"q": "tachograph"}).json()["items"] == []

    browser.get(server.base_url + confirm)
    shot(browser, "55-apply-confirm")
    button(browser, "Confirm and send").click()
    assert browser.find_element(By.CSS_SELECTOR, ".panel-title").text == "Application sent"
    reference = browser.find_element(By.CSS_SELECTOR, ".panel-body").text.removeprefix("Your reference is ")
    assert REFERENCE.fullmatch(reference)
    shot(browser, "56-apply-sent")

    [found] = api(server).get("/api/v1/requests", query={"q": reference}).json()["items"]
    assert (found["reference"], found["state"], found["kind"]) == (reference, "requested", "transactional")
    assert found["missing_items"] == ["cost_per_transaction", "completion_rate", "service_availability"]
    wait_subject(server, "grace@supplier.example", "You have been named as sign-off owner for the Renew a tachograph card dashboard")
    wait_subject(server, "performance-platform@localhost.localdomain", f"New dashboard application: Renew a tachograph card ({reference})")
    # The information request goes to the applicant, now the service contact; nothing to the uploaders yet.
    wait_subject(server, "ada@dvla.gov.uk", "Tell us about Renew a tachograph card")
    assert subjects_to(server, "kim@supplier.example") == []

    # The link is single-use.
    status, _, page = raw(server, "POST", confirm)
    assert status == 410 and "This link has already been used" in page

    staff_sign_in(server, browser, ADMIN_EMAIL)
    browser.get(f"{server.base_url}/staff?q={reference}")
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "tbody td")]
    assert reference in cells and "Renew a tachograph card\nDriver and Vehicle Licensing Agency" in cells
    shot(browser, "57-board-search")

    for path in ("/accessibility", "/privacy", "/cookies"):
        browser.get(server.base_url + path)
        shot(browser, "58" + path.replace("/", "-"))


def test_the_team_creates_a_request_and_a_data_set_retries_an_email_manages_staff_and_withdraws_in_bulk(server, browser):
    staff_sign_in(server, browser, ADMIN_EMAIL)
    browser.get(server.base_url + "/staff/requests/new")
    assert h1(browser) == "New request"
    for element in browser.find_elements(By.CSS_SELECTOR, "main input:not([type=hidden]), main select, main textarea"):
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for='{element.get_attribute('id')}']"), element.get_attribute("id")
    shot(browser, "60-new-request")
    # Keyboard only: the kind by Space, the rest typed, sent with Enter; a missing department first.
    browser.find_element(By.ID, "kind").send_keys(Keys.SPACE)
    button(browser, "Save").send_keys(Keys.ENTER)
    assert errors(browser) == ["Enter department or agency"]
    assert "error-summary" in browser.execute_script("return document.activeElement.className")
    shot(browser, "61-new-request-error")
    for field_id, value in {"department": "HM Passport Office", "contact-name": "Ada Lovelace", "contact-email": "ada@hmpo.gov.uk",
                            "contact-phone": "020 7946 0000"}.items():
        browser.find_element(By.ID, field_id).send_keys(value)
    browser.find_element(By.ID, "assign_to_me").send_keys(Keys.SPACE)
    button(browser, "Save").send_keys(Keys.ENTER)
    notice = browser.find_element(By.CSS_SELECTOR, ".notification-banner-success").text
    reference = REFERENCE.search(notice).group(0)
    rid = browser.current_url.split("/staff/requests/")[1].split("?")[0]
    created = api(server).get(f"/api/v1/requests/{rid}").json()
    assert (created["reference"], created["department"], created["assignee"]) == (reference, "HM Passport Office", ADMIN_EMAIL)
    shot(browser, "62-request-created")

    # A data set with two uploaders, one added with "Add another uploader".
    Navigating(browser, browser.find_element(By.LINK_TEXT, "Add a data set")).click()
    type_into(browser, {"name": "Passport volumes", "cadence": "monthly", "uploader_1_name": "Sam Patel",
                        "uploader_1_email": "sam@hmpo.gov.uk"})
    button(browser, "Add another uploader").click()
    shot(browser, "63-new-data-set")
    rows = len(browser.find_elements(By.CSS_SELECTOR, "input[id^=uploader_][id$=_email]"))
    type_into(browser, {f"uploader_{rows}_name": "Kim Lee", f"uploader_{rows}_email": "kim@supplier.example"})
    Navigating(browser, browser.find_element(By.CSS_SELECTOR, "main form button.button:not(.button-secondary)")).click()
    [ds] = api(server).get(f"/api/v1/requests/{rid}/data-sets").json()["items"]
    assert ds["name"] == "Passport volumes" and [u["email"] for u in ds["uploaders"]] == ["sam@hmpo.gov.uk", "kim@supplier.example"]
    shot(browser, "64-data-set")

    # A failed email is retried from the outbox.
    db = database_url_for(server.pg_url, server.dbname)
    email_id = query(db, f"SELECT id FROM emails WHERE request_id = '{rid}' AND kind = 'information_request'")
    query(db, f"UPDATE emails SET status = 'failed', last_error = 'test: relay refused' WHERE id = '{email_id}'")
    browser.get(f"{server.base_url}/staff/emails/{email_id}")
    shot(browser, "65-email-failed")
    button(browser, "Retry").click()
    assert api(server).get(f"/api/v1/emails/{email_id}").json()["status"] in ("queued", "sending", "sent")
    shot(browser, "66-email-retried")

    # A staff member added, then made a viewer; an API token created (shown once) and revoked.
    browser.get(server.base_url + "/staff/admin/staff")
    type_into(browser, {"email": "tri@gds.gov.uk", "name": "Tri Ager"})
    browser.find_element(By.CSS_SELECTOR, "input[name=role][value=triager]").click()
    shot(browser, "67-staff")
    button(browser, "Add staff member").click()
    staff = {s["email"]: s for s in api(server).get("/api/v1/staff").json()["items"]}
    assert staff["tri@gds.gov.uk"]["role"] == "triager"
    browser.get(server.base_url + "/staff/admin/staff")
    select = browser.find_element(By.ID, f"role-{staff['tri@gds.gov.uk']['id']}")
    select.find_element(By.CSS_SELECTOR, "option[value=viewer]").click()
    Navigating(browser, select.find_element(By.XPATH, "./ancestor::form//button")).click()
    staff = {s["email"]: s for s in api(server).get("/api/v1/staff").json()["items"]}
    assert staff["tri@gds.gov.uk"]["role"] == "viewer"
    browser.get(server.base_url + "/staff/admin/tokens")
    type_into(browser, {"name": "reporting script"})
    button(browser, "Create token").click()
    token = browser.find_element(By.ID, "token").get_attribute("value")
    shot(browser, "68-token-created")
    assert api(server).with_token(token).get("/api/v1/requests").status == 200
    browser.get(server.base_url + "/staff/admin/tokens")
    assert token not in browser.page_source
    Navigating(browser, browser.find_element(By.XPATH, "//tr[td[contains(., 'reporting script')]]//button")).click()
    assert api(server).with_token(token).get("/api/v1/requests").status == 401
    shot(browser, "69-token-revoked")

    # Two requests withdrawn in bulk; a withdrawn one is listed as what cannot change.
    first, second = new_request(server, "Bulk one"), new_request(server, "Bulk two")
    browser.get(f"{server.base_url}/staff?q=Bulk")
    for rid_ in (first, second):
        browser.find_element(By.ID, f"select-{rid_}").click()
    browser.find_element(By.ID, "bulk-withdraw").click()
    browser.find_element(By.ID, "bulk-reason").send_keys("Asked twice")
    shot(browser, "70-bulk-select")
    button(browser, "Continue").click()
    assert h1(browser) == "Withdraw 2 requests"
    shot(browser, "71-bulk-confirm")
    button(browser, "Confirm").click()
    outcomes = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "tbody td:last-child")]
    assert outcomes == ["Done", "Done"]
    shot(browser, "72-bulk-done")
    for rid_ in (first, second):
        r = api(server).get(f"/api/v1/requests/{rid_}").json()
        assert r["state"] == "withdrawn"
        events = api(server).get(f"/api/v1/requests/{rid_}/events").json()["items"]
        assert [e["data"].get("reason") for e in events if e["data"].get("transition") == "withdraw"] == ["Asked twice"]
    browser.get(f"{server.base_url}/staff?q=Bulk")
    browser.find_element(By.ID, f"select-{first}").click()
    browser.find_element(By.ID, "bulk-withdraw").click()
    browser.find_element(By.ID, "bulk-reason").send_keys("Again")
    button(browser, "Continue").click()
    assert [td.text for td in browser.find_elements(By.CSS_SELECTOR, "tbody td:last-child")] == ["It is withdrawn: it cannot be withdrawn"]
    shot(browser, "73-bulk-cannot")
