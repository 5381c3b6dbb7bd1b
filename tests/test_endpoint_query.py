"""endpoint_query: query parameters whose values are part of an endpoint, as
Mercurial's ``?cmd=`` and git's ``info/refs?service=`` route by them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from urllib.parse import quote

import pytest
from support import apps
from support.login import ui_client
from support.pages import endpoint_rows

from linesman.analysis.refs import parse_ref
from linesman.config import ConfigError, parse_settings
from linesman.model.endpoint import QUERY_VALUE_LENGTH, EndpointRule, query_names_in

HG = EndpointRule(query_names=("cmd", "service"))


@pytest.mark.parametrize(
    "method, path, query, endpoint",
    [
        ("GET", "/", "cmd=capabilities", "GET /?cmd={capabilities}"),
        ("GET", "/", "cmd=getbundle&bundlecaps=HG20", "GET /?cmd={getbundle}"),
        ("GET", "/", "", "GET /"),
        ("GET", "/", "other=1", "GET /"),
        ("GET", "/", "cmd=", "GET /?cmd={}"),
        ("GET", "/", "cmd=a&cmd=b", "GET /?cmd={a}"),  # the first value
        ("GET", "/", "service=x&cmd=y", "GET /?cmd={y}&service={x}"),  # the option's order
        ("GET", "/repo/7/info/refs", "service=git-upload-pack", None),
        ("POST", "/", "cmd=unbundle", "POST /?cmd={unbundle}"),
        ("GET", "/", "cmd=two%20words", "GET /?cmd={two%20words}"),
    ],
)
def test_keys(method, path, query, endpoint):
    key = HG.key(method, path, query)
    if endpoint is None:  # the path still folds
        endpoint = "GET /repo/{id}/info/refs?service={git-upload-pack}"
    assert key == endpoint
    assert EndpointRule().key(method, path, query) == key.split("?")[0]


@pytest.mark.parametrize(
    "value",
    [
        "x" * 100_000,
        "a b\tc\nd",
        "@2026-01-01..2026-02-01",
        "}&service={forged}",
        "<script>alert(1)</script>",
        "%" * 50 + "ü" * 50,
        "\x00\x7f",
    ],
)
def test_hostile_values_stay_one_bounded_word(value):
    key = HG.key("GET", "/", "cmd=" + quote(value))
    value_part = key.removeprefix("GET /?cmd={").removesuffix("}")
    assert len(value_part) <= QUERY_VALUE_LENGTH
    assert not re.search(r"[\s@{}<>&]", value_part), key
    assert key.count("{") == key.count("}") == 1 and "&service={" not in key
    # A reference names it back, with and without a time range.
    assert parse_ref(key).endpoint == key
    ranged = parse_ref(key + "@2026-01-01..2026-02-01")
    assert ranged.endpoint == key and ranged.since is not None


def test_the_option_is_parsed_and_checked():
    assert parse_settings({"endpoint_query": "cmd service"}).endpoint_query == ("cmd", "service")
    assert parse_settings({"endpoint_query": "cmd, cmd"}).endpoint_query == ("cmd",)
    assert parse_settings({}).endpoint_query == ()
    assert parse_settings({"endpoint_query": "cmd"}).endpoints.query_names == ("cmd",)
    for bad in ("a=b", " ".join(f"p{n}" for n in range(11)), "x" * 101):
        with pytest.raises(ConfigError, match="endpoint_query"):
            parse_settings({"endpoint_query": bad})


def test_query_names_in_an_endpoint():
    assert query_names_in("GET /?cmd={capabilities}&service={x}") == ("cmd", "service")
    assert query_names_in("GET /users/{id}") == ()


def _hg_like(environ, start_response):
    """Routes by ?cmd= as hgweb does; getbundle is the slow command."""
    if "cmd=getbundle" in environ.get("QUERY_STRING", ""):
        apps.spin(0.02)
    start_response("200 OK", [("Content-Type", "application/mercurial-0.1")])
    return [b"answer"]


REQUESTS = [
    "/?cmd=capabilities",
    "/?cmd=getbundle&heads=1",
    "/?cmd=getbundle&heads=2",
    "/?cmd=listkeys&namespace=phases",
    "/?cmd=" + quote("<b>" + "z" * 500),
    "/info/refs?service=git-upload-pack",
    "/info/refs?service=git-receive-pack",
]


@pytest.fixture
def stored_before(make_profiled, tmp_path):
    """Sessions stored by a middleware without endpoint_query, then read by one
    with it: the key is made when read, so they fold by the new rule."""
    store = str(tmp_path / "hg.db")
    before = make_profiled(_hg_like, filename=store, profiler="cprofile")
    client = ui_client(before)
    for url in REQUESTS:
        client.get(url)
    assert before.flush(10)
    assert sorted(endpoint_rows(client.get("/__profiler__/endpoints").text)) == [
        ("GET /", "5"),
        ("GET /info/refs", "2"),
    ]
    after = make_profiled(
        _hg_like, filename=store, profiler="cprofile", endpoint_query="cmd service"
    )
    return after, ui_client(after)


def test_old_sessions_split_by_the_new_option(stored_before):
    middleware, client = stored_before
    page = client.get("/__profiler__/endpoints")
    rows = dict(endpoint_rows(page.text))
    long_value = quote("<b>" + "z" * 500)[: QUERY_VALUE_LENGTH - 1] + "…"
    assert rows == {
        "GET /?cmd={capabilities}": "1",
        "GET /?cmd={getbundle}": "2",
        "GET /?cmd={listkeys}": "1",
        f"GET /?cmd={{{long_value}}}": "1",
        "GET /info/refs?service={git-upload-pack}": "1",
        "GET /info/refs?service={git-receive-pack}": "1",
    }
    assert "<b>" not in page.text and "%3Cb%3E" in page.text
    answer = client.get("/__profiler__/api/endpoints").json
    assert answer["endpoints"][0]["endpoint"] == "GET /?cmd={getbundle}", "slowest first"
    assert answer["total"] == 6


def test_merged_compared_and_median_by_a_query_endpoint(stored_before):
    middleware, client = stored_before
    merged = client.get(
        "/__profiler__/endpoints/merged", {"endpoint": "GET /?cmd={getbundle}"}
    ).text
    assert "(2 sessions merged)" in merged
    report = client.get(
        "/__profiler__/api/compare",
        {"a": "GET /?cmd={capabilities}", "b": "GET /?cmd={getbundle}"},
    ).json
    assert (report["sessions_before"], report["sessions_after"]) == (1, 2)
    assert report["duration_change"] > 0.01
    sessions = middleware.backend.get_all().values()
    one = next(s for s in sessions if s.query == "cmd=getbundle&heads=1")
    other = next(s for s in sessions if s.query == "cmd=getbundle&heads=2")
    median = client.get(f"/__profiler__/profiles/{one.uuid}/versus-median", status=303)
    assert {one.uuid, other.uuid} >= set(re.findall(r"[0-9a-f-]{36}", median.location))


def test_the_command_line_compares_query_endpoints(stored_before, tmp_path):
    middleware, _ = stored_before
    store = middleware.backend.filename
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "linesman",
            "compare",
            str(store),
            "GET /?cmd={capabilities}",
            "GET /?cmd={getbundle}",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sessions_after"] == 2 and report["sessions_before"] == 1


@pytest.mark.parametrize("endpoint_query, slow_kept", [("cmd", True), ("", False)])
def test_retention_spares_each_query_endpoints_slowest(make_profiled, endpoint_query, slow_kept):
    """keep_slowest counts endpoints as the endpoints page does: with
    endpoint_query = cmd, one slow ?cmd=getbundle is not pushed out by many
    ?cmd=capabilities on the same path, one of them slower still."""
    spins = {"cmd=getbundle": 0.005, "cmd=capabilities&slow=1": 0.02}

    def app(environ, start_response):
        apps.spin(spins.get(environ["QUERY_STRING"], 0.0002))
        return apps.hello_app(environ, start_response)

    middleware = make_profiled(
        app, max_sessions="5", keep_slowest="1", endpoint_query=endpoint_query
    )
    client = ui_client(middleware)
    client.get("/?cmd=getbundle")
    client.get("/?cmd=capabilities&slow=1")
    assert middleware.flush(10)
    for _ in range(12):
        client.get("/?cmd=capabilities")
        assert middleware.flush(10)
    queries = [row["query"] for row in middleware.backend.summaries()]
    assert len(queries) == 5
    assert ("cmd=getbundle" in queries) is slow_kept
