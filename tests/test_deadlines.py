"""A locked store holds no app thread for long: every call linesman makes to a
store from an app's thread ends within the store's ``timeout``, and start-up waits
for the store at most ``STARTUP_WAIT``. Tried on real locks: a PostgreSQL and a
MariaDB table locked by another connection, a SQLite file locked by another process."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import sqlalchemy as sa
from support import apps
from support.databases import middleware_on, server_backend
from support.login import ui_client
from support.waiting import wait_for
from support.wsgi_client import call

from linesman.middleware import STARTUP_WAIT, ProfilingMiddleware

TIMEOUT = 1.0  # the store's deadline in these tests
SLACK = 3.0  # what a loaded machine adds on top, at most


def lock_statements(kind: str, table: str) -> tuple[list[str], list[str]]:
    if kind == "postgresql":
        return ["BEGIN", f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"], ["COMMIT"]
    return [f"LOCK TABLES {table} WRITE"], ["UNLOCK TABLES"]


class HeldLock:
    """Another connection holding ``table`` locked until released."""

    def __init__(self, store, kind: str, table: str) -> None:
        self.engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
        self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.take, self.give = lock_statements(kind, table)

    def __enter__(self) -> HeldLock:
        for statement in self.take:
            self.connection.exec_driver_sql(statement)
        return self

    def __exit__(self, *exc_info) -> None:
        for statement in self.give:
            self.connection.exec_driver_sql(statement)
        self.connection.close()
        self.engine.dispose()


@pytest.fixture(params=["postgresql", "mariadb"])
def server_store(request):
    store = server_backend(request.param, timeout=str(TIMEOUT))
    store.setup()
    yield request.param, store
    store.metadata.drop_all(store.engine)
    store.engine.dispose()


def timed(call_it) -> tuple[float, object]:
    begun = time.perf_counter()
    result = call_it()
    return time.perf_counter() - begun, result


def test_ui_pages_end_within_the_deadline_while_a_table_is_locked(server_store):
    kind, store = server_store
    middleware = middleware_on(store, apps.hello_app, timeout=str(TIMEOUT))
    client = ui_client(middleware)
    assert client.get("/__profiler__/").status_int == 200
    try:
        with HeldLock(store, kind, f"{store.table_prefix}sessions"):
            answers = []

            def load() -> None:
                answers.append(timed(lambda: client.get("/__profiler__/", expect_errors=True)))

            loaders = [threading.Thread(target=load) for _ in range(3)]
            for loader in loaders:
                loader.start()
            # The app's own request is answered at once, beside the stuck pages.
            took, outcome = timed(lambda: call(middleware))
            assert outcome.chunks == [b"hello"]
            assert took < SLACK
            for loader in loaders:
                loader.join(60)
            assert len(answers) == 3
            for took, page in answers:
                assert page.status_int == 503
                assert "Store trouble" in page.text
                assert took < TIMEOUT + SLACK, f"a page held its thread {took:.1f} s"
        assert client.get("/__profiler__/").status_int == 200, "the store serves again"
    finally:
        middleware.close()


def test_start_up_does_not_wait_for_a_locked_store(server_store, caplog):
    kind, store = server_store
    with HeldLock(store, kind, f"{store.table_prefix}settings"):
        with caplog.at_level(logging.WARNING, logger="linesman"):
            took, middleware = timed(
                lambda: middleware_on(store, apps.hello_app, timeout="30")  # a long deadline
            )
        try:
            assert took < STARTUP_WAIT + SLACK, f"start-up waited {took:.1f} s"
            assert "did not answer" in caplog.text
            assert call(middleware).chunks == [b"hello"]
        except BaseException:
            middleware.close()
            raise
    try:
        # Once the lock is gone, the writer sets the store up and stores the sessions.
        call(middleware)
        wait_for(lambda: store.count() >= 1, timeout=40, what="sessions stored after the lock")
    finally:
        middleware.close()


def test_start_up_does_not_wait_for_a_locked_sqlite_file(tmp_path):
    store = tmp_path / "sessions.db"
    ProfilingMiddleware(apps.hello_app, filename=str(store)).close()  # made, then locked
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import sqlite3, sys
            connection = sqlite3.connect(sys.argv[1], isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
            connection.execute("COMMIT")
            """),
            str(store),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout.readline().strip() == "locked"
        took, middleware = timed(
            lambda: ProfilingMiddleware(apps.hello_app, filename=str(store), timeout="30")
        )
        assert took < STARTUP_WAIT + SLACK, f"start-up waited {took:.1f} s"
        assert call(middleware).chunks == [b"hello"]
    finally:
        locker.stdin.write("\n")
        locker.stdin.close()
        assert locker.wait(30) == 0
    try:
        wait_for(lambda: middleware.flush(1) and middleware.backend.count() == 1, timeout=40)
    finally:
        middleware.close()


def test_a_deadline_of_zero_is_a_start_up_error_naming_it(tmp_path):
    from linesman.config import ConfigError

    with pytest.raises(ConfigError, match="timeout"):
        ProfilingMiddleware(
            apps.hello_app,
            backend="linesman.backends.sqlalchemy:SQLAlchemyBackend",
            url=f"sqlite:///{tmp_path}/s.db",
            timeout="0",
        )
