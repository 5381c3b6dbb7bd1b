"""The profiler pages: closed to strangers, escaped, CSRF-checked, clean on bad input."""

from __future__ import annotations

import io
import json
import marshal
import pstats
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from support import apps
from support.login import cookie_environ, token_environ, ui_client
from support.pages import listed_paths
from support.require import require
from webob import Request
from webtest import TestApp

from linesman.web.formatting import script_json

LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}
SCHEMA = Path(__file__).parent / "data" / "speedscope-file-format-schema.json"


def make_client(middleware) -> TestApp:
    return ui_client(middleware)


def session_id(response) -> str:
    return response.headers["X-Linesman-Session"].split(";")[0]


def csrf_of(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def profiled(make_profiled):
    middleware = make_profiled(apps.hello_app)
    return middleware, make_client(middleware)


@pytest.fixture
def populated(make_profiled):
    """Seven sessions: three API calls (one a POST), three pages, one failure."""
    middleware = make_profiled(
        lambda e, s: (apps.spin(0.02 if "slow" in e["PATH_INFO"] else 0), apps.hello_app(e, s))[1],
        profiler="cprofile",  # the figures below are cProfile's, on every Python
    )
    client = make_client(middleware)
    uuids = {}
    for path in ("/api/users", "/api/orders", "/page/1", "/page/2", "/page/slow", "/api/slow"):
        uuids[path] = session_id(client.get(path))
        assert middleware.flush(10)
    uuids["POST /api/users"] = session_id(client.post("/api/users", {"a": "1"}))
    assert middleware.flush(10)
    return middleware, client, uuids


def rows(page) -> list[str]:
    return listed_paths(page.text)


def test_the_list_shows_profiled_requests_with_safe_headers(profiled):
    middleware, client = profiled
    client.get("/first?page=2")
    assert middleware.flush(10)
    page = client.get("/__profiler__/")
    assert rows(page) == ["/first?page=2"]
    assert "1 stored" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    fresh = TestApp(middleware, extra_environ={**LOCAL, **token_environ(middleware)}).get(
        "/__profiler__/"
    )
    assert "SameSite=Strict" in fresh.headers["Set-Cookie"]
    assert "HttpOnly" in fresh.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "params, expected",
    [
        ("path=api", ["/api/users", "/api/slow", "/api/orders", "/api/users"]),
        ("path=API%2FU", ["/api/users", "/api/users"]),
        ("method=POST", ["/api/users"]),
        ("min_ms=10", ["/api/slow", "/page/slow"]),  # 20 ms against none: past a GIL wait (5 ms)
        ("path=page&sort=path&order=asc", ["/page/1", "/page/2", "/page/slow"]),
        ("path=page&sort=duration", ["/page/slow", "/page/2", "/page/1"][:1]),
    ],
)
def test_filters_and_sorts(populated, params, expected):
    _, client, _ = populated
    found = rows(client.get(f"/__profiler__/?{params}"))
    assert found[: len(expected)] == expected
    if "sort" not in params:
        assert len(found) == len(expected)


def test_paging_keeps_the_filter(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = make_client(middleware)
    for number in range(55):
        client.get(f"/item/{number}")
        assert middleware.flush(10)
    first = client.get("/__profiler__/?path=item")
    assert len(rows(first)) == 50 and "Page 1 of 2" in first.text
    second = first.click(linkid=None, href=r"page=2")
    assert rows(second) == [f"/item/{n}" for n in range(4, -1, -1)]
    assert "path=item" in second.request.url


@pytest.mark.parametrize(
    "params",
    [
        "status=abc",
        "status=999",
        "method=get%3B",
        "min_ms=-1",
        "min_ms=1e400",
        "sort=document",
        "order=sideways",
        "page=0",
        "page=x",
        "page=" + "9" * 50,
        "path=" + "a" * 600,
    ],
)
def test_bad_list_parameters_are_a_400_page(populated, params):
    _, client, _ = populated
    page = client.get(f"/__profiler__/?{params}", status=400)
    assert "Bad Request" in page.text and "linesman" in page.text
    assert "document" not in page.text and "sideways" not in page.text


def test_a_stored_path_is_text_never_markup(profiled):
    middleware, client = profiled
    client.get(
        "/<script>alert(1)</script>",
        expect_errors=True,
        headers={"User-Agent": "<img src=x onerror=alert(2)>"},
    )
    assert middleware.flush(10)
    page = client.get("/__profiler__/")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    uuid = re.search(r'/profiles/([0-9a-f-]{36})"', page.text).group(1)
    session_page = client.get(f"/__profiler__/profiles/{uuid}")
    assert "<script>alert(1)</script>" not in session_page.text
    assert "onerror=alert(2)>" not in session_page.text


def test_json_in_the_page_cannot_close_its_script_element():
    text = script_json({"name": "</script><script>alert(1)</script><!--", "amp": "&"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["name"].startswith("</script>")


def test_a_session_page_carries_its_figures(populated):
    _, client, uuids = populated
    page = client.get(f"/__profiler__/profiles/{uuids['/page/slow']}")
    assert "GET</span> /page/slow" in page.text
    figures = json.loads(
        re.search(
            r'<script type="application/json" id="profile-data">(.*?)</script>', page.text, re.S
        ).group(1)
    )
    names = {row[0] for row in figures["functions"]}
    assert {"spin", "hello_app"} <= names
    assert figures["cutoff"] == 5.0
    assert figures["total"] > 0.004
    assert figures["dot"].startswith("digraph callgraph {")
    # The tree, flat in preorder: its first node is a root, and every other node's
    # parent comes before it.
    tree = figures["tree"]
    assert tree[0][1] == -1 and figures["kind"] == "deterministic"
    assert all(0 <= parent < number for number, (_, parent, *_) in enumerate(tree) if parent >= 0)
    assert "spin" in {figures["functions"][node[0]][0] for node in tree}


@pytest.mark.parametrize("cutoff", ["0", "0.5", "5", "100", "12.125"])
def test_valid_cutoffs(populated, cutoff):
    _, client, uuids = populated
    page = client.get(f"/__profiler__/profiles/{uuids['/page/1']}?cutoff={cutoff}")
    assert f'value="{float(cutoff):g}"' in page.text


@pytest.mark.parametrize(
    "cutoff",
    [
        "nan",
        "inf",
        "1e400",
        "-5",
        "5%25",
        "0x10",
        "%D9%A5",
        "101",
        "1" * 1000,
        "5.0001",
        " 5",
        "five",
    ],
)
def test_invalid_cutoffs_are_a_400_that_echoes_nothing(populated, cutoff):
    _, client, uuids = populated
    page = client.get(f"/__profiler__/profiles/{uuids['/page/1']}?cutoff={cutoff}", status=400)
    assert "percentage from 0 to 100" in page.text
    assert "0x10" not in page.text and "1e400" not in page.text


def test_the_package_chart_shows_configured_and_typed_packages(make_profiled):
    middleware = make_profiled(apps.hello_app, chart_packages="tests")
    client = make_client(middleware)
    uuid = session_id(client.get("/x"))
    assert middleware.flush(10)
    page = client.get(f"/__profiler__/profiles/{uuid}")
    assert "Own time per package" in page.text and "<title>tests:" in page.text
    typed = client.get(f"/__profiler__/profiles/{uuid}?packages=webtest+nosuch")
    assert "<title>webtest:" in typed.text or "<title>other:" in typed.text
    assert "<title>tests:" not in typed.text
    # Without chart_packages (issue 15) the chart groups by where files live.
    bare = make_profiled(apps.hello_app, filename=str(Path(middleware.backend.filename)))
    grouped = make_client(bare).get(f"/__profiler__/profiles/{uuid}").text
    assert "Own time per package" in grouped and "<title>other:" not in grouped


def test_exported_prof_loads_in_pstats_with_the_same_totals(populated, tmp_path):
    middleware, client, uuids = populated
    response = client.get(f"/__profiler__/profiles/{uuids['/page/slow']}.prof")
    assert response.content_type == "application/octet-stream"
    assert "attachment;" in response.headers["Content-Disposition"]
    assert ".prof" in response.headers["Content-Disposition"]
    target = tmp_path / "page.prof"
    target.write_bytes(response.body)
    report = io.StringIO()
    stats = pstats.Stats(str(target), stream=report)
    session = middleware.backend.get(uuids["/page/slow"])
    assert stats.total_calls == sum(f.callcount for f in session.functions)
    assert stats.prim_calls == sum(f.callcount - f.reccallcount for f in session.functions)
    assert stats.total_tt == pytest.approx(sum(f.inlinetime for f in session.functions))
    spin = next(v for k, v in stats.stats.items() if k[2] == "spin")
    assert spin[3] >= 0.004
    stats.sort_stats("cumulative").print_stats(5)  # the report pstats users read
    assert "(spin)" in report.getvalue()
    assert marshal.loads(response.body) == stats.stats


def test_exported_speedscope_file_matches_the_published_schema(populated):
    _, client, uuids = populated
    document = client.get(f"/__profiler__/profiles/{uuids['/page/slow']}.speedscope.json").json
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    profile = document["profiles"][0]
    frames = [frame["name"] for frame in document["shared"]["frames"]]
    assert "spin" in frames
    opens = sum(1 for event in profile["events"] if event["type"] == "O")
    closes = sum(1 for event in profile["events"] if event["type"] == "C")
    assert opens == closes > 0
    times = [event["at"] for event in profile["events"]]
    assert times == sorted(times), "speedscope needs events in time order"
    assert profile["endValue"] >= max(times)


def test_exported_json_and_dot(populated):
    middleware, client, uuids = populated
    uuid = uuids["/page/slow"]
    document = client.get(f"/__profiler__/profiles/{uuid}.json").json
    assert document == middleware.backend.get(uuid).to_dict()
    dot = client.get(f"/__profiler__/profiles/{uuid}.dot?cutoff=0").text
    assert dot.startswith("digraph callgraph {") and "spin" in dot
    assert client.get(f"/__profiler__/profiles/{uuid}.dot?cutoff=x", status=400)


def test_svg_export_without_graphviz_says_what_to_do(populated, monkeypatch, tmp_path):
    _, client, uuids = populated
    monkeypatch.setenv("PATH", str(tmp_path))  # a server where only pip install ran
    page = client.get(f"/__profiler__/profiles/{uuids['/page/1']}.svg", status=501)
    assert "dot program is not installed" in page.text


def test_svg_export_with_graphviz(populated):
    require(shutil.which("dot") is not None, "Graphviz's dot (Debian package graphviz)")
    _, client, uuids = populated
    response = client.get(f"/__profiler__/profiles/{uuids['/page/slow']}.svg?cutoff=0")
    assert response.content_type == "image/svg+xml"
    assert b"<svg" in response.body and b"spin" in response.body


@pytest.mark.parametrize(
    "path",
    [
        "/__profiler__/profiles/0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11",
        "/__profiler__/profiles/0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11.prof",
        "/__profiler__/profiles/<img src=x onerror=alert(1)>",
        "/__profiler__/profiles/0C8D1B7E-2F58-4C8A-9E3E-0D6B1B8F0A11",
        "/__profiler__/profiles/' OR 1=1 --",
        "/__profiler__/nope",
        "/__profiler__/static/../../setup.cfg",
        "/__profiler__/static/%2e%2e/%2e%2e/setup.cfg",
        "/__profiler__/static/..%2f..%2fsetup.cfg",
        "/__profiler__/static/nothing.css",
        "/__profiler__/static//etc/passwd",
    ],
)
def test_unknown_pages_are_404_without_echoing_input(profiled, path):
    _, client = profiled
    page = client.get(path, status=404)
    assert "onerror" not in page.text and "setup.cfg" not in page.text
    assert "OR 1=1" not in page.text and "passwd" not in page.text
    assert "linesman" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_static_files_are_served_with_cache_headers(profiled):
    _, client = profiled
    css = client.get("/__profiler__/static/linesman.css")
    assert css.content_type == "text/css"
    assert "max-age=3600" in css.headers["Cache-Control"]
    module = client.get("/__profiler__/static/vendor/graphviz/graphviz.js")
    assert module.content_type in ("text/javascript", "application/javascript")
    assert client.head("/__profiler__/static/linesman.css").status_int == 200


# -- changes: POST only, with the token ---------------------------------------------
def test_get_never_changes_anything(populated):
    middleware, client, uuids = populated
    for path in ("/delete/all", f"/delete/{uuids['/page/1']}", "/state?enabled=off"):
        client.get(f"/__profiler__{path}", status=405)
    assert middleware.backend.count() == 7 and middleware.enabled


@pytest.mark.parametrize("token", [None, "", "wrong-token-wrong-token-wrong-token"])
def test_a_post_without_the_right_token_is_refused(populated, token):
    middleware, client, uuids = populated
    client.get("/__profiler__/")  # has the cookie, but not the form's token
    form = {} if token is None else {"csrf_token": token}
    for path in ("/delete/all", f"/delete/{uuids['/page/1']}", "/delete/matching"):
        page = client.post(f"/__profiler__{path}", form, status=403)
        assert "security token" in page.text
    client.post("/__profiler__/state", {**form, "enabled": "off"}, status=403)
    assert middleware.backend.count() == 7 and middleware.enabled


def test_a_post_without_the_login_is_refused_even_with_a_csrf_token(populated):
    middleware, client, uuids = populated
    token = csrf_of(client.get("/__profiler__/"))
    client.cookiejar.clear()
    client.post("/__profiler__/delete/all", {"csrf_token": token}, status=401)
    assert middleware.backend.count() == 7


def test_a_csrf_token_the_server_did_not_sign_is_refused(populated):
    middleware, client, uuids = populated
    client.set_cookie("linesman_csrf", "x" * 40)
    client.post("/__profiler__/delete/all", {"csrf_token": "x" * 40}, status=403)
    forged = "a" * 24 + "." + "b" * 32
    client.post("/__profiler__/delete/all", {"csrf_token": forged}, status=403)
    assert middleware.backend.count() == 7
    signed = csrf_of(client.get("/__profiler__/"))
    assert signed != "x" * 40  # the planted cookie was replaced by a signed token
    client.post("/__profiler__/delete/all", {"csrf_token": signed}, status=200)
    assert middleware.backend.count() == 0


def test_delete_one_answers_scripts_and_redirects_browsers(populated):
    middleware, client, uuids = populated
    token = csrf_of(client.get("/__profiler__/"))
    script = client.post(f"/__profiler__/delete/{uuids['/page/1']}", {"csrf_token": token})
    assert script.text == "1 row(s) deleted." and script.content_type == "text/plain"
    again = client.post(f"/__profiler__/delete/{uuids['/page/1']}", {"csrf_token": token})
    assert again.text == "0 row(s) deleted."
    browser = client.post(
        f"/__profiler__/delete/{uuids['/page/2']}",
        {"csrf_token": token},
        headers={"Accept": "text/html,application/xhtml+xml"},
        status=303,
    )
    assert browser.location.endswith("/__profiler__/?deleted=1")
    assert "1 session deleted." in browser.follow().text
    assert middleware.backend.count() == 5


def test_a_deleted_session_page_is_gone_from_the_cache(populated):
    _, client, uuids = populated
    token = csrf_of(client.get("/__profiler__/"))
    client.get(f"/__profiler__/profiles/{uuids['/page/1']}")
    client.post(f"/__profiler__/delete/{uuids['/page/1']}", {"csrf_token": token})
    client.get(f"/__profiler__/profiles/{uuids['/page/1']}", status=404)


def test_delete_selected(populated):
    middleware, client, uuids = populated
    token = csrf_of(client.get("/__profiler__/"))
    form = [
        ("csrf_token", token),
        ("session_uuids[]", uuids["/page/1"]),
        ("session_uuids[]", uuids["/page/2"]),
    ]
    assert client.post("/__profiler__/delete", form).text == "2 row(s) deleted."
    bad = [
        ("csrf_token", token),
        ("session_uuids[]", uuids["/api/users"]),
        ("session_uuids[]", "'; DROP TABLE sessions; --"),
    ]
    client.post("/__profiler__/delete", bad, status=400)
    assert middleware.backend.count() == 5


def test_the_bulk_deletes_say_what_they_would_delete_and_only_when_it_exists(populated):
    _, client, _ = populated
    everything = client.get("/__profiler__/")
    assert "Delete all 7</button>" in everything.text and "matching" not in everything.text
    filtered = client.get("/__profiler__/?path=api")
    assert "Delete all 4 matching" in filtered.text
    assert "Delete all 7" not in filtered.text  # a filter is set: only what it shows
    nothing = client.get("/__profiler__/?path=nowhere")
    assert "No session matches these filters." in nothing.text
    assert "Delete all" not in nothing.text
    # A row's own delete is a quiet link, not a red button on every row.
    assert everything.text.count('class="link quiet"') == 7
    assert "link danger" not in everything.text


def test_delete_matching_deletes_what_the_filter_shows(populated):
    middleware, client, _ = populated
    page = client.get("/__profiler__/?path=api&method=GET")
    assert "Delete all 3 matching" in page.text
    answer = client.post(
        "/__profiler__/delete/matching",
        {"csrf_token": csrf_of(page), "path": "api", "method": "GET"},
    )
    assert answer.text == "3 row(s) deleted."
    assert sorted(s["path"] for s in middleware.backend.list_summaries()) == [
        "/api/users",
        "/page/1",
        "/page/2",
        "/page/slow",
    ]


def test_delete_all_with_a_header_token(populated):
    middleware, client, _ = populated
    token = csrf_of(client.get("/__profiler__/"))
    answer = client.post("/__profiler__/delete/all", headers={"X-Linesman-CSRF": token})
    assert answer.text == "7 row(s) deleted."
    assert middleware.backend.count() == 0


def test_the_switch_turns_profiling_off_and_on(populated):
    middleware, client, _ = populated
    token = csrf_of(client.get("/__profiler__/"))
    assert client.post("/__profiler__/state", {"csrf_token": token, "enabled": "off"}).text == (
        "profiling off"
    )
    assert middleware.enabled is False and middleware.backend.get_enabled() is False
    assert "X-Linesman-Session" not in client.get("/after").headers
    assert "Profiling is off" in client.get("/__profiler__/").text
    client.post("/__profiler__/state", {"csrf_token": token, "enabled": "maybe"}, status=400)
    client.post(
        "/__profiler__/state",
        {"csrf_token": token, "enabled": "on"},
        headers={"Accept": "text/html"},
        status=303,
    )
    assert middleware.enabled is True
    assert "X-Linesman-Session" in client.get("/after").headers


def test_a_huge_form_is_refused_before_it_is_read(populated):
    middleware, _, _ = populated

    class Unreadable(io.RawIOBase):
        def read(self, *args):
            raise AssertionError("the body was read")

    request = Request.blank(
        "/__profiler__/delete/all", method="POST", environ={**LOCAL, **cookie_environ(middleware)}
    )
    request.environ["wsgi.input"] = Unreadable()
    request.environ["CONTENT_LENGTH"] = str(100 * 1024 * 1024)
    request.environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    response = request.get_response(middleware)
    assert response.status_int == 413
    assert middleware.backend.count() == 7


# -- who may open it ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "environ",
    [
        {"REMOTE_ADDR": "10.1.2.3"},
        {"REMOTE_ADDR": "192.168.0.7"},
        {"REMOTE_ADDR": "not-an-address"},
        {"REMOTE_ADDR": "127.0.0.1, 10.0.0.1"},
        {"HTTP_HOST": "evil.example"},
        {"HTTP_HOST": "localhost.evil.example:8080"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9"},
        {"HTTP_X_FORWARDED_FOR": "127.0.0.1"},
        {"HTTP_FORWARDED": "for=203.0.113.9"},
    ],
)
def test_strangers_get_403_and_the_app_is_unaffected(profiled, environ):
    _, client = profiled
    for path in (
        "/__profiler__/",
        "/__profiler__/static/linesman.css",
        "/__profiler__/profiles/0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11.prof",
    ):
        page = client.get(path, extra_environ=environ, status=403)
        assert "linesman" in page.text
    assert client.get("/page", extra_environ=environ).body == b"hello"


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8080", "127.0.0.1:5000", "[::1]:80", "LOCALHOST"]
)
def test_loopback_host_names_are_let_in(profiled, host):
    middleware, client = profiled
    assert (
        client.get(
            "/__profiler__/", extra_environ={"HTTP_HOST": host, **token_environ(middleware)}
        ).status_int
        == 200
    )


def test_allowed_ips_and_hosts_open_the_ui(make_profiled):
    middleware = make_profiled(
        apps.hello_app, allowed_ips="10.0.0.0/8", allowed_hosts="profiler.internal"
    )
    client = TestApp(middleware, extra_environ=token_environ(middleware))
    internal = {"REMOTE_ADDR": "10.9.9.9", "HTTP_HOST": "profiler.internal"}
    client.get("/__profiler__/", extra_environ=internal, status=200)
    client.get("/__profiler__/", extra_environ={**internal, "HTTP_HOST": "localhost"}, status=403)
    client.get("/__profiler__/", extra_environ={**internal, "REMOTE_ADDR": "127.0.0.1"}, status=403)


def test_trusted_proxies_are_believed_and_only_they(make_profiled):
    middleware = make_profiled(
        apps.hello_app, trusted_proxies="127.0.0.1", allowed_ips="127.0.0.1 192.0.2.10"
    )
    client = ui_client(middleware)
    client.get("/__profiler__/", headers={"X-Forwarded-For": "192.0.2.10"}, status=200)
    client.get("/__profiler__/", headers={"X-Forwarded-For": "203.0.113.9"}, status=403)
    client.get("/__profiler__/", headers={"X-Forwarded-For": "192.0.2.10, 203.0.113.9"}, status=403)
    client.get(
        "/__profiler__/",
        headers={"X-Forwarded-For": "192.0.2.10"},
        extra_environ={"REMOTE_ADDR": "10.0.0.5"},
        status=403,
    )


def test_basic_credentials(make_profiled):
    middleware = make_profiled(apps.hello_app, auth_user="dev", auth_password="s3cret:x")
    client = TestApp(middleware, extra_environ={**LOCAL, **token_environ(middleware)})
    asked = client.get("/__profiler__/", status=401)
    assert asked.headers["WWW-Authenticate"].startswith("Basic")
    client.authorization = ("Basic", ("dev", "wrong"))
    client.get("/__profiler__/", status=401)
    client.authorization = ("Basic", ("dev", "s3cret:x"))
    client.get("/__profiler__/", status=200)
    assert client.get("/page").body == b"hello"


def allow_by_header(environ):
    """An ``authorize`` hook for the tests: a header decides."""
    return environ.get("HTTP_X_TEAM") == "perf"


def explode(environ):
    raise RuntimeError("a broken hook")


def test_an_authorize_hook_decides(make_profiled):
    middleware = make_profiled(apps.hello_app, authorize=f"{__name__}:allow_by_header")
    client = TestApp(middleware, extra_environ={**LOCAL, **token_environ(middleware)})
    client.get("/__profiler__/", status=403)
    client.get("/__profiler__/", headers={"X-Team": "perf"}, status=200)
    broken = make_profiled(
        apps.hello_app,
        authorize=f"{__name__}:explode",
        filename=str(Path(middleware.backend.filename)),
    )
    TestApp(broken, extra_environ={**LOCAL, **token_environ(broken)}).get(
        "/__profiler__/", headers={"X-Team": "perf"}, status=403
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"allowed_ips": "10.0.0.300"}, "allowed_ips"),
        ({"trusted_proxies": "proxy.local"}, "trusted_proxies"),
        ({"auth_user": "dev"}, "auth_password"),
        ({"authorize": "nosuch.module:hook"}, "authorize"),
        ({"authorize": "not a hook"}, "authorize"),
    ],
)
def test_wrong_access_options_fail_at_start_up(make_profiled, options, message):
    from linesman.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_profiled(apps.hello_app, **options)


def test_the_list_says_how_many_were_skipped_and_why(make_profiled):
    middleware = make_profiled(apps.hello_app, min_duration="10s")
    client = make_client(middleware)
    client.get("/one")
    client.get("/two")
    page = client.get("/__profiler__/")
    assert "0 profiled, 0 stored" in page.text
    assert "2 skipped — 2 too_fast: shorter than min_duration" in page.text


def test_a_damaged_session_gives_a_clean_error_and_the_list_still_shows(populated):
    middleware, client, uuids = populated
    middleware.backend.conn.execute(
        "UPDATE sessions SET document = x'00ff' WHERE uuid = ?", (uuids["/page/1"],)
    )
    page = client.get(f"/__profiler__/profiles/{uuids['/page/1']}", status=410)
    assert "cannot be read" in page.text and "Traceback" not in page.text
    assert len(rows(client.get("/__profiler__/"))) == 7


def test_past_the_count_cap_the_list_says_so(populated):
    middleware, client, _ = populated
    middleware.ui.count_cap = 3  # as if more than 2,000 sessions were stored
    page = client.get("/__profiler__/")
    assert "3+ stored" in page.text
    filtered = client.get("/__profiler__/?path=/")
    assert "Delete all 3+ matching" in filtered.text


def test_a_read_only_ui_shows_profiles_and_changes_nothing(make_profiled, tmp_path):
    """What ``linesman view FILE.prof`` serves: no switch, no capture windows, no
    deletes, no endpoint comparison; every change answers 403 and changes nothing;
    a profile read from a file shows no request figures it never had."""
    from support.wsgi_client import call

    from linesman.exporters.formats import from_pstats

    profile = tmp_path / "run.prof"
    import cProfile

    cProfile.run("sorted(range(1000))", str(profile))
    stats = pstats.Stats(str(profile)).stats
    middleware = make_profiled(apps.hello_app, read_only="true", sample_rate="0")
    imported = from_pstats(stats, "/imported/run.prof")
    middleware.backend.add(imported)
    call(middleware, path="/hello")  # served, never profiled (sample_rate 0)
    client = ui_client(middleware)
    listing = client.get("/__profiler__/").text
    for absent in ("Turn off", "Turn on", "Capture windows", "capture-form", "Delete"):
        assert absent not in listing, absent
    page = client.get(f"/__profiler__/profiles/{imported.uuid}").text
    for absent in ("Delete", "endpoint's median", "None", "CPU time", "Alongside", "Status"):
        assert absent not in page, absent
    assert "Wall time" in page and "/imported/run.prof" in page
    headers = {"X-Linesman-CSRF": middleware.current_signer().csrf_token()}
    for path in ("/__profiler__/delete/all", "/__profiler__/state", "/__profiler__/captures"):
        answer = client.post(path, {"enabled": "off"}, headers=headers, status=403)
        assert "read-only" in answer.text
    client.delete(f"/__profiler__/api/sessions/{imported.uuid}", status=403)
    client.put_json("/__profiler__/api/state", {"enabled": False}, status=403)
    assert middleware.backend.count() == 1 and middleware.enabled is True


def test_the_package_chart_is_drawn_without_chart_packages(make_profiled):
    from support.wsgi_client import call

    middleware = make_profiled(apps.hello_app, profiler="cprofile")  # hello_app's own call
    call(middleware, path="/hello")
    assert middleware.flush(10)
    uuid = middleware.backend.summaries()[0]["uuid"]
    page = ui_client(middleware).get(f"/__profiler__/profiles/{uuid}").text
    assert 'id="packages-section"' in page
    legend = re.findall(r'</svg> ([^<]+)</td><td class="num">', page)
    assert legend and legend[0] != "other" and "built-ins" in legend, legend


def test_figures_read_as_people_write_them():
    from linesman.web.formatting import fmt_ago, fmt_bytes, fmt_calls, fmt_time

    assert fmt_bytes(1) == "1 byte" and fmt_bytes(402) == "402 bytes"
    assert fmt_bytes(12_500) == "12.5 kB" and fmt_bytes(3_100_000) == "3.1 MB"
    assert fmt_calls(0.5) == "0.5" and fmt_calls(1187.5) == "1,187.5" and fmt_calls(3.0) == "3"
    assert fmt_calls(None) == "—"
    assert fmt_ago(100.0, 100.4) == "just now" and fmt_ago(100.0, 103.2) == "3 s ago"
    assert fmt_ago(0.0, 150.0) == "2 min ago" and fmt_ago(0.0, 7300.0) == "2 h ago"
    assert fmt_ago(0.0, 3 * 86400.0) == "3 d ago"
    assert re.search(r"\d\d:\d\d:\d\d\.123 ", fmt_time(1_700_000_000.123))
