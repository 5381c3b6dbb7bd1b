"""Capture windows: armed in the store, honoured by every process, exact in count."""

from __future__ import annotations

import json
import os
import re
import threading
import time

import pytest
from support import apps
from support.backend_factories import racing_stores
from support.login import ui_client
from support.pages import listed_paths
from support.servers import free_port, get, running
from support.sessions import real_session
from support.waiting import wait_for
from support.wsgi_client import call

from linesman.backends.sqlite import SqliteBackend
from linesman.model.capture import CaptureError, CaptureWindow, parse_capture


def window(**values) -> CaptureWindow:
    values.setdefault("requests", "3")
    return parse_capture(values)


# -- the window itself -------------------------------------------------------------
@pytest.mark.parametrize(
    "values, field",
    [
        ({}, "requests or minutes"),
        ({"requests": "0"}, "requests"),
        ({"requests": "10001"}, "requests"),
        ({"requests": "two"}, "requests"),
        ({"requests": True}, "requests"),
        ({"minutes": "-1"}, "minutes"),
        ({"minutes": "nan"}, "minutes"),
        ({"requests": "3", "min_ms": "-5"}, "min_ms"),
        ({"requests": "3", "pattern": "(unclosed"}, "pattern"),
        ({"requests": "3", "pattern": "x" * 501}, "pattern"),
        ({"requests": "3", "pattern": ["/a"]}, "pattern"),
        ({"requests": "3", "method": "get"}, "method"),
        ({"requests": "3", "method": "GET; DROP"}, "method"),
    ],
)
def test_a_window_that_cannot_be_armed_names_the_field(values, field):
    with pytest.raises(CaptureError, match=re.escape(field)):
        parse_capture(values)


def test_a_window_is_open_until_full_stopped_or_out_of_time():
    armed = parse_capture(
        {"requests": "2", "minutes": "1", "pattern": "^/api/", "method": "GET", "min_ms": "5"},
        now=1000.0,
    )
    assert (armed.requests, armed.until, armed.min_duration) == (2, 1060.0, 0.005)
    assert armed.is_open(1000.0) and not armed.is_open(1060.0)
    assert armed.matches("GET", "/api/orders") and not armed.matches("POST", "/api/orders")
    assert not armed.matches("GET", "/home/api/")
    once = armed.caught_one(1001.0)
    assert once.is_open(1001.0) and once.caught == 1
    full = once.caught_one(1002.0)
    assert (full.caught, full.ended) == (2, 1002.0) and not full.is_open(1002.0)
    assert not armed.stopped(1003.0).is_open(1003.0)
    stored = CaptureWindow.from_stored(armed.id, armed.spec(), armed.created, None, 1)
    assert stored == once


# -- racing stores ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_racing_processes_store_exactly_n(kind, tmp_path):
    """Eight writers, each with its own connection, race for a window of 25."""
    armed = window(requests="25")
    results: list[bool] = []
    lock = threading.Lock()

    def race(store):
        for _ in range(10):
            caught = store.add_captured(real_session(), armed.id)
            with lock:
                results.append(caught)

    with racing_stores(kind, tmp_path, 8) as (first, stores):
        first.start_capture(armed)
        threads = [threading.Thread(target=race, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results.count(True) == 25 and len(results) == 80
        assert first.count() == 25
        assert first.captures()[0].caught == 25


# -- the middleware ----------------------------------------------------------------
def slow_app(environ, start_response):
    apps.spin(0.03)
    return apps.hello_app(environ, start_response)


def test_with_profiling_off_a_window_catches_n_matching_requests_then_stops(make_profiled):
    middleware = make_profiled(apps.hello_app, enabled="false")
    armed = window(requests="3", pattern="^/orders/")
    middleware.start_capture(armed)
    for number in range(6):
        call(middleware, path=f"/orders/{number}")
        call(middleware, path="/home")
    assert middleware.flush(10)
    stored = middleware.backend.summaries()
    assert sorted(s["path"] for s in stored) == ["/orders/0", "/orders/1", "/orders/2"]
    assert middleware.backend.captures()[0].caught == 3
    # The writer that filled the window closes it here at once: linesman is off again.
    assert middleware.captures == ()
    call(middleware, path="/orders/9")
    assert middleware.flush(10) and middleware.backend.count() == 3


def test_a_window_keeps_only_requests_slower_than_its_threshold(make_profiled):
    middleware = make_profiled(slow_app, enabled="false")
    armed = window(requests="2", min_ms="20", pattern="slow")
    middleware.start_capture(armed)
    quick = make_profiled(apps.hello_app, enabled="false", filename=middleware.backend.filename)
    quick.controls.apply_captures(quick.backend.open_captures())  # as its writer would
    call(quick, path="/slow/quick")
    call(middleware, path="/slow/one")
    assert quick.flush(10) and middleware.flush(10)
    assert [s["path"] for s in middleware.backend.summaries()] == ["/slow/one"]
    assert quick.health.counts().get("skipped.too_fast") == 1


def test_a_window_runs_out_of_time(make_profiled):
    middleware = make_profiled(apps.hello_app, enabled="false")
    armed = CaptureWindow(
        id="a5f0e0e0-0000-4000-8000-000000000001",
        requests=None,
        until=time.time() + 0.3,
        created=time.time(),
    )
    middleware.start_capture(armed)
    call(middleware, path="/early")
    wait_for(lambda: not armed.is_open(time.time()), what="the window's end")
    call(middleware, path="/late")
    assert middleware.flush(10)
    assert [s["path"] for s in middleware.backend.summaries()] == ["/early"]


def test_with_profiling_on_a_window_counts_only_what_it_matches(make_profiled):
    middleware = make_profiled(apps.hello_app)
    armed = window(requests="1", pattern="^/a$")
    middleware.start_capture(armed)
    for path in ("/a", "/b", "/a"):
        call(middleware, path=path)
    assert middleware.flush(10)
    assert sorted(s["path"] for s in middleware.backend.summaries()) == ["/a", "/a", "/b"]
    assert middleware.backend.captures()[0].caught == 1
    assert len(middleware.backend.captured_uuids(armed.id)) == 1


# -- real servers ------------------------------------------------------------------
@pytest.mark.server
def test_two_server_processes_under_concurrent_load_store_exactly_n(tmp_path):
    """Two waitress processes (8 threads each) share one SQLite file; profiling is
    off; a window of 20 on /r is armed in the store; 8 clients hammer both."""
    store = str(tmp_path / "sessions.db")
    backend = SqliteBackend(filename=store)
    backend.setup()
    backend.set_enabled(False)
    script = os.path.join(os.path.dirname(__file__), "support", "marker_server.py")
    ports = [free_port(), free_port()]
    with (
        running([script, str(ports[0]), store, "8"], ports[0]),
        running([script, str(ports[1]), store, "8"], ports[1]),
    ):
        armed = window(requests="20", pattern="^/r")
        backend.start_capture(armed)
        wait_for(
            lambda: all(get(port, "/captures")[2] == b"1" for port in ports),
            what="both processes following the window",
        )
        errors: list[BaseException] = []

        def client(number: int) -> None:
            for request in range(30):
                try:
                    status, _, _ = get(ports[request % 2], f"/r{number}")
                    assert status == 200
                    get(ports[request % 2], f"/s{number}")  # never matches
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        # On 3.12+ concurrent requests are mostly served unprofiled: top up one at a time.
        for attempt in range(200):
            if backend.captures()[0].caught >= 20:
                break
            get(ports[attempt % 2], f"/r{attempt % 8}")
        counts = [json.loads(get(port, "/counts")[2]) for port in ports]
        wait_for(
            lambda: all(get(port, "/captures")[2] == b"0" for port in ports),
            what="both processes seeing the window closed",
        )
        for number in range(8):  # after it closed, nothing more is stored
            get(ports[number % 2], f"/r{number}")
        counts = [json.loads(get(port, "/counts")[2]) for port in ports]
    assert errors == []
    summaries = backend.summaries()
    assert len(summaries) == 20, counts
    assert all(s["path"].startswith("/r") for s in summaries)
    (final,) = backend.captures()
    assert final.caught == 20 and final.ended is not None
    assert sum(c.get("stored", 0) for c in counts) == 20


def test_a_process_started_with_profiling_off_sees_it_turned_on_elsewhere(make_profiled):
    first = make_profiled(apps.hello_app, enabled="false")
    second = make_profiled(apps.hello_app, filename=first.backend.filename)
    call(first, path="/before")  # served as it is; its writer now watches the store
    second.set_enabled(True)
    wait_for(lambda: first.enabled, timeout=5, what="the switch read from the store")
    call(first, path="/after")
    assert first.flush(10)
    assert [s["path"] for s in first.backend.summaries()] == ["/after"]


# -- the UI and the API ------------------------------------------------------------
LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}


@pytest.fixture
def ui(make_profiled):

    middleware = make_profiled(apps.hello_app, enabled="false")
    client = ui_client(middleware)
    return middleware, client


def list_form(client, form_id):
    return client.get("/__profiler__/").forms[form_id]


def test_a_window_is_armed_from_the_list_page_and_shows_what_it_caught(ui):
    middleware, client = ui
    form = list_form(client, "capture-form")
    form["requests"] = "2"
    form["pattern"] = "^/orders"
    response = form.submit(headers={"Accept": "text/html"}, status=303)
    (armed,) = middleware.backend.captures()
    assert (armed.requests, armed.pattern) == (2, "^/orders") and middleware.captures
    for path in ("/orders/1", "/home", "/orders/2", "/orders/3"):
        client.get(path)
    assert middleware.flush(10)
    page = response.follow()
    text = page.text
    assert "Ended" in text and "caught 2 of 2" in text and "^/orders" in text
    caught = page.click("show what it caught")
    rows = listed_paths(caught.text)
    assert sorted(rows) == ["/orders/1", "/orders/2"]
    assert "caught by one capture window" in caught.text


def test_a_running_window_is_stopped_from_the_page(ui):
    middleware, client = ui
    form = list_form(client, "capture-form")
    form["requests"] = "50"
    form.submit(headers={"Accept": "text/html"}, status=303)
    page = client.get("/__profiler__/")
    assert "Catching" in page.text
    page.forms[[key for key, f in page.forms.items() if f.action.endswith("/stop")][0]].submit(
        headers={"Accept": "text/html"}, status=303
    )
    assert middleware.captures == () and middleware.backend.open_captures() == []
    client.get("/orders/1")
    assert middleware.flush(10) and middleware.backend.count() == 0


@pytest.mark.parametrize(
    "values",
    [
        {"requests": ""},
        {"requests": "0"},
        {"requests": "5", "pattern": "(("},
        {"requests": "5", "method": "<b>"},
    ],
)
def test_a_bad_window_is_a_400_and_arms_nothing(ui, values):
    middleware, client = ui
    form = list_form(client, "capture-form")
    for name, value in values.items():
        form[name].force_value(value) if name == "method" else form.__setitem__(name, value)
    response = form.submit(status=400)
    assert "was not armed" in response.text and "<b>" not in response.text
    assert middleware.backend.captures() == []


def test_arming_needs_the_token(ui):
    middleware, client = ui
    client.get("/__profiler__/")
    client.post("/__profiler__/captures", {"requests": "5"}, status=403)
    client.post_json("/__profiler__/api/captures", {"requests": 5}, status=403)
    assert middleware.backend.captures() == []


def test_the_api_arms_lists_and_stops_windows(ui):
    middleware, client = ui
    client.get("/__profiler__/api/state")
    headers = {"X-Linesman-CSRF": client.cookies["linesman_csrf"]}
    created = client.post_json(
        "/__profiler__/api/captures",
        {"requests": 1, "pattern": "^/x", "min_ms": 0},
        headers=headers,
        status=201,
    ).json
    assert created["open"] is True and created["requests"] == 1
    client.get("/x1")
    assert middleware.flush(10)
    listed = client.get("/__profiler__/api/captures").json["captures"]
    assert [(w["id"], w["caught"], w["open"]) for w in listed] == [(created["id"], 1, False)]
    page = client.get(f"/__profiler__/api/sessions?capture={created['id']}").json
    assert [s["path"] for s in page["sessions"]] == ["/x1"]
    again = client.post_json(
        "/__profiler__/api/captures", {"minutes": 5}, headers=headers, status=201
    ).json
    assert client.post(f"/__profiler__/api/captures/{again['id']}/stop", headers=headers).json == {
        "stopped": True
    }
    for body in ({}, {"requests": "many"}, [], {"requests": 5, "pattern": "(("}):
        error = client.post_json(
            "/__profiler__/api/captures", body, headers=headers, status=400
        ).json
        assert set(error) == {"error"}


def test_the_command_line_arms_lists_and_stops_a_window(make_profiled):
    import subprocess
    import sys

    middleware = make_profiled(apps.hello_app, enabled="false")
    store = middleware.backend.filename

    def linesman(*args):
        result = subprocess.run(
            [sys.executable, "-m", "linesman", *args], capture_output=True, text=True, timeout=60
        )
        return result.returncode, result.stdout + result.stderr

    code, out = linesman("capture", store, "--requests", "2", "--match", "^/api/")
    assert code == 0 and "armed" in out
    window_id = out.split()[0]
    middleware.controls.apply_captures(middleware.backend.open_captures())
    for path in ("/api/1", "/home", "/api/2", "/api/3"):
        call(middleware, path=path)
    assert middleware.flush(10)
    code, out = linesman("capture", store)
    assert code == 0 and f"{window_id}  ended" in out and "caught     2" in out
    assert linesman("capture", store, "--requests", "0")[0] == 1
    code, out = linesman("capture", store, "--minutes", "5")
    code, out = linesman("capture", store, "--stop", out.split()[0])
    assert out.strip() == "stopped"


@pytest.mark.parametrize("where", ["capture", "include_paths", "exclude_paths", "endpoint_folds"])
def test_a_backtracking_pattern_cannot_stall_the_app(make_profiled, where):
    """``^/(a+)+$`` against 26 a's and a "!" takes Python's re seconds, holding the
    GIL; every pattern that comes from outside is matched in linear time."""
    import threading

    pattern = "^/(a+)+$"
    options = {} if where == "capture" else {where: pattern}
    middleware = make_profiled(apps.hello_app, **options)
    client = ui_client(middleware)
    if where == "capture":
        client.get("/__profiler__/api/state")
        client.post_json(
            "/__profiler__/api/captures",
            {"requests": 5, "pattern": pattern},
            headers={"X-Linesman-CSRF": client.cookies["linesman_csrf"]},
            status=201,
        )
    other: list[float] = []

    def unrelated() -> None:
        started = time.perf_counter()
        client.get("/unrelated")
        other.append(time.perf_counter() - started)

    started = time.perf_counter()
    neighbour = threading.Thread(target=unrelated)
    neighbour.start()
    assert client.get("/" + "a" * 26 + "!").body == b"hello"
    took = time.perf_counter() - started
    neighbour.join(10)
    assert middleware.flush(10)
    if where == "endpoint_folds":
        page = client.get("/__profiler__/endpoints")
        assert page.status_int == 200
        took = time.perf_counter() - started
    assert took < 0.5, f"the request took {took:.2f} s"
    assert other and other[0] < 0.5


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<=/)x"])
def test_a_pattern_linear_matching_cannot_do_is_refused_naming_it(make_profiled, pattern):
    from linesman.config import ConfigError

    with pytest.raises(ConfigError, match="include_paths.*lookaround"):
        make_profiled(apps.hello_app, include_paths=pattern)
    middleware = make_profiled(apps.hello_app)
    client = ui_client(middleware)
    client.get("/__profiler__/api/state")
    error = client.post_json(
        "/__profiler__/api/captures",
        {"requests": 5, "pattern": pattern},
        headers={"X-Linesman-CSRF": client.cookies["linesman_csrf"]},
        status=400,
    ).json["error"]
    assert "lookaround" in error and pattern not in error
