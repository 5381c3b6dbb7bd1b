"""The middleware answers exactly as the bare app does, and profiles it."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from wsgiref.validate import validator

import pytest
from support import apps
from support.login import cookie_environ, token_environ
from support.waiting import wait_for
from support.wsgi_client import SESSION_HEADER, call, server_work

from linesman.backends.base import Backend
from linesman.config import ConfigError
from linesman.middleware import ProfilingMiddleware, make_linesman_middleware


def stored(middleware):
    assert middleware.flush(10), "the writer did not drain"
    return list(middleware.backend.get_all().values())


CASES = {
    "hello": lambda: apps.hello_app,
    "streaming": lambda: apps.StreamingApp(),
    "raise-before-start": lambda: apps.raise_before_start,
    "raise-after-start": lambda: apps.raise_after_start,
    "exc-info": lambda: apps.error_with_exc_info,
    "legacy-write": lambda: apps.legacy_write_app,
    "raise-on-second-chunk": lambda: apps.StreamingApp(fail_at=1),
    "close-raises": lambda: apps.StreamingApp(close_error=True),
    "file-wrapper": lambda: apps.file_wrapper_app,
}


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_the_app_answers_the_same_with_and_without_linesman(case, make_profiled):
    bare = call(CASES[case]())
    app = CASES[case]()
    middleware = make_profiled(validator(app))
    profiled = call(middleware, **token_environ(middleware))
    assert profiled.comparable() == bare.comparable()
    sessions = stored(middleware)
    assert len(sessions) == 1
    session = sessions[0]
    # The header goes out with the response's headers: none when the app failed
    # before it started its response.
    expected = (
        None
        if profiled.status is None
        else f"{session.uuid}; url=/__profiler__/profiles/{session.uuid}"
    )
    assert profiled.header(SESSION_HEADER) == expected
    if bare.error is not None:
        assert session.failed
        assert session.error == f"Boom: {bare.error[1]}" or session.error.endswith(bare.error[1])
    if isinstance(app, apps.StreamingApp):
        assert [body.closed for body in app.bodies] == [1]


def test_the_body_is_not_buffered(make_profiled):
    app = apps.StreamingApp(chunks=[b"a", b"b", b"c"])
    middleware = make_profiled(app)
    seen = []
    call(middleware, between_chunks=lambda n: seen.append((n, app.bodies[0].produced)))
    assert seen == [(1, 1), (2, 2), (3, 3)]


def test_the_servers_work_between_chunks_is_not_charged_to_the_app(make_profiled):
    app = apps.StreamingApp(chunks=[b"a", b"b", b"c"])
    middleware = make_profiled(app)
    call(middleware, between_chunks=lambda n: server_work(0.05))
    session = stored(middleware)[0]
    names = {function.name for function in session.functions}
    assert "server_work" not in names
    assert session.duration >= 0.15, "wall time covers the whole response"
    assert session.cpu_time < 0.05, f"cpu {session.cpu_time} includes the server's work"
    assert max(f.totaltime for f in session.functions) < 0.05


def test_a_client_that_disconnects_early_closes_once_and_the_session_is_kept(make_profiled):
    app = apps.StreamingApp(chunks=[b"a", b"b", b"c"])
    middleware = make_profiled(app)
    outcome = call(middleware, stop_after=1)
    assert outcome.chunks == [b"a"]
    assert app.bodies[0].closed == 1
    assert stored(middleware)[0].response_size == 1
    call(middleware)  # the next request profiles normally
    assert len(stored(middleware)) == 2


def test_session_records_what_the_request_was(make_profiled):
    middleware = make_profiled(apps.hello_app)
    outcome = call(
        middleware,
        "/items",
        QUERY_STRING="page=2&token=abc",
        REQUEST_METHOD="GET",
        **token_environ(middleware),
    )
    session = stored(middleware)[0]
    assert (session.method, session.path, session.query) == ("GET", "/items", "page=2&token=***")
    assert session.status == 200
    assert session.response_size == 5
    assert 0 < session.cpu_time <= session.duration + 0.01
    assert abs(session.started - time.time()) < 60
    # The original's middleware gave a datetime, and its backends use it.
    assert isinstance(session.timestamp, datetime)
    assert session.timestamp.timestamp() == pytest.approx(session.started, abs=1e-6)
    header_uuid = outcome.header(SESSION_HEADER).split(";")[0]
    assert header_uuid == session.uuid
    assert uuid.UUID(header_uuid).version == 4


def test_the_session_header_goes_only_to_clients_that_may_open_the_ui(make_profiled):
    middleware = make_profiled(apps.hello_app)
    assert call(middleware).header(SESSION_HEADER) is None  # loopback, but no token
    remote = {"REMOTE_ADDR": "203.0.113.9", **token_environ(middleware)}
    assert call(middleware, **remote).header(SESSION_HEADER) is None
    browser = cookie_environ(middleware, under_ui=False)  # the app-wide cookie only
    assert call(middleware, **browser).header(SESSION_HEADER) is not None
    assert call(middleware, **token_environ(middleware)).header(SESSION_HEADER) is not None
    assert len(stored(middleware)) == 4  # every one was profiled all the same


def test_the_response_header_can_be_turned_off(make_profiled):
    middleware = make_profiled(apps.hello_app, response_header="false")
    assert call(middleware, **token_environ(middleware)).header(SESSION_HEADER) is None
    assert len(stored(middleware)) == 1


def test_a_list_body_is_returned_as_it_is(make_profiled):
    body = [b"exact"]

    def app(environ, start_response):
        start_response("200 OK", [])
        return body

    middleware = make_profiled(app)
    assert call(middleware, validate=False).result is body


def test_with_profiling_off_requests_pass_straight_through(make_profiled):
    app = apps.StreamingApp()
    middleware = make_profiled(app, enabled="false")
    outcome = call(middleware, validate=False)
    assert outcome.result is app.bodies[0], "the body was wrapped"
    assert outcome.header(SESSION_HEADER) is None
    assert stored(middleware) == []


@pytest.mark.parametrize(
    "options, path, kept",
    [
        ({"include_paths": "^/api/"}, "/api/items", True),
        ({"include_paths": "^/api/"}, "/static/site.css", False),
        ({"exclude_paths": r"\.css$"}, "/static/site.css", False),
        ({"exclude_paths": r"\.css$"}, "/page", True),
        ({"sample_rate": "0"}, "/page", False),
        ({"sample_rate": "1"}, "/page", True),
    ],
)
def test_path_filters_and_sampling_choose_what_is_profiled(make_profiled, options, path, kept):
    middleware = make_profiled(apps.hello_app, **options)
    outcome = call(middleware, path, **token_environ(middleware))
    assert outcome.chunks == [b"hello"]
    assert len(stored(middleware)) == (1 if kept else 0)
    assert (outcome.header(SESSION_HEADER) is not None) == kept


def test_sample_rate_keeps_about_that_share(make_profiled):
    middleware = make_profiled(apps.hello_app, sample_rate="0.3")
    for _ in range(400):
        call(middleware, validate=False)
    share = len(stored(middleware)) / 400
    assert 0.2 < share < 0.4


def test_min_duration_drops_fast_requests_and_counts_them(make_profiled):
    def slow_app(environ, start_response):
        apps.spin(0.06 if environ["PATH_INFO"] == "/slow" else 0)
        return apps.hello_app(environ, start_response)

    middleware = make_profiled(slow_app, min_duration="50ms")
    call(middleware, "/fast")
    assert middleware.flush(10)
    call(middleware, "/slow")
    assert [s.path for s in stored(middleware)] == ["/slow"]
    assert middleware.health.counts()["skipped.too_fast"] == 1


def test_max_sessions_keeps_the_newest(make_profiled):
    middleware = make_profiled(apps.hello_app, max_sessions="3")
    for number in range(6):
        call(middleware, f"/{number}")
        assert middleware.flush(10)
    assert [s.path for s in stored(middleware)] == ["/3", "/4", "/5"]


def test_mounted_under_a_prefix_the_profiler_keeps_it(make_profiled):
    middleware = make_profiled(apps.hello_app)
    call(middleware, "/page", SCRIPT_NAME="/webapp")
    assert middleware.flush(10)
    outcome = call(middleware, "/__profiler__/", SCRIPT_NAME="/webapp", **token_environ(middleware))
    assert outcome.status == "200 OK"
    page = b"".join(outcome.chunks).decode()
    session = stored(middleware)[0]
    assert f'href="/webapp/__profiler__/profiles/{session.uuid}"' in page
    assert session.path == "/webapp/page"


@pytest.mark.parametrize(
    "path, to_profiler",
    [
        ("/__profiler__", True),
        ("/__profiler__/", True),
        ("/__profiler__/profiles/x", True),
        ("/__profiler__x", False),
        ("/__profilerx/", False),
        ("/app/__profiler__", False),
    ],
)
def test_only_the_profiler_path_and_below_reach_the_ui(make_profiled, path, to_profiler):
    middleware = make_profiled(apps.hello_app)
    outcome = call(middleware, path)
    assert (outcome.chunks != [b"hello"]) == to_profiler


class RaisingBackend(Backend):
    """A store whose add fails with whatever exception it was given."""

    def __init__(self, error="RuntimeError"):
        self.error = {
            "RuntimeError": RuntimeError,
            "KeyError": KeyError,
            "MemoryError": MemoryError,
            "OSError": OSError,
        }[error]

    def setup(self):
        pass

    def add(self, session):
        raise self.error("the store said no")

    def get_all(self):
        return {}


@pytest.mark.parametrize("error", ["RuntimeError", "KeyError", "MemoryError", "OSError"])
def test_a_failing_store_never_touches_the_response(error, caplog):
    middleware = ProfilingMiddleware(
        apps.StreamingApp(), backend=f"{__name__}:RaisingBackend", error=error
    )
    bare = call(apps.StreamingApp())
    with caplog.at_level(logging.ERROR, logger="linesman"):
        for _ in range(3):
            assert call(middleware).comparable() == bare.comparable()
            assert middleware.flush(10)
    assert middleware.health.counts()["lost.store_error"] == 3
    lines = [r for r in caplog.records if r.name == "linesman"]
    assert len(lines) == 1, "a failing store is logged once, not per request"
    middleware.close()


def test_a_broken_store_at_start_up_lets_the_app_serve(tmp_path, caplog):
    filename = tmp_path / "sessions.db"
    filename.write_bytes(b"not a database at all" * 50)
    with caplog.at_level(logging.ERROR, logger="linesman"):
        middleware = ProfilingMiddleware(
            apps.hello_app, filename=str(filename), flush_timeout="0.2"
        )
    assert "sessions.db" in caplog.text
    assert call(middleware).chunks == [b"hello"]
    page = call(middleware, "/__profiler__/")
    assert "Store trouble" in b"".join(page.chunks).decode()
    assert filename.read_bytes() == b"not a database at all" * 50, "the damaged file was replaced"
    middleware.close()


def test_an_unknown_option_is_a_start_up_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="'filenmae'"):
        ProfilingMiddleware(apps.hello_app, filenmae=str(tmp_path / "x.db"))


@pytest.mark.parametrize(
    "backend, message",
    [
        ("nosuch.module:Backend", "cannot import nosuch"),
        ("linesman.backends.sqlite:Nope", "has no class or function Nope"),
        ("not a spec", "module.path:Name"),
    ],
)
def test_a_wrong_backend_is_a_start_up_error(backend, message):
    with pytest.raises(ConfigError, match=message):
        ProfilingMiddleware(apps.hello_app, backend=backend)


def test_the_switch_is_shared_through_the_store(tmp_path):
    filename = str(tmp_path / "sessions.db")
    first = make_linesman_middleware(apps.hello_app, filename=filename)
    second = make_linesman_middleware(apps.hello_app, filename=filename)
    call(second)  # starts the second one's writer, which watches the switch
    first.set_enabled(False)
    wait_for(lambda: not second.enabled, timeout=3, what="the switch read from the store")
    third = make_linesman_middleware(apps.hello_app, filename=filename)
    assert third.enabled is False, "a new process starts with the stored switch"
    for middleware in (first, second, third):
        middleware.close()


def test_the_pickle_backend_works_behind_the_middleware(tmp_path):
    middleware = ProfilingMiddleware(
        apps.hello_app,
        backend="linesman.backends.pickle:PickleBackend",
        filename=str(tmp_path / "sessions.dat"),
    )
    call(middleware, "/a")
    assert [s.path for s in stored(middleware)] == ["/a"]
    middleware.close()


def test_a_read_only_database_delays_sessions_never_responses(tmp_path, caplog):
    filename = tmp_path / "sessions.db"
    first = ProfilingMiddleware(apps.hello_app, filename=str(filename))
    call(first)
    assert first.flush(10)
    first.close()
    read_only = ProfilingMiddleware(apps.StreamingApp(), filename=f"file:{filename}?mode=ro")
    bare = call(apps.StreamingApp())
    with caplog.at_level(logging.ERROR, logger="linesman"):
        for _ in range(3):
            assert call(read_only).comparable() == bare.comparable()
        deadline = time.monotonic() + 10
        while read_only.health.store_error is None and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "readonly" in caplog.text
    assert "readonly" in read_only.health.store_error
    assert read_only.writer.pending == 3, "the sessions wait to be retried"
    assert read_only.backend.count() == 1, "the stored session is still there"
    read_only.writer.close(timeout=0.1)
    assert read_only.health.counts()["lost.exit"] == 3, "counted as lost when the process ends"
    read_only.close()


def _writing_app(chunks, returned, iterated=()):
    """An app that sends ``chunks`` through start_response's write(), then returns
    ``returned`` (a list) or iterates ``iterated`` (a generator), as old apps and
    dulwich's git-upload-pack do."""

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
        for chunk in chunks:
            write(chunk)
        if iterated:
            return (chunk for chunk in iterated)
        return returned

    return app


@pytest.mark.parametrize(
    "returned, iterated",
    [([], ()), ([b"tail"], ()), ([], (b"more", b"body"))],
    ids=["nothing-returned", "a-list-after", "a-generator-after"],
)
def test_bytes_sent_through_write_count_and_pass_unchanged(make_profiled, returned, iterated):
    chunks = [b"\x00" * 1000, bytes(range(256)), b"", b"last"]
    app = _writing_app(chunks, returned, iterated)
    bare = call(app)
    middleware = make_profiled(app)
    profiled = call(middleware, **token_environ(middleware))
    assert profiled.written == chunks, "write() bytes must reach the server as given"
    assert profiled.comparable() == bare.comparable()
    session = stored(middleware)[0]
    expected = sum(map(len, chunks)) + sum(map(len, returned)) + sum(map(len, iterated))
    assert session.response_size == expected
    names = {function.name for function in session.functions}
    assert "write" not in names and "start_response" not in names, names
