"""The write API against the Performance Platform's own client library (performanceplatform-client
0.11.5, unchanged but for the Python 3 shim in e2e/support/pp_client.py).

Each call the client makes is counted on the server's metrics listener, so a refused record is
shown to cost exactly one request (the client retries only 500, 502 and 503).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from pp_client import data_set_class  # noqa: E402

from conftest import API, ServerInfo  # noqa: E402

GROUP, TYPE = "carers-allowance", "transactions-by-channel"


def data_requests(info: ServerInfo, method: str) -> int:
    """How many `/data/…` calls with `method` the server has answered (any status)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{info.metrics_port}/metrics", timeout=10).read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("callboard_http_requests_total{") and 'method="' + method + '"' in line and "data_group" in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


@pytest.fixture(scope="module")
def data_set(api: API) -> dict:
    created = api.post("/api/v1/requests", {"kind": "transactional", "department": "DWP"})
    assert created.status == 201, str(created)
    rid = created.json()["id"]
    body = {"name": "Channel volumes", "cadence": "weekly", "data_group": GROUP, "data_type": TYPE,
            "fields": ["count", {"name": "channel", "type": "string"}],
            "uploaders": [{"name": "Sam Patel", "email": "sam@dwp.gov.uk"}]}
    ds = api.post(f"/api/v1/requests/{rid}/data-sets", body)
    assert ds.status == 201, str(ds)
    other = api.post(f"/api/v1/requests/{rid}/data-sets",
                     dict(body, name="Other", data_type="other", fields=[]))
    assert other.status == 201, str(other)
    tokens = {}
    for key, d in (("mine", ds.json()), ("other", other.json())):
        t = api.post(f"/api/v1/data-sets/{d['id']}/write-tokens", {"name": "pipeline"})
        assert t.status == 201, str(t)
        assert re.fullmatch(r"cbw_[A-Za-z0-9_-]{43}", t.json()["token"])
        tokens[key] = t.json()["token"]
    return {"request": rid, "id": ds.json()["id"], "write_url": ds.json()["write_url"], "tokens": tokens}


def client(info: ServerInfo, token: str):
    return data_set_class().from_group_and_type(f"{info.base_url}/data", GROUP, TYPE, token=token)


def records_stored(api: API, token: str) -> list[dict]:
    r = api.with_token(token).get(f"/data/{GROUP}/{TYPE}")
    assert r.status == 200, str(r)
    return r.json()["data"]


def test_the_official_client_posts_upserts_and_empties(server_info: ServerInfo, api: API, data_set: dict):
    assert data_set["write_url"] == f"{server_info.base_url}/data/{GROUP}/{TYPE}"
    ds = client(server_info, data_set["tokens"]["mine"])
    assert ds.post({"_timestamp": "2026-11-23T00:00:00+00:00", "count": 3, "channel": "online"}) == {"status": "ok", "records": 1}

    # 5,000 records: over 2 KB, so the client gzips them.
    many = [{"_id": f"w{i}", "_timestamp": "2026-11-16T00:00:00+00:00", "Count": i, "channel": "phone"} for i in range(5000)]
    assert ds.post(many) == {"status": "ok", "records": 5000}
    stored = records_stored(api, data_set["tokens"]["mine"])
    assert len(stored) == 5001
    assert {"_id": "w7", "_timestamp": "2026-11-16T00:00:00+00:00", "count": 7, "channel": "phone"} in stored

    # Upsert by _id: the record is replaced, not added.
    assert ds.post([{"_id": "w7", "_timestamp": "2026-11-16T00:00:00+00:00", "count": 700, "channel": "phone"}])["records"] == 1
    stored = records_stored(api, data_set["tokens"]["mine"])
    assert len(stored) == 5001 and [r["count"] for r in stored if r["_id"] == "w7"] == [700]

    # The uploads settled both weeks, and the request's history says so.
    events = api.get(f"/api/v1/requests/{data_set['request']}/events", query={"limit": 200}).json()["items"]
    uploads = [e["data"] for e in events if e["kind"] == "upload_recorded"]
    assert [u["periods"] for u in uploads] == [[{"start": "2026-11-23", "end": "2026-11-29"}],
                                               [{"start": "2026-11-16", "end": "2026-11-22"}],
                                               [{"start": "2026-11-16", "end": "2026-11-22"}]]
    assert [u["records"] for u in uploads] == [1, 5000, 1] and all(u["source"] == "api" for u in uploads)

    assert ds.empty_data_set() == {"status": "ok", "records": 0}
    assert records_stored(api, data_set["tokens"]["mine"]) == []


def test_wrong_tokens_and_refused_records_are_one_request_each(server_info: ServerInfo, api: API, data_set: dict):
    before = data_requests(server_info, "POST")
    with pytest.raises(requests.HTTPError) as wrong:
        client(server_info, "cbw_" + "A" * 43).post({"count": 1})
    assert wrong.value.response.status_code == 401
    assert wrong.value.response.json()["status"] == "error"
    with pytest.raises(requests.HTTPError) as foreign:
        client(server_info, data_set["tokens"]["other"]).post({"count": 1})
    assert foreign.value.response.status_code == 403
    with pytest.raises(requests.HTTPError) as refused:
        client(server_info, data_set["tokens"]["mine"]).post([{"count": "three"}, {"colour": "red"}])
    body = refused.value.response.json()
    assert refused.value.response.status_code == 400
    assert body["status"] == "error" and body["message"].startswith("Record 0: count must be a number, not a string")
    assert [e["pointer"] for e in body["errors"]] == ["/0/count", "/1/colour"]
    # No retry storm: three calls, three requests.
    assert data_requests(server_info, "POST") - before == 3
    assert records_stored(api, data_set["tokens"]["mine"]) == []


def test_no_write_token_reaches_the_log_or_the_api(server_info: ServerInfo, api: API, data_set: dict):
    listed = api.get(f"/api/v1/data-sets/{data_set['id']}/write-tokens")
    assert listed.status == 200 and all("token" not in t for t in listed.json()["items"])
    log = server_info.log_path.read_text(errors="replace")
    for token in data_set["tokens"].values():
        assert token not in log and token not in listed.body.decode()
        assert token[4:] not in json.dumps(api.get(f"/api/v1/requests/{data_set['request']}/data-sets").json())
