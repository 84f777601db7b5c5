"""`callboard seed` and the hidden `bench-scheduler` and `probe` write to (or load) whatever
DATABASE_URL names: each refuses a database holding requests it did not create, exits 1 with a
message saying so, and writes nothing; on a database of its own it runs (as `scripts/dev.sh --seed`
and `bench/scheduler_bench.sh` use them).
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from conftest import database_url_for, psql, run_cli

TABLES = ("requests", "request_events", "emails", "links", "data_sets", "reminders", "staff")
COMMANDS = {
    # A short back-dated history (12 requests over the past year) before the nine examples.
    "seed": ["seed", "--history", "12"],
    "bench-scheduler": ["bench-scheduler", "--requests", "20", "--data-sets", "20", "--due", "2", "--rounds", "1",
                        "--idle-ticks", "1"],
    "probe": ["probe", "--count", "16"],
}


def counts(url: str) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qtA", "-F", " ", "-c", sql],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return {name: int(n) for name, n in (line.split() for line in out.splitlines() if line.strip())}


def run(server_info, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(server_info.bin), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_database_with_an_api_request_is_refused_and_left_alone(server_info, api, command):
    created = api.post("/api/v1/requests", {"kind": "transactional", "department": "DVLA"})
    assert created.status == 201, str(created)
    url = server_info.env["DATABASE_URL"]
    before = counts(url)
    assert before["requests"] >= 1

    result = run(server_info, server_info.env, *COMMANDS[command])
    assert result.returncode == 1, f"{command} exited {result.returncode}:\n{result.stderr}\n{result.stdout}"
    assert f"refusing to run `callboard {command}`" in result.stderr
    assert f"holds {before['requests']} request" in result.stderr
    assert "Nothing was written" in result.stderr and "pass --force" in result.stderr
    assert counts(url) == before


@pytest.fixture
def own_database(server_info):
    """A fresh, migrated database on the same server, dropped afterwards."""
    name = "cb_pytest_dev_" + secrets.token_hex(6)
    psql(server_info.pg_url, f'CREATE DATABASE "{name}"')
    env = {**server_info.env, "DATABASE_URL": database_url_for(server_info.pg_url, name)}
    try:
        run_cli(server_info.bin, env, "migrate")
        yield env
    finally:
        psql(server_info.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_seed_runs_again_on_its_own_requests_and_others_refuse_them(server_info, own_database):
    env = own_database
    run_cli(server_info.bin, env, *COMMANDS["seed"])
    first = counts(env["DATABASE_URL"])
    assert first["requests"] == 12 + 9
    # Its own requests do not stop it.
    run_cli(server_info.bin, env, *COMMANDS["seed"])
    assert counts(env["DATABASE_URL"])["requests"] == 42
    # bench-scheduler did not make them; probe makes none.
    for command in ("bench-scheduler", "probe"):
        before = counts(env["DATABASE_URL"])
        result = run(server_info, env, *COMMANDS[command])
        assert result.returncode == 1 and "holds 42 requests it did not create" in result.stderr, result.stderr
        assert counts(env["DATABASE_URL"]) == before


def test_bench_scheduler_runs_on_a_fresh_database_and_again_on_its_own(server_info, own_database):
    env = own_database
    for _ in range(2):
        result = run(server_info, env, *COMMANDS["bench-scheduler"])
        assert result.returncode == 0, result.stderr
        assert '"requests":20' in result.stdout.replace(" ", "")
    assert counts(env["DATABASE_URL"])["requests"] == 20


def test_force_runs_anyway(server_info, own_database):
    env = own_database
    run_cli(server_info.bin, env, *COMMANDS["seed"])
    result = run(server_info, env, *COMMANDS["probe"], "--force")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("round ") == 3
