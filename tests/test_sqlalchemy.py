"""The SQLAlchemy backend on real servers: many processes, an outage, one switch for all."""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path

import pytest
from support import apps
from support.databases import middleware_on, server_backend
from support.private_postgres import private_postgresql
from support.processes import start_together
from support.servers import free_port, get, gunicorn_command, running
from support.waiting import wait_for
from support.wsgi_client import SESSION_HEADER, call

from linesman.backends.sqlalchemy import SQLAlchemyBackend
from linesman.config import ConfigError
from linesman.middleware import ProfilingMiddleware
from linesman.signing import Signer

pytestmark = pytest.mark.server


@pytest.fixture(params=["postgresql", "mariadb"])
def store(request):
    backend = server_backend(request.param)
    yield backend
    backend.drop_tables()
    backend.close()


def set_up(url: str, prefix: str) -> None:
    backend = SQLAlchemyBackend(url=url, table_prefix=prefix)
    backend.setup()
    backend.close()


def test_setup_from_many_processes_at_once(store):
    url = store.url.render_as_string(hide_password=False)
    workers = start_together(4, set_up, (url, store.table_prefix))
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    store.setup()
    assert store.count() == 0


def test_a_wrong_url_is_a_start_up_error():
    with pytest.raises(ConfigError, match="url"):
        SQLAlchemyBackend(url="not a url at all")
    with pytest.raises(ConfigError, match="nosuchdriver"):
        SQLAlchemyBackend(url="postgresql+nosuchdriver://x@127.0.0.1/test")


def test_an_unreachable_server_at_start_up_lets_the_app_serve(caplog):
    port = free_port()  # nothing listens there
    middleware = ProfilingMiddleware(
        apps.hello_app,
        backend="linesman.backends.sqlalchemy:SQLAlchemyBackend",
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/test",
        flush_timeout="0.2",
    )
    assert call(middleware).chunks == [b"hello"]
    assert middleware.health.store_error is not None
    assert f"127.0.0.1:{port}" in middleware.health.store_error
    middleware.close()


def test_the_ini_configures_it_with_a_here_relative_sqlite_url(tmp_path):
    from paste.deploy import loadapp

    ini = tmp_path / "app.ini"
    ini.write_text(
        textwrap.dedent("""
        [filter:linesman]
        use = egg:linesman#profiler
        backend = linesman.backends.sqlalchemy:SQLAlchemyBackend
        url = sqlite:///%(here)s/sessions.db

        [app:main]
        use = call:support.apps:make_hello
        filter-with = linesman
    """)
    )
    app = loadapp(f"config:{ini}")
    call(app, "/hello")
    assert app.flush(10)
    assert [s.path for s in app.backend.get_all().values()] == ["/hello"]
    assert (tmp_path / "sessions.db").exists()
    app.close()


def test_the_switch_set_in_one_host_is_off_in_the_other_within_a_second(store):
    first, second = middleware_on(store, apps.hello_app), middleware_on(store, apps.hello_app)
    call(second)  # its writer thread, which watches the switch, is running
    assert second.flush(10)
    first.set_enabled(False)
    started = time.monotonic()
    wait_for(lambda: not second.enabled, timeout=5, what="the switch off in the other host")
    assert time.monotonic() - started < 1.0
    assert call(second).header(SESSION_HEADER) is None
    first.set_enabled(True)
    wait_for(lambda: second.enabled, timeout=5, what="the switch on in the other host")
    first.close()
    second.close()


def test_deletes_from_one_host_are_seen_by_the_other(store):
    first, second = middleware_on(store, apps.hello_app), middleware_on(store, apps.hello_app)
    call(first, "/a")
    assert first.flush(10)
    assert second.backend.count() == 1
    assert second.backend.delete_all() == 1
    assert first.backend.count() == 0
    first.close()
    second.close()


def write_ini(folder: Path, url: str, prefix: str) -> Path:
    ini = folder / "app.ini"
    ini.write_text(
        textwrap.dedent(f"""
        [filter:linesman]
        use = egg:linesman#profiler
        backend = linesman.backends.sqlalchemy:SQLAlchemyBackend
        url = {url}
        table_prefix = {prefix}

        [app:main]
        use = egg:linesman#demo
        filter-with = linesman
    """)
    )
    return ini


def test_four_gunicorn_workers_store_every_session_once(store, tmp_path):
    url = store.url.render_as_string(hide_password=False)
    ini = write_ini(tmp_path, url, store.table_prefix)
    store.setup()
    login = {"X-Linesman-Token": Signer(store.get_secret()).login_token}
    port = free_port()
    answered: list[str] = []
    failures: list[object] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for request in range(10):
            try:
                status, headers, body = get(
                    port, "/json" if request % 2 else "/template", headers=login
                )
            except Exception as exc:  # pragma: no cover - reported below
                failures.append(exc)
                continue
            if status != 200:
                failures.append(status)
                continue
            with lock:
                answered.append(headers[SESSION_HEADER].split(";")[0])

    command = gunicorn_command(ini, port)
    with running(command, port):
        threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        deadline = time.monotonic() + 30
        while store.count() < 200 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert failures == []
    assert len(answered) == 200 == len(set(answered))
    stored = [summary["uuid"] for summary in store.list_summaries(0, 1000)]
    assert len(stored) == 200, "a session was lost or stored twice"
    assert set(stored) == set(answered)


def test_a_postgresql_restart_loses_no_session_and_no_request():
    """On a PostgreSQL server of the test's own, stopped and started again."""
    from linesman.backends.sqlalchemy import SQLAlchemyBackend

    with private_postgresql() as server:
        store = SQLAlchemyBackend(url=server.url, table_prefix="t_restart_")
        store.setup()
        middleware = middleware_on(store, apps.StreamingApp())
        bare = call(apps.StreamingApp())
        answers = []
        try:
            for _ in range(5):
                answers.append(call(middleware).comparable())
            assert middleware.flush(20)
            server.stop()
            for _ in range(20):  # during the outage
                started = time.perf_counter()
                answers.append(call(middleware).comparable())
                assert time.perf_counter() - started < 0.5, "the outage slowed a request"
            wait_for(lambda: middleware.health.store_error is not None, what="the outage noticed")
            assert middleware.writer.pending == 20
        finally:
            server.start()
        for _ in range(5):  # after it
            answers.append(call(middleware).comparable())
        assert middleware.flush(60), "the sessions made during the outage were not written"
        assert all(answer == bare.comparable() for answer in answers)
        assert store.count() == 30
        assert middleware.health.store_error is None
        middleware.close()
        store.close()


def test_poison_requests_are_stored_made_storable_and_storage_goes_on(store):
    """A NUL in the path (PostgreSQL: "text fields cannot contain NUL") and a 70 KB
    query (MariaDB: "Data too long for column 'query'") once stopped storage for good."""
    middleware = middleware_on(store, apps.hello_app)
    try:
        call(middleware, "/poison/\x00")
        call(middleware, "/long", QUERY_STRING="q=" + "a" * 70_000)
        call(middleware, "/after")
        assert middleware.flush(20), "the writer is stuck on a poison session"
        rows = {row["path"]: row for row in store.summaries()}
        assert set(rows) == {"/poison/%00", "/long", "/after"}
        assert len(rows["/long"]["query"]) <= 8000 and rows["/long"]["query"].endswith("…")
        assert middleware.health.counts().get("lost.refused_by_store", 0) == 0
    finally:
        middleware.close()


def test_a_session_the_store_refuses_is_dropped_alone(store):
    """A session whose content a column cannot take (here an id too long for its
    column) is dropped and counted; the rest of its batch and what follows are stored."""
    import cProfile

    from linesman.storage.record import ProfileRecord

    middleware = middleware_on(store, apps.hello_app)
    try:
        profile = cProfile.Profile()
        profile.enable()
        sorted(range(100))
        profile.disable()

        def record(uuid: str, path: str) -> ProfileRecord:
            return ProfileRecord(
                profile, {"PATH_INFO": path}, uuid, time.time(), 0.01, 0.01, 200, 5, None, False
            )

        good = ["00000000-0000-4000-8000-00000000000" + str(n) for n in range(2)]
        middleware.writer.submit(record(good[0], "/good/0"))
        middleware.writer.submit(record("x" * 40, "/refused"))
        middleware.writer.submit(record(good[1], "/good/1"))
        assert middleware.flush(20), "the writer is stuck on a refused session"
        call(middleware, "/later")
        assert middleware.flush(20)
        paths = sorted(row["path"] for row in store.summaries())
        assert paths == ["/good/0", "/good/1", "/later"]
        assert middleware.health.counts()["lost.refused_by_store"] == 1
        assert middleware.health.store_error is None  # refusing one is not an outage
    finally:
        middleware.close()


def test_a_nul_in_the_path_filter_is_an_answer_not_store_trouble(store):
    """PostgreSQL refuses NUL in text: the list's filter once answered 503 and put
    up a false "store trouble" banner."""
    from support.login import ui_client

    middleware = middleware_on(store, apps.hello_app)
    try:
        call(middleware, "/poison/\x00")
        assert middleware.flush(20)
        client = ui_client(middleware)
        page = client.get("/__profiler__/?path=%00")
        assert page.status_int == 200 and "/poison/%00" in page.text
        api = client.get("/__profiler__/api/sessions?path=%00").json
        assert [row["path"] for row in api["sessions"]] == ["/poison/%00"]
        assert middleware.health.store_error is None
    finally:
        middleware.close()


def test_backend_option_errors_name_the_option():
    for options, name in (({"pool_size": "lots"}, "pool_size"), ({"echo": "maybe"}, "echo")):
        with pytest.raises(ConfigError, match=f"linesman option {name} = "):
            SQLAlchemyBackend(url="postgresql+psycopg://postgres@127.0.0.1:5432/test", **options)
