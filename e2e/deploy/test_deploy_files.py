"""The deploy files (deploy/), checked without a container engine.

No Docker engine, Compose plugin or base-image registry is reachable where the tests run, so the
image is never built and the stack never started here. Instead these tests check what can be
checked: compose.yaml's services, health checks, start order and default environment; that every
setting it, the Dockerfile and callboard.env.example name exists (against `callboard config docs`)
and that their values pass `callboard config check`; that the Dockerfile's COPY sources exist and
its list of resource bundles is what `swift build` writes (its staging step is run against the
debug build); `callboard health`, the container health check, against local HTTP servers; and
`systemd-analyze verify` on the unit when systemd-analyze is installed.

Environment:
  CALLBOARD_BIN                the binary (default .build/debug/callboard); its *.resources beside it.
  CALLBOARD_TEST_DATABASE_URL  optional: a PostgreSQL server; when set, `callboard health` is also
                               run against a real `callboard serve`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.server
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
ENV_EXAMPLE = DEPLOY / "callboard.env.example"
UNIT = DEPLOY / "callboard.service"

# A setting's name as the deploy files spell it: CALLBOARD_... or DATABASE_URL(_FILE).
SETTING_NAME = re.compile(r"\b(?:CALLBOARD_[A-Z0-9_]*|DATABASE_URL[A-Z0-9_]*)")


def callboard_bin() -> Path:
    path = Path(os.environ.get("CALLBOARD_BIN", ".build/debug/callboard"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.exit(f"callboard binary not found at {path} (build it, or set CALLBOARD_BIN)", returncode=2)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Callboard setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not SETTING_NAME.fullmatch(k)}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------ parsing


@pytest.fixture(scope="session")
def known_settings() -> set[str]:
    """Every variable `callboard config docs` documents, `_FILE` forms included."""
    out = subprocess.run([str(callboard_bin()), "config", "docs"], capture_output=True, text=True, timeout=30, check=True).stdout
    names: set[str] = set()
    for line in out.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split(" | ")[0]
        names.update(n for n in re.findall(r"`([A-Z0-9_]+)`", first_cell) if SETTING_NAME.fullmatch(n))
    assert {"DATABASE_URL", "DATABASE_URL_FILE", "CALLBOARD_PORT", "CALLBOARD_EMAIL_TRANSPORT"} <= names, names
    return names


def interpolate(value: str) -> str:
    """Compose interpolation with nothing set in the shell or deploy/.env: the defaults."""

    def sub(m: re.Match) -> str:
        body = m.group(1)
        for sep in (":-", "-"):
            if sep in body:
                return body.split(sep, 1)[1]
        return ""

    return re.sub(r"\$\{([^}]*)\}", sub, value)


@pytest.fixture(scope="session")
def compose_text() -> str:
    return COMPOSE.read_text()


@pytest.fixture(scope="session")
def compose(compose_text: str) -> dict:
    doc = yaml.safe_load(compose_text)
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict), "compose.yaml has no services mapping"
    return doc


def service_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def mount_targets(service: dict) -> list[str]:
    targets = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            targets.append(v["target"])
        else:
            parts = interpolate(v).split(":")
            targets.append(parts[1] if len(parts) > 1 else parts[0])
    for s in service.get("secrets") or []:
        name = s if isinstance(s, str) else s.get("source")
        target = name if isinstance(s, str) else s.get("target", name)
        targets.append(target if target.startswith("/") else f"/run/secrets/{target}")
    return targets


def under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) as Docker reads them: comment lines dropped, continuations joined."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return instructions


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in dockerfile_instructions():
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def env_file_values(text: str) -> dict[str, str]:
    """The assignments of a systemd EnvironmentFile (as the example uses them: no `export`)."""
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=value: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def config_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(callboard_bin()), "config", "check"], env=clean_env(**env), capture_output=True, text=True, timeout=30)


def secret_stand_in(tmp_path: Path, name: str) -> str:
    """A readable file with a value the setting accepts, standing in for a mounted secret."""
    path = tmp_path / name.lower()
    value = f"callboard-{uuid.uuid4()}-{uuid.uuid4()}" if "NOTIFY_API_KEY" in name else "not-a-real-password"
    path.write_text(value + "\n")
    return str(path)


# ------------------------------------------------------------------------------- compose.yaml


def test_compose_runs_postgres_15_and_callboard(compose):
    services = compose["services"]
    assert set(services) == {"db", "callboard"}
    assert services["db"]["image"] == "postgres:15"
    build = services["callboard"]["build"]
    # Paths in a compose file are relative to its folder: the context is the repository root.
    assert (DEPLOY / build["context"]).resolve() == REPO_ROOT
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_health_checks_and_start_order(compose):
    db, app = compose["services"]["db"], compose["services"]["callboard"]
    db_test = db["healthcheck"]["test"]
    assert db_test[0] == "CMD" and db_test[1] == "pg_isready", db_test
    app_test = app["healthcheck"]["test"]
    assert app_test[0] == "CMD" and app_test[1:3] == ["/app/callboard", "health"], app_test
    for name, check in (("db", db["healthcheck"]), ("callboard", app["healthcheck"])):
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name} healthcheck has no {key}"
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}


def test_pg_isready_accepts_the_health_check_arguments(compose):
    pg_isready = shutil.which("pg_isready") or shutil.which("/usr/lib/postgresql/15/bin/pg_isready")
    if not pg_isready:
        pytest.skip("pg_isready is not installed")
    args = compose["services"]["db"]["healthcheck"]["test"][2:]
    # Against a closed port: 2 (no response) means the arguments parsed; 3 means they did not.
    result = subprocess.run([pg_isready, *args, "-p", str(free_port()), "-t", "2"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)


def test_compose_defaults_need_no_files_and_serve_localhost(compose):
    app = compose["services"]["callboard"]
    env = service_env(app)
    assert "env_file" not in app, "the default stack must not depend on an env file the user has to write"
    assert env["CALLBOARD_EMAIL_TRANSPORT"] == "file"
    assert env["CALLBOARD_BASE_URL"] == "http://localhost:8080"
    # The file transport writes into a named volume, and the worker that writes runs in serve.
    mounts = mount_targets(app)
    assert any(under(env["CALLBOARD_EMAIL_DIR"], m) for m in mounts), (env["CALLBOARD_EMAIL_DIR"], mounts)
    named = {interpolate(v).split(":")[0] for v in app.get("volumes", []) if isinstance(v, str)}
    assert named <= set(compose.get("volumes") or {}), named
    assert env.get("CALLBOARD_WITH_WORKER") == "true" or "--with-worker" in app.get("command", [])
    # Migrations run on start.
    assert env.get("CALLBOARD_MIGRATE_ON_START") == "true" or "--migrate" in app.get("command", [])
    assert app["command"][0] == "serve"
    # The database is the db service; the base URL's port is the one published on the host.
    assert "@db:5432/" in env["DATABASE_URL"]
    assert "127.0.0.1:8080:8080" in app["ports"]
    assert env["CALLBOARD_PORT"] == "8080" and env["CALLBOARD_HOSTNAME"] == "0.0.0.0"


def test_compose_names_no_secret_file_that_is_not_mounted(compose):
    app = compose["services"]["callboard"]
    env = service_env(app)
    mounts = mount_targets(app)
    for name, value in env.items():
        if name.endswith("_FILE"):
            assert any(under(value, m) for m in mounts), f"{name}={value} is not inside a mounted volume or secret"
    # Active secrets must name files that exist (none do by default).
    for name, secret in (compose.get("secrets") or {}).items():
        if "file" in secret:
            assert (DEPLOY / secret["file"]).is_file(), f"secret {name}: {secret['file']} does not exist"
    assert not compose.get("secrets"), "the default stack must need no secret files"


def test_compose_defaults_pass_config_check(compose):
    """The image's ENV with compose's environment on top: what the container reads."""
    env = image_env() | service_env(compose["services"]["callboard"])
    result = config_check(env)
    assert result.returncode == 0, result.stderr
    assert "CALLBOARD_EMAIL_TRANSPORT=file  (environment)" in result.stdout


def commented_compose_options(compose_text: str) -> dict[str, dict[str, str]]:
    """The commented-out `# CALLBOARD_X: value` lines, by the `# --- ...` heading above them."""
    groups: dict[str, dict[str, str]] = {}
    heading = None
    for line in compose_text.splitlines():
        if m := re.match(r"\s*# --- (.*?) -*$", line):
            heading = m.group(1)
        elif m := re.match(r"\s*# ((?:CALLBOARD_|DATABASE_URL)[A-Z0-9_]*): (.*)$", line):
            groups.setdefault(heading or "", {})[m.group(1)] = yaml.safe_load(m.group(2))
    return groups


@pytest.mark.parametrize("transport", ["smtp", "notify"])
def test_compose_commented_transports_pass_config_check(compose, compose_text, tmp_path, transport):
    options = [g for g in commented_compose_options(compose_text).values() if g.get("CALLBOARD_EMAIL_TRANSPORT") == transport]
    assert len(options) == 1, f"compose.yaml should offer one commented {transport} option"
    option = {k: str(v) for k, v in options[0].items()}
    env = image_env() | service_env(compose["services"]["callboard"]) | option
    for name, value in option.items():
        if name.endswith("_FILE"):
            # Mounted as a compose secret: /run/secrets/NAME, with NAME declared (commented) below.
            secret = value.removeprefix("/run/secrets/")
            assert value == f"/run/secrets/{secret}", value
            assert re.search(rf"^\s*#\s+- {re.escape(secret)}\s*$", compose_text, re.M), f"service secrets list lacks {secret}"
            assert re.search(rf"^#\s+{re.escape(secret)}:\s*\n#\s+file: ", compose_text, re.M), f"top-level secrets lack {secret}"
            env[name] = secret_stand_in(tmp_path, name)
    result = config_check(env)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------------- settings


@pytest.mark.parametrize("path", [COMPOSE, ENV_EXAMPLE, DOCKERFILE, UNIT], ids=lambda p: p.name)
def test_every_setting_named_exists(path, known_settings):
    unknown = []
    for name in sorted(set(SETTING_NAME.findall(path.read_text()))):
        if name.endswith("_"):  # a family, such as CALLBOARD_SMTP_*
            if not any(k.startswith(name) for k in known_settings):
                unknown.append(name + "*")
        elif name not in known_settings:
            unknown.append(name)
    assert not unknown, f"{path.name} names settings that `callboard config docs` does not know: {unknown}"


def test_env_example_passes_config_check():
    values = env_file_values(ENV_EXAMPLE.read_text())
    assert values["CALLBOARD_EMAIL_TRANSPORT"] == "file", "the example must start without secret files"
    assert not [k for k in values if k.endswith("_FILE")], "the example must set no secret file by default"
    result = config_check(values)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("transport", ["smtp", "notify"])
def test_env_example_commented_transports_pass_config_check(tmp_path, transport):
    text = ENV_EXAMPLE.read_text()
    unit = UNIT.read_text()
    prefix = {"smtp": "CALLBOARD_SMTP_", "notify": "CALLBOARD_NOTIFY_"}[transport]
    option = {}
    for line in text.splitlines():
        if line.startswith("#" + prefix):
            option.update(env_file_values(line[1:]))
    assert option, f"callboard.env.example offers no commented {transport} settings"
    values = env_file_values(text) | option | {"CALLBOARD_EMAIL_TRANSPORT": transport}
    for name, value in option.items():
        if name.endswith("_FILE"):
            # Handed over by systemd: LoadCredential=NAME:... in the unit, read at /run/credentials/<unit>/NAME.
            credential = value.removeprefix("/run/credentials/callboard.service/")
            assert value != credential, value
            assert re.search(rf"^#?LoadCredential={re.escape(credential)}:/etc/callboard/", unit, re.M), credential
            values[name] = secret_stand_in(tmp_path, name)
    result = config_check(values)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------- Dockerfile


def dockerignored(path: str) -> bool:
    patterns = [p.strip() for p in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")]
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/")) for p in patterns)


def test_dockerfile_copy_sources_exist():
    copies = [args for word, args in dockerfile_instructions() if word == "COPY" and not args.startswith("--from")]
    assert copies, "no COPY from the build context"
    for args in copies:
        *sources, _dest = shlex.split(args)
        for source in sources:
            matches = list(REPO_ROOT.glob(source.rstrip("/")))
            assert matches, f"COPY {source}: nothing in the repository matches"
            for m in matches:
                rel = str(m.relative_to(REPO_ROOT))
                if not dockerignored(rel):
                    break
            else:
                pytest.fail(f"COPY {source}: every match is excluded by Dockerfile.dockerignore")
    # Package.swift at least; Package.resolved only when present.
    assert (REPO_ROOT / "Package.swift").is_file()


def dockerfile_bundles() -> list[str]:
    text = DOCKERFILE.read_text()
    m = re.search(r'bundles="([^"]*)"', text)
    assert m, "the Dockerfile lists no resource bundles"
    return m.group(1).split()


def built_bundles() -> set[str]:
    return {p.name for p in callboard_bin().parent.glob("*.resources")}


def test_dockerfile_bundles_are_what_swift_build_writes():
    listed = dockerfile_bundles()
    assert set(listed) == built_bundles(), f"Dockerfile lists {sorted(listed)}; the build wrote {sorted(built_bundles())}"
    assert len(listed) == 3
    readme = (DEPLOY / "README.md").read_text()
    for bundle in listed:
        assert bundle in readme, f"deploy/README.md does not name {bundle}"


def test_dockerfile_shell_steps_parse():
    for word, args in dockerfile_instructions():
        if word == "RUN" and not args.startswith("["):
            result = subprocess.run(["sh", "-n", "-c", args], capture_output=True, text=True)
            assert result.returncode == 0, f"RUN does not parse: {result.stderr}\n{args}"


def staging_step() -> str:
    instructions = dockerfile_instructions()
    i = instructions.index(("WORKDIR", "/staging"))
    word, script = instructions[i + 1]
    assert word == "RUN"
    return script


def run_staging(tmp_path: Path, bundles: list[Path]) -> subprocess.CompletedProcess:
    """The Dockerfile's staging step, run here against the debug build's bundles (not the binary:
    a stand-in file saves copying it; `strip` is a no-op)."""
    release = tmp_path / "release"
    release.mkdir()
    (release / "callboard").write_text("stand-in binary\n")
    for bundle in bundles:
        (release / bundle.name).symlink_to(bundle)
    backtracer = tmp_path / "swift-backtrace-static"
    backtracer.write_text("stand-in\n")
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "strip").write_text("#!/bin/sh\nexit 0\n")
    (shims / "strip").chmod(0o755)
    staging = tmp_path / "staging"
    staging.mkdir()
    script = staging_step()
    for old in ("/src/.build/release", "/usr/libexec/swift/linux/swift-backtrace-static"):
        assert old in script, f"the staging step no longer mentions {old}; update this test"
    script = script.replace("/src/.build/release", str(release)).replace("/usr/libexec/swift/linux/swift-backtrace-static", str(backtracer))
    env = dict(os.environ, PATH=f"{shims}:{os.environ['PATH']}")
    return subprocess.run(["sh", "-c", script], cwd=staging, env=env, capture_output=True, text=True, timeout=60)


def test_dockerfile_staging_step_gathers_binary_bundles_and_migrations(tmp_path):
    bundles = sorted(callboard_bin().parent.glob("*.resources"))
    result = run_staging(tmp_path, bundles)
    assert result.returncode == 0, result.stderr
    staged = tmp_path / "staging"
    assert {p.name for p in staged.iterdir()} == {"callboard", "swift-backtrace-static", *dockerfile_bundles()}
    migrations = list((staged / "callboard_CallboardStorage.resources" / "Migrations").glob("*.sql"))
    assert migrations, "no migrations staged"
    dangling = [p for p in staged.rglob("*") if p.is_symlink()]
    assert not dangling, f"symlinks staged: {dangling}"


def test_dockerfile_staging_step_refuses_a_bundle_it_does_not_list(tmp_path):
    extra = tmp_path / "callboard_Unlisted.resources"
    extra.mkdir()
    result = run_staging(tmp_path, [*sorted(callboard_bin().parent.glob("*.resources")), extra])
    assert result.returncode != 0 and "callboard_Unlisted.resources" in result.stderr, result.stderr


def test_dockerfile_staging_step_refuses_a_missing_bundle(tmp_path):
    bundles = [b for b in sorted(callboard_bin().parent.glob("*.resources")) if b.name != "callboard_CallboardHTTP.resources"]
    assert run_staging(tmp_path, bundles).returncode != 0


def test_dockerfile_health_check_and_email_folder(compose):
    instructions = dockerfile_instructions()
    healthchecks = [args for word, args in instructions if word == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert re.search(r'CMD \["/app/callboard", "health"', healthchecks[0]), healthchecks[0]
    assert ("ENTRYPOINT", '["/app/callboard"]') in instructions
    # The email folder exists in the image, owned by the user the image runs as, and is the
    # folder compose mounts its volume on.
    user = [args for word, args in instructions if word == "USER"][-1]
    uid, _, gid = user.partition(":")
    email_dir = image_env()["CALLBOARD_EMAIL_DIR"]
    assert any(
        word == "RUN" and re.search(rf"install -d [^&]*-o {uid} -g {gid} [^&]*{re.escape(email_dir)}\b", args) for word, args in instructions
    ), f"no RUN creates {email_dir} owned by {user}"
    assert email_dir in mount_targets(compose["services"]["callboard"])


def test_docker_compose_config_when_available():
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` here")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- callboard health


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = b'{"status":"ok"}' if self.path == "/health/ready" else b"{}"
        self.send_response(self.status if self.path == "/health/ready" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def http_server(status: int) -> Iterator[int]:
    handler = type("Handler", (_Handler,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def health(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(callboard_bin()), "health", *args], env=clean_env(**env), capture_output=True, text=True, timeout=30)


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_health_fails_against_a_closed_port():
    port = free_port()
    started = time.monotonic()
    result = health("--url", f"http://127.0.0.1:{port}/health/ready", "--timeout", "1")
    assert result.returncode == 1
    assert one_line(result).startswith("unhealthy:")
    assert time.monotonic() - started < 10


def test_health_passes_when_ready_answers_200():
    with http_server(200) as port:
        result = health("--url", f"http://127.0.0.1:{port}/health/ready")
    assert result.returncode == 0, result.stderr
    assert one_line(result) == f"healthy: http://127.0.0.1:{port}/health/ready answered 200"


def test_health_default_url_uses_callboard_port():
    with http_server(200) as port:
        result = health(CALLBOARD_PORT=str(port), CALLBOARD_HOSTNAME="0.0.0.0")
    assert result.returncode == 0, result.stderr
    assert f"http://127.0.0.1:{port}/health/ready" in one_line(result)


def test_health_fails_when_ready_answers_503():
    with http_server(503) as port:
        result = health("--url", f"http://127.0.0.1:{port}/health/ready")
    assert result.returncode == 1
    assert one_line(result) == f"unhealthy: http://127.0.0.1:{port}/health/ready answered 503"


def test_health_fails_on_a_bad_port_setting():
    result = health(CALLBOARD_PORT="eighty")
    assert result.returncode == 1
    assert "CALLBOARD_PORT" in one_line(result)


def test_health_gives_up_after_the_timeout():
    """A server that accepts the connection and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        result = health("--url", f"http://127.0.0.1:{port}/health/ready", "--timeout", "1")
        waited = time.monotonic() - started
    assert result.returncode == 1
    assert "no answer within 1 s" in one_line(result)
    assert waited < 5, f"took {waited:.1f} s"


def test_health_against_a_real_server(tmp_path):
    if not os.environ.get("CALLBOARD_TEST_DATABASE_URL"):
        pytest.skip("CALLBOARD_TEST_DATABASE_URL is not set")
    sys.path.insert(0, str(REPO_ROOT / "e2e" / "api"))
    from conftest import running_callboard  # noqa: PLC0415 - needs PostgreSQL; only here

    with running_callboard(tmp_path) as info:
        result = health("--url", f"{info.base_url}/health/ready")
        assert result.returncode == 0, result.stderr
        result = health(CALLBOARD_PORT=str(info.port), CALLBOARD_HOSTNAME=info.host)
        assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------- systemd


def test_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    # The unit names /opt/callboard/callboard, which is not installed here: point it at the
    # build, and turn the commented credentials on so they are checked too.
    text = UNIT.read_text().replace("/opt/callboard/callboard", str(callboard_bin()))
    text = re.sub(r"^#(LoadCredential=)", r"\1", text, flags=re.M)
    unit = tmp_path / "callboard.service"
    unit.write_text(text)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "callboard.service" not in result.stdout + result.stderr, result.stdout + result.stderr
