"""Black-box tests of the `callboard` binary over HTTP.

A session fixture creates a fresh PostgreSQL database, runs `callboard migrate`, bootstraps an
admin and a token with `callboard admin`, starts `callboard serve` on a free loopback port (its
metrics listener, CALLBOARD_METRICS_PORT, on another) and, at the end, stops it with SIGTERM (it
must exit 0 within 10 s) and drops the database.

Environment:
  CALLBOARD_BIN                the binary (default .build/debug/callboard, relative to the repo root);
                               its `*.resources` folders must sit beside it.
  CALLBOARD_TEST_DATABASE_URL  a PostgreSQL server to create the throwaway database on
                               (default postgres://postgres@127.0.0.1:25439/postgres).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:25439/postgres"
ADMIN_EMAIL = "admin@callboard.test"
READY_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0


# ---------------------------------------------------------------------------------- process setup


def callboard_bin() -> Path:
    raw = os.environ.get("CALLBOARD_BIN", ".build/debug/callboard")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.exit(f"callboard binary not found at {path} (set CALLBOARD_BIN)", returncode=2)
    return path


def database_url_for(server_url: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def psql(server_url: str, sql: str) -> None:
    result = subprocess.run(["psql", server_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"psql failed ({sql}): {result.stderr.strip()}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CallboardServer(NamedTuple):
    base_url: str
    token: str


@dataclass
class ServerInfo:
    """What the session fixture set up, for tests that need more than (base_url, token)."""
    base_url: str
    token: str
    host: str
    port: int
    log_path: Path
    env: dict[str, str] = field(repr=False)
    bin: Path = field(repr=False)
    pg_url: str = ""
    dbname: str = ""
    pid: int = 0
    metrics_port: int = 0

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return run_cli(self.bin, self.env, *args)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def run_cli(binary: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"callboard {' '.join(args)} exited {result.returncode}:\n{result.stderr}\n{result.stdout}")
    return result


def wait_ready(proc: subprocess.Popen, host: str, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"callboard serve exited with {proc.returncode} before it was ready:\n"
                               + log_path.read_text(errors="replace")[-4000:])
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/health/ready")
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            if resp.status == 200:
                return
            last = f"{resp.status} {body[:200]!r}"
        except OSError as e:
            last = repr(e)
        time.sleep(0.1)
    raise RuntimeError(f"callboard serve not ready after {READY_TIMEOUT:.0f} s (last: {last}):\n"
                       + log_path.read_text(errors="replace")[-4000:])


@contextlib.contextmanager
def running_callboard(workdir: Path, pg_url: str | None = None) -> Iterator[ServerInfo]:
    """A fresh database, migrated, with an admin token, served on a free loopback port.

    On exit the server gets SIGTERM and must exit 0 within 10 s (graceful shutdown is a
    requirement); the database is dropped whatever happens.
    """
    binary = callboard_bin()
    pg_url = pg_url or os.environ.get("CALLBOARD_TEST_DATABASE_URL") or DEFAULT_DB_URL
    dbname = "cb_pytest_" + secrets.token_hex(6)
    psql(pg_url, f'CREATE DATABASE "{dbname}"')
    proc: subprocess.Popen | None = None
    log_file = None
    try:
        env = dict(os.environ)
        env.update(DATABASE_URL=database_url_for(pg_url, dbname),
                   CALLBOARD_LOG_LEVEL=os.environ.get("CALLBOARD_LOG_LEVEL", "warning"),
                   CALLBOARD_DB_POOL_SIZE=os.environ.get("CALLBOARD_DB_POOL_SIZE", "8"))
        env.pop("CALLBOARD_MIGRATE_ON_START", None)
        # The key that seals webhook signing secrets (base64 of 32 random bytes).
        key_file = workdir / "secret.key"
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        env["CALLBOARD_SECRET_KEY_FILE"] = str(key_file)
        # Metrics have a listener of their own (default 9090): a free port each, as servers run side by side.
        metrics_port = free_port()
        env["CALLBOARD_METRICS_PORT"] = str(metrics_port)
        run_cli(binary, env, "migrate")
        run_cli(binary, env, "admin", "create-staff", "--email", ADMIN_EMAIL, "--role", "admin", "--name", "Pytest Admin")
        token = run_cli(binary, env, "admin", "create-token", "--email", ADMIN_EMAIL, "--name", "pytest").stdout.strip()
        assert re.fullmatch(r"cb_[A-Za-z0-9_-]{43}", token), f"create-token printed {token!r}"

        host, port = "127.0.0.1", free_port()
        # The public address: the pages accept form posts only from this origin.
        env["CALLBOARD_BASE_URL"] = f"http://{host}:{port}"
        log_path = workdir / "serve.log"
        log_file = open(log_path, "wb")
        proc = subprocess.Popen([str(binary), "serve", "--hostname", host, "--port", str(port)],
                                env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        wait_ready(proc, host, port, log_path)
        info = ServerInfo(base_url=f"http://{host}:{port}", token=token, host=host, port=port,
                          log_path=log_path, metrics_port=metrics_port, env=env, bin=binary, pg_url=pg_url, dbname=dbname,
                          pid=proc.pid)
        yield info

        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            code = proc.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"callboard serve did not exit within {SHUTDOWN_TIMEOUT:.0f} s of SIGTERM:\n{info.log_tail()}")
        assert code == 0, (f"callboard serve exited with {code} {time.monotonic() - started:.1f} s after SIGTERM "
                           f"(expected 0):\n{info.log_tail()}")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if log_file is not None:
            log_file.close()
        try:
            psql(pg_url, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        except Exception as e:  # noqa: BLE001 - a leftover database must not hide the real failure
            print(f"warning: could not drop {dbname}: {e}")


@pytest.fixture(scope="session")
def server_info(tmp_path_factory) -> Iterator[ServerInfo]:
    with running_callboard(tmp_path_factory.mktemp("callboard")) as info:
        yield info


@pytest.fixture(scope="session")
def callboard_server(server_info: ServerInfo) -> CallboardServer:
    """(base_url, admin token) of the running server."""
    return CallboardServer(server_info.base_url, server_info.token)


# ---------------------------------------------------------------------------------- HTTP client


@dataclass
class Response:
    method: str
    path: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def media_type(self) -> str | None:
        ct = self.header("Content-Type")
        return ct.split(";")[0].strip().lower() if ct else None

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        text = self.body[:2000].decode("utf-8", "replace")
        return f"{self.method} {self.path} -> {self.status} {self.header('Content-Type')}\n{text}"


class API:
    """A minimal HTTP client (one connection per call, full control over headers and body)."""

    def __init__(self, host: str, port: int, token: str | None):
        self.host, self.port, self.token = host, port, token

    def with_token(self, token: str | None) -> "API":
        return API(self.host, self.port, token)

    def call(self, method: str, path: str, *, json_body: Any = None, raw: bytes | None = None,
             content_type: str | None = None, headers: dict[str, str] | None = None,
             query: dict[str, Any] | None = None, timeout: float = 30) -> Response:
        h = {"Accept": "application/json, application/problem+json, */*"}
        if self.token is not None:
            h["Authorization"] = f"Bearer {self.token}"
        body = None
        if json_body is not None:
            body = json.dumps(json_body, sort_keys=True).encode()
            h["Content-Type"] = content_type or "application/json"
        elif raw is not None:
            body = raw
            if content_type is not None:
                h["Content-Type"] = content_type
        h.update(headers or {})
        if query:
            # %20 for spaces: the server reads `+` literally (RFC 3986), not as a form-encoded space.
            path = path + "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (e.g. 413) and stop reading before a large body is sent.
                pass
            resp = conn.getresponse()
            return Response(method, path, resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kw) -> Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw) -> Response:
        return self.call("POST", path, json_body=body, **kw)

    def patch(self, path: str, body: Any = None, **kw) -> Response:
        return self.call("PATCH", path, json_body=body, **kw)


@pytest.fixture(scope="session")
def api(server_info: ServerInfo) -> API:
    """Client with the admin token."""
    return API(server_info.host, server_info.port, server_info.token)


# ---------------------------------------------------------------------------------- the OpenAPI contract


def _rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value) is not None


def _uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", value) is not None


def _email(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return re.fullmatch(r"[^@\s]+@[^@\s]+", value) is not None


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urllib.parse.urlsplit(value)
    return bool(parts.scheme) and " " not in value


FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(_rfc3339)
FORMATS.checks("uuid")(_uuid)
FORMATS.checks("email")(_email)
FORMATS.checks("uri")(_uri)

DOC_URI = "urn:callboard:openapi"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Contract:
    """The OpenAPI document, and checks of responses against it."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
        self.seen: set[tuple[str, str, str]] = set()  # (method, path template, status)

    def operations(self) -> list[tuple[str, str]]:
        ops = []
        for path, item in self.doc["paths"].items():
            for method in ("get", "put", "post", "patch", "delete", "head", "options"):
                if method in item:
                    ops.append((method.upper(), path))
        return ops

    def _deref(self, obj: dict, pointer: str) -> tuple[dict, str]:
        while "$ref" in obj:
            ref = obj["$ref"]
            assert ref.startswith("#/"), f"unexpected $ref {ref}"
            pointer = ref[1:]
            obj = self.doc
            for part in ref[2:].split("/"):
                obj = obj[part.replace("~1", "/").replace("~0", "~")]
        return obj, pointer

    def validate(self, instance: Any, schema_pointer: str) -> None:
        validator = Draft202012Validator({"$ref": DOC_URI + "#" + schema_pointer},
                                         registry=self.registry, format_checker=FORMATS)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10]]
            raise AssertionError(f"body does not match {schema_pointer}:\n" + "\n".join(lines))

    def check(self, resp: Response, template: str, status: int, *, replayed: bool = False) -> Any:
        """Asserts `resp` has `status` and matches what the document declares for it; returns the parsed body."""
        assert resp.status == status, f"expected {status}, got:\n{resp}"
        method = resp.method.lower()
        path_item = self.doc["paths"].get(template)
        assert path_item is not None, f"{template} is not a documented path"
        op = path_item.get(method)
        assert op is not None, f"{resp.method} {template} is not a documented operation"
        responses = op["responses"]
        key = str(status)
        if key not in responses:
            key = f"{key[0]}XX" if f"{key[0]}XX" in responses else "default"
        assert key in responses, (f"{resp.method} {template} answered {status}, which the document does not declare "
                                  f"(declared: {', '.join(responses)}):\n{resp}")
        base = f"/paths/{_escape(template)}/{method}/responses/{key}"
        response_obj, pointer = self._deref(responses[key], base)
        self.seen.add((resp.method, template, str(status)))

        # Every response carries X-Request-Id (info.description, "Formats").
        assert resp.header("X-Request-Id"), f"no X-Request-Id:\n{resp}"

        # Documented headers: present (Idempotent-Replayed only on replays), and matching their schema.
        for name, header in (response_obj.get("headers") or {}).items():
            header, hptr = self._deref(header, f"{pointer}/headers/{_escape(name)}")
            value = resp.header(name)
            if name.lower() == "idempotent-replayed" and not replayed:
                assert value is None, f"{name} on a first answer:\n{resp}"
                continue
            assert value is not None, f"documented header {name} missing:\n{resp}\nheaders: {resp.headers}"
            if "schema" in header:
                self.validate(value, f"{hptr}/schema")

        content = response_obj.get("content") or {}
        if not content:
            assert resp.body == b"", f"{resp.method} {template} {status} documents no body but got one:\n{resp}"
            return None
        media = resp.media_type
        assert media in content, (f"Content-Type {resp.header('Content-Type')!r} is not a documented media type "
                                  f"({', '.join(content)}) for {resp.method} {template} {status}:\n{resp}")
        schema_ptr = f"{pointer}/content/{_escape(media)}/schema"
        if media == "application/json" or media.endswith("+json"):
            try:
                body = resp.json()
            except ValueError as e:
                raise AssertionError(f"body is not JSON ({e}):\n{resp}") from None
        else:
            body = resp.body.decode("utf-8")
        if "schema" in content[media]:
            self.validate(body, schema_ptr)
        if media == "application/problem+json":
            assert body["status"] == status, f"problem status {body['status']} != HTTP status {status}"
        return body


@pytest.fixture(scope="session")
def openapi_doc(server_info: ServerInfo) -> dict:
    """The document the server serves."""
    resp = API(server_info.host, server_info.port, None).get("/api/v1/openapi.yaml")
    assert resp.status == 200, str(resp)
    return yaml.safe_load(resp.body)


@pytest.fixture(scope="session")
def contract(openapi_doc: dict) -> Contract:
    return Contract(openapi_doc)
