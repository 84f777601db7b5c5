"""PostgreSQL restarts and stops under load: the server and the worker survive, never wedge, answer
503 with Retry-After while the database is away, report ready again within 5 s of it coming back,
lose no acknowledged write, and still stop within 10 s of SIGTERM (checked when the server fixture
ends). Each test runs its own PostgreSQL cluster, since it restarts it."""
from __future__ import annotations

import http.client
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from conftest import API, callboard_bin, free_port, running_callboard  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
ITEMS = {
    "contact": {"status": "provided", "value": {"name": "Ada Lovelace", "email": "ada@dvla.gov.uk", "phone": "020 7946 0000"}},
    "service": {"status": "provided", "value": {"name": "Renew your driving licence", "description": "Drivers renew online",
                                                "start_page_url": "https://www.gov.uk/renew-driving-licence"}},
}


def as_postgres(*args: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


def pg_ctl(data: Path, *args: str) -> None:
    # -l: the server must not inherit our pipes, or waiting for pg_ctl would wait for the server too.
    subprocess.run(as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "server.log"), *args),
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


@pytest.fixture
def cluster():
    folder = REPO / ".local" / f"fault-pg-{secrets.token_hex(4)}"
    port = free_port()
    subprocess.run(["bash", str(REPO / "scripts" / "postgres.sh"), str(folder), str(port)], check=True, env={**os.environ, "PG_FSYNC": "off"})
    try:
        yield folder / "data", f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(["bash", str(REPO / "scripts" / "postgres.sh"), "stop", str(folder)])
        shutil.rmtree(folder, ignore_errors=True)


def timed_ready(api: API) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = api.get("/health/ready", timeout=5).status
    except OSError:
        status = 0
    return status, time.monotonic() - started


class Load:
    """Four clients creating requests and firing a transition on each, until stopped."""

    def __init__(self, api: API):
        self.api, self.stop = api, threading.Event()
        self.acknowledged: list[str] = []
        self.unavailable: list[tuple[int, str | None, str | None]] = []
        self.wrong: list[str] = []
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(4)]

    def client(self) -> None:
        while not self.stop.is_set():
            try:
                r = self.api.post("/api/v1/requests", {"kind": "transactional", "department": "DVLA", "items": ITEMS},
                                  headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=25)
                if r.status == 201:
                    self.acknowledged.append(r.json()["id"])
                    t = self.api.post(f"/api/v1/requests/{r.json()['id']}/transitions/withdraw",
                                      {"reason": "load"}, headers={"If-Match": r.header("ETag") or ""}, timeout=25)
                    if t.status not in (200, 503):
                        self.wrong.append(str(t))
                elif r.status == 503:
                    self.unavailable.append((r.status, r.header("Retry-After"), r.media_type))
                else:
                    self.wrong.append(str(r))
            except OSError as e:  # a timeout here would be a wedge
                self.wrong.append(f"no answer: {e!r}")

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in self.threads), "a client is still waiting for an answer"


def test_restart_and_outage_under_load(cluster, tmp_path, monkeypatch):
    data, pg_url = cluster
    mail = tmp_path / "mail"
    monkeypatch.setenv("CALLBOARD_EMAIL_TRANSPORT", "file")
    monkeypatch.setenv("CALLBOARD_EMAIL_DIR", str(mail))
    monkeypatch.setenv("CALLBOARD_WORKER_POLL_SECONDS", "1")
    with running_callboard(tmp_path, pg_url=pg_url) as info:
        worker_log = open(tmp_path / "worker.log", "wb")
        worker = subprocess.Popen([str(callboard_bin()), "worker"], env=info.env, stdout=worker_log, stderr=subprocess.STDOUT)
        api = API(info.host, info.port, info.token)
        try:
            with Load(api) as load:
                time.sleep(1.5)
                pg_ctl(data, "restart", "-m", "fast", "-w")
                time.sleep(2)
                # A 10 s outage: readiness answers within its 2 s bound throughout and says unavailable.
                pg_ctl(data, "stop", "-m", "fast", "-w")
                stopped = time.monotonic()
                readiness = []
                while time.monotonic() - stopped < 10:
                    readiness.append(timed_ready(api))
                    time.sleep(0.25)
                outage = api.post("/api/v1/requests", {"kind": "transactional", "department": "DVLA", "items": ITEMS}, timeout=10)
                page = api.with_token(None).get("/staff/sign-in", timeout=10)
                pg_ctl(data, "start", "-w", "-o", f"-p {pg_url.rsplit(':', 1)[1].split('/')[0]} -k {data.parent / 'socket'} -c listen_addresses=127.0.0.1")
                back = time.monotonic()
                while timed_ready(api)[0] != 200 and time.monotonic() - back < 15:
                    time.sleep(0.1)
                ready_after = time.monotonic() - back
                time.sleep(1.5)
            assert load.wrong == [], "\n".join(load.wrong[:5])
            assert all(seconds < 2.5 for _, seconds in readiness), readiness
            assert [s for s, _ in readiness[4:]] == [503] * len(readiness[4:]), readiness
            assert outage.status == 503 and outage.media_type == "application/problem+json" and outage.header("Retry-After") == "5", str(outage)
            assert page.status == 503 and page.media_type == "text/html" and page.header("Retry-After") == "5"
            # The outage page carries the pages' security headers like any other page.
            assert page.header("X-Frame-Options") == "DENY" and page.header("Referrer-Policy") == "same-origin"
            assert (page.header("Content-Security-Policy") or "").startswith("default-src 'none'")
            assert ready_after < 5, f"ready {ready_after:.1f} s after PostgreSQL came back"
            assert load.unavailable and all(u == (503, "5", "application/problem+json") for u in load.unavailable)
            # Every acknowledged write is there.
            assert len(load.acknowledged) > 20
            missing = [i for i in load.acknowledged if api.get(f"/api/v1/requests/{i}").status != 200]
            assert missing == []
            # The worker is alive, its LISTEN connection came back: a new email goes out at once.
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            before = len(list(mail.glob("*.eml"))) if mail.exists() else 0
            assert api.post("/api/v1/requests", {"kind": "transactional", "department": "DVLA", "items": ITEMS}).status == 201
            deadline = time.monotonic() + 10
            while (len(list(mail.glob("*.eml"))) if mail.exists() else 0) <= before and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(list(mail.glob("*.eml"))) > before, "the worker sent nothing after the outage"
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=10) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
            worker_log.close()
