"""The concurrency proof: a real threaded server, concurrent clients, clean profiles."""

from __future__ import annotations

import json
import os
import sys
import threading

import pytest
from support.servers import free_port, get, running

from linesman.backends.sqlite import SqliteBackend

pytestmark = pytest.mark.server

CLIENTS = 8
REQUESTS_EACH = 50


# Code that runs off the request path (linesman's writer, encoding, SQL) and that
# these routes never call: it must not show in their profiles.
OFF_REQUEST_PATH = (
    "linesman/storage/writer.py",
    "linesman/backends/",
    "linesman/model/session.py",
    "linesman/storage/health.py",
    "json/",
    "zlib",
    "sqlite3",
)
SEQUENTIAL = 5


def markers_in(session) -> set[str]:
    return {f.name for f in session.functions if f.name.startswith("marker_")}


def test_eight_threads_eight_clients_no_errors_no_foreign_calls(tmp_path):
    store = str(tmp_path / "sessions.db")
    port = free_port()
    results: list[tuple[str, int, bytes]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for request in range(REQUESTS_EACH):
            route = f"/r{number}" if request % 2 else f"/s{number}"
            try:
                status, _, body = get(port, route)
            except BaseException as exc:  # pragma: no cover - reported below
                with lock:
                    errors.append(exc)
                continue
            with lock:
                results.append((route, status, body))

    script = os.path.join(os.path.dirname(__file__), "support", "marker_server.py")
    with running([script, str(port), store, "8"], port):
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        # Afterwards, one request at a time: each must be profiled and stored.
        for _ in range(SEQUENTIAL):
            for number in range(CLIENTS):
                assert get(port, f"/r{number}")[0] == 200
        status, _, body = get(port, "/counts")
        counts = json.loads(body)

    assert errors == []
    assert len(results) == CLIENTS * REQUESTS_EACH
    for route, status, body in results:
        number = route[2:]
        assert status == 200
        expected = f"route {number}" if route.startswith("/r") else f"start stream {number}"
        assert body == expected.encode(), route

    backend = SqliteBackend(filename=store)
    sessions = list(backend.get_all().values())
    backend.close()
    for session in sessions:
        number = session.path[2:]
        assert markers_in(session) == {f"marker_{number}"}, (
            f"{session.path} holds {markers_in(session)}"
        )
        leaked = {
            f.key for f in session.functions if any(part in f.key for part in OFF_REQUEST_PATH)
        }
        assert leaked == set(), f"{session.path} holds work done off its path"
    total = CLIENTS * REQUESTS_EACH + CLIENTS * SEQUENTIAL
    skipped = sum(v for k, v in counts.items() if k.startswith("skipped."))
    assert counts.get("stored", 0) == len(sessions)
    assert counts.get("profiled", 0) + skipped == total, counts
    assert len(sessions) >= CLIENTS * SEQUENTIAL, "requests made one at a time were skipped"
    # cProfile per thread up to 3.11, the sampling engine from 3.12: every request is kept.
    assert len(sessions) == total, counts
    kinds = {session.kind for session in sessions}
    assert kinds == {"deterministic" if sys.version_info < (3, 12) else "sampled"}
