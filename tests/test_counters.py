"""Store-wide counters: profiled, stored and skipped, summed over every process
that shares a store, kept in the store and added to by each writer."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
from support import apps
from support.backend_factories import FACTORIES, opening_of, racing_stores
from support.counter_race import expected_sums, race
from support.databases import server_backend
from support.login import ui_client
from support.pages import visible_text
from support.servers import demo_ini, free_port, get, gunicorn_command, login_headers, running
from support.waiting import wait_for

from linesman.backends.sqlite import SqliteBackend


@pytest.mark.parametrize("kind", ["sqlite", "sqlalchemy-sqlite", "postgresql", "mariadb"])
def test_counters_add_up_across_racing_connections(kind, tmp_path):
    """Six connections add to the same counters at once, creating them as they go:
    no addition is lost and none is counted twice."""
    errors: list[BaseException] = []

    def add(store):
        try:
            for _ in range(20):
                store.add_counters({"profiled": 2, "stored": 1, "skipped.busy": 1})
        except BaseException as exc:  # reported below
            errors.append(exc)

    with racing_stores(kind, tmp_path, 6) as (first, stores):
        threads = [threading.Thread(target=add, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert first.read_counters() == {"profiled": 240, "stored": 120, "skipped.busy": 120}
        assert first.shares_counters


# The figure is 2,000 additions a process; on a database server every
# one is a committed transaction (a disk sync), which on a loaded two-core machine
# takes a few milliseconds: LINESMAN_TEST_COUNTER_ADDITIONS=2000 runs it in full.
SERVER_ADDITIONS = int(os.environ.get("LINESMAN_TEST_COUNTER_ADDITIONS", "400"))


@pytest.mark.parametrize(
    ("kind", "additions"),
    [("sqlite", 2000), ("postgresql", SERVER_ADDITIONS), ("mariadb", SERVER_ADDITIONS)],
)
def test_counters_add_up_across_racing_processes(kind, additions, tmp_path):
    """Eight processes, each with its own store object, add to the counters at
    once, creating new ones all through: exact sums, and nothing refused, retried
    or logged on the way (a deadlock, even one retried away, would show here)."""
    processes = 8
    with racing_stores(kind, tmp_path, 0) as (first, _):
        began = time.perf_counter()
        reports = race(opening_of(kind, first), processes, additions)
        print(f"{kind}: {processes} x {additions} in {time.perf_counter() - began:.1f} s")
        assert [report.error for report in reports] == [None] * processes
        assert [report.logged for report in reports] == [[]] * processes
        assert first.read_counters() == expected_sums(processes, additions)


@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "sqlalchemy-sqlite"])
def test_counters_a_store_kept_before_writer_rows_are_kept_and_added_to(kind, tmp_path):
    """A store from before each writer had its own rows: the shared counters table
    holds the counts; setting the store up again keeps them, and new counts add."""
    if kind == "sqlalchemy-sqlite":
        from linesman.backends.sqlalchemy import SQLAlchemyBackend

        old = SQLAlchemyBackend(url=f"sqlite:///{tmp_path / 'old.db'}")
    else:
        old = server_backend(kind)
    try:
        tables = old.tables
        with old.engine.begin() as connection:  # the tables as the earlier store made them
            for table in (tables.sessions, tables.settings, tables.counters):
                table.create(connection)
            connection.execute(
                sa.insert(tables.counters),
                [{"name": "profiled", "value": 40}, {"name": "stored", "value": 38}],
            )
        old.setup()
        assert old.read_counters() == {"profiled": 40, "stored": 38}
        old.add_counters({"profiled": 2, "stored": 1, "skipped.busy": 1})
        assert old.read_counters() == {"profiled": 42, "stored": 39, "skipped.busy": 1}
    finally:
        old.drop_tables()
        old.close()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_counters_a_forked_child_adds_to_rows_of_its_own(kind):
    """A worker forked from a process that has added (gunicorn's preload) gets its
    own writer rows: parent and child never wait on each other's locks."""
    store = server_backend(kind)
    store.setup()
    try:
        store.add_counters({"stored": 1})
        parent_writer = store._writer()[0]
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                store.add_counters({"stored": 2})
                os.write(write, store._writer()[0].encode())
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        os.close(write)
        child_writer = os.read(read, 64).decode()
        os.close(read)
        assert os.waitstatus_to_exitcode(status) == 0
        assert child_writer and child_writer != parent_writer
        assert store.read_counters() == {"stored": 3}
    finally:
        store.drop_tables()
        store.close()


def test_a_seven_method_backend_keeps_its_counters_in_the_process(tmp_path):
    store = FACTORIES["seven-only"](tmp_path)
    store.add_counters({"stored": 2})
    store.add_counters({"stored": 3, "skipped.busy": 0})
    assert store.read_counters() == {"stored": 5, "skipped.busy": 0}
    assert not store.shares_counters


def test_a_store_from_before_the_counters_reads_as_none_yet(tmp_path):
    """A file written before this table existed, opened read-only (linesman view)."""
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE sessions (uuid TEXT PRIMARY KEY)")
    connection.close()
    store = SqliteBackend(filename=f"file:{path}?mode=ro")
    store.setup()
    assert store.read_counters() == {}
    store.close()


def test_the_writer_adds_its_counts_to_the_store_and_the_list_shows_both(make_profiled):
    middleware = make_profiled(apps.hello_app)
    client = ui_client(middleware)
    for number in range(3):
        client.get(f"/page/{number}")
    assert middleware.flush(10)
    assert middleware.backend.read_counters() == {"profiled": 3, "stored": 3}
    page = client.get("/__profiler__/")
    # One line when the store's figures are this process's own.
    assert "Every process sharing this store: 3 profiled, 3 stored." in page.text
    assert "This process:" not in page.text
    # Another process's work, as the store sees it.
    middleware.backend.add_counters({"profiled": 4, "stored": 2, "skipped.busy": 2})
    page = client.get("/__profiler__/")
    text = visible_text(page.text)
    assert "Every process sharing this store: 7 profiled, 5 stored, 2 skipped — 2 busy:" in text
    assert "This process: 3 profiled, 3 stored." in text


def test_counts_the_store_refused_are_kept_and_added_later(make_profiled, tmp_path):
    """A store that cannot be written for a while: the counts wait in the process
    and reach the store once it takes writes again."""
    middleware = make_profiled(apps.hello_app)
    client = ui_client(middleware)
    client.get("/one")
    assert middleware.flush(10)
    store = middleware.backend
    # A real lock held by another connection: the store refuses writes meanwhile.
    blocker = sqlite3.connect(store.filename, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    store.timeout = 0.1
    store.conn.execute("PRAGMA busy_timeout = 100")
    middleware.health.count("skipped.busy", 3)
    middleware.writer._share_counts()
    assert middleware.health.store_error is not None
    blocker.rollback()
    blocker.close()
    middleware.writer._share_counts()
    assert store.read_counters() == {"profiled": 1, "stored": 1, "skipped.busy": 3}


def test_two_gunicorn_workers_add_up_to_what_the_store_holds(tmp_path):
    """The issue's case: two worker processes share one store; each knows its own
    figures, and the list's store-wide line matches the sessions they stored."""
    store = tmp_path / "sessions.db"
    ini = demo_ini(tmp_path, store)
    port = free_port()
    login = login_headers(store)
    requests = 24
    statuses: list[int] = []

    def client(first: int) -> None:
        for number in range(first, requests, 4):
            statuses.append(get(port, f"/slow?n={number}")[0])

    with running(gunicorn_command(ini, port, workers=2), port):
        clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in clients:  # four at once keep both sync workers busy
            thread.start()
        for thread in clients:
            thread.join(60)
        assert statuses == [200] * requests
        backend = SqliteBackend(filename=str(store))
        wait_for(lambda: backend.count() == requests, timeout=60)
        wait_for(lambda: backend.read_counters().get("stored") == requests, timeout=60)
        assert backend.read_counters() == {"profiled": requests, "stored": requests}
        lines: set[str] = set()
        for _ in range(12):  # reloads reach both workers
            status, _, body = get(port, "/__profiler__/", headers=login)
            assert status == 200
            text = visible_text(body.decode())
            assert f"Every process sharing this store: {requests} profiled, {requests} stored." in (
                text
            )
            lines.update(re.findall(r"This process: (\d+) profiled, (\d+) stored", text))
        backend.close()
    own = {int(profiled) for profiled, stored in lines}
    assert own and all(0 < number < requests for number in own), lines
    if len(own) == 2:  # both workers answered a reload
        assert sum(own) == requests


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_a_write_refused_for_a_lock_held_too_long_is_tried_again(kind, caplog):
    """Another connection holds the switch's row past the store's lock timeout:
    the server refuses the write, the store waits a little and tries again, and
    once the lock is gone the write lands."""
    store = server_backend(kind, timeout=1)
    store.setup()
    store.set_enabled(True)
    done: list[object] = []
    try:
        settings = store.settings
        with store.engine.connect() as holder:
            holding = holder.begin()
            holder.execute(
                sa.select(settings.c.value).where(settings.c.name == "enabled").with_for_update()
            )
            writer = threading.Thread(target=lambda: done.append(store.set_enabled(False)))
            with caplog.at_level(logging.WARNING, logger="linesman"):
                writer.start()
                try:
                    wait_for(lambda: "refused a write for now" in caplog.text, timeout=30)
                finally:
                    holding.rollback()
                writer.join(30)
        assert done == [None]
        assert store.get_enabled() is False
        assert "trying again" in caplog.text and "(2 of 3)" in caplog.text
    finally:
        store.drop_tables()
        store.close()


def test_an_outage_is_not_retried_by_the_store(caplog):
    """A server that does not answer is the writer's to wait for (its backlog backs
    off): the store raises at once rather than trying again itself."""
    from linesman.backends.base import BackendError
    from linesman.backends.sqlalchemy import SQLAlchemyBackend

    store = SQLAlchemyBackend(
        url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x", timeout=1
    )
    with caplog.at_level(logging.WARNING, logger="linesman"):
        with pytest.raises(BackendError):
            store.add_counters({"stored": 1})
    assert "refused a write for now" not in caplog.text
    store.close()
