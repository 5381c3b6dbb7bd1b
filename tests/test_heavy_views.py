"""Heavy UI views keep the app's threads: a merged profile, its export and a
comparison with an endpoint side run one at a time per process, and each reads
sessions (newest first) only until its time budget (``view_budget``) runs out,
then shows what it merged with a note that says how many of how many."""

from __future__ import annotations

import html
import http.client
import json
import re
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.login import ui_client
from support.pages import summary_items
from support.servers import free_port, get, login_headers, running
from support.sessions import real_session, sampled_session

from linesman.backends.sqlite import SqliteBackend
from linesman.config import ConfigError, parse_settings
from linesman.demo.profiles import many_functions_session
from linesman.web.formatting import fmt_iso

SERVER = Path(__file__).parent / "support" / "slow_server.py"  # waitress, N threads
SESSIONS = 500  # of GET /big, one a minute
START = 1.7e9
MIDDLE = START + SESSIONS // 2 * 60
MERGED = "/__profiler__/endpoints/merged?endpoint=GET+/big"
HALVES = f"a=GET+/big@..{MIDDLE:.0f}&b=GET+/big@{MIDDLE:.0f}.."
APP_BOUND = 5.0  # seconds an app request may take while heavy views run (it timed out)


def copies(session, count: int, start: float = START, step: float = 60.0) -> list:
    """``count`` copies of a real session, each with its own id and moment."""
    return [
        session.replace(
            uuid=str(uuid.uuid4()), timestamp=start + n * step, duration=0.01 + n * 1e-5
        )
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def big_store(tmp_path_factory) -> Path:
    """A real SQLite store of 500 sessions of GET /big: one real cProfile run of
    2,000 functions (as a big app's request makes), stored as copies."""
    store = tmp_path_factory.mktemp("heavy") / "sessions.db"
    backend = SqliteBackend(str(store))
    backend.setup()
    one = many_functions_session(2000)
    try:
        for first in range(0, SESSIONS, 50):
            batch = copies(one, 50, START + first * 60)
            backend.add_many(batch)
        assert backend.count() == SESSIONS
    finally:
        backend.close()
    return store


@contextmanager
def served(store: Path, threads: int, **options):
    """The app behind linesman on ``store``, served by a real waitress with
    ``threads`` threads; yields its port."""
    port = free_port()
    extra = [f"{name}={value}" for name, value in options.items()]
    with running([str(SERVER), str(port), str(store), str(threads), *extra], port):
        yield port


def send(port: int, path: str, headers: dict):
    """A request sent now, its answer read later (by ``answer``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
    connection.request("GET", path, headers=headers)
    return connection, time.monotonic()


def answer(sent) -> tuple[int, dict, str, float]:
    """``(status, headers, body, seconds since it was sent)``."""
    connection, started = sent
    try:
        response = connection.getresponse()
        body = response.read().decode()
        return response.status, dict(response.getheaders()), body, time.monotonic() - started
    finally:
        connection.close()


def app_request_time(port: int) -> float:
    started = time.monotonic()
    try:
        status, _, body = get(port, "/fast/0", timeout=APP_BOUND)
    except TimeoutError:
        pytest.fail(
            f"an app request waited over {APP_BOUND:g} s: the heavy views held every server thread"
        )
    assert (status, body) == (200, b"/fast/0")
    return time.monotonic() - started


def cut_note(page: str, marker: str = "merge-cut") -> str:
    found = re.search(rf'<p class="note cut" id="{marker}" role="status">(.*?)</p>', page, re.S)
    assert found, f"the page has no note (#{marker}) that its merge was cut"
    return html.unescape(found.group(1))


def note_counts(note: str, budget: str) -> tuple[int, int]:
    """``(merged, named)`` from a note that the time budget cut a merge."""
    found = re.search(
        rf"(\d+) of (\d+) requests were merged because the view's time budget "
        rf"\(view_budget = {budget} s\) ran out: these are the newest \1\.",
        note,
    )
    assert found, note
    return int(found.group(1)), int(found.group(2))


# -- on a real server: four heavy views at once -------------------------------------
def test_four_heavy_views_at_once_leave_the_app_its_threads(big_store):
    """Four merged pages of 500 sessions at once on a 4-thread waitress: before,
    each read all 500 (13 s alone) and the app's request behind them timed out.
    Now one runs, cut at the default 2 s budget, the other three are told at once
    that a heavy view is running, and the app answers meanwhile."""
    headers = login_headers(big_store)
    with served(big_store, threads=4) as port, ThreadPoolExecutor(4) as pool:
        heavy = [send(port, MERGED, headers) for _ in range(4)]
        answers = [pool.submit(answer, sent) for sent in heavy]
        app_times = [app_request_time(port) for _ in range(3)]
        results = [future.result() for future in answers]
    assert max(app_times) < APP_BOUND
    assert sorted(status for status, *_ in results) == [200, 503, 503, 503]
    for status, response_headers, body, seconds in results:
        if status == 503:
            assert response_headers["Retry-After"] == "3"  # the 2 s budget, and a second
            assert "Another heavy view" in body and "try again in 3 seconds" in body
            assert seconds < APP_BOUND, "a busy answer is given at once, not queued"
            continue
        merged, named = note_counts(cut_note(body), "2")
        assert named == SESSIONS and 1 <= merged < SESSIONS
        assert f"({merged} sessions merged)" in body
        assert summary_items(body)["Requests"] == str(merged)
        # The newest first: from the merged-th newest to the newest.
        newest = START + (SESSIONS - 1) * 60
        assert f'<time datetime="{fmt_iso(newest)}">' in body
        assert f'<time datetime="{fmt_iso(newest - (merged - 1) * 60)}">' in body
        assert seconds < 20  # 2 s of reading, then the page is drawn


def test_an_api_comparison_of_two_endpoint_sides_says_it_was_cut(big_store):
    """``/api/compare`` of the two halves of the endpoint (250 sessions each):
    the sides share the budget, and the JSON says how many each merged of how
    many, and why."""
    headers = login_headers(big_store)
    with served(big_store, threads=2, view_budget="1") as port:
        started = time.monotonic()
        status, _, body = get(port, f"/__profiler__/api/compare?{HALVES}", headers=headers)
        seconds = time.monotonic() - started
    assert status == 200
    report = json.loads(body)
    assert report["sessions_before_found"] == report["sessions_after_found"] == SESSIONS // 2
    assert 1 <= report["sessions_before"] < SESSIONS // 2
    assert 1 <= report["sessions_after"] < SESSIONS // 2
    cut = report["cut"]
    assert cut.startswith("Before: ") and " After: " in cut
    before, after = cut.removeprefix("Before: ").split(" After: ")
    assert note_counts(before, "1") == (report["sessions_before"], SESSIONS // 2)
    assert note_counts(after, "1") == (report["sessions_after"], SESSIONS // 2)
    assert seconds < 15  # 1 s of reading for both sides, then the comparison


# -- in process, on a real store: what a cut view shows -----------------------------
def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


@pytest.fixture
def small_store(make_profiled):
    """Forty real small sessions of GET /items, a second apart, and a factory of
    middlewares on them (each with its own view_budget)."""

    def build(**options):
        middleware = make_profiled(hello, **options)
        if not middleware.backend.count():
            middleware.backend.add_many(copies(real_session("/items"), 40, step=1.0))
        return middleware, ui_client(middleware)

    return build


def test_a_merge_past_its_budget_shows_the_newest_sessions_and_says_so(small_store):
    middleware, client = small_store(view_budget="1ms")
    page = client.get("/__profiler__/endpoints/merged?endpoint=GET+/items").text
    merged, named = note_counts(cut_note(page), "0.001")
    assert named == 40 and 1 <= merged < 40
    assert f"add up these {merged} requests" in page
    summary = summary_items(page)
    assert summary["Requests"] == str(merged)
    newest = START + 39
    assert f'<time datetime="{fmt_iso(newest)}">' in page
    assert f'<time datetime="{fmt_iso(newest - merged + 1)}">' in page
    prof = client.get("/__profiler__/endpoints/merged.prof?endpoint=GET+/items")
    shown, of = prof.headers["X-Linesman-Merged"].split(" of ")
    assert of == "40" and 1 <= int(shown) < 40
    assert "time budget" in prof.headers["X-Linesman-Note"]


def test_a_comparison_past_its_budget_says_so_on_the_page_and_in_the_json(small_store):
    _, client = small_store(view_budget="1ms")
    halves = f"a=GET+/items@..{START + 20:.0f}&b=GET+/items@{START + 20:.0f}.."
    report = client.get(f"/__profiler__/api/compare?{halves}").json
    assert report["sessions_before_found"] == report["sessions_after_found"] == 20
    assert report["sessions_before"] < 20 and report["sessions_after"] < 20
    assert "time budget (view_budget = 0.001 s) ran out" in report["cut"]
    assert client.get(f"/__profiler__/compare.json?{halves}").json["cut"]
    page = client.get(f"/__profiler__/compare?{halves}").text
    assert "time budget" in cut_note(page, "compare-cut")
    assert re.search(r"\(\d+ of 20 sessions merged, figures per request\)", page)


def test_a_view_within_its_budget_merges_everything_and_says_nothing(small_store):
    _, client = small_store(view_budget="60")
    page = client.get("/__profiler__/endpoints/merged?endpoint=GET+/items").text
    assert "(40 sessions merged)" in page and 'id="merge-cut"' not in page
    assert "add up all 40 requests" in page
    report = client.get(f"/__profiler__/api/compare?a=GET+/items&b=GET+/items@{START:.0f}..").json
    assert (report["sessions_before"], report["sessions_before_found"]) == (40, 40)
    assert report["cut"] is None


def test_a_second_heavy_view_is_told_at_once_that_one_is_running(small_store):
    """While a heavy view holds the gate, every other heavy view is a 503 with
    Retry-After, as a page or as JSON; light views (a session, two sessions
    compared) are served as ever."""
    middleware, client = small_store()
    first, second = (row["uuid"] for row in middleware.backend.list_summaries(0, 2))
    with middleware.ui.heavy.slot():
        for path in (
            "/__profiler__/endpoints/merged?endpoint=GET+/items",
            "/__profiler__/endpoints/merged.prof?endpoint=GET+/items",
            "/__profiler__/compare?a=GET+/items&b=" + first,
        ):
            busy = client.get(path, status=503)
            assert busy.headers["Retry-After"] == "3"
            assert "Another heavy view" in busy.text and busy.content_type == "text/html"
        busy = client.get("/__profiler__/api/compare?a=GET+/items&b=" + first, status=503)
        assert busy.headers["Retry-After"] == "3"
        assert busy.json["error"].startswith("Another heavy view")
        client.get(f"/__profiler__/api/compare?a={first}&b={second}", status=200)
        client.get(f"/__profiler__/profiles/{first}", status=200)
    # The gate is let go after a view, also one that fails.
    client.get("/__profiler__/endpoints/merged?endpoint=GET+/nothing", status=404)
    client.get("/__profiler__/endpoints/merged?endpoint=GET+/items", status=200)


def test_a_session_that_cannot_be_read_is_left_out_of_a_merge(small_store):
    middleware, client = small_store()
    damaged = middleware.backend.list_summaries(0, 1)[0]["uuid"]
    with sqlite3.connect(middleware.backend.filename) as connection:
        connection.execute("UPDATE sessions SET document = x'00' WHERE uuid = ?", (damaged,))
    page = client.get("/__profiler__/endpoints/merged?endpoint=GET+/items").text
    assert "(39 sessions merged)" in page
    assert "1 stored session of this endpoint could not be read and was left out." in cut_note(page)


def test_a_merge_adds_up_the_sessions_of_the_engine_most_of_them_used(make_profiled):
    """Call counts and samples do not add up: the engine of most sessions read
    wins, the newest's on a tie (as before the merge read them one at a time)."""
    middleware = make_profiled(hello)
    deterministic = copies(real_session("/mixed"), 3, step=1.0)
    sampled = copies(sampled_session("/mixed"), 2, start=START + 10, step=1.0)  # newest
    middleware.backend.add_many(deterministic + sampled)
    client = ui_client(middleware)
    merged = "/__profiler__/endpoints/merged?endpoint=GET+/mixed"
    page = client.get(merged).text
    assert "(3 sessions merged)" in page
    assert summary_items(page)["Profiler"] == "cProfile: exact call counts"
    middleware.backend.delete(deterministic[0].uuid)
    page = client.get(merged).text
    assert "(2 sessions merged)" in page
    assert summary_items(page)["Profiler"].startswith("sampling ")


@pytest.mark.parametrize(
    "given, seconds", [(None, 2.0), ("250ms", 0.25), ("3", 3.0), (1.5, 1.5), ("1m", 60.0)]
)
def test_view_budget_is_a_duration(given, seconds):
    options = {} if given is None else {"view_budget": given}
    assert parse_settings(options).view_budget == seconds


@pytest.mark.parametrize("given", ["0", "-1", "2h", "soon", ""])
def test_view_budget_refuses_what_is_not_a_budget(given):
    with pytest.raises(ConfigError, match="view_budget"):
        parse_settings({"view_budget": given})
