"""The back office in a real headless Chromium, axe-core on every page (error pages included).

A staff member creates a request with the keyboard only and a data set with a write token (shown
once, working against the write API until revoked); retries a failed email; adds a staff member,
changes their role and revokes an API token (a viewer gets 403 on the admin pages); withdraws two
requests in bulk; meets the edit page's stale-version handling; and searches, filters and pages
through the board. Screenshots go to $SCREENSHOT_DIR.
"""
from __future__ import annotations

import datetime
import http.client
import json
import re
import time
import urllib.parse

import pytest

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from test_pages import (  # noqa: F401 - fixtures
    ADMIN_EMAIL, api, browser, database_url_for, fire, new_request, psql, server, shot, staff_sign_in,
)
from test_front_door_and_back_office import REFERENCE, Navigating, button, errors, h1, query, type_into

FIELDS = "main input:not([type=hidden]), main select, main textarea"


def signed_in(server, browser, address: str):
    """Signs in through the emailed link, unless the browser's session already is this person's
    (sign-in links are rate limited per address: five in a while)."""
    browser.get(server.base_url + "/staff")
    accounts = browser.find_elements(By.CSS_SELECTOR, ".header-account span")
    if accounts and accounts[0].text == address and h1(browser) == "Dashboard requests":
        shot(browser, "triage board")
        return
    staff_sign_in(server, browser, address)


def every_input_labelled(browser):
    for element in browser.find_elements(By.CSS_SELECTOR, FIELDS):
        field_id = element.get_attribute("id")
        labelled = field_id and browser.find_elements(By.CSS_SELECTOR, f"label[for='{field_id}']")
        assert labelled or (element.get_attribute("aria-label") or "").strip(), element.get_attribute("outerHTML")


def tab_to(browser, field_id: str):
    """Presses TAB (from where the focus is) until the element with this id has the focus."""
    for _ in range(120):
        if browser.switch_to.active_element.get_attribute("id") == field_id:
            return browser.switch_to.active_element
        browser.switch_to.active_element.send_keys(Keys.TAB)
    raise AssertionError(f"TAB never reached #{field_id}")


def keyboard_fill(browser, values: dict[str, str]):
    """TAB to each field in turn and type into it; SPACE for a radio or checkbox."""
    for field_id, value in values.items():
        element = tab_to(browser, field_id)
        if element.get_attribute("type") in ("checkbox", "radio"):
            element.send_keys(Keys.SPACE)
        else:
            element.send_keys(value)


def tab_to_button_and_enter(browser, text: str):
    for _ in range(120):
        active = browser.switch_to.active_element
        if active.tag_name == "button" and active.text.strip() == text:
            Navigating(browser, active).send_keys(Keys.ENTER)
            return
        active.send_keys(Keys.TAB)
    raise AssertionError(f"TAB never reached the {text!r} button")


def start_from_top(browser):
    browser.find_element(By.TAG_NAME, "body").click()
    browser.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")


def session_call(server, browser, method: str, path: str, form: dict | None = None):
    """The request the browser would make, with its session cookie: for the status code the page came with."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    headers = {"Cookie": f"cb_session={browser.get_cookie('cb_session')['value']}"}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": server.base_url})
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def csrf_of(browser) -> str:
    return browser.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")


def write(server, token: str, path: str, records):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("POST", path, body=json.dumps(records), headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def board_rows(browser) -> list[dict]:
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "table thead th")]
    rows = []
    for tr in browser.find_elements(By.CSS_SELECTOR, "table tbody tr"):
        cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        rows.append(dict(zip(heads, cells)))
    return rows


def table_after(browser, heading: str) -> list[list[str]]:
    table = browser.find_element(By.XPATH, f"//h2[.='{heading}']/following-sibling::table[1]")
    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]


def email_status(server, email_id: str) -> str:
    r = api(server).get(f"/api/v1/emails/{email_id}")
    assert r.status == 200, str(r)
    return r.json()["status"]


def wait_email(server, email_id: str, status: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while (now := email_status(server, email_id)) != status:
        assert time.monotonic() < deadline, f"email {email_id} is {now}, not {status}"
        time.sleep(0.1)  # the worker delivers asynchronously


def summary_value(browser, key: str) -> str:
    return browser.find_element(By.XPATH, f"//dt[normalize-space()='{key}']/following-sibling::dd[1]").text


# ---------------------------------------------------------------------------------- 1. new request, data set, write token


def test_a_staff_member_creates_a_request_by_keyboard_then_a_data_set_and_a_write_token(server, browser):
    signed_in(server, browser, ADMIN_EMAIL)
    browser.get(server.base_url + "/staff/requests/new")
    assert h1(browser) == "New request"
    assert browser.title == "New request – GOV.UK Performance Platform"
    every_input_labelled(browser)
    shot(browser, "bo-01-new-request")

    # Keyboard only, a missing department first: the error summary has the focus.
    start_from_top(browser)
    keyboard_fill(browser, {"kind": " "})
    tab_to_button_and_enter(browser, "Save")
    assert h1(browser) == "New request"
    assert errors(browser) == ["Enter department or agency"]
    assert browser.find_element(By.CSS_SELECTOR, ".error-summary a").get_attribute("href").endswith("#department")
    assert browser.title.startswith("Error: ")
    assert browser.execute_script("return document.activeElement.classList.contains('error-summary')")
    assert browser.find_element(By.CSS_SELECTOR, ".error-summary").get_attribute("autofocus") is not None
    assert browser.find_element(By.ID, "kind").is_selected()
    every_input_labelled(browser)
    shot(browser, "bo-02-new-request-error")

    keyboard_fill(browser, {"department": "HM Passport Office", "assign_to_me": " ", "contact-name": "Ada Lovelace",
                            "contact-email": "ada@hmpo.gov.uk", "contact-phone": "020 7946 0000",
                            "service-name": "Renew a passport", "service-description": "People renew their passport online",
                            "service-start_page_url": "https://www.gov.uk/renew-adult-passport"})
    tab_to_button_and_enter(browser, "Save")
    notice = browser.find_element(By.CSS_SELECTOR, ".notification-banner-success").text
    reference = REFERENCE.search(notice).group(0)
    assert re.fullmatch(r"CB-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}", reference)
    assert h1(browser) == "Renew a passport"
    assert reference in browser.find_element(By.TAG_NAME, "main").text
    rid = browser.current_url.split("/staff/requests/")[1].split("?")[0]
    shot(browser, "bo-03-request-created")
    created = api(server).get(f"/api/v1/requests/{rid}").json()
    assert (created["reference"], created["kind"], created["department"], created["assignee"]) == \
        (reference, "transactional", "HM Passport Office", ADMIN_EMAIL)
    assert created["items"]["contact"]["value"] == {"name": "Ada Lovelace", "email": "ada@hmpo.gov.uk", "phone": "020 7946 0000"}
    [found] = api(server).get("/api/v1/requests", query={"q": reference}).json()["items"]
    assert found["id"] == rid

    # A data set: two uploaders (the second row from "Add another uploader"), a field, a write path.
    Navigating(browser, browser.find_element(By.LINK_TEXT, "Add a data set")).click()
    assert h1(browser) == "Add a data set"
    every_input_labelled(browser)
    assert len(browser.find_elements(By.CSS_SELECTOR, "input[id^=uploader_][id$=_email]")) == 1
    shot(browser, "bo-04-new-data-set")
    type_into(browser, {"name": "Passport volumes", "cadence": "monthly", "uploader_1_name": "Sam Patel",
                        "uploader_1_email": "sam@hmpo.gov.uk", "field_1_name": "applications", "field_1_type": "number",
                        "data_group": "hmpo", "data_type": "passport-volumes"})
    button(browser, "Add another uploader").click()
    assert [e.get_attribute("id") for e in browser.find_elements(By.CSS_SELECTOR, "input[id^=uploader_][id$=_email]")] == \
        ["uploader_1_email", "uploader_2_email"]
    assert browser.find_element(By.ID, "uploader_1_email").get_attribute("value") == "sam@hmpo.gov.uk"
    assert browser.find_element(By.ID, "field_1_name").get_attribute("value") == "applications"
    every_input_labelled(browser)
    shot(browser, "bo-05-new-data-set-another-uploader")
    type_into(browser, {"uploader_2_name": "Kim Lee", "uploader_2_email": "kim@supplier.example"})
    button(browser, "Add data set").click()
    assert h1(browser) == "Passport volumes"
    assert browser.find_element(By.CSS_SELECTOR, ".notification-banner-success").text == \
        "Data set added. Each uploader has been emailed an upload link."
    write_path = "/data/hmpo/passport-volumes"
    assert summary_value(browser, "Write API") == server.base_url + write_path
    assert summary_value(browser, "Fields") == "applications (number)"
    assert [r[:2] for r in table_after(browser, "Uploaders")] == [["Sam Patel", "sam@hmpo.gov.uk"], ["Kim Lee", "kim@supplier.example"]]
    assert "No write tokens yet." in browser.find_element(By.TAG_NAME, "main").text
    ds_url = browser.current_url.split("?")[0]
    shot(browser, "bo-06-data-set")
    [ds] = api(server).get(f"/api/v1/requests/{rid}/data-sets").json()["items"]
    assert ds["name"] == "Passport volumes" and [u["email"] for u in ds["uploaders"]] == ["sam@hmpo.gov.uk", "kim@supplier.example"]
    assert ds["fields"] == [{"name": "applications", "type": "number"}]

    # The request page lists it.
    browser.get(f"{server.base_url}/staff/requests/{rid}")
    assert browser.find_element(By.LINK_TEXT, "Passport volumes").get_attribute("href").split("?")[0] == ds_url
    assert "monthly; " in browser.find_element(By.XPATH, "//h2[.='Data sets']/following-sibling::dl[1]").text
    shot(browser, "bo-07-request-with-data-set")

    # A write token: shown once, works against the write API, gone on the next visit; revoked, refused.
    browser.get(ds_url)
    type_into(browser, {"token_name": "HMPO nightly feed"})
    button(browser, "Create write token").click()
    assert browser.find_element(By.CSS_SELECTOR, ".panel-title").text == "Write token created"
    token = browser.find_element(By.ID, "token").get_attribute("value")
    assert re.fullmatch(r"cbw_[A-Za-z0-9_-]{43}", token), token
    assert f"with writes to {server.base_url}{write_path}" in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "bo-08-write-token-created")
    period = datetime.date.fromisoformat(ds["current_period"]["start"])
    record = [{"_id": "one", "_timestamp": f"{period}T00:00:00+00:00", "applications": 12}]
    status, body = write(server, token, write_path, record)
    assert (status, json.loads(body)) == (200, {"status": "ok", "records": 1}), body
    browser.get(ds_url)
    assert token not in browser.page_source
    [row] = table_after(browser, "Write tokens")
    assert row[0].startswith("HMPO nightly feed ") and row[3] == "Active"
    shot(browser, "bo-09-data-set-with-token")
    Navigating(browser, browser.find_element(By.XPATH, "//tr[td[starts-with(., 'HMPO nightly feed')]]//button")).click()
    assert browser.find_element(By.CSS_SELECTOR, ".notification-banner-success").text == "Write token revoked."
    [row] = table_after(browser, "Write tokens")
    assert row[3].startswith("Revoked ")
    shot(browser, "bo-10-write-token-revoked")
    status, body = write(server, token, write_path, record)
    assert status == 401, body


# ---------------------------------------------------------------------------------- 2. a failed email retried


def test_a_failed_email_is_retried_from_the_outbox(server, browser):
    signed_in(server, browser, ADMIN_EMAIL)
    r = api(server).post("/api/v1/requests", {"kind": "non_transactional", "department": "GRO", "items": {"contact": {
        "status": "provided", "value": {"name": "Ada Lovelace", "email": "ada@gro.gov.uk", "phone": "020 7946 0000"}}}})
    assert r.status == 201, str(r)
    rid = r.json()["id"]
    db = database_url_for(server.pg_url, server.dbname)
    deadline = time.monotonic() + 20
    while not (email_id := query(db, f"SELECT id FROM emails WHERE request_id = '{rid}' AND kind = 'information_request'")):
        assert time.monotonic() < deadline, "no information request email"
        time.sleep(0.1)
    wait_email(server, email_id, "sent")
    psql(db, f"UPDATE emails SET status = 'failed', last_error = 'test: relay refused' WHERE id = '{email_id}'")
    assert email_status(server, email_id) == "failed"

    browser.get(f"{server.base_url}/staff/emails?status=failed")
    assert h1(browser) == "Emails"
    every_input_labelled(browser)
    shot(browser, "bo-20-emails-failed")
    Navigating(browser, browser.find_element(By.CSS_SELECTOR, f"main a[href='/staff/emails/{email_id}']")).click()
    assert summary_value(browser, "Status") == "Failed"
    assert summary_value(browser, "Last error") == "test: relay refused"
    shot(browser, "bo-21-email-failed")
    button(browser, "Retry").click()
    assert browser.find_element(By.CSS_SELECTOR, ".notification-banner-success").text == "The email is queued again."
    assert summary_value(browser, "Status") in ("Queued", "Sending", "Sent")
    shot(browser, "bo-22-email-retried")
    wait_email(server, email_id, "sent")
    browser.get(f"{server.base_url}/staff/emails/{email_id}")
    assert summary_value(browser, "Status") == "Sent"
    assert not browser.find_elements(By.XPATH, "//main//button[normalize-space()='Retry']")
    shot(browser, "bo-23-email-sent-again")


# ---------------------------------------------------------------------------------- 3. staff and API tokens


def test_an_admin_adds_a_staff_member_changes_their_role_and_revokes_a_token(server, browser):
    signed_in(server, browser, ADMIN_EMAIL)
    browser.get(server.base_url + "/staff/admin/staff")
    assert h1(browser) == "Staff"
    every_input_labelled(browser)
    shot(browser, "bo-30-staff")
    type_into(browser, {"email": "tri@gds.gov.uk", "name": "Tri Ager", "role-triager": "x"})
    button(browser, "Add staff member").click()
    assert browser.find_element(By.CSS_SELECTOR, ".notification-banner-success").text == "Staff member added."
    staff = {s["email"]: s for s in api(server).get("/api/v1/staff").json()["items"]}
    assert (staff["tri@gds.gov.uk"]["role"], staff["tri@gds.gov.uk"]["name"]) == ("triager", "Tri Ager")
    sid = staff["tri@gds.gov.uk"]["id"]
    select = browser.find_element(By.ID, f"role-{sid}")
    assert select.find_element(By.CSS_SELECTOR, "option:checked").get_attribute("value") == "triager"
    shot(browser, "bo-31-staff-added")
    select.find_element(By.CSS_SELECTOR, "option[value=viewer]").click()
    Navigating(browser, select.find_element(By.XPATH, "./ancestor::form//button")).click()
    assert browser.find_element(By.CSS_SELECTOR, ".notification-banner-success").text == "Role changed."
    assert browser.find_element(By.ID, f"role-{sid}").find_element(By.CSS_SELECTOR, "option:checked").get_attribute("value") == "viewer"
    shot(browser, "bo-32-role-changed")
    assert {s["email"]: s for s in api(server).get("/api/v1/staff").json()["items"]}["tri@gds.gov.uk"]["role"] == "viewer"

    # An API token made here: shown once; refused with 401 once revoked.
    browser.get(server.base_url + "/staff/admin/tokens")
    assert h1(browser) == "API tokens"
    every_input_labelled(browser)
    shot(browser, "bo-33-tokens")
    type_into(browser, {"name": "reporting script"})
    button(browser, "Create token").click()
    token = browser.find_element(By.ID, "token").get_attribute("value")
    assert re.fullmatch(r"cb_[A-Za-z0-9_-]{43}", token), token
    shot(browser, "bo-34-token-created")
    assert api(server).with_token(token).get("/api/v1/requests").status == 200
    browser.get(server.base_url + "/staff/admin/tokens")
    assert token not in browser.page_source
    row = browser.find_element(By.XPATH, "//tr[td[starts-with(., 'reporting script')]]")
    assert [td.text for td in row.find_elements(By.TAG_NAME, "td")][1] == ADMIN_EMAIL
    Navigating(browser, row.find_element(By.TAG_NAME, "button")).click()
    assert browser.find_element(By.CSS_SELECTOR, ".notification-banner-success").text == "Token revoked: it no longer works."
    row = browser.find_element(By.XPATH, "//tr[td[starts-with(., 'reporting script')]]")
    assert [td.text for td in row.find_elements(By.TAG_NAME, "td")][5].startswith("Revoked ")
    shot(browser, "bo-35-token-revoked")
    assert api(server).with_token(token).get("/api/v1/requests").status == 401

    # The viewer signs in: the admin pages are refused with 403.
    signed_in(server, browser, "tri@gds.gov.uk")
    for path in ("/staff/admin/staff", "/staff/admin/tokens"):
        browser.get(server.base_url + path)
        assert h1(browser) == "You cannot do that"
        assert "Your role does not allow it." in browser.find_element(By.TAG_NAME, "main").text
        shot(browser, "bo-36-viewer-forbidden" + path.replace("/", "-"))
        assert session_call(server, browser, "GET", path)[0] == 403


# ---------------------------------------------------------------------------------- 4. bulk withdrawal


def test_two_requests_are_withdrawn_in_bulk_and_a_withdrawn_one_cannot_change(server, browser):
    first, second, gone = (new_request(server, f"Bulkwd {n}") for n in ("alpha", "beta", "gamma"))
    fire(server, gone, "withdraw", {"reason": "Duplicate"})
    refs = {rid: api(server).get(f"/api/v1/requests/{rid}").json()["reference"] for rid in (first, second, gone)}
    signed_in(server, browser, ADMIN_EMAIL)
    browser.get(f"{server.base_url}/staff?q=Bulkwd")
    assert sorted(r["Reference"] for r in board_rows(browser)) == sorted(refs.values())
    for rid in (first, second, gone):
        browser.find_element(By.ID, f"select-{rid}").click()
    browser.find_element(By.ID, "bulk-withdraw").click()
    browser.find_element(By.ID, "bulk-reason").send_keys("Asked twice")
    every_input_labelled(browser)
    shot(browser, "bo-40-bulk-select")
    button(browser, "Continue").click()
    assert h1(browser) == "Withdraw 2 requests"
    will = table_after(browser, "What will change")
    assert sorted(will) == sorted([["Bulkwd alpha", refs[first], "Will be withdrawn: Asked twice"],
                                   ["Bulkwd beta", refs[second], "Will be withdrawn: Asked twice"]])
    assert table_after(browser, "What cannot change") == [["Bulkwd gamma", refs[gone], "It is withdrawn: it cannot be withdrawn"]]
    shot(browser, "bo-41-bulk-confirm")
    # Nothing has changed before Confirm.
    assert api(server).get(f"/api/v1/requests/{first}").json()["state"] == "info_complete"
    button(browser, "Confirm").click()
    assert h1(browser) == "Bulk withdrawal"
    assert [td.text for td in browser.find_elements(By.CSS_SELECTOR, "tbody td:last-child")] == ["Done", "Done"]
    shot(browser, "bo-42-bulk-done")
    for rid in (first, second):
        assert api(server).get(f"/api/v1/requests/{rid}").json()["state"] == "withdrawn"
        events = api(server).get(f"/api/v1/requests/{rid}/events", query={"limit": 200}).json()["items"]
        withdrawals = [e for e in events if e["kind"] == "transitioned" and e["data"]["transition"] == "withdraw"]
        assert [(e["data"].get("reason"), e["actor"]["kind"]) for e in withdrawals] == [("Asked twice", "admin")]
    events = api(server).get(f"/api/v1/requests/{gone}/events", query={"limit": 200}).json()["items"]
    assert [e["data"].get("reason") for e in events if e["data"].get("transition") == "withdraw"] == ["Duplicate"]

    # Continue with no action chosen: the board says what is missing.
    browser.get(f"{server.base_url}/staff?q=Bulkwd")
    browser.find_element(By.ID, f"select-{first}").click()
    button(browser, "Continue").click()
    assert h1(browser) == "Nothing was changed"
    assert "Select what to do with the selected requests" in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "bo-43-bulk-no-action")


# ---------------------------------------------------------------------------------- 5. stale edit


def test_an_edit_of_a_request_that_changed_meanwhile_shows_what_changed_and_keeps_the_input(server, browser):
    rid = new_request(server, "Apply for a fishing permit")
    signed_in(server, browser, ADMIN_EMAIL)
    browser.get(f"{server.base_url}/staff/requests/{rid}/edit")
    assert h1(browser) == "Edit Apply for a fishing permit"
    every_input_labelled(browser)
    assert browser.find_element(By.ID, "department").get_attribute("value") == "DVLA"
    shot(browser, "bo-50-edit")
    type_into(browser, {"notes": "Call them on Monday"})
    current = api(server).get(f"/api/v1/requests/{rid}")
    assert api(server).patch(f"/api/v1/requests/{rid}", {"department": "DVLA Digital"},
                             headers={"If-Match": current.header("ETag")}).status == 200
    # What the form posts, as the browser would send it (for the status code, asserted below).
    stale_form = dict(browser.execute_script(
        "return Array.from(new FormData(document.querySelector('main form[method=post]:not(.header-account)')).entries())"))
    assert stale_form["notes"] == "Call them on Monday" and stale_form["version"]
    button(browser, "Save").click()
    banner = browser.find_element(By.CSS_SELECTOR, ".notification-banner")
    assert banner.find_element(By.TAG_NAME, "h2").text == "This request changed while you were editing it"
    [changed] = [li.text for li in banner.find_elements(By.TAG_NAME, "li")]
    admin_id = {s["email"]: s["id"] for s in api(server).get("/api/v1/staff").json()["items"]}[ADMIN_EMAIL]
    # The event's actor is named by its staff id (what the API's events carry), then when.
    assert re.fullmatch(rf"Changed department by {admin_id}, \w+day \d+ \w+ \d{{4}}, \d+:\d\d[ap]m GMT", changed), changed
    assert "Your changes are below and have not been saved." in banner.text
    assert browser.find_element(By.ID, "notes").get_attribute("value") == "Call them on Monday"
    shot(browser, "bo-51-edit-stale")
    after = api(server).get(f"/api/v1/requests/{rid}").json()
    assert (after["department"], after["notes"]) == ("DVLA Digital", "")
    # The same post answers 409.
    status, page = session_call(server, browser, "POST", f"/staff/requests/{rid}/edit",
                                stale_form)
    assert status == 409 and "This request changed while you were editing it" in page
    # Saved again, from the fresh version the page now carries, it goes through.
    type_into(browser, {"department": "DVLA Digital"})
    button(browser, "Save").click()
    assert h1(browser) == "Apply for a fishing permit"
    shot(browser, "bo-52-edit-saved")
    after = api(server).get(f"/api/v1/requests/{rid}").json()
    assert (after["department"], after["notes"]) == ("DVLA Digital", "Call them on Monday")


# ---------------------------------------------------------------------------------- 6. the board


def test_the_board_searches_by_reference_filters_by_department_and_pages(server, browser):
    rids = [new_request(server, f"Paged service {n:02d}") for n in range(55)]
    target = api(server).get(f"/api/v1/requests/{rids[7]}").json()["reference"]
    for name in ("Valuation one", "Valuation two"):
        r = api(server).post("/api/v1/requests", {"kind": "non_transactional", "department": "Valuation Office Agency"})
        assert r.status == 201, str(r)
    signed_in(server, browser, ADMIN_EMAIL)

    browser.get(f"{server.base_url}/staff?q={target}")
    assert browser.find_element(By.ID, "q").get_attribute("value") == target
    rows = board_rows(browser)
    assert [r["Reference"] for r in rows] == [target]
    assert rows[0]["Service"] == "Paged service 07\nDVLA"
    shot(browser, "bo-60-board-search")

    browser.get(server.base_url + "/staff")
    first_page = [r["Reference"] for r in board_rows(browser)]
    assert len(first_page) == 50
    assert not browser.find_elements(By.LINK_TEXT, "Previous page")
    Navigating(browser, browser.find_element(By.LINK_TEXT, "Next page")).click()
    second_page = [r["Reference"] for r in board_rows(browser)]
    assert second_page and not set(second_page) & set(first_page)
    shot(browser, "bo-62-board-next-page")
    Navigating(browser, browser.find_element(By.LINK_TEXT, "Previous page")).click()
    assert [r["Reference"] for r in board_rows(browser)] == first_page
    assert not browser.find_elements(By.LINK_TEXT, "Previous page")
    shot(browser, "bo-63-board-previous-page")

    # The department filter, by URL (%20 for spaces), then through the board's own form.
    browser.get(server.base_url + "/staff?department=Valuation%20Office%20Agency")
    rows = board_rows(browser)
    assert len(rows) == 2 and {r["Service"].split("\n")[-1] for r in rows} == {"Valuation Office Agency"}
    assert browser.find_element(By.ID, "department").get_attribute("value") == "Valuation Office Agency"
    shot(browser, "bo-61-board-department")
    browser.get(server.base_url + "/staff")
    type_into(browser, {"department": "Valuation Office Agency"})
    Navigating(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button")).click()
    shot(browser, "bo-64-board-department-by-form")
    assert "department=Valuation+Office+Agency" in browser.current_url  # what a browser sends for a GET form
    assert browser.find_element(By.ID, "department").get_attribute("value") == "Valuation Office Agency"
    rows = board_rows(browser)
    assert len(rows) == 2 and {r["Service"].split("\n")[-1] for r in rows} == {"Valuation Office Agency"}
