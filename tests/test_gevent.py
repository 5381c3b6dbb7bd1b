"""Green threads: each request profiled in its own greenlet under a real
``gunicorn -k gevent`` server (see linesman.profiling.greenlets)."""

from __future__ import annotations

import http.client
import json
import sys
import threading

import greenlet
import webtest
from support.pages import visible_text
from support.servers import free_port, login_headers, running
from support.waiting import wait_for

from linesman.backends.sqlite import SqliteBackend
from linesman.middleware import ProfilingMiddleware
from linesman.profiling.greenlets import WAITING

CLIENTS = 20  # as support.green_app has compute_ functions
REQUESTS_EACH = 20


def gevent_server(monkeypatch, store, port: int, profiler: str = "auto"):
    monkeypatch.setenv("LINESMAN_STORE", str(store))
    monkeypatch.setenv("GREEN_PROFILER", profiler)
    return running(
        [
            "-m", "gunicorn", "-k", "gevent", "--workers", "1", "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning", "--graceful-timeout", "5", "support.green_app:application",
        ],
        port,
    )  # fmt: skip


def load(port: int) -> dict[tuple[int, int], dict]:
    """CLIENTS clients at once, REQUESTS_EACH requests each; the truth per (k, r)."""
    truths: dict[tuple[int, int], dict] = {}

    def client(k: int) -> None:
        for r in range(REQUESTS_EACH):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("GET", f"/work?k={k}&r={r}")
                response = connection.getresponse()
                assert response.status == 200
                truths[(k, r)] = json.loads(response.read())
            finally:
                connection.close()

    clients = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(120)
    return truths


def request_of(session) -> tuple[int, int]:
    fields = dict(part.split("=") for part in session.query.split("&"))
    return int(fields["k"]), int(fields["r"])


def test_gevent_worker_profiles_each_request_in_its_own_greenlet(tmp_path, monkeypatch):
    """20 clients on one gevent worker: at least 95% of requests stored, each session
    holding its own client's function and no other's, none of linesman's own code
    (its writer is a greenlet there), and the wait in gevent's sleep shown as
    waiting, at its share of the request's own truth."""
    store = tmp_path / "sessions.db"
    port = free_port()
    total = CLIENTS * REQUESTS_EACH
    with gevent_server(monkeypatch, store, port):
        truths = load(port)
        assert len(truths) == total
        backend = SqliteBackend(filename=str(store))
        try:
            wait_for(lambda: backend.count() >= total * 0.95, timeout=60, what="sessions stored")
            sessions = list(backend.get_all().values())
        finally:
            backend.close()
    assert len(sessions) >= total * 0.95
    off = []
    for session in sessions:
        k, r = request_of(session)
        names = {function.name for function in session.functions}
        files = {function.file for function in session.functions}
        assert {name for name in names if name.startswith("compute_")} == {f"compute_{k}"}
        assert not [file for file in files if "/linesman/" in file], files
        assert "wait_part" in names and WAITING in names
        seconds = sum(stack.time for stack in session.stacks)
        waiting = sum(stack.time for stack in session.stacks if stack.frames[-1] == WAITING)
        truth = truths[(k, r)]
        off.append(abs(waiting / seconds - truth["waited"] / truth["total"]))
    off.sort()
    assert off[len(off) // 2] < 0.05, off[-10:]  # the median session: within 5 points
    assert off[int(len(off) * 0.95)] < 0.2, off[-10:]  # nearly all within 20


def test_cprofile_is_refused_in_green_threads_and_says_why(tmp_path, monkeypatch):
    """profiler = cprofile cannot tell one greenlet's calls from another's: the
    requests are served unprofiled, counted as skipped.green_thread, and the log
    and the UI say why."""
    store = tmp_path / "sessions.db"
    port = free_port()
    login = login_headers(store)
    with gevent_server(monkeypatch, store, port, profiler="cprofile") as process:
        truths = load(port)
        assert len(truths) == CLIENTS * REQUESTS_EACH
        backend = SqliteBackend(filename=str(store))
        try:
            wait_for(
                lambda: backend.read_counters().get("skipped.green_thread") == len(truths),
                timeout=30,
                what="the skips counted",
            )
            assert backend.count() == 0
        finally:
            backend.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/__profiler__/", headers=login)
        page = visible_text(connection.getresponse().read().decode())
        connection.close()
        assert "green thread" in page
    log = process.stderr.read().decode()
    assert "cannot tell one request's calls from another's" in log
    assert log.count("green threads (gevent or eventlet)") == 1


def in_a_greenlet(function):
    """``function()`` run in a child greenlet, as a green server runs a request."""
    results = []
    greenlet.greenlet(lambda: results.append(function())).switch()
    return results[0]


def test_a_request_whose_switch_tracer_was_replaced_is_dropped(tmp_path):
    """An app that replaces greenlet's trace function (without calling ours) hides
    its switches: its profile is not stored, and the count says why."""
    previous = greenlet.gettrace()

    def app(environ, start_response):
        greenlet.settrace(None)
        start_response("200 OK", [])
        return [b"ok"]

    middleware = ProfilingMiddleware(app, filename=str(tmp_path / "s.db"))
    try:
        client = webtest.TestApp(middleware)
        assert in_a_greenlet(lambda: client.get("/").body) == b"ok"
        middleware.flush(10)
        assert middleware.health.counts().get("skipped.green_untraced") == 1
        assert middleware.backend.count() == 0
    finally:
        greenlet.settrace(previous)
        middleware.close()


def test_the_switch_tracer_chains_the_one_it_found(tmp_path):
    """A tracer set before linesman's keeps seeing every switch."""
    seen: list[str] = []
    previous = greenlet.settrace(lambda event, args: seen.append(event))

    def app(environ, start_response):
        child = greenlet.greenlet(lambda: None)
        child.switch()
        start_response("200 OK", [])
        return [b"ok"]

    middleware = ProfilingMiddleware(app, filename=str(tmp_path / "s.db"))
    try:
        client = webtest.TestApp(middleware)
        in_a_greenlet(lambda: client.get("/"))
        middleware.flush(10)
        assert middleware.backend.count() == 1
        assert seen.count("switch") >= 4  # into the request, the child, back, and out
    finally:
        greenlet.settrace(previous)
        middleware.close()


def test_a_plain_request_never_meets_the_greenlet_path(tmp_path):
    """On its thread's main greenlet a request is profiled as before, by cProfile or
    the sampler, and no switch tracer is installed."""
    previous = greenlet.gettrace()
    middleware = ProfilingMiddleware(
        lambda e, s: s("200 OK", []) or [b"ok"], filename=str(tmp_path / "s.db")
    )
    try:
        webtest.TestApp(middleware).get("/")
        middleware.flush(10)
        assert middleware.backend.count() == 1
        assert greenlet.gettrace() is previous
        assert middleware._green is None
        assert "greenlet" in sys.modules
    finally:
        middleware.close()
