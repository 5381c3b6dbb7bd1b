"""More of the trust suite: a PostgreSQL server that drops connections under load, four
gunicorn workers on one SQLite file, symlinks in the static folder, damaged documents."""

from __future__ import annotations

import threading
import time

import pytest
from support import apps
from support.databases import middleware_on, server_backend
from support.login import ui_client
from support.servers import demo_ini, free_port, get, gunicorn_command, login_headers, running
from support.wsgi_client import SESSION_HEADER, call

from linesman.backends.sqlite import SqliteBackend

LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}

pytestmark = pytest.mark.server


def test_connections_terminated_under_load_lose_no_session():
    store = server_backend("postgresql")
    store.setup()
    middleware = middleware_on(store, apps.StreamingApp())
    bare = call(apps.StreamingApp()).comparable()
    killer_store = server_backend("postgresql")
    stop = threading.Event()
    kills = []

    def terminate_connections() -> None:
        import sqlalchemy as sa

        with killer_store.engine.connect() as connection:
            while not stop.is_set():
                killed = connection.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend'"
                    )
                ).scalar()
                connection.commit()
                kills.append(killed)
                time.sleep(0.05)

    killer = threading.Thread(target=terminate_connections)
    killer.start()
    answers = []
    try:
        started = time.monotonic()
        while time.monotonic() - started < 4 or len(answers) < 200:
            answers.append(call(middleware).comparable())
            time.sleep(0.005)
    finally:
        stop.set()
        killer.join(30)
    assert all(answer == bare for answer in answers)
    assert sum(kills) > 0, "no connection was terminated: the test proved nothing"
    assert middleware.flush(60)
    skipped = middleware.health.counts().get("skipped.busy", 0)  # 3.12+: writer reconnecting
    assert store.count() + skipped == len(answers)
    assert store.count() >= len(answers) // 2
    middleware.close()
    killer_store.close()
    store.drop_tables()
    store.close()


def test_four_gunicorn_workers_on_one_sqlite_file_while_the_list_is_read(tmp_path):
    store = tmp_path / "sessions.db"
    ini = demo_ini(tmp_path, store)
    port = free_port()
    answered, failures = [], []
    lock = threading.Lock()
    stop = threading.Event()
    login = login_headers(store)  # every worker must accept the store's one token

    def client() -> None:
        for number in range(200):
            status, headers, _ = get(port, "/json" if number % 2 else "/template", headers=login)
            with lock:
                if status != 200 or SESSION_HEADER not in headers:
                    failures.append(status)
                else:
                    answered.append(headers[SESSION_HEADER].split(";")[0])

    def reader() -> None:
        while not stop.is_set():
            status, _, _ = get(port, "/__profiler__/", headers=login)
            if status != 200:
                failures.append(("list", status))

    command = gunicorn_command(ini, port)
    with running(command, port):
        watching = threading.Thread(target=reader)
        watching.start()
        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(120)
        stop.set()
        watching.join(30)
        backend = SqliteBackend(filename=str(store))
        deadline = time.monotonic() + 60
        while backend.count() < 800 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert failures == []
    assert len(answered) == 800 == len(set(answered))
    stored = [row["uuid"] for row in backend.list_summaries(0, 2000)]
    assert sorted(stored) == sorted(answered), "a session was lost or stored twice"
    assert backend.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    backend.close()


def test_a_symlink_out_of_the_static_folder_is_not_followed(make_profiled, tmp_path):
    from linesman.web.ui import asset_folder

    secret = tmp_path / "secret.css"
    secret.write_text("body { content: 'private' }")
    link = asset_folder("static") / "zz-test-link.css"
    link.symlink_to(secret)
    try:
        client = ui_client(make_profiled(apps.hello_app))
        page = client.get("/__profiler__/static/zz-test-link.css", expect_errors=True)
        assert page.status_int == 404
        assert b"private" not in page.body
    finally:
        link.unlink()


def test_an_undecodable_document_is_flagged_in_the_list(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = ui_client(middleware)
    uuids = []
    for path in ("/kept", "/damaged"):
        uuids.append(client.get(path).headers[SESSION_HEADER].split(";")[0])
        assert middleware.flush(10)
    middleware.backend.conn.execute(
        "UPDATE sessions SET document = x'00' WHERE uuid = ?", (uuids[1],)
    )
    client.get(f"/__profiler__/profiles/{uuids[1]}", status=410)
    page = client.get("/__profiler__/")
    assert page.text.count('class="damaged"') == 1
    assert "cannot be read" in page.text
    assert f"/__profiler__/profiles/{uuids[0]}" in page.text
