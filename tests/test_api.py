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


def test_strangers_get_json_403s(api):
    _, client, _ = api
    response = client.get(
        "/__profiler__/api/sessions", extra_environ={"REMOTE_ADDR": "10.0.0.9"}, status=403
    )
    assert response.content_type == "application/json"


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
    }
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
