"""Bounds that must hold whatever clients send and whatever the store does:
resident memory, the writer's CPU while the store is down, stored text."""

from __future__ import annotations

import json
import re
import sqlite3
import time

import pytest
from support import apps
from support.login import ui_client
from support.pages import endpoint_rows
from support.waiting import wait_for
from support.wsgi_client import call

from linesman.backends.base import Backend
from linesman.config import ConfigError
from linesman.demo.profiles import many_functions_session
from linesman.model.session import ProfilingSession


def resident_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_huge_queries_and_headers_stay_within_the_queue_bound(make_profiled, tmp_path):
    """With the store locked, 1,000 requests each with a 120 KB query and a 120 KB
    User-Agent once took the app from 43 MB to 388 MB against a 64 MB bound."""
    store = tmp_path / "locked.db"
    middleware = make_profiled(apps.hello_app, filename=str(store), timeout="0.05")
    middleware.flush(5)
    locker = sqlite3.connect(store, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        big = "x" * 120_000
        call(middleware, "/warm-up", QUERY_STRING="q=" + big, HTTP_USER_AGENT=big)
        before = resident_bytes()
        for number in range(1000):
            call(
                middleware,
                f"/r{number}",
                validate=False,
                QUERY_STRING="q=" + big,
                HTTP_USER_AGENT=big,
            )
        deadline = time.monotonic() + 20
        while middleware.writer.backlog < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        grown = resident_bytes() - before
        assert middleware.writer.backlog >= 1000, "the store was not locked: nothing waited"
        print(f"queue: resident memory grew by {grown / 2**20:.1f} MB")
        assert grown < 80 << 20, f"resident memory grew by {grown >> 20} MB"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert middleware.flush(60)
    session = middleware.backend.get_all().popitem()[1]
    assert len(session.query) <= 4000 and session.query.endswith("…")
    assert len(session.headers["HTTP_USER_AGENT"]) <= 500


def test_one_big_session_at_many_cutoffs_stays_within_the_page_cache_bound(make_profiled):
    """A big session viewed at 32 cutoffs once kept 32 copies of it and its graph."""
    middleware = make_profiled(apps.hello_app)
    session = many_functions_session(5000)
    middleware.backend.add(session)
    client = ui_client(middleware)
    client.get(f"/__profiler__/profiles/{session.uuid}?cutoff=1")
    before = resident_bytes()
    for number in range(32):
        cutoff = 1 + number / 4
        client.get(f"/__profiler__/profiles/{session.uuid}?cutoff={cutoff:g}")
    grown = resident_bytes() - before
    cache = middleware.ui.cache
    assert cache.bytes <= cache.max_bytes
    print(
        f"page cache: resident memory grew by {grown / 2**20:.1f} MB, "
        f"cache {cache.bytes / 2**20:.1f} MB"
    )
    assert grown < 100 << 20, f"resident memory grew by {grown >> 20} MB"


class DownBackend(Backend):
    """A seven-method backend whose server is down: every call raises its own error."""

    def __init__(self, filename: str = "") -> None:
        self.calls = 0

    def _down(self, *args):
        self.calls += 1
        raise ConnectionError("connection refused")

    setup = add = get = get_all = delete = delete_many = delete_all = _down


def test_the_writer_backs_off_while_a_backend_is_down(make_profiled):
    """A setup() raising anything but linesman's own error once made the writer spin
    one CPU (4.99 s of CPU in 5 s idle, 548,756 "writer failed" counts)."""
    # The five sessions cannot be stored: closing gives up on them at once.
    middleware = make_profiled(
        apps.hello_app, backend=f"{__name__}:DownBackend", flush_timeout="0.1"
    )
    for _ in range(5):
        assert call(middleware).chunks == [b"hello"]
    wait_for(lambda: middleware.backend.calls > 0, what="the writer trying the store")
    clock = time.pthread_getcpuclockid(middleware.writer.thread_ident)
    cpu_before, calls_before = time.clock_gettime(clock), middleware.backend.calls
    started = time.monotonic()
    # Twenty tries in 3 s at most: the next five take 0.75 s or more.
    wait_for(lambda: middleware.backend.calls >= calls_before + 5, what="five more tries")
    took = time.monotonic() - started
    cpu = time.clock_gettime(clock) - cpu_before
    calls = middleware.backend.calls - calls_before
    assert cpu < 0.1, f"the writer used {cpu:.2f} s of CPU in {took:.2f} s"
    assert took >= 0.75, f"{calls} tries in {took:.2f} s"
    assert middleware.health.store_error and "connection refused" in middleware.health.store_error
    assert middleware.writer.backlog == 5  # waiting, not lost


@pytest.mark.parametrize(
    "option, value", [("timeout", "nan"), ("timeout", "soon"), ("timeout", "inf")]
)
def test_a_backend_option_error_names_the_option(make_profiled, option, value):
    with pytest.raises(ConfigError, match=f"linesman option {option} = "):
        make_profiled(apps.hello_app, **{option: value})


@pytest.mark.parametrize(
    "query",
    ["%70assword=hunter2", "pass%77ord=hunter2", "a=1;password=hunter2", "x=1&api%5Fkey=hunter2"],
)
def test_credentials_are_masked_by_their_decoded_names(make_profiled, query):
    middleware = make_profiled(apps.hello_app)
    call(middleware, "/login", QUERY_STRING=query)
    assert middleware.flush(10)
    stored = middleware.backend.get_all().popitem()[1]
    assert "hunter2" not in stored.query and stored.query.endswith("=***")
    assert "hunter2" not in str(middleware.backend.summaries())


def test_a_50000_function_session_page_stays_small(make_profiled):
    """It once took 15.5 MB of HTML at cutoff 0 (every function in the table, every
    node in the DOT); the page now carries a bounded share and says so."""
    middleware = make_profiled(apps.hello_app)
    session = many_functions_session(50_000)
    middleware.backend.add(session)
    client = ui_client(middleware)
    for cutoff in ("", "?cutoff=0"):
        page = client.get(f"/__profiler__/profiles/{session.uuid}{cutoff}")
        assert len(page.body) < 1 << 20, f"{len(page.body)} bytes"
    figures = json.loads(
        re.search(
            r'<script type="application/json" id="profile-data">(.*?)</script>', page.text, re.S
        ).group(1)
    )
    assert figures["function_count"] == 50_001
    assert 6_000 <= len(figures["functions"]) <= 6_000 + 5_000  # the table's, the tree's
    assert figures["dot"].count("tooltip=") <= 300  # one per node drawn


def test_the_endpoints_page_pages(make_profiled):
    middleware = make_profiled(apps.hello_app)
    backend = middleware.backend
    for number in range(250):
        backend.add(
            ProfilingSession([], {"PATH_INFO": f"/item-{number}/x"}, duration=0.001 * (number + 1))
        )
    client = ui_client(middleware)
    first = client.get("/__profiler__/endpoints")
    assert len(endpoint_rows(first.text)) == 100
    assert "Endpoints 1–100 of 250" in first.text and "GET /item-249/x" in first.text
    last = client.get("/__profiler__/endpoints?page=3")
    assert len(endpoint_rows(last.text)) == 50 and "GET /item-0/x" in last.text
    client.get("/__profiler__/endpoints?page=4", status=404)


def test_include_and_exclude_answers_are_kept_per_path_within_a_bound(make_profiled):
    """Each distinct path is matched once (the answers kept, so a request not
    selected costs a dict lookup), for at most PATH_VERDICTS paths of at most
    PATH_VERDICT_LENGTH characters: ids in paths cannot grow it without end."""
    from linesman.middleware import PATH_VERDICT_LENGTH, PATH_VERDICTS

    middleware = make_profiled(apps.hello_app, exclude_paths="^/static/", include_paths="^/")
    for number in range(PATH_VERDICTS + 50):
        path = f"/static/{number}.css" if number % 2 else f"/items/{number}"
        assert middleware._selected({"PATH_INFO": path}) is (not number % 2)
        assert len(middleware._path_verdicts) <= PATH_VERDICTS
    long_path = "/items/" + "x" * PATH_VERDICT_LENGTH
    assert middleware._selected({"PATH_INFO": long_path}) is True
    assert long_path not in middleware._path_verdicts
    assert middleware._selected({"PATH_INFO": "/static/again.css"}) is False
    assert middleware._path_verdicts["/static/again.css"] is False
