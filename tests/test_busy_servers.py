"""Profiles stay true and complete on busy servers.

Before, on 3.12+, the writer waited for a moment with no request in flight
before each piece of work, even when no request used cProfile: under 8 clients
that moment never came and 32% of requests were stored while the load lasted.
And ``auto`` picked cProfile on gunicorn's sync worker even where the app ran a
thread of its own, whose calls then landed in every profile."""

from __future__ import annotations

import os
import threading
import time

import pytest
from support.servers import HERE, free_port, get, running
from support.waiting import wait_for

from linesman.backends.sqlite import SqliteBackend

SERVER = os.path.join(HERE, "support", "busy_app.py")
CLIENTS = 8
LOAD_SECONDS = 8


def load(port: int, seconds: float) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(number: int) -> None:
        while time.monotonic() < end:
            status, _, _ = get(port, f"/busy/{number}")
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return statuses


@pytest.mark.server
def test_under_sustained_load_storage_keeps_up(tmp_path):
    store = tmp_path / "sessions.db"
    port = free_port()
    backend = SqliteBackend(filename=str(store))
    try:
        with running([SERVER, str(store), str(port)], port):
            statuses = load(port, LOAD_SECONDS)
            stored_when_load_ended = backend.count()
            wait_for(lambda: backend.count() >= len(statuses), timeout=30, what="all stored")
        counters = backend.read_counters()
    finally:
        backend.close()
    assert statuses and set(statuses) == {200}
    assert len(statuses) >= 100
    # The writer kept up while the load lasted, not only once it stopped.
    assert stored_when_load_ended >= 0.9 * len(statuses), (stored_when_load_ended, len(statuses))
    assert not {name for name in counters if name.startswith("skipped.")}, counters


@pytest.mark.server
def test_an_apps_own_thread_never_lands_in_a_profile_under_gunicorn_sync(tmp_path, monkeypatch):
    store = tmp_path / "sessions.db"
    monkeypatch.setenv("LINESMAN_TEST_STORE", str(store))
    monkeypatch.setenv("LINESMAN_TEST_BACKGROUND", "1")
    port = free_port()
    command = [
        "-m", "gunicorn", "support.busy_app:application", "--workers", "1",
        "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    backend = SqliteBackend(filename=str(store))
    try:
        with running(command, port):
            for number in range(1, 21):
                assert get(port, f"/busy/{number}")[0] == 200
                # One at a time, each once the writer is done with the one before:
                # where cProfile can be used at all, it is.
                wait_for(lambda n=number: backend.count() == n, timeout=30, what="stored")
        sessions = list(backend.get_all().values())
    finally:
        backend.close()
    holding = [s.path for s in sessions if any(f.name == "background_tick" for f in s.functions)]
    assert holding == [], f"{len(holding)} of {len(sessions)} sessions hold the app's thread"
    for session in sessions:
        assert any(f.name == "request_compute" for f in session.functions), session


def test_auto_samples_on_a_one_thread_server_while_the_app_runs_a_thread(make_profiled):
    """In process, where the request's own thread is the server's only one: with
    the app's thread alive, auto samples (3.12+), and the thread's calls never
    land in the profile."""
    from support import busy_app
    from support.wsgi_client import call

    middleware = make_profiled(busy_app.busy_route)
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            busy_app.background_tick()
            stop.wait(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        for _ in range(5):
            assert call(middleware, "/busy", **{"wsgi.multithread": False}).chunks == [b"/busy"]
            assert middleware.flush(10)  # the writer idle again: nothing keeps cProfile away
    finally:
        stop.set()
        thread.join()
    assert middleware.flush(10)
    sessions = list(middleware.backend.get_all().values())
    assert len(sessions) == 5
    for session in sessions:
        assert not [f for f in session.functions if f.name == "background_tick"], session
        assert session.kind == ("sampled" if middleware.gate.exclusive else "deterministic")
    alone = call(middleware, "/busy", **{"wsgi.multithread": False})  # the thread is gone
    assert alone.chunks == [b"/busy"] and middleware.flush(10)
    newest = middleware.backend.list_summaries(0, 1)[0]["uuid"]
    assert middleware.backend.get(newest).kind == "deterministic"
