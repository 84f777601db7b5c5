"""The staff Performance page in headless Chromium: each server-drawn chart is followed by its
table, the filters work as a GET form (errors in the summary and beside the field), and axe-core
finds nothing on either page. Screenshots go to $SCREENSHOT_DIR."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from test_pages import ADMIN_EMAIL, browser, fire, new_request, server, shot, staff_sign_in  # noqa: F401 - fixtures
from test_front_door_and_back_office import Navigating, h1, type_into


def test_each_chart_has_its_table_and_the_filters_explain_bad_input(server, browser):
    rid = new_request(server, "Check your State Pension forecast")
    fire(server, rid, "request_sign_off")
    fire(server, rid, "approve_sign_off", {"evidence": "Email from the owner"})
    fire(server, rid, "mark_built")
    fire(server, rid, "publish_preview", {"preview_url": "https://www.gov.uk/performance/state-pension"})
    fire(server, rid, "go_live", {"live_url": "https://www.gov.uk/performance/state-pension"})

    staff_sign_in(server, browser, ADMIN_EMAIL)
    Navigating(browser, browser.find_element(By.LINK_TEXT, "Performance")).click()
    assert h1(browser) == "Performance of the team"
    shot(browser, "performance")
    charts = browser.find_elements(By.CSS_SELECTOR, "main svg.chart")
    assert len(charts) == 4
    for chart in charts:
        assert chart.get_attribute("role") == "img"
        title = chart.find_element(By.TAG_NAME, "title").get_attribute("textContent")
        assert title and chart.get_attribute("aria-labelledby").split()[0] == chart.find_element(By.TAG_NAME, "title").get_attribute("id")
        # The numbers follow the chart as a table.
        following = chart.find_element(By.XPATH, "following-sibling::*[1]")
        assert following.tag_name == "table", title
    stages = [r.find_element(By.TAG_NAME, "th").text for r in browser.find_elements(By.CSS_SELECTOR, "#stages ~ table")[0].find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert stages == ["Requested to information complete", "Information complete to sign-off asked", "Sign-off asked to decided",
                      "Approved to built", "Built to preview published", "Preview to live", "End to end: requested to live"]
    assert "went live in this period" in browser.find_element(By.ID, "answer").text

    type_into(browser, {"period": "next year"})
    Navigating(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button")).click()
    shot(browser, "performance-bad-period")
    summary = browser.find_element(By.CSS_SELECTOR, ".error-summary a")
    assert summary.text == "Must be a month (2026-11), a quarter (2026-Q3) or a financial year (FY2025-26)"
    assert summary.get_attribute("href").endswith("#period")
    assert browser.find_element(By.ID, "period").get_attribute("value") == "next year"
    assert browser.find_element(By.ID, "period-error").text.endswith(summary.text)
