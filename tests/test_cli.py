"""The ``linesman`` command, run as users run it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.servers import free_port, get, login_headers, running

from linesman.backends.sqlite import SqliteBackend


def test_help_and_version():
    result = subprocess.run(
        [sys.executable, "-m", "linesman", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "demo" in result.stdout
    version = subprocess.run(
        [sys.executable, "-m", "linesman", "--version"], capture_output=True, text=True, timeout=60
    )
    assert re.fullmatch(r"linesman \d+\.\d+\.\d+\n", version.stdout)


def test_an_unknown_command_fails_with_a_message():
    result = subprocess.run(
        [sys.executable, "-m", "linesman", "frobnicate"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.server
def test_demo_serves_a_profiled_app_and_its_profiler(tmp_path):
    port = free_port()
    store = tmp_path / "demo.db"
    command = str(Path(sys.executable).parent / "linesman")  # the installed console script
    backend = SqliteBackend(filename=str(store))
    login = login_headers(store)
    with running(
        ["demo", "--port", str(port), "--store", str(store)], port, program=command
    ) as process:
        # One request at a time, as a person clicks: each is profiled and stored.
        for number, route in enumerate(
            ("/", "/template", "/json", "/slow", "/query", "/stream", "/slow"), start=1
        ):
            status, headers, body = get(port, route, headers=login)
            assert status == 200, route
            assert "X-Linesman-Session" in headers
            deadline = time.monotonic() + 10
            while backend.count() < number and time.monotonic() < deadline:
                time.sleep(0.02)
        assert get(port, "/__profiler__/")[0] == 401
        status, _, page = get(port, "/__profiler__/", headers=login)
        assert status == 200
        assert b"/slow" in page and b"/template" in page
    output = process.stdout.read().decode()
    assert f"http://127.0.0.1:{port}/__profiler__/" in output
    assert f"http://127.0.0.1:{port}/__profiler__/?token={login['X-Linesman-Token']}" in output
    sessions = list(backend.get_all().values())
    backend.close()
    assert len(sessions) == 7
    slow_session = next(s for s in sessions if s.path == "/slow")
    assert slow_session.duration >= 0.05
    assert "slow_lookup" in {f.name for f in slow_session.functions}
