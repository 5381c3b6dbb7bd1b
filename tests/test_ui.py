"""The profiler pages: closed to strangers, escaped, and clean on bad input."""

from __future__ import annotations

import pytest
from webtest import TestApp

import apps


@pytest.fixture
def profiled(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = TestApp(middleware, extra_environ={"REMOTE_ADDR": "127.0.0.1",
                                                "HTTP_HOST": "localhost"})
    return middleware, client


def test_the_list_shows_profiled_requests(profiled):
    middleware, client = profiled
    client.get("/first?page=2")
    assert middleware.flush(10)
    page = client.get("/__profiler__/")
    assert page.status_int == 200
    assert "/first?page=2" in page.text
    assert "1 stored" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_a_stored_path_is_text_never_markup(profiled):
    middleware, client = profiled
    client.get("/<script>alert(1)</script>", expect_errors=True)
    assert middleware.flush(10)
    page = client.get("/__profiler__/")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_a_session_page_shows_its_functions(profiled):
    middleware, client = profiled
    response = client.get("/page")
    assert middleware.flush(10)
    session_uuid = response.headers["X-Linesman-Session"].split(";")[0]
    page = client.get(f"/__profiler__/profiles/{session_uuid}")
    assert "hello_app" in page.text
    assert "GET /page" in page.text


@pytest.mark.parametrize("path", [
    "/__profiler__/profiles/0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11",
    "/__profiler__/profiles/<img src=x onerror=alert(1)>",
    "/__profiler__/nope",
    "/__profiler__/static/../../setup.cfg",
    "/__profiler__/static/%2e%2e/%2e%2e/setup.cfg",
    "/__profiler__/static/nothing.css",
])
def test_unknown_pages_are_404_without_echoing_input(profiled, path):
    _, client = profiled
    page = client.get(path, status=404)
    assert "onerror" not in page.text
    assert "setup.cfg" not in page.text
    assert "linesman" in page.text  # the UI's own error page


def test_static_files_are_served_with_cache_headers(profiled):
    _, client = profiled
    css = client.get("/__profiler__/static/linesman.css")
    assert css.content_type == "text/css"
    assert "max-age=3600" in css.headers["Cache-Control"]


def test_a_post_to_a_read_only_page_is_405(profiled):
    _, client = profiled
    response = client.post("/__profiler__/", status=405)
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize("environ", [
    {"REMOTE_ADDR": "10.1.2.3"},
    {"REMOTE_ADDR": "192.168.0.7"},
    {"REMOTE_ADDR": "not-an-address"},
    {"HTTP_HOST": "evil.example"},
    {"HTTP_HOST": "localhost.evil.example:8080"},
    {"HTTP_X_FORWARDED_FOR": "203.0.113.9"},
    {"HTTP_FORWARDED": "for=203.0.113.9"},
])
def test_strangers_get_403_and_the_app_is_unaffected(profiled, environ):
    _, client = profiled
    for path in ("/__profiler__/", "/__profiler__/static/linesman.css"):
        page = client.get(path, extra_environ=environ, status=403)
        assert "linesman" in page.text
    assert client.get("/page", extra_environ=environ).body == b"hello"


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:5000", "[::1]:80"])
def test_loopback_host_names_are_let_in(profiled, host):
    _, client = profiled
    assert client.get("/__profiler__/", extra_environ={"HTTP_HOST": host}).status_int == 200


def test_allowed_ips_opens_the_ui_to_a_network(make_profiled):
    middleware = make_profiled(apps.hello_app, allowed_ips="10.0.0.0/8")
    client = TestApp(middleware, extra_environ={"HTTP_HOST": "localhost"})
    client.get("/__profiler__/", extra_environ={"REMOTE_ADDR": "10.9.9.9"}, status=200)
    client.get("/__profiler__/", extra_environ={"REMOTE_ADDR": "127.0.0.1"}, status=403)


def test_the_list_says_how_many_were_skipped_and_why(make_profiled):
    middleware = make_profiled(apps.hello_app, min_duration="10s")
    client = TestApp(middleware, extra_environ={"REMOTE_ADDR": "127.0.0.1",
                                                "HTTP_HOST": "localhost"})
    client.get("/one")
    client.get("/two")
    page = client.get("/__profiler__/")
    assert "0 profiled, 0 stored" in page.text  # too fast ones are not "profiled"
    assert "2 skipped (too_fast: shorter than min_duration)" in page.text
