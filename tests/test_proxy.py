"""The UI stays closed behind a same-host reverse proxy, under every server users run.

waitress strips ``X-Forwarded-For`` from untrusted peers, so behind nginx on the
same host linesman sees a loopback client asking for a loopback Host: addresses
cannot tell a remote client from a local one there. The access token can.
"""

from __future__ import annotations

import http.client
import sys
import time
from pathlib import Path

import pytest
from support.nginx_like_proxy import NginxLikeProxy
from support.servers import demo_ini, free_port, login_headers, running

from linesman.backends.sqlite import SqliteBackend

REMOTE = {"X-Forwarded-For": "203.0.113.9"}


def request(
    port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None
) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        headers: dict[str, str] = {}
        for name, value in answer.getheaders():  # Set-Cookie may come more than once
            name = name.lower()
            headers[name] = f"{headers[name]}\n{value}" if name in headers else value
        return answer.status, headers, answer.read()
    finally:
        connection.close()


def server_command(server: str, ini: Path, port: int) -> tuple[list[str], str]:
    """The command line as users write it, with default settings."""
    bin_folder = Path(sys.executable).parent
    if server == "linesman serve":
        return ["-m", "linesman", "serve", str(ini), "--port", str(port)], sys.executable
    if server == "waitress.serve":
        script = (
            f"from paste.deploy import loadapp; import waitress; "
            f"waitress.serve(loadapp('config:{ini}'), host='127.0.0.1', port={port})"
        )
        return ["-c", script], sys.executable
    if server == "gunicorn":
        return [
            "--paste",
            str(ini),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ], str(bin_folder / "gunicorn")
    return [str(ini)], str(bin_folder / "pserve")


@pytest.mark.server
@pytest.mark.parametrize("server", ["linesman serve", "waitress.serve", "gunicorn", "pserve"])
def test_a_remote_client_through_a_same_host_proxy_is_refused(tmp_path, server):
    store = tmp_path / "sessions.db"
    port = free_port()
    ini = demo_ini(tmp_path, store, port)
    args, program = server_command(server, ini, port)
    login = login_headers(store)
    with running(args, port, program=program), NginxLikeProxy(port) as proxy:
        # A remote client, through the proxy: the UI, the API and the switch are shut.
        for method, path in [
            ("GET", "/__profiler__/"),
            ("GET", "/__profiler__/api/state"),
            ("GET", "/__profiler__/api/sessions"),
            ("POST", "/__profiler__/state"),
        ]:
            status, _, body = request(
                proxy.port, method, path, REMOTE, b"enabled=off" if method == "POST" else None
            )
            # gunicorn keeps X-Forwarded-For, so linesman refuses the address (403);
            # waitress drops it, so only the missing token refuses (401).
            assert status in (401, 403), (method, path, status)
            assert b"access token" in body or status == 403
        status, _, _ = request(
            proxy.port,
            "PUT",
            "/__profiler__/api/state",
            {**REMOTE, "Content-Type": "application/json"},
            b'{"enabled": false}',
        )
        assert status in (401, 403)
        # The app answers, profiled, but without telling this client about linesman.
        status, headers, _ = request(proxy.port, "GET", "/json", REMOTE)
        assert status == 200 and "x-linesman-session" not in headers
        # Straight to the server, a made-up X-Forwarded-For changes nothing either.
        assert request(port, "GET", "/__profiler__/api/state", REMOTE)[0] in (401, 403)
        assert request(port, "GET", "/__profiler__/api/state")[0] == 401
        # The one with the token gets in, through the proxy too, and sees the header.
        status, _, body = request(proxy.port, "GET", "/__profiler__/api/state", login)
        assert status == 200 and b'"enabled": true' in body
        status, headers, _ = request(proxy.port, "GET", "/json", login)
        assert status == 200 and "x-linesman-session" in headers
        # A browser opens the link once, and its cookie does the rest.
        token = login["X-Linesman-Token"]
        status, headers, _ = request(proxy.port, "GET", f"/__profiler__/?token={token}")
        assert status == 303 and "token" not in headers["location"]
        lines = {
            line.split("=", 1)[0]: line
            for line in headers["set-cookie"].splitlines()
            if line.startswith(("linesman_login=", "linesman_header="))
        }
        cookie = lines["linesman_login"].split(";")[0]
        header_cookie = lines["linesman_header"].split(";")[0]
        assert token not in cookie and token not in header_cookie
        # The login stays under the profiler's path and expires; the app's routes
        # get only the cookie that lets their responses carry the session header.
        assert {"HttpOnly", "SameSite=Lax", "Path=/__profiler__", "Max-Age=43200"} <= {
            part.strip() for part in lines["linesman_login"].split(";")
        }
        assert {"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"} <= {
            part.strip() for part in lines["linesman_header"].split(";")
        }
        assert request(proxy.port, "GET", "/__profiler__/", {"Cookie": cookie})[0] == 200
        assert request(proxy.port, "GET", "/__profiler__/", {"Cookie": header_cookie})[0] == 401
        status, headers, _ = request(proxy.port, "GET", "/json", {"Cookie": header_cookie})
        assert status == 200 and "x-linesman-session" in headers
        assert (
            request(proxy.port, "GET", "/__profiler__/", {"Cookie": "linesman_login=" + token})[0]
            == 401
        )
    backend = SqliteBackend(filename=str(store))
    deadline = time.monotonic() + 10
    while backend.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.get_enabled() is not False  # nobody switched profiling off
    assert backend.count() >= 2  # the app's requests were profiled all along
    backend.close()
