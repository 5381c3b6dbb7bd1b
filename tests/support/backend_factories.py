"""Every backend linesman ships (and a seven-method one), made fresh for a test."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from linesman.backends.base import Backend
from linesman.backends.pickle import PickleBackend
from linesman.backends.sqlite import SqliteBackend
from support.databases import server_backend


class SevenOnlyBackend(Backend):
    """A third-party backend written against the seven documented methods only."""

    def __init__(self):
        self.sessions = OrderedDict()

    def setup(self):
        pass

    def add(self, session):
        self.sessions[session.uuid] = session

    def get(self, session_uuid):
        return self.sessions.get(session_uuid)

    def get_all(self):
        return OrderedDict(sorted(self.sessions.items(), key=lambda item: item[1].started))

    def delete(self, session_uuid):
        return 1 if self.sessions.pop(session_uuid, None) is not None else 0

    def delete_many(self, session_uuids):
        return sum(self.delete(uuid) for uuid in session_uuids)

    def delete_all(self):
        count = len(self.sessions)
        self.sessions.clear()
        return count


def make_sqlite(tmp_path):
    return SqliteBackend(filename=str(tmp_path / "sessions.db"))


def make_pickle(tmp_path):
    return PickleBackend(filename=str(tmp_path / "sessions.dat"))


def make_seven_only(tmp_path):
    return SevenOnlyBackend()


def make_sqlalchemy_sqlite(tmp_path):
    from linesman.backends.sqlalchemy import SQLAlchemyBackend

    return SQLAlchemyBackend(url=f"sqlite:///{tmp_path / 'sa.db'}")


def make_postgresql(tmp_path):
    return server_backend("postgresql")


def make_mariadb(tmp_path):
    return server_backend("mariadb")


FACTORIES = {
    "sqlite": make_sqlite,
    "pickle": make_pickle,
    "seven-only": make_seven_only,
    "sqlalchemy-sqlite": make_sqlalchemy_sqlite,
    "postgresql": make_postgresql,
    "mariadb": make_mariadb,
}
PERSISTENT = {"sqlite", "pickle", "sqlalchemy-sqlite"}


@contextmanager
def racing_stores(kind: str, tmp_path, count: int) -> Iterator[tuple]:
    """A store of ``kind``, set up, and ``count`` more on the same data, each with
    its own connection, as racing processes have; all closed (and a server's
    tables dropped) afterwards."""
    first = FACTORIES[kind](tmp_path)
    first.setup()
    stores = [
        FACTORIES[kind](tmp_path) if kind in PERSISTENT else _same_tables(first)
        for _ in range(count)
    ]
    try:
        yield first, stores
    finally:
        for store in stores:
            store.close()
        if hasattr(first, "drop_tables"):
            first.drop_tables()
        first.close()


def _same_tables(store):
    from linesman.backends.sqlalchemy import SQLAlchemyBackend

    return SQLAlchemyBackend(
        url=store.url.render_as_string(hide_password=False), table_prefix=store.table_prefix
    )
