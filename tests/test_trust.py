"""Faults, load and hostile input: linesman never harms the app and never loses a session."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import apps
from support.login import ui_client
from support.servers import free_port, login_headers, running
from support.wsgi_client import call

from linesman.backends.sqlite import SqliteBackend
from linesman.middleware import ProfilingMiddleware

LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}
HERE = os.path.dirname(os.path.abspath(__file__))


# Past every deadline linesman has: the writer's first store call waits out SQLite's
# busy timeout (5 s) and fails, the retry after the backoff waits it out again, and
# the lock still holds; a request never waits for either.
LOCK_SECONDS = 12


def test_a_sqlite_file_locked_past_its_busy_timeout_delays_storage_not_requests(tmp_path):
    store = tmp_path / "s.db"
    middleware = ProfilingMiddleware(apps.StreamingApp(), filename=str(store))
    bare = call(apps.StreamingApp()).comparable()
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import sqlite3, sys, time
            connection = sqlite3.connect(sys.argv[1], isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(float(sys.argv[2]))
            connection.execute("COMMIT")
        """),
            str(store),
            str(LOCK_SECONDS),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout.readline().strip() == "locked"
    slowest = 0.0
    started = time.monotonic()
    requests = 0
    while locker.poll() is None and time.monotonic() - started < LOCK_SECONDS + 10:
        begun = time.perf_counter()
        assert call(middleware).comparable() == bare
        slowest = max(slowest, time.perf_counter() - begun)
        requests += 1
        time.sleep(0.1)  # a request every tenth of a second, all through the lock
    assert locker.wait(60) == 0
    assert requests >= 40
    assert middleware.backend.timeout * 2 < LOCK_SECONDS
    assert slowest < 0.25, f"a request took {slowest:.3f} s while the file was locked"
    assert middleware.flush(60), "writes did not resume after the lock"
    counts = middleware.health.counts()
    assert counts.get("error.store", 0) >= 1
    # Where one profiler sees every thread (3.12+), a request that comes while the
    # writer is stuck on the lock is served unprofiled, and counted as such.
    skipped = counts.get("skipped.busy", 0)
    assert middleware.backend.count() + skipped == requests
    if not middleware.gate.exclusive:
        assert skipped == 0
    middleware.close()


def test_a_full_disk_loses_sessions_not_responses_nor_the_store(tmp_path):
    store = tmp_path / "s.db"
    script = textwrap.dedent(f"""
        import json, resource, signal, sys
        sys.path.insert(0, {HERE!r})
        from linesman.middleware import ProfilingMiddleware
        from support import apps
        from support.wsgi_client import call
        middleware = ProfilingMiddleware(apps.StreamingApp(), filename={str(store)!r},
                                         flush_timeout="1")
        bare = call(apps.StreamingApp()).comparable()
        for _ in range(5):
            call(middleware)
            middleware.flush(10)
        size = sum(__import__("os").path.getsize(p) for p in
                   [{str(store)!r}, {str(store)!r} + "-wal"] if __import__("os").path.exists(p))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))  # the disk is now full
        same = all(call(middleware).comparable() == bare for _ in range(40))
        middleware.flush(3)
        print(json.dumps({{"same": same, "error": middleware.health.store_error,
                          "counts": middleware.health.counts()}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["same"] is True
    assert report["error"] and (
        "full" in report["error"] or "disk" in report["error"] or "I/O" in report["error"]
    )
    backend = SqliteBackend(filename=str(store))
    assert backend.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert backend.count() >= 5, "sessions stored before the disk filled were lost"
    backend.close()


def test_twenty_thousand_requests_keep_memory_threads_and_connections_bounded(tmp_path):
    middleware = ProfilingMiddleware(
        apps.hello_app, filename=str(tmp_path / "s.db"), max_sessions="200"
    )

    def resident() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    run = ui_client(middleware)
    for _ in range(2000):
        run.get("/x")
    assert middleware.flush(60)
    memory, threads = resident(), threading.active_count()
    descriptors = len(os.listdir("/proc/self/fd"))  # the store's connections among them
    for _ in range(18000):
        run.get("/x")
    assert middleware.flush(60)
    grown = resident() - memory
    assert grown < 16 * 1024 * 1024, f"resident memory grew by {grown / 1e6:.1f} MB"
    assert threading.active_count() == threads
    assert len(os.listdir("/proc/self/fd")) <= descriptors
    assert middleware.backend.count() <= 220
    middleware.close()


def test_a_50_mb_upload_passes_through_byte_identical(make_profiled):
    def digest_app(environ, start_response):
        digest = hashlib.sha256()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        while length:
            chunk = environ["wsgi.input"].read(min(length, 1 << 20))
            digest.update(chunk)
            length -= len(chunk)
        body = digest.hexdigest().encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    payload = os.urandom(1 << 20) * 50
    middleware = make_profiled(digest_app)
    answer = ui_client(middleware).post("/upload", payload, content_type="application/octet-stream")
    assert answer.body == hashlib.sha256(payload).hexdigest().encode()
    assert "X-Linesman-Session" in answer.headers


@pytest.mark.parametrize(
    "path",
    [
        "/__profiler__/static/..%5c..%5csetup.cfg",
        "/__profiler__/static/..\\..\\setup.cfg",
        "/__profiler__/static/%252e%252e%252fsetup.cfg",
        "/__profiler__/static/linesman.css%00.js",
        "/__profiler__/static/",
        "/__profiler__/static/vendor",
        "/__profiler__/static/.",
    ],
)
def test_more_traversal_spellings_are_404(make_profiled, path):
    client = ui_client(make_profiled(apps.hello_app))
    page = client.get(path, expect_errors=True)
    assert page.status_int == 404
    assert "setup.cfg" not in page.text and "[metadata]" not in page.text


PROBE = "<x-probe onmouseover=1>"
segments = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20
).map(lambda text: text + PROBE)


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    middleware = ProfilingMiddleware(apps.hello_app, filename=str(folder / "s.db"))
    client = ui_client(middleware)
    for path in ("/one", "/two"):
        client.get(path)
    assert middleware.flush(10)
    uuid = middleware.backend.list_summaries(0, 1)[0]["uuid"]
    yield middleware, uuid
    middleware.close()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]),
    route=st.sampled_from(
        [
            "/",
            "/profiles/{uuid}",
            "/profiles/{x}",
            "/profiles/{uuid}.prof",
            "/profiles/{uuid}.dot",
            "/delete/{uuid}",
            "/delete",
            "/delete/all",
            "/delete/matching",
            "/state",
            "/api/sessions",
            "/api/sessions/{uuid}",
            "/api/state",
            "/static/{x}",
            "/{x}",
        ]
    ),
    word=segments,
    query=st.dictionaries(
        st.sampled_from(
            [
                "path",
                "method",
                "status",
                "min_ms",
                "sort",
                "order",
                "page",
                "cutoff",
                "packages",
                "per_page",
                "deleted",
                "x",
            ]
        ),
        segments,
        max_size=4,
    ),
    form=st.dictionaries(
        st.sampled_from(["csrf_token", "session_uuids[]", "enabled", "path", "return_to"]),
        segments,
        max_size=3,
    ),
    header=segments,
)
def test_no_input_gives_a_5xx_a_reflection_or_a_change(
    fuzz_target, method, route, word, query, form, header
):
    middleware, uuid = fuzz_target
    client = ui_client(middleware)
    path = "/__profiler__" + route.replace("{uuid}", uuid).replace(
        "{x}", re.sub(r"[\x00-\x1f\x7f]", "", word)
    )
    before = (middleware.backend.count(), middleware.enabled)
    response = _request(client, method, path, query, form, header)
    assert response.status_int < 500, (response.status, path)
    assert PROBE.encode() not in response.body, "input came back unescaped"
    assert (middleware.backend.count(), middleware.enabled) == before, "changed without a token"


def _request(client, method, path, query, form, header):
    from urllib.parse import quote, urlencode

    url = quote(path, safe="/%") + ("?" + urlencode(query) if query else "")
    return client.request(
        url,
        method=method,
        expect_errors=True,
        body=urlencode(form).encode() if form else b"",
        headers={"X-Probe": quote(header), "Content-Type": "application/x-www-form-urlencoded"},
    )


@pytest.mark.server
def test_the_switch_and_the_list_under_load(tmp_path):
    store = tmp_path / "s.db"
    port = free_port()
    script = os.path.join(HERE, "support", "marker_server.py")
    failures: list[object] = []
    stop = threading.Event()

    def client(number: int) -> None:
        for _ in range(50):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", f"/r{number}")
            response = connection.getresponse()
            if response.status != 200 or response.read() != f"route {number}".encode():
                failures.append(("app", response.status))
            connection.close()

    def operator() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/__profiler__/", headers=login)
        response = connection.getresponse()
        page = response.read().decode()
        cookie = response.getheader("Set-Cookie").split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        turn = "off"
        while not stop.is_set():
            for method, path, body in (
                ("POST", "/__profiler__/state", f"csrf_token={token}&enabled={turn}"),
                ("GET", "/__profiler__/", None),
                ("GET", "/__profiler__/api/sessions", None),
            ):
                connection.request(
                    method,
                    path,
                    body=body,
                    headers={
                        **login,
                        "Cookie": cookie,
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
                response = connection.getresponse()
                response.read()
                if response.status >= 400:
                    failures.append((path, response.status))
            turn = "on" if turn == "off" else "off"
        connection.close()

    login = login_headers(store)
    with running([script, str(port), str(store), "8"], port):
        workers = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        watcher = threading.Thread(target=operator)
        watcher.start()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        stop.set()
        watcher.join(30)
    assert failures == []
    backend = SqliteBackend(filename=str(store))
    assert backend.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for session in backend.get_all().values():
        markers = {f.name for f in session.functions if f.name.startswith("marker_")}
        assert markers == {f"marker_{session.path[2:]}"}
    backend.close()
