"""Schemathesis against a server of its own: generated requests, answers checked against the document.

The fuzzer gets its own server and database, so whatever it creates, disables or revokes does
not disturb the other tests. Revoking tokens and disabling staff run in a second, last pass:
the fuzzer finds ids in earlier answers and would otherwise revoke its own token, after which
every call is a 401 and nothing else gets tested.

Bounded: SCHEMATHESIS_MAX_EXAMPLES (default 150) cases per operation and phase, deterministic
(derandomised) generation, so a run takes about 3.5 minutes on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ServerInfo, running_callboard

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,coverage,fuzzing,stateful")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "150")
# Hard stops (seconds), not budgets the runs are expected to use: on 2 cores the main pass took
# 173-185 s once the write API's operations and data set fields with types were in the document
# (generation of the oneOf field inputs is slow), the second about 33 s.
PASS_TIMEOUT = {"main": 300, "revoke_and_disable": 90}

DESTRUCTIVE = ["revokeToken", "disableStaff"]
# The write API's writes take a data set's own write token, not the fuzzer's staff token (every
# generated call would be a 401); test_response_schemas, test_write_api_client and WriteAPITests
# cover them. Its read (readRecords) is fuzzed: staff tokens may read.
WRITE_TOKEN_ONLY = ["writeRecords", "replaceRecords"]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory) -> ServerInfo:
    with running_callboard(tmp_path_factory.mktemp("fuzz-server")) as info:
        yield info


def schemathesis_bin() -> str:
    candidate = Path(sys.executable).with_name("schemathesis")
    return str(candidate) if candidate.exists() else "schemathesis"


@pytest.mark.parametrize("selection", ["main", "revoke_and_disable"])
def test_schemathesis(fuzz_server: ServerInfo, tmp_path: Path, selection: str):
    if selection == "main":
        filters = [arg for op in DESTRUCTIVE + WRITE_TOKEN_ONLY for arg in ("--exclude-operation-id", op)]
    else:
        filters = [arg for op in DESTRUCTIVE for arg in ("--include-operation-id", op)]
    cmd = [
        schemathesis_bin(), "run", f"{fuzz_server.base_url}/api/v1/openapi.yaml",
        "--url", fuzz_server.base_url,
        "-H", f"Authorization: Bearer {fuzz_server.token}",
        "--checks", CHECKS,
        "--phases", PHASES,
        "--max-examples", MAX_EXAMPLES,
        "--generation-deterministic",  # derandomised: the same cases every run (no seed, no example database)
        "--workers", "1",
        "--request-timeout", "20",
        "--no-color",
        "--report", "ndjson", "--report-dir", str(tmp_path),
        *filters,
    ]
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    started = time.monotonic()
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=PASS_TIMEOUT[selection], env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"schemathesis did not finish within {PASS_TIMEOUT[selection]} s:\n{out[-8000:]}")
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    print(f"schemathesis ({selection}) took {elapsed:.0f} s")
    assert result.returncode == 0, (
        f"schemathesis exited {result.returncode} after {elapsed:.0f} s "
        f"(report in {tmp_path}):\n{output[-20000:]}\n--- server log ---\n{fuzz_server.log_tail()}")
    assert "Authentication failed" not in output, f"the fuzzer's token stopped working:\n{output[-6000:]}"
