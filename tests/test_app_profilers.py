"""The app's own profilers, tracers and hooks work exactly as without linesman.

From 3.12 cProfile is one per process: linesman's held the profiler slot and an
app enabling its own got ``ValueError: Another profiling tool is already
active`` (a 500 with linesman, 200 without). And an app's own ``sys.setprofile``
hook was cleared when linesman switched its engine off after each piece of work.
Now linesman steps aside (that request is not stored, counted as
``skipped.app_profiler``) and the thread's hook is the one the app left."""

from __future__ import annotations

import sys

import pytest
from support import own_profiler_app
from support.servers import free_port, get, login_headers, running
from support.waiting import wait_for
from support.wsgi_client import call

from linesman.backends.sqlite import SqliteBackend

ENGINES = ["auto", "cprofile", "sampling"]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_app_that_runs_its_own_cprofile_answers_as_without_linesman(engine, make_profiled):
    bare = call(own_profiler_app.routes, "/own-cprofile")
    middleware = make_profiled(own_profiler_app.routes, profiler=engine)
    for multithread in (False, True):
        outcome = call(middleware, "/own-cprofile", **{"wsgi.multithread": multithread})
        assert outcome.comparable() == bare.comparable()
        assert outcome.chunks == [b"saw measured_work"]
    assert middleware.flush(10)
    counts = middleware.health.counts()
    # Where linesman's cProfile held the slot, it gave it up, and said so.
    assert counts.get("profiled", 0) + counts.get("skipped.app_profiler", 0) == 2
    if sys.version_info >= (3, 12):
        assert sys.monitoring.get_tool(2) is None


@pytest.mark.parametrize("engine", ENGINES)
def test_an_apps_own_hook_stays_set_through_its_body(engine, make_profiled):
    middleware = make_profiled(own_profiler_app.routes, profiler=engine)
    for multithread in (False, True):
        environ = {"wsgi.multithread": multithread}
        outcome = call(middleware, "/own-hook", **environ)
        assert outcome.chunks == [b"chunk ", b"chunk "]
        body = own_profiler_app.BODIES[-1]
        assert body.checks == [True, True, True, True], "the app's hook was cleared"
        assert body.events, "the app's hook saw nothing"
        assert sys.getprofile() is None  # the app's close() took it off, as it does bare
    assert middleware.flush(10)
    counts = middleware.health.counts()
    assert counts.get("skipped.app_profiler", 0) + counts.get("stored", 0) >= 1


@pytest.mark.server
@pytest.mark.parametrize("engine", ["auto", "cprofile"])
def test_the_apps_own_cprofile_under_gunicorn_sync(engine, tmp_path, monkeypatch):
    store = tmp_path / "sessions.db"
    monkeypatch.setenv("LINESMAN_TEST_STORE", str(store))
    monkeypatch.setenv("LINESMAN_TEST_PROFILER", engine)
    headers = login_headers(store)
    port = free_port()
    command = [
        "-m", "gunicorn", "support.own_profiler_app:application", "--workers", "1",
        "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    with running(command, port):
        for _ in range(5):
            status, _, body = get(port, "/own-cprofile", headers=headers)
            assert (status, body) == (200, b"saw measured_work")
        backend = SqliteBackend(filename=str(store))
        try:
            # The worker adds its counts to the store's at each read of the switch.
            wait_for(
                lambda: backend.read_counters().get("skipped.app_profiler", 0) == 5,
                timeout=20,
                what="five requests counted as stepped aside",
            )
            assert backend.count() == 0
        finally:
            backend.close()
