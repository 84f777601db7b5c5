"""A client that sends half its headers and then nothing is disconnected after the idle timeout
(CALLBOARD_HTTP_IDLE_TIMEOUT_SECONDS), instead of holding a connection for minutes; a normal
request on another connection is answered meanwhile."""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from conftest import API, running_callboard  # noqa: E402


def test_half_sent_headers_are_cut_off(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLBOARD_HTTP_IDLE_TIMEOUT_SECONDS", "2")
    with running_callboard(tmp_path) as info:
        slow = socket.create_connection((info.host, info.port), timeout=10)
        slow.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        started = time.monotonic()
        assert API(info.host, info.port, info.token).get("/health/live", timeout=5).status == 200
        closed = slow.recv(1024)  # b"" once the server closes the connection
        waited = time.monotonic() - started
        slow.close()
        assert closed == b"" or closed.startswith(b"HTTP/1.1 408"), closed
        assert 1.5 < waited < 5, f"closed after {waited:.1f} s"
