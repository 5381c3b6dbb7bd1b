"""The JSON API: its answers, its rules, and schemathesis against its OpenAPI document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate as validate_spec
from support import apps
from support.login import ui_client
from support.servers import free_port, get, running
from support.waiting import wait_for

from linesman.storage.health import LOST_REASONS, SKIP_REASONS
from linesman.web.figures_api import ENDPOINT_FIELDS

LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}


@pytest.fixture
def api(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = ui_client(middleware)
    uuids = []
    for path in ("/a", "/b/1", "/b/2"):
        uuids.append(client.get(path).headers["X-Linesman-Session"].split(";")[0])
        assert middleware.flush(10)
    return middleware, client, uuids


def token(client) -> str:
    client.get("/__profiler__/api/state")
    return client.cookies["linesman_csrf"]


def test_sessions_are_paged_and_filtered(api):
    _, client, uuids = api
    page = client.get("/__profiler__/api/sessions?per_page=2").json
    assert page["total"] == 3 and page["per_page"] == 2 and page["page"] == 1
    assert [s["uuid"] for s in page["sessions"]] == [uuids[2], uuids[1]]
    second = client.get("/__profiler__/api/sessions?per_page=2&page=2").json
    assert [s["uuid"] for s in second["sessions"]] == [uuids[0]]
    filtered = client.get("/__profiler__/api/sessions?path=/b/&sort=path&order=asc").json
    assert [s["path"] for s in filtered["sessions"]] == ["/b/1", "/b/2"]
    assert filtered["total"] == 2


@pytest.mark.parametrize(
    "query",
    [
        "per_page=0",
        "per_page=501",
        "per_page=x",
        "page=0",
        "status=abc",
        "sort=document",
        "per_page=%D9%A5",
    ],
)
def test_bad_parameters_are_json_400s(api, query):
    _, client, _ = api
    response = client.get(f"/__profiler__/api/sessions?{query}", status=400)
    assert response.content_type == "application/json"
    assert set(response.json) == {"error"}


def test_one_session_with_its_statistics(api):
    middleware, client, uuids = api
    detail = client.get(f"/__profiler__/api/sessions/{uuids[0]}").json
    assert detail["session"]["uuid"] == uuids[0] and detail["session"]["path"] == "/a"
    assert detail["session"]["status"] == 200 and detail["session"]["concurrent"] is False
    assert detail["session"]["profiler"] == "deterministic"  # WebTest serves one thread
    assert detail["session"]["samples"] == 0 and detail["session"]["interval"] is None
    names = [f["name"] for f in detail["functions"]]
    assert "hello_app" in names
    cumulative = [f["cumtime"] for f in detail["functions"]]
    assert cumulative == sorted(cumulative, reverse=True)
    client.get("/__profiler__/api/sessions/0c8d1b7e-2f58-4c8a-9e3e-0d6b1b8f0a11", status=404)
    assert client.get("/__profiler__/api/sessions/nope", status=404).json["error"]


def test_delete_needs_the_token(api):
    middleware, client, uuids = api
    client.delete(f"/__profiler__/api/sessions/{uuids[0]}", status=403)
    assert middleware.backend.count() == 3
    answer = client.delete(
        f"/__profiler__/api/sessions/{uuids[0]}", headers={"X-Linesman-CSRF": token(client)}
    )
    assert answer.json == {"deleted": 1}
    assert middleware.backend.count() == 2


def test_the_switch(api):
    middleware, client, _ = api
    assert client.get("/__profiler__/api/state").json == {"enabled": True}
    client.put_json("/__profiler__/api/state", {"enabled": False}, status=403)
    assert middleware.enabled is True
    headers = {"X-Linesman-CSRF": token(client)}
    assert client.put_json("/__profiler__/api/state", {"enabled": False}, headers=headers).json == {
        "enabled": False
    }
    assert middleware.enabled is False and middleware.backend.get_enabled() is False
    for body in ({"enabled": "no"}, {}, [], None):
        client.put_json("/__profiler__/api/state", body, headers=headers, status=400)
    client.put("/__profiler__/api/state", "{not json", headers=headers, status=400)


@pytest.mark.parametrize("route", ["sessions", "endpoints", "counters"])
def test_strangers_get_json_403s(api, route):
    _, client, _ = api
    response = client.get(
        f"/__profiler__/api/{route}", extra_environ={"REMOTE_ADDR": "10.0.0.9"}, status=403
    )
    assert response.content_type == "application/json"
    assert "endpoint" not in response.text and "profiled" not in response.text


@pytest.mark.parametrize("route", ["endpoints", "counters"])
def test_figures_need_the_login(api, route):
    middleware, _, _ = api
    from webtest import TestApp

    stranger = TestApp(middleware, extra_environ=LOCAL)  # loopback, but not logged in
    assert stranger.get(f"/__profiler__/api/{route}", status=401).content_type == (
        "application/json"
    )


def _status_app(environ, start_response):
    """200 on most paths, 404 on /missing/..., 500 on /broken/...; /slow/ spins."""
    path = environ["PATH_INFO"]
    if path.startswith("/slow/"):
        apps.spin(0.06)
    status = "404 Not Found" if "/missing/" in path else "200 OK"
    status = "500 Internal Server Error" if "/broken/" in path else status
    start_response(status, [("Content-Type", "text/plain")])
    return [b"x"]


def test_the_endpoints_table(make_profiled):
    middleware = make_profiled(_status_app, profiler="cprofile")
    client = ui_client(middleware)
    for path in ("/b/1", "/b/2", "/b/3", "/missing/4", "/broken/5", "/slow/6"):
        client.get(path, status="*")
    assert middleware.flush(10)
    answer = client.get("/__profiler__/api/endpoints").json
    assert (answer["total"], answer["page"], answer["damaged"]) == (4, 1, 0)
    rows = {row["endpoint"]: row for row in answer["endpoints"]}
    assert set(rows) == {"GET /b/{id}", "GET /missing/{id}", "GET /broken/{id}", "GET /slow/{id}"}
    assert answer["endpoints"][0]["endpoint"] == "GET /slow/{id}", "slowest first"
    assert all(set(row) == {name for name, _, _ in ENDPOINT_FIELDS} for row in rows.values())
    durations = sorted(s.duration for s in middleware.backend.get_all().values() if "/b/" in s.path)
    three = rows["GET /b/{id}"]
    assert three["sessions"] == 3 and three["median"] == durations[1]
    assert three["max"] == durations[-1] and three["median"] <= three["p95"] <= three["max"]
    assert (three["client_errors"], three["server_errors"]) == (0, 0)
    assert (
        rows["GET /missing/{id}"]["client_errors"],
        rows["GET /missing/{id}"]["server_errors"],
    ) == (1, 0)
    assert (
        rows["GET /broken/{id}"]["client_errors"],
        rows["GET /broken/{id}"]["server_errors"],
    ) == (0, 1)
    assert rows["GET /slow/{id}"]["median"] >= 0.06
    # Paged as the page is: the same order, a page at a time.
    pages = [
        client.get(f"/__profiler__/api/endpoints?per_page=3&page={n}").json["endpoints"]
        for n in (1, 2, 3)
    ]
    assert [row["endpoint"] for row in pages[0] + pages[1]] == [
        row["endpoint"] for row in answer["endpoints"]
    ]
    assert len(pages[0]) == 3 and pages[2] == []
    for query in ("per_page=0", "per_page=501", "page=0", "page=x", "per_page=%D9%A5"):
        error = client.get(f"/__profiler__/api/endpoints?{query}", status=400)
        assert set(error.json) == {"error"}


def test_the_counters_store_wide_and_of_this_process(make_profiled, tmp_path):
    store = str(tmp_path / "counted.db")
    first = make_profiled(_status_app, filename=store, min_duration=0.05, profiler="cprofile")
    second = make_profiled(_status_app, filename=store, min_duration=0.05, profiler="cprofile")
    for middleware, paths in ((first, ("/slow/1", "/fast")), (second, ("/slow/2", "/slow/3"))):
        client = ui_client(middleware)
        for path in paths:
            client.get(path)
        assert middleware.flush(10)
    client = ui_client(first)
    own = client.get("/__profiler__/api/counters").json["process"]
    assert (own["profiled"], own["stored"]) == (1, 1)
    assert own["skipped"]["too_fast"] == 1
    assert set(own["skipped"]) >= set(SKIP_REASONS) and set(own["lost"]) >= set(LOST_REASONS)
    assert sum(own["skipped"].values()) == 1 and sum(own["lost"].values()) == 0

    def store_wide():
        return client.get("/__profiler__/api/counters").json["store"]

    # Each writer adds its counts to the store's on its next round.
    wait_for(lambda: (store_wide()["profiled"], store_wide()["stored"]) == (3, 3), 10, "shared")
    assert store_wide()["skipped"]["too_fast"] == 1
    assert first.backend.count() == 3


def test_the_counters_of_a_store_that_keeps_none(make_profiled, tmp_path):
    middleware = make_profiled(
        apps.hello_app,
        backend="linesman.backends.pickle:PickleBackend",
        filename=str(tmp_path / "sessions.pickle"),
    )
    client = ui_client(middleware)
    client.get("/a")
    assert middleware.flush(10)
    answer = client.get("/__profiler__/api/counters").json
    assert answer["store"] is None
    assert (answer["process"]["profiled"], answer["process"]["stored"]) == (1, 1)


def test_the_openapi_document_is_valid_and_matches_the_routes(api):
    _, client, _ = api
    document = client.get("/__profiler__/api/openapi.json").json
    validate_spec(document)
    assert document["servers"] == [{"url": "/__profiler__/api"}]
    assert set(document["paths"]) == {
        "/sessions",
        "/sessions/{uuid}",
        "/state",
        "/compare",
        "/captures",
        "/captures/{id}/stop",
        "/endpoints",
        "/counters",
    }
    # Built from the fields the API fills and the reasons it counts.
    schemas = document["components"]["schemas"]
    assert schemas["Endpoint"]["required"] == [name for name, _, _ in ENDPOINT_FIELDS]
    skipped = schemas["Counters"]["properties"]["process"]["properties"]["skipped"]
    assert set(skipped["required"]) == set(SKIP_REASONS)
    assert set(document["paths"]["/sessions/{uuid}"]) == {"parameters", "get", "delete"}
    assert set(document["paths"]["/state"]) == {"get", "put"}


@pytest.mark.server
def test_schemathesis_finds_no_server_error_and_no_schema_break(tmp_path):
    store = tmp_path / "api.db"
    port = free_port()
    with running(["-m", "linesman", "demo", "--port", str(port), "--store", str(store)], port):
        for route in ("/", "/json", "/slow", "/stream"):
            get(port, route)
        login = subprocess.run(
            [sys.executable, "-m", "linesman", "url", str(store)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        token = login.strip().rsplit("=", 1)[1]
        program = Path(sys.executable).parent / "schemathesis"
        result = subprocess.run(
            [
                str(program),
                "run",
                f"http://127.0.0.1:{port}/__profiler__/api/openapi.json",
                "--checks",
                "not_a_server_error,status_code_conformance,"
                "content_type_conformance,response_schema_conformance",
                "--max-examples",
                "25",
                "--seed",
                "1",
                "--no-color",
                "-H",
                f"X-Linesman-Token: {token}",
                "--request-timeout",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-4000:]
    assert "passed" in report, report[-2000:]
    # Its calls got past the token: PUT state with a generated body set the switch.
    from linesman.backends.sqlite import SqliteBackend

    assert SqliteBackend(filename=str(store)).get_enabled() is not None, (
        "no call with the token reached the API: schemathesis only saw 401s"
    )


def test_a_malformed_form_is_a_400_not_a_500(api):
    middleware, client, uuids = api
    response = client.post(
        "/__profiler__/delete/all",
        "x",
        headers={"Content-Type": "multipart/form-data", "Accept": "text/html"},
        status=400,
    )
    assert "form cannot be read" in response.text
    assert middleware.backend.count() == 3
