"""The login: what the link gives a browser (a signed login of its own, which
expires and is renewed, under the profiler's path), Secure over https, the
small API edges (a nested body, a megabyte of cookies), and ``linesman rotate``,
which ends every token, login and form token in every process sharing the store."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from support import apps
from support.backend_factories import FACTORIES, racing_stores
from support.databases import URLS, reachable
from support.login import LOCAL, login_cookies, ui_client
from support.require import require
from support.servers import demo_ini, free_port, login_headers, running
from support.waiting import wait_for
from webtest import TestApp

from linesman.config import ConfigError
from linesman.middleware import ProfilingMiddleware
from linesman.signing import LOGIN_COOKIE_PURPOSE, SESSION_HEADER_PURPOSE, Login
from linesman.wrappers import SESSION_HEADER

LIFETIME = 12 * 3600


def set_cookies(response) -> dict[str, dict[str, str]]:
    """Each Set-Cookie of a response: name -> its attributes (and "value")."""
    cookies = {}
    for line in response.headers.getall("Set-Cookie"):
        first, *attributes = [part.strip() for part in line.split(";")]
        name, _, value = first.partition("=")
        fields = {"value": value}
        for attribute in attributes:
            key, _, setting = attribute.partition("=")
            fields[key.lower()] = setting
        cookies[name] = fields
    return cookies


def open_link(middleware, **environ):
    """Open the login link as a browser does; the response that logs in."""
    client = TestApp(middleware, extra_environ={**LOCAL, **environ})
    return client, client.get(middleware.login_path(), status=303)


def cookie_header(**cookies: str) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def csrf_token(client) -> str:
    client.get("/__profiler__/api/state")
    return client.cookies["linesman_csrf"]


# -- item 10: small API edges ----------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/__profiler__/api/captures"), ("PUT", "/__profiler__/api/state")]
)
def test_a_deeply_nested_body_is_a_400_that_says_so(make_profiled, method, path):
    middleware = make_profiled(apps.hello_app)
    client = ui_client(middleware)
    headers = {"Content-Type": "application/json", "X-Linesman-CSRF": csrf_token(client)}
    nested = b"[" * 100_000 + b"]" * 100_000
    answer = client.request(path, method=method, body=nested, headers=headers, status=400)
    assert "nested too deeply" in answer.json["error"]
    # A body nested less deeply than the parser's limit is the usual 400.
    shallow = b'{"requests": ' + b"[" * 500 + b"]" * 500 + b', "enabled": ' + b"[]" + b"}"
    client.request(path, method=method, body=shallow, headers=headers, status=400)
    assert middleware.enabled is True and middleware.captures == ()


def test_a_megabyte_of_cookies_is_searched_not_parsed(make_profiled):
    """Only the first 64 KiB of the Cookie header are looked at: a login cookie
    behind a megabyte of others is not found (it was, by parsing all of them, in
    60-300 ms a request), one in front is; the app gets its header untouched."""
    seen = []

    def app(environ, start_response):
        seen.append(environ.get("HTTP_COOKIE", ""))
        return apps.hello_app(environ, start_response)

    middleware = make_profiled(app)
    client = TestApp(middleware, extra_environ=LOCAL)
    ours = login_cookies(middleware)
    others = "; ".join(f"c{number}=" + "x" * 10 for number in range(80_000))[: 1 << 20]
    assert len(others) == 1 << 20
    behind = client.get(
        "/__profiler__/",
        headers=cookie_header(junk=others, linesman_login=ours["linesman_login"]),
        status=401,
    )
    assert "linesman_csrf" in set_cookies(behind)  # a CSRF cookie behind them is not read either
    in_front = {"linesman_login": ours["linesman_login"], "junk": others}
    client.get("/__profiler__/", headers=cookie_header(**in_front), status=200)
    # The app's own request: answered as ever, its Cookie header as sent.
    answer = client.get(
        "/app", headers=cookie_header(linesman_header=ours["linesman_header"], junk=others)
    )
    assert answer.body == b"hello" and SESSION_HEADER in answer.headers
    assert seen[-1].endswith(others) and len(seen[-1]) > 1 << 20
    assert client.get("/app", headers=cookie_header(junk=others)).body == b"hello"
    assert SESSION_HEADER not in client.get("/app", headers=cookie_header(junk=others)).headers


def test_the_cookie_is_found_among_others_with_the_same_name(make_profiled):
    """A page on another port can plant ``linesman_login`` (cookies ignore ports):
    each value that comes is tried, so a planted one does not lock the user out."""
    middleware = make_profiled(apps.hello_app)
    client = TestApp(middleware, extra_environ=LOCAL)
    real = login_cookies(middleware)["linesman_login"]
    header = {"Cookie": f"a=1; linesman_login=planted; xlinesman_login=1; linesman_login={real}"}
    client.get("/__profiler__/", headers=header, status=200)
    client.get("/__profiler__/", headers={"Cookie": "linesman_login=planted"}, status=401)


# -- item 11: the login ------------------------------------------------------------------
def test_the_link_gives_each_browser_a_login_of_its_own_under_the_profiler_path(make_profiled):
    middleware = make_profiled(apps.hello_app)
    token = middleware.current_signer().login_token
    _, first = open_link(middleware)
    _, second = open_link(middleware)
    cookies, other = set_cookies(first), set_cookies(second)
    login, header = cookies["linesman_login"], cookies["linesman_header"]
    assert login["path"] == "/__profiler__" and header["path"] == "/"
    for cookie in (login, header):
        assert cookie["max-age"] == str(LIFETIME)
        assert "httponly" in cookie and cookie["samesite"] == "Lax"
        assert "secure" not in cookie  # plain http: a Secure cookie would never come back
        assert token not in cookie["value"]
    # Every browser's login is its own; the two cookies are signed apart.
    assert login["value"] != other["linesman_login"]["value"]
    assert header["value"] != other["linesman_header"]["value"]
    assert login["value"].split(".")[:2] == header["value"].split(".")[:2]
    assert login["value"].split(".")[2] != header["value"].split(".")[2]


def test_the_app_never_receives_the_login(make_profiled):
    """A browser (WebTest's cookie jar keeps cookies' paths, as browsers do) sends
    the app only the session-header cookie: the app and its error reporters never
    hold what opens the UI, and the responses still carry the session header."""
    seen = []

    def app(environ, start_response):
        seen.append(environ.get("HTTP_COOKIE", ""))
        return apps.hello_app(environ, start_response)

    middleware = make_profiled(app)
    client = ui_client(middleware)
    answer = client.get("/some/page")
    assert SESSION_HEADER in answer.headers
    assert "linesman_header=" in seen[-1]
    assert "linesman_login" not in seen[-1]
    client.get("/__profiler__/", status=200)  # the UI, where the login is sent


def test_the_session_header_cookie_opens_nothing(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = TestApp(middleware, extra_environ=LOCAL)
    cookies = login_cookies(middleware)
    header_only = cookie_header(linesman_header=cookies["linesman_header"])
    assert "access token" in client.get("/__profiler__/", headers=header_only, status=401).text
    assert SESSION_HEADER in client.get("/app", headers=header_only).headers
    # Neither cookie's value does the other's job.
    swapped = cookie_header(linesman_login=cookies["linesman_header"])
    client.get("/__profiler__/", headers=swapped, status=401)
    swapped = cookie_header(linesman_header=cookies["linesman_login"])
    assert SESSION_HEADER not in client.get("/app", headers=swapped).headers
    # The access token is not a cookie's value.
    token = cookie_header(linesman_login=middleware.current_signer().login_token)
    client.get("/__profiler__/", headers=token, status=401)


def test_a_login_expires(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = TestApp(middleware, extra_environ=LOCAL)
    stale = login_cookies(middleware, issued=time.time() - LIFETIME - 5)
    refused = client.get("/__profiler__/", headers=cookie_header(**stale), status=401)
    assert "expired" in refused.text
    assert "linesman_login" not in set_cookies(refused)  # an expired login is not renewed
    app_answer = client.get("/app", headers=cookie_header(linesman_header=stale["linesman_header"]))
    assert SESSION_HEADER not in app_answer.headers
    # Nor does a login made up for the future last longer (a few minutes of clock skew pass).
    future = login_cookies(middleware, issued=time.time() + 3600)
    client.get("/__profiler__/", headers=cookie_header(**future), status=401)
    skewed = login_cookies(middleware, issued=time.time() + 60)
    client.get("/__profiler__/", headers=cookie_header(**skewed), status=200)


def test_a_login_is_renewed_when_used_past_half_its_life(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = TestApp(middleware, extra_environ=LOCAL)
    signer = middleware.current_signer()
    young = login_cookies(middleware, issued=time.time() - 0.1 * LIFETIME)
    answer = client.get("/__profiler__/", headers=cookie_header(**young), status=200)
    assert "linesman_login" not in set_cookies(answer)
    old = Login.new(time.time() - 0.6 * LIFETIME)
    cookies = {
        "linesman_login": signer.login_value(old, LOGIN_COOKIE_PURPOSE),
        "linesman_header": signer.login_value(old, SESSION_HEADER_PURPOSE),
    }
    answer = client.get("/__profiler__/", headers=cookie_header(**cookies), status=200)
    renewed = set_cookies(answer)
    login = signer.read_login(renewed["linesman_login"]["value"], LOGIN_COOKIE_PURPOSE)
    header = signer.read_login(renewed["linesman_header"]["value"], SESSION_HEADER_PURPOSE)
    assert login is not None and login == header
    assert login.id == old.id and abs(login.issued - time.time()) < 60
    assert renewed["linesman_login"]["max-age"] == str(LIFETIME)
    # An app's response never sets a cookie, renewal or not.
    app_answer = client.get("/app", headers=cookie_header(**cookies))
    assert SESSION_HEADER in app_answer.headers and "Set-Cookie" not in app_answer.headers


def test_login_lifetime_is_an_option(make_profiled):
    middleware = make_profiled(apps.hello_app, login_lifetime="2h")
    _, answer = open_link(middleware)
    cookies = set_cookies(answer)
    assert {cookies[name]["max-age"] for name in ("linesman_login", "linesman_header")} == {"7200"}
    client = TestApp(middleware, extra_environ=LOCAL)
    three_hours = login_cookies(middleware, issued=time.time() - 3 * 3600)
    client.get("/__profiler__/", headers=cookie_header(**three_hours), status=401)
    for wrong in ("30s", "31d", "soon"):
        with pytest.raises(ConfigError, match="login_lifetime"):
            ProfilingMiddleware(apps.hello_app, login_lifetime=wrong)


@pytest.mark.parametrize(
    ("environ", "options", "secure"),
    [
        ({"wsgi.url_scheme": "https"}, {}, True),
        ({"HTTP_X_FORWARDED_PROTO": "https"}, {}, False),  # from anyone: not believed
        ({"HTTP_X_FORWARDED_PROTO": "https"}, {"trusted_proxies": "127.0.0.1"}, True),
        ({"HTTP_X_FORWARDED_PROTO": "http"}, {"trusted_proxies": "127.0.0.1"}, False),
        ({"HTTP_X_FORWARDED_PROTO": "https, http"}, {"trusted_proxies": "127.0.0.1"}, False),
        ({"HTTP_X_FORWARDED_PROTO": "https"}, {"trusted_proxies": "10.0.0.0/8"}, False),
    ],
)
def test_the_cookies_are_secure_over_https(make_profiled, environ, options, secure):
    middleware = make_profiled(apps.hello_app, **options)
    _, answer = open_link(middleware, **environ)
    cookies = set_cookies(answer)
    assert {"linesman_login", "linesman_header"} <= set(cookies)
    assert all(("secure" in cookie) is secure for cookie in cookies.values())
    client = TestApp(middleware, extra_environ={**LOCAL, **environ})
    page = client.get(
        "/__profiler__/", headers=cookie_header(**login_cookies(middleware)), status=200
    )
    assert ("secure" in set_cookies(page)["linesman_csrf"]) is secure


def waitress_script(ini: Path, port: int) -> list[str]:
    """waitress as users run it behind a proxy it trusts for X-Forwarded-Proto."""
    return [
        "-c",
        "from paste.deploy import loadapp; import waitress; "
        f"waitress.serve(loadapp('config:{ini}'), host='127.0.0.1', port={port}, "
        "trusted_proxy='127.0.0.1', trusted_proxy_headers='x-forwarded-proto')",
    ]


def http_request(port: int, path: str, headers: dict) -> tuple[int, dict[str, list[str]], bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        found: dict[str, list[str]] = {}
        for name, value in answer.getheaders():
            found.setdefault(name.lower(), []).append(value)
        return answer.status, found, answer.read()
    finally:
        connection.close()


@pytest.mark.server
def test_a_login_over_a_real_waitress_server(tmp_path):
    """The link, the login cookie, the session-header cookie and Secure behind
    an https proxy, through a real server."""
    store = tmp_path / "sessions.db"
    port = free_port()
    ini = demo_ini(tmp_path, store)
    token = login_headers(store)["X-Linesman-Token"]
    with running(waitress_script(ini, port), port):
        for proto, secure in (("https", True), ("http", False)):
            status, headers, _ = http_request(
                port, f"/__profiler__/?token={token}", {"X-Forwarded-Proto": proto}
            )
            assert status == 303
            lines = {line.split("=", 1)[0]: line for line in headers["set-cookie"]}
            for name, path in (("linesman_login", "/__profiler__"), ("linesman_header", "/")):
                parts = {part.strip() for part in lines[name].split(";")}
                assert {"HttpOnly", "SameSite=Lax", f"Path={path}"} <= parts
                assert ("secure" in {part.lower() for part in parts}) is secure
        login = lines["linesman_login"].split(";")[0]
        header = lines["linesman_header"].split(";")[0]
        assert http_request(port, "/__profiler__/", {"Cookie": login})[0] == 200
        assert http_request(port, "/__profiler__/", {"Cookie": header})[0] == 401
        status, headers, _ = http_request(port, "/json", {"Cookie": header})
        assert status == 200 and "x-linesman-session" in headers
        status, headers, _ = http_request(port, "/json", {})
        assert status == 200 and "x-linesman-session" not in headers


# -- linesman rotate -------------------------------------------------------------------
def linesman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "linesman", *args], capture_output=True, text=True, timeout=120
    )


def rotate_and_watch(store: str, first, second) -> None:
    """Log in to both middleware instances (one store), rotate, and poll until
    both refuse the old token, the old login and the old form token, and accept
    the new token."""
    clients = [ui_client(middleware) for middleware in (first, second)]
    old_token = first.current_signer().login_token
    assert second.current_signer().login_token == old_token  # one store, one secret
    old_forms = [csrf_token(client) for client in clients]
    for client, form in zip(clients, old_forms, strict=True):
        client.get("/__profiler__/", status=200)
        client.get("/__profiler__/api/state", headers={"X-Linesman-Token": old_token}, status=200)
        client.post("/__profiler__/state", {"csrf_token": form, "enabled": "on"}, status=200)
    result = linesman("rotate", store)
    assert result.returncode == 0, result.stderr
    assert "no longer works" in result.stdout
    assert old_token not in result.stdout  # the old token is not echoed, nor a new one
    url = linesman("url", store)
    assert url.returncode == 0, url.stderr
    new_token = url.stdout.strip().rsplit("token=", 1)[1]
    assert new_token != old_token

    for middleware, client in zip((first, second), clients, strict=True):
        # Each process's writer thread reads the store every half second: polled
        # through what an app's request sees, which never reads the store itself.
        wait_for(
            lambda middleware=middleware: middleware.current_signer(False).login_token == new_token,
            10,
            "the writer thread to read the new secret",
        )
        client.get("/__profiler__/", status=401)
        bare = TestApp(middleware, extra_environ=LOCAL)
        bare.get("/__profiler__/api/state", headers={"X-Linesman-Token": old_token}, status=401)
    for middleware, form in zip((first, second), old_forms, strict=True):
        # Logged in again with the new link: the old form token is refused all the same.
        fresh = TestApp(middleware, extra_environ=LOCAL)
        fresh.get(f"/__profiler__/?token={new_token}", status=303)
        fresh.get("/__profiler__/", status=200)
        refused = fresh.post(
            "/__profiler__/state", {"csrf_token": form, "enabled": "on"}, status=403
        )
        assert "security token" in refused.text
        new_form = csrf_token(fresh)
        assert new_form not in old_forms
        fresh.post("/__profiler__/state", {"csrf_token": new_form, "enabled": "on"}, status=200)
        fresh.get("/__profiler__/api/state", headers={"X-Linesman-Token": new_token}, status=200)


def test_rotate_ends_every_login_in_every_process_on_one_sqlite_file(make_profiled, tmp_path):
    store = tmp_path / "sessions.db"
    first = make_profiled(apps.hello_app, filename=str(store))
    second = make_profiled(apps.hello_app, filename=str(store))
    rotate_and_watch(str(store), first, second)


@pytest.mark.server
def test_rotate_ends_every_login_in_every_process_on_postgresql():
    """Two middleware instances on one PostgreSQL database (a schema of this test's
    own, so the command line's default table names are safe to use)."""
    import sqlalchemy as sa

    base = URLS["postgresql"]
    problem = reachable(base)
    require(problem is None, f"a postgresql server at {base} ({problem})")
    schema = f"login_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}?options=-csearch_path%3D{schema}"
    made = [
        ProfilingMiddleware(
            apps.hello_app, backend="linesman.backends.sqlalchemy:SQLAlchemyBackend", url=url
        )
        for _ in range(2)
    ]
    try:
        rotate_and_watch(url, *made)
    finally:
        for middleware in made:
            middleware.close()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_rotate_on_a_pickle_store_and_without_a_store(tmp_path):
    store = tmp_path / "sessions.dat"
    before = login_headers(store)
    assert linesman("rotate", str(store)).returncode == 0
    assert login_headers(store) != before
    missing = linesman("rotate", str(tmp_path / "nothing.db"))
    assert missing.returncode == 1 and "no store at" in missing.stderr


def test_the_writer_thread_brings_a_new_secret(make_profiled, tmp_path):
    """No request asks the store for the secret: the writer thread's next read of
    the store brings the new one, and the app's session-header cookie ends too."""
    store = tmp_path / "sessions.db"
    middleware = make_profiled(apps.hello_app, filename=str(store))
    client = TestApp(middleware, extra_environ=LOCAL)
    old = middleware.current_signer()
    header = cookie_header(linesman_header=login_cookies(middleware)["linesman_header"])
    assert SESSION_HEADER in client.get("/app", headers=header).headers
    middleware.backend.set_secret(b"\x01" * 32)
    wait_for(
        lambda: middleware.current_signer(False) is not old, 10, "the writer to read the secret"
    )
    assert middleware.current_signer(False).secret == b"\x01" * 32
    assert SESSION_HEADER not in client.get("/app", headers=header).headers


@pytest.mark.parametrize("kind", ["sqlite", "pickle", "sqlalchemy-sqlite", "postgresql", "mariadb"])
def test_a_new_secret_is_what_every_store_sharing_it_reads(kind, tmp_path):
    with racing_stores(kind, tmp_path, 1) as (first, (other,)):
        made = first.get_secret()
        assert other.get_secret() == made and len(made) == 32
        first.set_secret(b"\x02" * 32)
        assert other.get_secret() == b"\x02" * 32 == first.get_secret()


def test_a_seven_method_store_keeps_its_secret_in_the_process(tmp_path):
    store = FACTORIES["seven-only"](tmp_path)
    made = store.get_secret()
    store.set_secret(b"\x03" * 32)
    assert store.get_secret() == b"\x03" * 32 != made


def test_reading_a_made_secret_writes_nothing(tmp_path):
    """Each writer reads the secret every half second: once made, a read-only
    SQLite connection reads it (it was an INSERT each time)."""
    from urllib.parse import quote

    from linesman.backends.sqlite import SqliteBackend

    path = tmp_path / "sessions.db"
    store = SqliteBackend(filename=str(path))
    store.setup()
    made = store.get_secret()
    store.close()
    reader = SqliteBackend(filename=f"file:{quote(str(path))}?mode=ro")
    reader.setup()
    assert reader.get_secret() == made
    reader.close()


def test_a_process_that_has_not_read_the_secret_lately_reads_it_for_the_ui(make_profiled):
    """A worker idle since before a rotation has a writer that reads the store
    half a second after its first request: until then the UI reads the secret
    itself (``secret_fresh``, 5 s; 0 here, as for a long-idle worker), so the old
    login is refused at once, with no wait."""
    middleware = make_profiled(apps.hello_app)
    middleware.controls.secret_fresh = 0.0
    client = TestApp(middleware, extra_environ=LOCAL)
    cookies = cookie_header(**login_cookies(middleware))
    client.get("/__profiler__/", headers=cookies, status=200)
    middleware.backend.set_secret(b"\x04" * 32)
    client.get("/__profiler__/", headers=cookies, status=401)
