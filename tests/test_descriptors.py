"""Servers that start a thread per request (werkzeug's, as ``flask run`` starts it,
and Django's ``runserver``) must not make linesman leak a descriptor per request.

Each thread that reads the SQLite store gets its own connection; one left open
when its thread ends costs two descriptors (the file and its WAL), and the app
runs out of them after a few hundred UI requests.
"""

from __future__ import annotations

import os
import threading

import pytest
from support.servers import HERE, free_port, get, login_headers, running

from linesman.backends.sqlite import SqliteBackend

SERVER = os.path.join(HERE, "support", "thread_server.py")
MAX_FILES = 160  # the server's `ulimit -n`: well under 2 x the requests below
REQUESTS = 200


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.server
@pytest.mark.parametrize("kind", ["werkzeug", "django"])
def test_ui_requests_leak_no_descriptor_on_thread_per_request_servers(kind, tmp_path):
    store = tmp_path / "sessions.db"
    headers = login_headers(store)
    port = free_port()
    with running([SERVER, kind, str(store), str(port), str(MAX_FILES)], port) as server:
        assert get(port, "/x")[0] == 200
        status, _, _ = get(port, "/__profiler__/api/sessions", headers=headers)
        assert status == 200
        before = open_descriptors(server.pid)
        for _ in range(REQUESTS):
            status, _, _ = get(port, "/__profiler__/api/sessions", headers=headers)
            assert status == 200
        after = open_descriptors(server.pid)
        status, _, body = get(port, "/x")
        assert (status, body) == (200, b"hello /x")
    assert after - before < 10, f"{after - before} descriptors more after {REQUESTS} UI requests"


def test_a_finished_threads_connection_is_closed(tmp_path):
    backend = SqliteBackend(filename=str(tmp_path / "sessions.db"))
    backend.setup()
    before = open_descriptors(os.getpid())
    threads = [threading.Thread(target=backend.count) for _ in range(50)]
    for thread in threads:
        thread.start()
        thread.join()
    assert open_descriptors(os.getpid()) - before < 4
    assert backend.count() == 0  # the backend still serves this thread
    backend.close()


def test_close_retires_every_threads_connection_in_its_own_thread(tmp_path):
    """close() ends this thread's connection at once; another thread's closes in
    that thread (closing it from here while it runs a statement would crash), when
    it next calls or ends."""
    backend = SqliteBackend(filename=str(tmp_path / "sessions.db"))
    backend.setup()
    before = open_descriptors(os.getpid())
    started, closed = threading.Barrier(6), threading.Event()
    counted = []

    def hold():
        backend.count()
        started.wait()
        closed.wait(10)
        counted.append(backend.count())  # a call after close() opens a fresh one

    threads = [threading.Thread(target=hold) for _ in range(5)]
    for thread in threads:
        thread.start()
    started.wait()
    assert open_descriptors(os.getpid()) - before >= 5  # five threads, five connections
    backend.close()
    closed.set()
    for thread in threads:
        thread.join()
    assert counted == [0] * 5
    assert open_descriptors(os.getpid()) <= before - 1  # every one closed, this thread's too
