"""Every documented operation, and the main error answers, checked against the OpenAPI document.

Each call goes through `contract.check`, which asserts the exact status, that the document
declares that status for the operation (an undocumented one fails), the media type, the body
against the declared schema (Draft 2020-12, `$ref`s resolved in the whole document) and the
documented response headers. The walk is deterministic: no random data beyond unique names.
"""

from __future__ import annotations

import copy
import datetime
import secrets
import time
import urllib.parse
import uuid

import pytest

from conftest import API, database_url_for, psql, running_callboard

REQUESTS = "/api/v1/requests"
REQUEST = "/api/v1/requests/{id}"
TRANSITION = "/api/v1/requests/{id}/transitions/{name}"
COMMENTS = "/api/v1/requests/{id}/comments"
EVENTS = "/api/v1/requests/{id}/events"
STAFF = "/api/v1/staff"
DISABLE = "/api/v1/staff/{id}/disable"
TOKENS = "/api/v1/tokens"
REVOKE = "/api/v1/tokens/{id}/revoke"
DATA_SETS = "/api/v1/requests/{id}/data-sets"
DATA_SET = "/api/v1/requests/{id}/data-sets/{data_set_id}"
UPLOADS = "/api/v1/data-sets/{id}/uploads"
PROBLEM = "https://callboard.service.gov.uk/problems/"
READY_PROBE_BUDGET = 10.0


def provided(value: dict) -> dict:
    return {"status": "provided", "value": value}


# Valid item inputs, as in Tests/CallboardIntegrationTests/TestApp.swift (`Items`).
CONTACT = provided({"name": "Ada Lovelace", "email": "ada@dvla.gov.uk", "phone": "020 7946 0000"})
SIGN_OFF = provided({"name": "Grace Hopper", "email": "grace@dvla.gov.uk", "phone": "020 7946 0001"})
SERVICE = provided({"name": "Renew your driving licence", "description": "Drivers renew their licence online",
                    "start_page_url": "https://www.gov.uk/renew-driving-licence"})
ALL_ITEMS = {
    "contact": CONTACT,
    "sign_off_contact": SIGN_OFF,
    "service": SERVICE,
    "cost_per_transaction": provided({"transactions_explorer_url": "https://www.gov.uk/performance/x"}),
    "user_satisfaction": provided({"done_page_url": "https://www.gov.uk/done/x"}),
    "completion_rate": provided({"analytics_provider": "piwik"}),
    "digital_take_up": provided({"spreadsheet_reference": "volumes.xlsx",
                                 "uploaders": [{"name": "Sam", "email": "sam@dvla.gov.uk"}]}),
    "service_availability": {"status": "not_available", "reason": "No health page"},
}


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def path(template: str, **params: str) -> str:
    out = template
    for k, v in params.items():
        out = out.replace("{" + k + "}", v)
    return out


def problem_type(body: dict) -> str:
    assert body["type"].startswith(PROBLEM), body["type"]
    return body["type"][len(PROBLEM):]


def create(api, contract, *, items=None, kind="transactional", department="DVLA", **extra) -> dict:
    body = {"kind": kind, "department": department, **extra}
    if items is not None:
        body["items"] = items
    resp = api.post(REQUESTS, body)
    created = contract.check(resp, REQUESTS, 201)
    assert resp.header("Location") == f"/api/v1/requests/{created['id']}"
    assert resp.header("ETag") == created["etag"] == f'"v{created["version"]}"'
    return created


def fire(api, contract, request: dict, name: str, body=None, status=200, **kw) -> dict:
    resp = api.post(path(TRANSITION, id=request["id"], name=name), body,
                    headers={"If-Match": request["etag"], **kw.pop("headers", {})}, **kw)
    out = contract.check(resp, TRANSITION, status)
    if status == 200:
        assert resp.header("ETag") == out["etag"]
    return out


@pytest.fixture(scope="module")
def viewer_api(api, contract):
    email = unique("viewer") + "@callboard.test"
    staff = contract.check(api.post(STAFF, {"email": email, "role": "viewer", "name": "Vera Viewer"}), STAFF, 201)
    assert staff["role"] == "viewer"
    token = contract.check(api.post(TOKENS, {"email": email, "name": "viewer"}), TOKENS, 201)
    return api.with_token(token["token"])


# ---------------------------------------------------------------------------------- operations


def test_health_metrics_and_documents(api, contract, server_info):
    anon = api.with_token(None)
    assert contract.check(anon.get("/health/live"), "/health/live", 200) == {"status": "ok"}
    assert contract.check(anon.get("/health/ready"), "/health/ready", 200) == {
        "status": "ok", "database": "ok", "migrations": "current"}
    # Metrics are not on the application's port (nor in its OpenAPI document), only on their own listener.
    assert anon.get("/metrics").status == 404
    assert "/metrics" not in contract.doc["paths"]
    scrape = API(server_info.host, server_info.metrics_port, None).get("/metrics")
    assert scrape.status == 200, str(scrape)
    assert scrape.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    metrics = scrape.body.decode()
    for name in ("callboard_http_requests_total", "callboard_http_request_duration_seconds", "callboard_requests"):
        assert name in metrics, f"{name} not in /metrics"
    workflow = contract.check(anon.get("/api/v1/workflow"), "/api/v1/workflow", 200)
    assert {s["name"] for s in workflow["states"]} >= {"requested", "info_complete", "live", "withdrawn"}
    text = contract.check(anon.get("/api/v1/openapi.yaml"), "/api/v1/openapi.yaml", 200)
    assert text.startswith("openapi: 3.1")


def test_readiness_503_when_migrations_pending(tmp_path, contract):
    """On its own server: a bundled migration not recorded as applied makes it unready."""
    with running_callboard(tmp_path) as other:
        anon = API(other.host, other.port, None)
        psql(database_url_for(other.pg_url, other.dbname),
             "DELETE FROM schema_migrations WHERE name = (SELECT max(name) FROM schema_migrations)")
        body = contract.check(anon.get("/health/ready"), "/health/ready", 503)
        assert body["status"] == "unavailable" and body["database"] == "ok" and body["migrations"] != "current"
        contract.check(anon.get("/health/live"), "/health/live", 200)


def test_readiness_503_when_database_unreachable(tmp_path, contract):
    """On its own server: a database that refuses connections is a prompt 503, and SIGTERM still stops it cleanly."""
    with running_callboard(tmp_path) as other:
        anon = API(other.host, other.port, None)
        psql(other.pg_url, f'ALTER DATABASE "{other.dbname}" WITH ALLOW_CONNECTIONS false')
        psql(other.pg_url, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{other.dbname}'")
        contract.check(anon.get("/health/live"), "/health/live", 200)
        # A readiness probe must answer promptly (probes typically time out after 1 to 10 s).
        started = time.monotonic()
        try:
            resp = anon.get("/health/ready", timeout=READY_PROBE_BUDGET)
        except TimeoutError:
            pytest.fail(f"GET /health/ready gave no answer within {READY_PROBE_BUDGET:.0f} s while the database "
                        "refuses connections (expected a prompt 503 with database: unreachable)")
        body = contract.check(resp, "/health/ready", 503)
        assert body == {"status": "unavailable", "database": "unreachable"}
        assert time.monotonic() - started < READY_PROBE_BUDGET


# ---------------------------------------------------------------------------------- requests


def test_create_get_patch(api, contract):
    dept = unique("Pytest CRUD")
    r = create(api, contract, items={"contact": CONTACT, "service": SERVICE}, department=dept,
               division="scotland", notes="first", optional_modules=["users_right_now", "users_right_now"])
    assert (r["state"], r["version"], r["division"], r["optional_modules"]) == ("requested", 1, "scotland", ["users_right_now"])
    assert r["service_name"] == "Renew your driving licence"
    assert "cost_per_transaction" in r["missing_items"]

    resp = api.get(path(REQUEST, id=r["id"]))
    got = contract.check(resp, REQUEST, 200)
    assert resp.header("ETag") == got["etag"] == r["etag"]
    assert got["id"] == r["id"]

    resp = api.patch(path(REQUEST, id=r["id"]), {"notes": "second", "assignee": "admin@callboard.test"},
                     headers={"If-Match": got["etag"]})
    patched = contract.check(resp, REQUEST, 200)
    assert resp.header("ETag") == patched["etag"] == '"v2"'
    assert (patched["notes"], patched["assignee"]) == ("second", "admin@callboard.test")

    # A change that alters nothing keeps the version; the weak form of If-Match is accepted.
    resp = api.patch(path(REQUEST, id=r["id"]), {"notes": "second"}, headers={"If-Match": 'W/"v2"'})
    same = contract.check(resp, REQUEST, 200)
    assert same["version"] == 2

    # Supplying the remaining items completes the information automatically.
    rest = {k: v for k, v in ALL_ITEMS.items() if k not in ("contact", "service")}
    resp = api.patch(path(REQUEST, id=r["id"]), {"items": rest}, headers={"If-Match": same["etag"]})
    done = contract.check(resp, REQUEST, 200)
    assert done["state"] == "info_complete" and done["missing_items"] == [] and done["info_complete_at"]


def test_idempotent_create_is_replayed(api, contract):
    key = unique("pytest-key")
    body = {"kind": "non_transactional", "department": unique("Pytest Idem")}
    first = api.post(REQUESTS, body, headers={"Idempotency-Key": key})
    created = contract.check(first, REQUESTS, 201)
    again = api.post(REQUESTS, body, headers={"Idempotency-Key": key})
    replayed = contract.check(again, REQUESTS, 201, replayed=True)
    assert again.header("Idempotent-Replayed") == "true"
    assert replayed == created and again.header("Location") == first.header("Location")

    reused = api.post(REQUESTS, {**body, "notes": "different"}, headers={"Idempotency-Key": key})
    assert problem_type(contract.check(reused, REQUESTS, 422)) == "idempotency-key-reused"


def test_idempotent_token_creation_is_replayed(api, contract):
    """The replay of a new token is still the documented 201 TokenWithSecret (the secret is never stored)."""
    key = unique("pytest-token-key")
    body = {"email": "admin@callboard.test", "name": unique("replayed")}
    first = contract.check(api.post(TOKENS, body, headers={"Idempotency-Key": key}), TOKENS, 201)
    again = api.post(TOKENS, body, headers={"Idempotency-Key": key})
    assert again.header("Idempotent-Replayed") == "true", str(again)
    replayed = contract.check(again, TOKENS, 201, replayed=True)
    assert replayed["id"] == first["id"]


def test_list_filters_and_cursor(api, contract):
    dept = unique("Pytest List")
    word = "Zyx" + secrets.token_hex(3)
    service = copy.deepcopy(SERVICE)
    service["value"]["name"] = f"{word} licence"
    a = create(api, contract, department=dept, items={"contact": CONTACT, "service": service})
    b = create(api, contract, department=dept, items=ALL_ITEMS)
    c = create(api, contract, department=dept, kind="non_transactional", assignee="admin@callboard.test")
    assert b["state"] == "info_complete"

    def listing(**query):
        return contract.check(api.get(REQUESTS, query=query), REQUESTS, 200)

    page = listing(department=dept.upper())
    assert [x["id"] for x in page["items"]] == [a["id"], b["id"], c["id"]] and page["next_cursor"] is None

    assert [x["id"] for x in listing(department=dept, state="requested")["items"]] == [a["id"], c["id"]]
    assert [x["id"] for x in listing(department=dept, state="info_complete,withdrawn")["items"]] == [b["id"]]
    assert [x["id"] for x in listing(department=dept, kind="non_transactional")["items"]] == [c["id"]]
    assert [x["id"] for x in listing(department=dept, missing="cost_per_transaction")["items"]] == [a["id"]]
    assert [x["id"] for x in listing(department=dept, assignee="none")["items"]] == [a["id"], b["id"]]
    assert [x["id"] for x in listing(department=dept, assignee="ADMIN@callboard.test")["items"]] == [c["id"]]
    assert [x["id"] for x in listing(q=word)["items"]] == [a["id"]]

    seen, cursor = [], None
    for _ in range(10):
        query = {"department": dept, "limit": 1}
        if cursor:
            query["cursor"] = cursor
        page = listing(**query)
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["id"], b["id"], c["id"]]


def test_csv_exports(api, contract, viewer_api):
    dept = unique("Pytest Export")
    a = create(api, contract, department=dept, items=ALL_ITEMS)
    csv = contract.check(api.get("/api/v1/requests.csv", query={"department": dept}), "/api/v1/requests.csv", 200)
    lines = csv.split("\r\n")
    assert lines[0].startswith("id,reference,kind,state,") and lines[1].startswith(a["id"] + ",") and lines[2:] == [""]
    # A viewer gets the same row with the contact cells empty.
    seen = contract.check(viewer_api.get("/api/v1/requests.csv", query={"department": dept}), "/api/v1/requests.csv", 200)
    assert seen.split("\r\n")[1].endswith(",,,,,")
    events = contract.check(api.get("/api/v1/events.csv", query={"from": a["created_at"]}), "/api/v1/events.csv", 200)
    assert events.startswith("id,request_id,reference,version,kind,") and a["id"] in events
    bad = contract.check(api.get("/api/v1/events.csv", query={"from": "tomorrow"}), "/api/v1/events.csv", 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/query/from"]
    bad = contract.check(api.get("/api/v1/requests.csv", query={"limit": "5"}), "/api/v1/requests.csv", 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/query/limit"]


def test_full_lifecycle(api, contract):
    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest Lifecycle"))
    assert (r["state"], r["version"], r["missing_items"]) == ("info_complete", 2, [])
    assert r["info_complete_at"] is not None

    r = fire(api, contract, r, "request_sign_off")
    assert r["state"] == "signoff_pending" and r["sign_off_decision"] is None
    r = fire(api, contract, r, "approve_sign_off", {"evidence": "Email from Grace, 3 March"})
    assert r["state"] == "signoff_pending" and r["sign_off_decision"] == "approved"
    r = fire(api, contract, r, "mark_built")
    assert r["state"] == "built"
    r = fire(api, contract, r, "publish_preview", {"preview_url": "https://preview.gov.uk/performance/renew"})
    assert r["state"] == "preview_published" and r["preview_url"] == "https://preview.gov.uk/performance/renew"
    r = fire(api, contract, r, "go_live", {"live_url": "https://www.gov.uk/performance/renew"})
    assert r["state"] == "live" and r["live_url"] == "https://www.gov.uk/performance/renew"
    r = fire(api, contract, r, "start_product_audit", headers={"Idempotency-Key": unique("audit")})
    assert r["state"] == "product_audit"
    r = fire(api, contract, r, "complete_product_audit", {"outcome": "actions_agreed", "reason": "Two fixes agreed"})
    assert (r["state"], r["audit_outcome"]) == ("live", "actions_agreed")
    assert r["version"] == 9


def test_comments_and_events(api, contract):
    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest Events"))
    r = fire(api, contract, r, "request_sign_off")
    resp = api.post(path(COMMENTS, id=r["id"]), {"text": "Chased the sign-off owner"})
    comment = contract.check(resp, COMMENTS, 201)
    assert (comment["kind"], comment["data"], comment["version"]) == ("comment", {"text": "Chased the sign-off owner"}, r["version"])

    events, cursor = [], None
    for _ in range(10):
        query = {"limit": 2}
        if cursor:
            query["cursor"] = cursor
        page = contract.check(api.get(path(EVENTS, id=r["id"]), query=query), EVENTS, 200)
        assert len(page["items"]) <= 2
        events += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    kinds = [e["kind"] for e in events]
    assert [k for k in kinds if not k.startswith("email_")] == ["created", "transitioned", "transitioned", "comment"]
    # request_sign_off notifies the sign-off owner: the queued email is in the history after it.
    assert "email_queued" in kinds[kinds.index("transitioned") + 2:], kinds
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[1]["actor"] == {"kind": "system", "id": None}
    assert events[1]["data"]["transition"] == "complete_information"


# ---------------------------------------------------------------------------------- staff and tokens


def test_staff_and_tokens(api, contract):
    email = unique("triager") + "@callboard.test"
    staff = contract.check(api.post(STAFF, {"email": email.upper(), "role": "triager"}), STAFF, 201)
    assert staff["email"] == email and staff["disabled_at"] is None

    listed = contract.check(api.get(STAFF), STAFF, 200)
    assert staff["id"] in [s["id"] for s in listed["items"]]

    resp = api.post(TOKENS, {"email": email, "name": "laptop", "expires_in_days": 30})
    token = contract.check(resp, TOKENS, 201)
    assert resp.header("Cache-Control") == "no-store"
    assert token["staff_id"] == staff["id"] and token["expires_at"] is not None
    triager = api.with_token(token["token"])
    contract.check(triager.get(REQUESTS, query={"limit": 1}), REQUESTS, 200)

    tokens = contract.check(api.get(TOKENS), TOKENS, 200)
    listed_token = next(t for t in tokens["items"] if t["id"] == token["id"])
    assert "token" not in listed_token and listed_token["last_used_at"] is not None

    revoked = contract.check(api.post(path(REVOKE, id=token["id"])), REVOKE, 200)
    assert revoked["revoked_at"] is not None
    again = contract.check(api.post(path(REVOKE, id=token["id"])), REVOKE, 200)
    assert again["revoked_at"] == revoked["revoked_at"]
    contract.check(triager.get(REQUESTS), REQUESTS, 401)

    second = contract.check(api.post(TOKENS, {"email": email, "expires_at": "2099-01-31T17:00:00Z"}), TOKENS, 201)
    disabled = contract.check(api.post(path(DISABLE, id=staff["id"]), headers={"Idempotency-Key": unique("dis")}), DISABLE, 200)
    assert disabled["disabled_at"] is not None
    again = contract.check(api.post(path(DISABLE, id=staff["id"])), DISABLE, 200)
    assert again["disabled_at"] == disabled["disabled_at"]
    contract.check(api.with_token(second["token"]).get(REQUESTS), REQUESTS, 401)


# ---------------------------------------------------------------------------------- emails


EMAILS = "/api/v1/emails"
EMAIL = "/api/v1/emails/{id}"
RETRY = "/api/v1/emails/{id}/retry"
CANCEL = "/api/v1/emails/{id}/cancel"
SUPPRESSIONS = "/api/v1/suppressions"
SUPPRESSION = "/api/v1/suppressions/{address}"


def test_emails_and_suppressions(api, contract, viewer_api):
    """request_sign_off queues an email to the sign-off contact (no worker runs, so it stays queued)."""
    owner = unique("owner") + "@dvla.gov.uk"
    items = copy.deepcopy(ALL_ITEMS)
    items["sign_off_contact"]["value"]["email"] = owner
    r = create(api, contract, items=items, department=unique("Pytest Emails"))
    r = fire(api, contract, r, "request_sign_off")

    listed = contract.check(api.get(EMAILS, query={"request_id": r["id"]}), EMAILS, 200)
    assert [(e["kind"], e["recipient"], e["status"]) for e in listed["items"]] == [("sign_off_request", owner, "queued")]
    email = listed["items"][0]
    assert listed["next_cursor"] is None
    by_recipient = contract.check(api.get(EMAILS, query={"recipient": owner.upper(), "status": "queued", "limit": 1}),
                                  EMAILS, 200)
    assert [e["id"] for e in by_recipient["items"]] == [email["id"]]

    # Viewers see who was sent what and when, not the body; staff who act on email see it, links redacted.
    detail = contract.check(viewer_api.get(path(EMAIL, id=email["id"])), EMAIL, 200)
    assert detail["id"] == email["id"] and detail["body_text"] is None and detail["attempt_history"] == []
    body = contract.check(api.get(path(EMAIL, id=email["id"])), EMAIL, 200)["body_text"]
    assert "/sign-off/redacted" in body and "cblink_" not in body

    cancelled = contract.check(api.post(path(CANCEL, id=email["id"])), CANCEL, 200)
    assert cancelled["status"] == "cancelled"
    assert problem_type(contract.check(api.post(path(CANCEL, id=email["id"])), CANCEL, 409)) == "conflict"
    retried = contract.check(api.post(path(RETRY, id=email["id"]), headers={"Idempotency-Key": unique("retry")}), RETRY, 200)
    assert retried["status"] == "queued"
    assert problem_type(contract.check(api.post(path(RETRY, id=email["id"])), RETRY, 409)) == "conflict"

    created = contract.check(api.post(SUPPRESSIONS, {"address": owner.upper(), "reason": "Hard bounce"}), SUPPRESSIONS, 201)
    assert created == {"address": owner}
    assert contract.check(api.get(path(EMAIL, id=email["id"])), EMAIL, 200)["status"] == "suppressed"
    listed = contract.check(viewer_api.get(SUPPRESSIONS), SUPPRESSIONS, 200)
    assert [(x["address"], x["reason"]) for x in listed["items"] if x["address"] == owner] == [(owner, "Hard bounce")]
    # Suppressed recipient: no retry.
    assert problem_type(contract.check(api.post(path(RETRY, id=email["id"])), RETRY, 409)) == "conflict"

    # Viewers read but may not manage emails.
    for resp, template in (
        (viewer_api.post(path(CANCEL, id=email["id"])), CANCEL),
        (viewer_api.post(path(RETRY, id=email["id"])), RETRY),
        (viewer_api.post(SUPPRESSIONS, {"address": "x@dvla.gov.uk"}), SUPPRESSIONS),
        (viewer_api.call("DELETE", path(SUPPRESSION, address=urllib.parse.quote(owner))), SUPPRESSION),
    ):
        assert problem_type(contract.check(resp, template, 403)) == "forbidden"

    resp = api.call("DELETE", path(SUPPRESSION, address=urllib.parse.quote(owner.upper(), safe="")))
    contract.check(resp, SUPPRESSION, 204)
    resp = api.call("DELETE", path(SUPPRESSION, address=urllib.parse.quote(owner, safe="")))
    assert problem_type(contract.check(resp, SUPPRESSION, 404)) == "not-found"

    missing = str(uuid.uuid4())
    for resp, template in ((api.get(path(EMAIL, id=missing)), EMAIL), (api.post(path(RETRY, id=missing)), RETRY),
                           (api.post(path(CANCEL, id=missing)), CANCEL), (api.get(path(EMAIL, id="nope")), EMAIL)):
        assert problem_type(contract.check(resp, template, 404)) == "not-found"
    body = contract.check(api.get(EMAILS, query={"status": "lost", "request_id": "x", "colour": "red"}), EMAILS, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/query/status", "/query/request_id", "/query/colour"}
    body = contract.check(api.post(SUPPRESSIONS, {"address": "not-an-email"}), SUPPRESSIONS, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/address"]


WEBHOOKS = "/api/v1/webhooks"
WEBHOOK = "/api/v1/webhooks/{id}"
DELIVERIES = "/api/v1/webhooks/{id}/deliveries"
REPLAY = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay"


def test_webhooks(api, contract, viewer_api, server_info):
    """No worker runs here: a delivery is queued by a change, then marked dead in the database to be replayed."""
    body = {"url": "https://example.com/" + unique("hook"), "event_types": ["request.created", "request.transitioned"]}
    resp = api.post(WEBHOOKS, body, headers={"Idempotency-Key": unique("wh")})
    hook = contract.check(resp, WEBHOOKS, 201)
    assert resp.header("Cache-Control") == "no-store" and hook["secret"].startswith("whsec_")
    assert hook["event_types"] == ["request.created", "request.transitioned"] and hook["enabled"] is True
    listed = contract.check(api.get(WEBHOOKS), WEBHOOKS, 200)
    assert "secret" not in next(h for h in listed["items"] if h["id"] == hook["id"])
    got = contract.check(api.get(path(WEBHOOK, id=hook["id"])), WEBHOOK, 200)
    assert "secret" not in got
    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest Webhooks"))
    page = contract.check(api.get(path(DELIVERIES, id=hook["id"]), query={"limit": 1}), DELIVERIES, 200)
    assert page["next_cursor"] is not None and page["items"][0]["status"] == "queued"
    page = contract.check(api.get(path(DELIVERIES, id=hook["id"]), query={"cursor": page["next_cursor"]}), DELIVERIES, 200)
    payloads = {d["payload"]["type"]: d["payload"]["data"] for d in contract.check(
        api.get(path(DELIVERIES, id=hook["id"])), DELIVERIES, 200)["items"]}
    assert payloads["request.created"] == {"request_id": r["id"], "reference": r["reference"], "state": "requested", "version": 1}
    delivery = page["items"][0]["id"]
    assert problem_type(contract.check(api.post(path(REPLAY, id=hook["id"], delivery_id=delivery)), REPLAY, 409)) == "conflict"
    psql(database_url_for(server_info.pg_url, server_info.dbname),
         f"UPDATE webhook_deliveries SET status = 'dead' WHERE id = '{delivery}'")
    replayed = contract.check(api.post(path(REPLAY, id=hook["id"], delivery_id=delivery)), REPLAY, 202)
    assert replayed["status"] == "queued" and replayed["id"] == delivery
    disabled = contract.check(api.patch(path(WEBHOOK, id=hook["id"]), {"enabled": False}), WEBHOOK, 200)
    assert disabled["enabled"] is False and disabled["disabled_reason"] == "disabled by admin@callboard.test"

    bad = contract.check(api.post(WEBHOOKS, {"url": "http://example.com/x", "event_types": ["nope"]}), WEBHOOKS, 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/url", "/event_types/0"]
    for resp, template in ((viewer_api.get(WEBHOOKS), WEBHOOKS), (viewer_api.post(WEBHOOKS, body), WEBHOOKS),
                           (viewer_api.get(path(WEBHOOK, id=hook["id"])), WEBHOOK),
                           (viewer_api.get(path(DELIVERIES, id=hook["id"])), DELIVERIES)):
        assert problem_type(contract.check(resp, template, 403)) == "forbidden"
    missing = str(uuid.uuid4())
    assert problem_type(contract.check(api.get(path(WEBHOOK, id=missing)), WEBHOOK, 404)) == "not-found"
    contract.check(api.call("DELETE", path(WEBHOOK, id=hook["id"])), WEBHOOK, 204)
    assert problem_type(contract.check(api.call("DELETE", path(WEBHOOK, id=hook["id"])), WEBHOOK, 404)) == "not-found"


def test_data_sets_and_uploads(api, contract, viewer_api):
    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest Data"))
    body = {"name": "Channel volumes", "cadence": "monthly", "due_working_days_after_period": 5,
            "uploaders": [{"name": "Sam Patel", "email": "sam@dvla.gov.uk"}]}
    ds = contract.check(api.post(path(DATA_SETS, id=r["id"]), body, headers={"Idempotency-Key": unique("ds")}), DATA_SETS, 201)
    assert ds["name"] == "Channel volumes" and ds["last_upload"] is None
    listed = contract.check(viewer_api.get(path(DATA_SETS, id=r["id"])), DATA_SETS, 200)
    assert [d["id"] for d in listed["items"]] == [ds["id"]]
    changed = contract.check(api.patch(path(DATA_SET, id=r["id"], data_set_id=ds["id"]), {"cadence": "quarterly"}), DATA_SET, 200)
    assert changed["cadence"] == "quarterly"
    up = contract.check(api.post(path(UPLOADS, id=ds["id"]), {"note": "from the feed"}), UPLOADS, 201)
    assert up["data_set"]["status"] == "received" and up["upload"]["note"] == "from the feed"
    assert up["upload"]["period_start"] == up["data_set"]["current_period"]["start"]
    bad = contract.check(api.post(path(DATA_SETS, id=r["id"]), {"name": "", "cadence": "daily", "uploaders": []}), DATA_SETS, 422)
    assert {e["pointer"] for e in bad["errors"]} == {"/name", "/cadence", "/uploaders"}
    assert problem_type(contract.check(viewer_api.post(path(UPLOADS, id=ds["id"])), UPLOADS, 403)) == "forbidden"
    assert problem_type(contract.check(api.post(path(UPLOADS, id=str(uuid.uuid4()))), UPLOADS, 404)) == "not-found"


WRITE_TOKENS = "/api/v1/data-sets/{id}/write-tokens"
WRITE_TOKEN = "/api/v1/data-sets/{id}/write-tokens/{token_id}"
WRITE_API = "/data/{data_group}/{data_type}"


def test_write_api_and_its_tokens(api, contract, viewer_api):
    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest Write API"))
    group = unique("pytest").lower().replace("_", "-")[:60]
    body = {"name": "Volumes", "cadence": "weekly", "data_group": group, "data_type": "volumes", "private": False,
            "fields": ["count", {"name": "channel", "type": "string"}, {"name": "assisted", "type": "boolean"}],
            "uploaders": [{"name": "Sam Patel", "email": "sam@dvla.gov.uk"}]}
    ds = contract.check(api.post(path(DATA_SETS, id=r["id"]), body), DATA_SETS, 201)
    assert ds["fields"][1] == {"name": "channel", "type": "string"} and ds["write_url"].endswith(f"/data/{group}/volumes")
    created = contract.check(api.post(path(WRITE_TOKENS, id=ds["id"]), {"name": "pipeline"}), WRITE_TOKENS, 201)
    token = created["token"]
    listed = contract.check(api.get(path(WRITE_TOKENS, id=ds["id"])), WRITE_TOKENS, 200)
    assert [t["id"] for t in listed["items"]] == [created["id"]] and "token" not in listed["items"][0]
    assert problem_type(contract.check(viewer_api.get(path(WRITE_TOKENS, id=ds["id"])), WRITE_TOKENS, 403)) == "forbidden"

    target = path(WRITE_API, data_group=group, data_type="volumes")
    writer = api.with_token(token)
    ok = contract.check(writer.post(target, [{"_id": "a", "_timestamp": "2026-11-23T00:00:00+00:00", "Count": 3, "channel": "web",
                                             "assisted": False}]), WRITE_API, 200)
    assert ok == {"status": "ok", "records": 1}
    read = contract.check(writer.get(target, query={"period": "week", "collect": "count:sum"}), WRITE_API, 200)
    assert read["data"] == [{"_start_at": "2026-11-23T00:00:00+00:00", "_end_at": "2026-11-30T00:00:00+00:00", "_count": 1,
                             "count:sum": 3}]
    assert contract.check(api.get(target), WRITE_API, 200)["data"][0]["_id"] == "a"
    bad = contract.check(writer.post(target, {"count": "x"}), WRITE_API, 400)
    assert bad["status"] == "error" and [e["pointer"] for e in bad["errors"]] == ["/0/count"]
    contract.check(api.with_token(None).post(target, {"count": 1}), WRITE_API, 401)
    contract.check(writer.post(path(WRITE_API, data_group="nobody", data_type="x"), {"count": 1}), WRITE_API, 403)
    contract.check(api.with_token(None).get(target), WRITE_API, 401)
    assert contract.check(writer.call("PUT", target, json_body=[]), WRITE_API, 200) == {"status": "ok", "records": 0}

    revoked = contract.check(api.call("DELETE", path(WRITE_TOKEN, id=ds["id"], token_id=created["id"])), WRITE_TOKEN, 200)
    assert revoked["revoked_at"] is not None
    contract.check(writer.post(target, {"count": 1}), WRITE_API, 401)


REMINDERS_PREVIEW = "/api/v1/reminders/preview"


def test_reminders_preview(api, contract, viewer_api):
    r = create(api, contract, items={"contact": ALL_ITEMS["contact"]}, department=unique("Pytest Reminders"))
    # Two working days after today's request, inside the window: its first missing-information chase.
    created = datetime.datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
    day, worked = created.date(), 0
    while worked < 4:  # far enough to be past any bank holiday in the next week
        day += datetime.timedelta(days=1)
        worked += day.weekday() < 5
    at = f"{day.isoformat()}T12:00:00Z"
    preview = contract.check(viewer_api.get(REMINDERS_PREVIEW, query={"at": at, "limit": 1000}), REMINDERS_PREVIEW, 200)
    mine = [x for x in preview["reminders"] if x["request_id"] == r["id"]]
    assert [x["kind"] for x in mine] == ["missing_information"], preview
    assert mine[0]["recipients"] == [ALL_ITEMS["contact"]["value"]["email"]]
    bad = contract.check(api.get(REMINDERS_PREVIEW, query={"at": "soon"}), REMINDERS_PREVIEW, 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/query/at"]


# ---------------------------------------------------------------------------------- errors


STATS = "/api/v1/stats"


def test_stats(api, contract, viewer_api):
    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest Stats"))
    for name, body in (("request_sign_off", None), ("approve_sign_off", {"evidence": "Email"}), ("mark_built", None),
                       ("publish_preview", {"preview_url": "https://www.gov.uk/performance/x"}),
                       ("go_live", {"live_url": "https://www.gov.uk/performance/x"})):
        r = fire(api, contract, r, name, body)
    figures = contract.check(viewer_api.get(STATS, query={"department": r["department"]}), STATS, 200)
    assert figures["end_to_end"]["count"] == 1
    assert figures["where_time_goes"]["requests"] == 1
    assert [s["count"] for s in figures["stages"]] == [1, 1, 1, 1, 1, 1]
    quarter = contract.check(api.get(STATS, query={"period": "FY2025-26"}), STATS, 200)
    assert (quarter["period"]["from"], quarter["period"]["to"]) == ("2025-04-01", "2026-03-31")
    bad = contract.check(api.get(STATS, query={"period": "soon", "kind": "x"}), STATS, 422)
    assert sorted(e["pointer"] for e in bad["errors"]) == ["/query/kind", "/query/period"]


def test_401_without_or_with_unknown_token(api, contract):
    for client in (api.with_token(None), api.with_token("cb_" + "A" * 43)):
        resp = client.get(REQUESTS)
        body = contract.check(resp, REQUESTS, 401)
        assert problem_type(body) == "unauthorized"
        assert resp.header("WWW-Authenticate") == 'Bearer realm="callboard"'
    contract.check(api.with_token(None).post(REQUESTS, {"kind": "transactional", "department": "X"}), REQUESTS, 401)
    contract.check(api.with_token("nonsense").get(STAFF), STAFF, 401)


def test_403_for_a_viewer(api, contract, viewer_api):
    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest Viewer"))
    # Viewers read ...
    contract.check(viewer_api.get(path(REQUEST, id=r["id"])), REQUEST, 200)
    # ... and may do nothing else.
    checks = [
        (viewer_api.post(REQUESTS, {"kind": "transactional", "department": "X"}), REQUESTS),
        (viewer_api.patch(path(REQUEST, id=r["id"]), {"notes": "x"}, headers={"If-Match": r["etag"]}), REQUEST),
        (viewer_api.post(path(COMMENTS, id=r["id"]), {"text": "hello"}), COMMENTS),
        (viewer_api.get(STAFF), STAFF),
        (viewer_api.post(STAFF, {"email": "x@callboard.test", "role": "admin"}), STAFF),
        (viewer_api.get(TOKENS), TOKENS),
        (viewer_api.post(TOKENS, {"email": "admin@callboard.test"}), TOKENS),
    ]
    for resp, template in checks:
        assert problem_type(contract.check(resp, template, 403)) == "forbidden"
    resp = viewer_api.post(path(TRANSITION, id=r["id"], name="request_sign_off"), headers={"If-Match": r["etag"]})
    body = contract.check(resp, TRANSITION, 403)
    assert problem_type(body) == "forbidden" and body["allowed_actors"] == ["admin", "triager"]


def test_404s(api, contract):
    missing = str(uuid.uuid4())
    r = create(api, contract, department=unique("Pytest 404"))
    cases = [
        (api.get(path(REQUEST, id=missing)), REQUEST, "not-found"),
        (api.get(path(REQUEST, id="not-a-uuid")), REQUEST, "not-found"),
        (api.patch(path(REQUEST, id=missing), {"notes": "x"}, headers={"If-Match": '"v1"'}), REQUEST, "not-found"),
        (api.post(path(TRANSITION, id=missing, name="withdraw"), {"reason": "x"}, headers={"If-Match": '"v1"'}),
         TRANSITION, "not-found"),
        (api.post(path(TRANSITION, id=r["id"], name="teleport"), headers={"If-Match": r["etag"]}),
         TRANSITION, "unknown-transition"),
        (api.post(path(COMMENTS, id=missing), {"text": "x"}), COMMENTS, "not-found"),
        (api.get(path(EVENTS, id=missing)), EVENTS, "not-found"),
        (api.post(path(DISABLE, id=missing)), DISABLE, "not-found"),
        (api.post(path(REVOKE, id=missing)), REVOKE, "not-found"),
    ]
    for resp, template, slug in cases:
        assert problem_type(contract.check(resp, template, 404)) == slug, str(resp)


def test_409s(api, contract):
    r = create(api, contract, items={"contact": CONTACT}, department=unique("Pytest 409"))
    # Illegal from the current state.
    body = contract.check(api.post(path(TRANSITION, id=r["id"], name="mark_built"), headers={"If-Match": r["etag"]}),
                          TRANSITION, 409)
    assert problem_type(body) == "illegal-transition" and body["state"] == "requested"
    assert "withdraw" in body["allowed_transitions"]
    # Legal, but conditions unmet.
    body = contract.check(api.post(path(TRANSITION, id=r["id"], name="complete_information"), headers={"If-Match": r["etag"]}),
                          TRANSITION, 409)
    assert problem_type(body) == "guards-unmet"
    assert [g["code"] for g in body["unmet_guards"]] == ["required_items_settled"]
    # A withdrawn request cannot change.
    w = fire(api, contract, r, "withdraw", {"reason": "Duplicate"})
    assert w["state"] == "withdrawn" and w["transitions"] == []
    body = contract.check(api.patch(path(REQUEST, id=r["id"]), {"notes": "x"}, headers={"If-Match": w["etag"]}), REQUEST, 409)
    assert problem_type(body) == "conflict"
    # A duplicate staff email, and disabling yourself.
    email = unique("dup") + "@callboard.test"
    contract.check(api.post(STAFF, {"email": email, "role": "viewer"}), STAFF, 201)
    assert problem_type(contract.check(api.post(STAFF, {"email": email, "role": "triager"}), STAFF, 409)) == "conflict"
    me = next(s for s in contract.check(api.get(STAFF), STAFF, 200)["items"] if s["email"] == "admin@callboard.test")
    assert problem_type(contract.check(api.post(path(DISABLE, id=me["id"])), DISABLE, 409)) == "conflict"


def test_412_stale_if_match(api, contract):
    r = create(api, contract, department=unique("Pytest 412"))
    r2 = contract.check(api.patch(path(REQUEST, id=r["id"]), {"notes": "new"}, headers={"If-Match": r["etag"]}), REQUEST, 200)
    for resp, template in (
        (api.patch(path(REQUEST, id=r["id"]), {"notes": "newer"}, headers={"If-Match": r["etag"]}), REQUEST),
        (api.post(path(TRANSITION, id=r["id"], name="withdraw"), {"reason": "x"}, headers={"If-Match": r["etag"]}), TRANSITION),
    ):
        body = contract.check(resp, template, 412)
        assert problem_type(body) == "stale-version"
        assert body["current_etag"] == resp.header("ETag") == r2["etag"]


def test_413_body_over_1mb(api, contract):
    big = {"kind": "transactional", "department": "DVLA", "notes": "x" * (1024 * 1024)}
    body = contract.check(api.post(REQUESTS, big), REQUESTS, 413)
    assert problem_type(body) == "body-too-large"
    r = create(api, contract, department=unique("Pytest 413"))
    body = contract.check(api.patch(path(REQUEST, id=r["id"]), big, headers={"If-Match": r["etag"]}), REQUEST, 413)
    assert problem_type(body) == "body-too-large"


def test_415_unsupported_media_type(api, contract):
    resp = api.call("POST", REQUESTS, raw=b'{"kind":"transactional","department":"DVLA"}', content_type="text/plain")
    assert problem_type(contract.check(resp, REQUESTS, 415)) == "unsupported-media-type"
    # application/*+json is accepted.
    resp = api.call("POST", REQUESTS, raw=b'{"kind":"transactional","department":"DVLA"}',
                    content_type="application/merge-patch+json; charset=utf-8")
    contract.check(resp, REQUESTS, 201)


def test_422_validation(api, contract):
    resp = api.post(REQUESTS, {"kind": "bogus", "department": "", "surprise": 1,
                               "items": {"contact": {"status": "provided", "value": {"name": "A", "email": "nope", "phone": "1"}}}})
    body = contract.check(resp, REQUESTS, 422)
    assert problem_type(body) == "validation"
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/kind", "/department", "/surprise"} <= pointers, pointers
    assert any(p.startswith("/items/contact") for p in pointers), pointers

    body = contract.check(api.get(REQUESTS, query={"state": "nope", "limit": 0, "colour": "red"}), REQUESTS, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/query/state", "/query/limit", "/query/colour"}

    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest 422"))
    body = contract.check(api.get(path(EVENTS, id=r["id"]), query={"cursor": "abc"}), EVENTS, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/query/cursor"]
    body = contract.check(api.patch(path(REQUEST, id=r["id"]), {"kind": 7}, headers={"If-Match": r["etag"]}), REQUEST, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/kind"]
    # Inputs the transition does not declare.
    body = contract.check(api.post(path(TRANSITION, id=r["id"], name="request_sign_off"), {"reason": "x"},
                                   headers={"If-Match": r["etag"]}), TRANSITION, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/reason"]
    body = contract.check(api.post(path(COMMENTS, id=r["id"]), {"text": ""}), COMMENTS, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/text"]
    body = contract.check(api.post(STAFF, {"email": "not-an-email", "role": "boss"}), STAFF, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/email", "/role"}
    body = contract.check(api.post(TOKENS, {"email": "admin@callboard.test", "expires_in_days": 0}), TOKENS, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/expires_in_days"]


def test_428_missing_if_match(api, contract):
    r = create(api, contract, department=unique("Pytest 428"))
    body = contract.check(api.patch(path(REQUEST, id=r["id"]), {"notes": "x"}), REQUEST, 428)
    assert problem_type(body) == "if-match-required"
    body = contract.check(api.post(path(TRANSITION, id=r["id"], name="withdraw"), {"reason": "x"}), TRANSITION, 428)
    assert problem_type(body) == "if-match-required"


def test_400s(api, contract):
    resp = api.call("POST", REQUESTS, raw=b'{"kind": "transactional",', content_type="application/json")
    assert problem_type(contract.check(resp, REQUESTS, 400)) == "malformed-json"
    resp = api.call("POST", REQUESTS)
    assert problem_type(contract.check(resp, REQUESTS, 400)) == "missing-body"
    r = create(api, contract, department=unique("Pytest 400"))
    resp = api.call("PATCH", path(REQUEST, id=r["id"]), raw=b"[1,", content_type="application/json",
                    headers={"If-Match": r["etag"]})
    assert problem_type(contract.check(resp, REQUEST, 400)) == "malformed-json"
    resp = api.patch(path(REQUEST, id=r["id"]), {"notes": "x"}, headers={"If-Match": "v1"})
    assert problem_type(contract.check(resp, REQUEST, 400)) == "bad-if-match"
    resp = api.post(path(TRANSITION, id=r["id"], name="withdraw"), {"reason": "x"}, headers={"If-Match": "*"})
    assert problem_type(contract.check(resp, TRANSITION, 400)) == "bad-if-match"
    resp = api.post(path(COMMENTS, id=r["id"]), {"text": "x"}, headers={"Idempotency-Key": "has space"})
    assert problem_type(contract.check(resp, COMMENTS, 400)) == "bad-idempotency-key"
    resp = api.post(path(REVOKE, id=str(uuid.uuid4())), headers={"Idempotency-Key": "k" * 256})
    assert problem_type(contract.check(resp, REVOKE, 400)) == "bad-idempotency-key"
    resp = api.call("POST", STAFF, raw=b"{", content_type="application/json")
    assert problem_type(contract.check(resp, STAFF, 400)) == "malformed-json"
    # Signed numbers are not ETags this API gives (`"v[0-9]+"`): 400, not a 412 or a match.
    for etag in ('"v-1"', '"v+1"'):
        resp = api.patch(path(REQUEST, id=r["id"]), {"notes": "x"}, headers={"If-Match": etag})
        assert problem_type(contract.check(resp, REQUEST, 400)) == "bad-if-match", etag


NUL = "a\u0000b"


@pytest.mark.parametrize("case", [
    "create.department", "create.notes", "create.items.service.name", "patch.notes", "comment.text",
    "transition.reason", "staff.name", "token.name", "list.q", "list.department",
])
def test_nul_character_is_a_validation_error(api, contract, case):
    """PostgreSQL cannot store U+0000 in text or jsonb: it must be a 422 naming the field, never a 500."""
    r = create(api, contract, items=ALL_ITEMS, department=unique("Pytest NUL"))
    service = copy.deepcopy(SERVICE)
    service["value"]["name"] = NUL
    calls = {
        "create.department": (lambda: api.post(REQUESTS, {"kind": "transactional", "department": NUL}), REQUESTS, "/department"),
        "create.notes": (lambda: api.post(REQUESTS, {"kind": "transactional", "department": "DVLA", "notes": NUL}),
                         REQUESTS, "/notes"),
        "create.items.service.name": (lambda: api.post(REQUESTS, {"kind": "transactional", "department": "DVLA",
                                                                  "items": {"service": service}}),
                                      REQUESTS, "/items/service/value/name"),
        "patch.notes": (lambda: api.patch(path(REQUEST, id=r["id"]), {"notes": NUL}, headers={"If-Match": r["etag"]}),
                        REQUEST, "/notes"),
        "comment.text": (lambda: api.post(path(COMMENTS, id=r["id"]), {"text": NUL}), COMMENTS, "/text"),
        "transition.reason": (lambda: api.post(path(TRANSITION, id=r["id"], name="withdraw"), {"reason": NUL},
                                               headers={"If-Match": r["etag"]}), TRANSITION, "/reason"),
        "staff.name": (lambda: api.post(STAFF, {"email": unique("nul") + "@callboard.test", "role": "viewer", "name": NUL}),
                       STAFF, "/name"),
        "token.name": (lambda: api.post(TOKENS, {"email": "admin@callboard.test", "name": NUL}), TOKENS, "/name"),
        "list.q": (lambda: api.get(REQUESTS, query={"q": NUL}), REQUESTS, "/query/q"),
        "list.department": (lambda: api.get(REQUESTS, query={"department": NUL}), REQUESTS, "/query/department"),
    }
    call, template, pointer = calls[case]
    body = contract.check(call(), template, 422)
    assert problem_type(body) == "validation"
    assert [e["pointer"] for e in body["errors"]] == [pointer]


def test_request_id_is_echoed(api, contract):
    resp = api.get("/health/live", headers={"X-Request-Id": "pytest-trace-42"})
    contract.check(resp, "/health/live", 200)
    assert resp.header("X-Request-Id") == "pytest-trace-42"
    resp = api.get(path(REQUEST, id=str(uuid.uuid4())), headers={"X-Request-Id": "not valid!"})
    contract.check(resp, REQUEST, 404)
    assert resp.header("X-Request-Id") not in (None, "", "not valid!")


# ---------------------------------------------------------------------------------- coverage


def test_every_documented_operation_was_exercised(request, contract):
    module_tests = {item.originalname for item in request.session.items if item.module is request.module}
    defined = {name for name in dir(request.module) if name.startswith("test_")}
    if module_tests != defined:
        pytest.skip("only part of this module ran")
    succeeded = {(m, p) for m, p, s in contract.seen if s.startswith("2")}
    missing = [f"{m} {p}" for m, p in contract.operations() if (m, p) not in succeeded]
    assert not missing, "documented operations never answered 2xx in this walk: " + ", ".join(missing)
