"""Endpoints, merged profiles and comparisons, on real profiles."""

from __future__ import annotations

import cProfile
import json
import pstats
import re
import subprocess
import sys
import time

import pytest
from support import apps
from support.login import ui_client
from support.pages import endpoint_errors, endpoint_rows, summary_items

from linesman import ProfilingSession
from linesman.analysis.compare import compare_sessions
from linesman.analysis.endpoints import duration_series, endpoint_of, endpoint_stats, fold_path
from linesman.model.merge import merge_sessions
from linesman.web.formatting import fmt_ms, fmt_time

LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}


@pytest.mark.parametrize(
    "path, folded",
    [
        ("/users/123/orders/9f1c4e8a2b3d4c5e6f708192a3b4c5d6", "/users/{id}/orders/{id}"),
        ("/items/0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11", "/items/{id}"),
        ("/v2/report", "/v2/report"),
        ("/static/app.3f2a.js", "/static/app.3f2a.js"),
        ("/page/12/", "/page/{id}/"),
        ("/deadbeef", "/deadbeef"),
        ("/", "/"),
    ],
)
def test_folding_on_real_paths(path, folded):
    assert fold_path(path) == folded


def test_endpoint_stats():
    rows = [
        {"method": "GET", "path": f"/users/{n}", "duration": n / 100, "failed": n == 3}
        for n in range(1, 21)
    ] + [{"method": "POST", "path": "/users", "duration": 0.5, "failed": False}]
    stats = {s.endpoint: s for s in endpoint_stats(rows)}
    users = stats["GET /users/{id}"]
    assert (users.count, users.errors, users.slowest) == (20, 1, 0.20)
    assert users.median == pytest.approx(0.105)
    assert users.p95 == 0.19
    assert stats["POST /users"].count == 1
    assert endpoint_of("GET", "/users/42") == "GET /users/{id}"


def slow_part(seconds):
    """The function a change made slower: its own loop, its own time."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def handler(slow):
    slow_part(slow)
    apps.spin(0.002)
    return sorted(range(2000), key=lambda n: -n)


def profiled(slow: float, timestamp: float) -> ProfilingSession:
    profile = cProfile.Profile()
    profile.enable()
    handler(slow)
    profile.disable()
    return ProfilingSession(
        profile.getstats(), {"REQUEST_METHOD": "GET", "PATH_INFO": "/x/1"}, timestamp
    )


def test_a_merged_profile_is_the_sum_of_its_parts():
    parts = [profiled(0.001, 1.0), profiled(0.002, 2.0), profiled(0.001, 3.0)]
    merged = merge_sessions(parts, "GET", "/x/{id}")
    by_key = {f.key: f for f in merged.functions}
    for key in by_key:
        counts = [f.callcount for s in parts for f in s.functions if f.key == key]
        times = [f.totaltime for s in parts for f in s.functions if f.key == key]
        assert by_key[key].callcount == sum(counts)
        assert by_key[key].totaltime == pytest.approx(sum(times), rel=1e-12)
    edges = {(c.caller, c.callee): c.callcount for c in merged.calls}
    for (caller, callee), count in edges.items():
        assert count == sum(
            c.callcount for s in parts for c in s.calls if (c.caller, c.callee) == (caller, callee)
        )
    assert merged.duration == pytest.approx(sum(s.duration for s in parts))


def test_a_session_compared_with_itself_shows_no_change():
    session = profiled(0.001, 1.0)
    report = compare_sessions(session, session)
    assert report["duration_change"] == 0
    assert all(
        row["cumtime_change"] == 0
        and row["tottime_change"] == 0
        and row["calls_before"] == row["calls_after"]
        for row in report["functions"]
    )


def test_a_deliberately_slowed_function_ranks_first():
    before, after = profiled(0.001, 1.0), profiled(0.030, 2.0)
    report = compare_sessions(before, after)
    first = report["functions"][0]
    assert first["name"] == "slow_part"
    assert first["cumtime_change"] > 0.025  # its own loop; the clock reads are its callees
    assert report["duration_change"] > 0.025


@pytest.fixture
def site(make_profiled):
    def app(environ, start_response):
        apps.spin(0.003 if "/slow/" in environ["PATH_INFO"] else 0.0005)
        return apps.hello_app(environ, start_response)

    middleware = make_profiled(app, profiler="cprofile")  # durations of a whole request each
    client = ui_client(middleware)
    ids = []
    for path in ("/users/1", "/users/2", "/users/3", "/slow/7", "/about"):
        ids.append(client.get(path).headers["X-Linesman-Session"].split(";")[0])
        assert middleware.flush(10)
    return middleware, client, ids


def test_the_endpoints_page(site):
    _, client, _ = site
    page = client.get("/__profiler__/endpoints")
    assert "GET /users/{id}" in page.text and "GET /slow/{id}" in page.text
    rows = endpoint_rows(page.text)
    assert ("GET /users/{id}", "3") in rows
    assert rows[0][0] == "GET /slow/{id}", "slowest first"


def test_the_merged_profile_page_and_export(site, tmp_path):
    middleware, client, ids = site
    page = client.get("/__profiler__/endpoints/merged?endpoint=GET+/users/{id}")
    assert "(3 sessions merged)" in page.text
    summary = summary_items(page.text)
    stored = [middleware.backend.get(uuid) for uuid in ids[:3]]
    durations = sorted(session.duration for session in stored)
    size = stored[0].response_size
    assert summary["Requests"] == "3"
    assert summary["Wall time per request"] == (
        f"median {fmt_ms(durations[1])}, 95th percentile {fmt_ms(durations[2])}"
    )
    assert summary["Response per request"] == f"median {size} bytes, 95th percentile {size} bytes"
    first = min(session.started for session in stored)
    assert summary["From"].startswith(fmt_time(first) + " to ")
    assert "Alongside" not in summary and "When" not in summary and "Status" not in summary
    prof = client.get("/__profiler__/endpoints/merged.prof?endpoint=GET+/users/{id}")
    target = tmp_path / "merged.prof"
    target.write_bytes(prof.body)
    stats = pstats.Stats(str(target))
    app_calls = next(v for k, v in stats.stats.items() if k[2] == "site.<locals>.app")
    assert app_calls[1] == 3
    client.get("/__profiler__/endpoints/merged?endpoint=GET+/nothing/{id}", status=404)
    client.get("/__profiler__/endpoints/merged?endpoint=<script>", status=400)


def test_compare_page_json_and_api(site):
    _, client, ids = site
    page = client.get(f"/__profiler__/compare?a={ids[0]}&b={ids[3]}")
    assert "<small>compared</small>" in page.text
    figures = json.loads(re.search(r'id="profile-data">(.*?)</script>', page.text).group(1))
    names = [f[0] for f in figures["functions"]]
    assert len(figures["change"]) == len(names)
    assert max(figures["change"]) == figures["change"][names.index("spin")]
    assert "own time +" in figures["dot"] and "#ff" in figures["dot"]
    report = client.get(f"/__profiler__/api/compare?a={ids[0]}&b={ids[3]}").json
    assert report["before"] == ids[0] and report["after"] == ids[3]
    assert report["functions"][0]["name"] == "spin"
    same = client.get(f"/__profiler__/compare.json?a={ids[1]}&b={ids[1]}").json
    assert same["duration_change"] == 0
    client.get(f"/__profiler__/compare?a={ids[0]}", status=400)
    client.get("/__profiler__/compare?a=x&b=y", status=400)
    client.get(
        f"/__profiler__/compare?a={ids[0]}&b=0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11", status=404
    )


def test_compare_on_the_command_line(site):
    middleware, _, ids = site
    store = middleware.backend.filename
    result = subprocess.run(
        [sys.executable, "-m", "linesman", "compare", store, ids[0], ids[3], "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["functions"][0]["name"] == "spin"
    table = subprocess.run(
        [sys.executable, "-m", "linesman", "compare", store, ids[0], ids[3]],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert table.splitlines()[0].startswith("GET /users/1:")
    assert "spin" in table.splitlines()[2]
    # Files short, as docs/cli.rst says and `show` gives them; whole with --full-paths.
    whole = apps.__file__
    assert whole not in table and "/site-packages/" not in table
    assert re.search(r"\bsupport/apps\.py:\d+ spin\b", table.splitlines()[2]), table
    full = subprocess.run(
        [sys.executable, "-m", "linesman", "compare", store, ids[0], ids[3], "--full-paths"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert f"{whole}:" in full


def test_folding_rules_are_configurable(make_profiled):
    middleware = make_profiled(apps.hello_app, endpoint_folds=r"\b[a-z]+-[0-9]+\b")
    client = ui_client(middleware)
    for path in ("/orders/abc-1", "/orders/xyz-22", "/orders/7"):
        client.get(path)
        assert middleware.flush(10)
    page = client.get("/__profiler__/endpoints")
    rows = dict(endpoint_rows(page.text))
    assert rows == {"GET /orders/{id}": "2", "GET /orders/7": "1"}


def test_merges_take_a_time_range_and_compare_with_each_other(site):
    middleware, client, ids = site
    stamps = {row["uuid"]: row["timestamp"] for row in middleware.backend.summaries()}
    middle = (stamps[ids[0]] + stamps[ids[1]]) / 2  # between the first two of /users/
    page = client.get(
        "/__profiler__/endpoints/merged", {"endpoint": "GET /users/{id}", "since": f"{middle:.6f}"}
    )
    assert "(2 sessions merged)" in page.text
    page = client.get(
        "/__profiler__/endpoints/merged", {"endpoint": "GET /users/{id}", "until": f"{middle:.6f}"}
    )
    assert "(1 session merged)" in page.text
    client.get(
        "/__profiler__/endpoints/merged",
        {"endpoint": "GET /users/{id}", "since": "yesterday"},
        status=400,
    )
    client.get(
        "/__profiler__/endpoints/merged",
        {"endpoint": "GET /users/{id}", "since": "2999-01-01T00:00"},
        status=404,
    )
    early = f"GET /users/{{id}}@..{middle:.6f}"
    late = f"GET /users/{{id}}@{middle:.6f}.."
    report = client.get("/__profiler__/api/compare", {"a": early, "b": late}).json
    assert report["before"].startswith("GET /users/{id}@")
    spin = next(row for row in report["functions"] if row["name"] == "spin")
    assert (report["sessions_before"], report["sessions_after"]) == (1, 2)
    # Per request: each /users/ request called spin once, whichever side has more.
    assert (spin["calls_before"], spin["calls_after"]) == (1, 1)
    durations = {row["uuid"]: row["duration"] for row in middleware.backend.summaries()}
    assert report["duration_after"] == pytest.approx((durations[ids[1]] + durations[ids[2]]) / 2)
    # Each side links to its merged page, which merges the very same sessions.
    page = client.get("/__profiler__/compare", {"a": early, "b": late})
    assert "(2 sessions merged)" in page.click(href="merged.*since=").text
    assert "(1 session merged)" in page.click(href="merged.*until=").text
    page = client.get("/__profiler__/compare", {"a": "GET /users/{id}", "b": "GET /slow/{id}"})
    assert "(3 sessions merged, figures per request)" in page.text
    client.get("/__profiler__/compare", {"a": "GET /users/{id}", "b": "nonsense"}, status=400)
    client.get("/__profiler__/compare", {"a": "GET /users/{id}", "b": "GET /none"}, status=404)


def test_a_session_against_its_endpoints_median(site):
    middleware, client, ids = site
    durations = sorted(
        (row["duration"], row["uuid"])
        for row in middleware.backend.summaries()
        if row["path"].startswith("/users/")
    )
    median = durations[1][1]
    page = client.get(f"/__profiler__/profiles/{ids[0]}")
    link = page.click("against its endpoint")
    assert link.status_int == 303
    assert f"a={median}" in link.location and f"b={ids[0]}" in link.location
    assert "<small>compared</small>" in link.follow().text


@pytest.mark.parametrize("keep_slowest, slow_kept", [("1", True), ("", False)])
def test_retention_can_spare_each_endpoints_slowest(make_profiled, keep_slowest, slow_kept):
    def app(environ, start_response):
        apps.spin(0.02 if environ["PATH_INFO"] == "/report" else 0.0002)
        return apps.hello_app(environ, start_response)

    middleware = make_profiled(app, max_sessions="5", keep_slowest=keep_slowest)
    client = ui_client(middleware)
    client.get("/report")
    assert middleware.flush(10)
    for number in range(20):
        client.get(f"/items/{number}")
        assert middleware.flush(10)
    paths = [row["path"] for row in middleware.backend.summaries()]
    assert len(paths) == 5
    assert ("/report" in paths) is slow_kept
    assert paths[-1] == "/items/19", "the newest are kept"


def test_duration_series_buckets_an_endpoints_requests_over_time():
    rows = [
        ("GET", "/a", 0.010, False, 200, 100.0),
        ("GET", "/a", 0.030, False, 200, 101.0),
        ("GET", "/a", 0.020, False, 200, 102.0),
        ("GET", "/a", 0.100, False, 200, 139.0),
        ("GET", "/a", 0.500, False, 200, 140.0),  # the last moment: the last bucket
    ]
    series = duration_series(rows, 100.0, 140.0, buckets=4)
    assert series.starts == [100.0, 110.0, 120.0, 130.0]
    assert series.counts == [3, 0, 0, 2]
    assert series.medians == [0.020, None, None, 0.300]
    assert series.p95s == [0.030, None, None, 0.500]


def test_errors_are_split_into_4xx_and_5xx(make_profiled):
    answers = {"/missing": "404 Not Found", "/bad": "400 Bad Request", "/boom": "500 Oops"}

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/raise":
            raise RuntimeError("the app failed")
        if environ["REQUEST_METHOD"] == "DELETE":
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain")])
            return [b"no"]
        start_response(answers.get(path, "200 OK"), [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = make_profiled(app)
    client = ui_client(middleware)
    for path in ("/missing", "/missing", "/bad", "/boom", "/ok"):
        client.get(path, expect_errors=True)
    client.delete("/ok", expect_errors=True)
    with pytest.raises(RuntimeError):
        client.get("/raise")
    assert middleware.flush(10)
    page = client.get("/__profiler__/endpoints")
    assert endpoint_errors(page.text) == {
        "GET /missing": ("2", ""),
        "GET /bad": ("1", ""),
        "GET /boom": ("", "1"),
        "GET /ok": ("", ""),
        "DELETE /ok": ("1", ""),
        "GET /raise": ("", "1"),
    }
    charts = json.loads(re.search(r'id="endpoint-charts">(.*?)</script>', page.text).group(1))
    assert len(charts["series"]) == 6 and len(charts["starts"]) == 24
    assert sum(sum(one["counts"]) for one in charts["series"]) == 7


def test_the_endpoint_table_keeps_series_not_rows():
    """Charts come from each endpoint's series (several sessions) or its one moment
    (a single session); the store's rows are not held while the table is cached."""
    from linesman.analysis.endpoints import DEFAULT_RULE, group_rows
    from linesman.web.across_pages import EndpointTable

    rows = [
        ("GET", "/a/1", 0.010, False, 200, 100.0),
        ("GET", "/a/2", 0.030, False, 200, 148.0),
        ("GET", "/b", 0.005, False, 200, 124.0),
    ]
    table = EndpointTable(group_rows(rows, DEFAULT_RULE))
    assert set(vars(table)) == {"stats", "span", "series", "moments", "damaged"}
    assert set(table.series) == {"GET /a/{id}"} and table.moments == {"GET /b": 124.0}
    charts = table.charts(table.stats)
    by_endpoint = dict(
        zip((stats.endpoint for stats in table.stats), charts["series"], strict=True)
    )
    a, b = by_endpoint["GET /a/{id}"], by_endpoint["GET /b"]
    assert sum(a["counts"]) == 2 and a["counts"][0] == 1 and a["counts"][-1] == 1
    assert b["counts"][12] == 1 and b["medians"][12] == 5.0 and sum(b["counts"]) == 1
