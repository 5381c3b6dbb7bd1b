"""Starting and stopping real servers in subprocesses for the tests."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/: support.* imports


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {process.stderr.read().decode()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


@contextmanager
def running(args: list[str], port: int, program: str = sys.executable):
    """Run ``program args...`` until the block ends; its stderr on failure."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen(
        [program, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
            process.kill()
            process.wait(10)


def gunicorn_command(ini, port: int, workers: int = 4) -> list[str]:
    """``python -m gunicorn`` serving a PasteDeploy ini, as ``running`` takes it."""
    return [
        "-m", "gunicorn", "--paste", str(ini), "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "20", "--log-level", "warning",
    ]  # fmt: skip


def demo_ini(folder, store, port: int | None = None):
    """An ini serving the demo behind linesman on a SQLite ``store``; with ``port``,
    a waitress server section too (for pserve)."""
    ini = folder / "app.ini"
    server = (
        ""
        if port is None
        else f"\n[server:main]\nuse = egg:waitress#main\nhost = 127.0.0.1\nport = {port}\n"
    )
    ini.write_text(
        f"[filter:linesman]\nuse = egg:linesman#profiler\nfilename = {store}\n\n"
        f"[app:main]\nuse = egg:linesman#demo\nfilter-with = linesman\n{server}"
    )
    return ini


def login_headers(store) -> dict[str, str]:
    """The token header for the UI of the app whose store this is (made if new)."""
    from linesman.backends import open_store
    from linesman.signing import Signer

    backend = open_store(str(store))
    try:
        backend.setup()
        return {"X-Linesman-Token": Signer(backend.get_secret()).login_token}
    finally:
        backend.close()


def get(
    port: int, path: str, timeout: float = 30.0, headers: dict | None = None
) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@contextmanager
def demo_with_sessions(store, routes, profiler="auto"):
    """``linesman demo`` on ``store``, once a session of each route is stored; yields
    the port and an open SqliteBackend on the store."""
    from linesman.backends.sqlite import SqliteBackend

    port = free_port()
    backend = SqliteBackend(filename=str(store))
    try:
        with running(
            [
                "-m",
                "linesman",
                "demo",
                "--port",
                str(port),
                "--store",
                str(store),
                "--profiler",
                profiler,
            ],
            port,
        ):
            for number, route in enumerate(routes, start=1):
                assert get(port, route)[0] in (200, 404)
                deadline = time.monotonic() + 10
                while backend.count() < number and time.monotonic() < deadline:
                    time.sleep(0.02)
            yield port, backend
    finally:
        backend.close()
