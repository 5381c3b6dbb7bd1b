"""A store on a database server, shared by every process and host of an app.

Any database SQLAlchemy speaks to will do; PostgreSQL (psycopg 3) and MariaDB
(PyMySQL) are tested. The schema is the SQLite store's: summary columns with
the indexes the list page sorts and filters on, the compressed JSON document
beside them, a settings table for the shared on/off switch and the schema
version. ``setup()`` creates or upgrades it under a database lock, so many
processes may start at once. Connection trouble is a :class:`BackendError`,
which the writer thread answers by keeping sessions until the server is back.

Install with ``pip install 'linesman[sql]'``.
"""

from __future__ import annotations

import math
import os
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from linesman.backends.base import (
    PATH_LENGTH,
    QUERY_LENGTH,
    SUMMARY_FIELDS,
    Backend,
    BackendError,
    SessionQuery,
    SessionRefused,
    SessionSummary,
    storable_document,
    storable_text,
)
from linesman.backends.row_check import (
    readable_sessions,
    session_of_data,
    session_of_row,
    summaries_of_rows,
)
from linesman.model.capture import CaptureWindow
from linesman.model.session import ProfilingSession
from linesman.options import (
    ConfigError,
    backend_option,
    to_bool,
    to_positive_int,
    to_positive_seconds,
)

try:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
except ImportError as missing:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the SQLAlchemy backend needs its extra: pip install 'linesman[sql]'"
    ) from missing
from linesman.backends.sqlalchemy_controls import SQLAlchemyControls
from linesman.backends.sqlalchemy_schema import Tables, where_clauses

__all__ = ["SQLAlchemyBackend"]

SCHEMA_VERSION = 1
_LOCK_KEY = 0x6C696E65  # "line": the advisory lock that serialises setup()


def _connect_args(url, timeout: float) -> dict[str, Any]:
    """The driver's deadlines: connecting, waiting for a lock and running one
    statement each end after ``timeout``, so a locked table or a stalled server
    holds an app's thread (a UI page, start-up) that long at most, never for as
    long as the lock lasts."""
    backend = url.get_backend_name()
    seconds = max(1, math.ceil(timeout))
    milliseconds = max(1, int(timeout * 1000))
    if backend == "postgresql":
        return {
            "connect_timeout": seconds,
            "options": f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}",
        }
    if backend in ("mysql", "mariadb"):
        return {
            "connect_timeout": seconds,
            # The server's own deadlines first; the socket's a little later, for a
            # server that stopped answering altogether.
            "read_timeout": seconds + 5,
            "write_timeout": seconds + 5,
        }
    if backend == "sqlite":
        return {"timeout": timeout}
    return {}


def _mysql_deadlines(timeout: float) -> Any:
    """A connect hook setting the server's own deadlines on MariaDB and MySQL,
    which name the statement deadline differently (MySQL's covers SELECTs only)."""
    seconds = max(1, math.ceil(timeout))
    locks = f"innodb_lock_wait_timeout = {seconds}, lock_wait_timeout = {seconds}"
    tries = (
        f"SET SESSION max_statement_time = {timeout:g}, {locks}",  # MariaDB
        f"SET SESSION max_execution_time = {int(timeout * 1000)}, {locks}",  # MySQL
        f"SET SESSION {locks}",
    )

    def set_deadlines(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        try:
            for statement in tries:
                try:
                    cursor.execute(statement)
                    return
                except Exception:  # an unknown variable on this server: the next form
                    continue
        finally:
            cursor.close()

    return set_deadlines


class SQLAlchemyBackend(SQLAlchemyControls, Backend):
    """Sessions in a database given by a SQLAlchemy ``url``."""

    def __init__(
        self,
        url: str,
        table_prefix: str = "linesman_",
        pool_size: int = 5,
        echo: bool = False,
        timeout: float = 5.0,
    ) -> None:
        try:
            self.url = make_url(str(url))
        except ArgumentError as exc:
            raise ConfigError(f"linesman option url: not a database URL ({exc})") from None
        if not table_prefix.replace("_", "").isalnum():
            raise ConfigError("linesman option table_prefix: letters, digits and _ only")
        self.table_prefix = table_prefix
        pool_size = backend_option("pool_size", pool_size, to_positive_int)
        echo = backend_option("echo", echo, to_bool)
        self.timeout = backend_option("timeout", timeout, to_positive_seconds)
        options: dict[str, Any] = {
            "pool_pre_ping": True,
            "echo": echo,
            "connect_args": _connect_args(self.url, self.timeout),
        }
        if self.url.get_backend_name() != "sqlite":
            options.update(
                pool_size=int(pool_size),
                max_overflow=int(pool_size),
                pool_recycle=3600,
                pool_timeout=self.timeout,  # a thread waits for a free connection no longer
            )
        try:
            self.engine = sa.create_engine(self.url, **options)
        except (ArgumentError, ImportError) as exc:
            raise ConfigError(f"linesman option url = {self.describe()}: {exc}") from None
        if self.url.get_backend_name() in ("mysql", "mariadb"):
            sa.event.listen(self.engine, "connect", _mysql_deadlines(self.timeout))
        self.tables = Tables(self.table_prefix)
        self.metadata = self.tables.metadata
        self.sessions = self.tables.sessions
        self.settings = self.tables.settings
        self.captures_table = self.tables.captures
        self.captured_table = self.tables.captured
        self.counters_table = self.tables.counters
        engine_ref = weakref.ref(self.engine)
        # A forked worker must not share the parent's connections.
        os.register_at_fork(after_in_child=lambda: _dispose_in_child(engine_ref))

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except (sa.exc.DataError, sa.exc.IntegrityError) as exc:
            raise SessionRefused(f"{self.describe()}: {_short(exc)}") from exc
        except sa.exc.StatementError as exc:
            if isinstance(exc, sa.exc.DBAPIError):  # the server's answer: an outage
                raise BackendError(f"{self.describe()}: {_short(exc)}") from exc
            # A value the driver could not send (a NUL in text): this row's fault.
            raise SessionRefused(f"{self.describe()}: {_short(exc)}") from exc
        except SQLAlchemyError as exc:
            raise BackendError(f"{self.describe()}: {_short(exc)}") from exc

    @contextmanager
    def _setup_lock(self, connection: sa.Connection) -> Iterator[None]:
        """Only one process creates or upgrades the schema at a time."""
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        elif dialect in ("mysql", "mariadb"):
            taken = connection.execute(
                sa.text("SELECT GET_LOCK(:name, :seconds)"),
                {"name": f"{self.table_prefix}setup", "seconds": math.ceil(self.timeout)},
            ).scalar()
            if taken != 1:
                raise BackendError(f"{self.describe()}: another process holds the setup lock")
        try:
            yield
        finally:
            if dialect in ("mysql", "mariadb"):
                connection.execute(
                    sa.text("SELECT RELEASE_LOCK(:name)"), {"name": f"{self.table_prefix}setup"}
                )

    # -- the documented seven ------------------------------------------------
    def setup(self) -> None:
        with self._transaction() as connection:
            with self._setup_lock(connection):
                self.metadata.create_all(connection, checkfirst=True)
                version = self._setting(connection, "schema_version")
                if version is not None and int(version) > SCHEMA_VERSION:
                    raise BackendError(
                        f"{self.describe()} holds a newer linesman schema "
                        f"({version}; this one reads {SCHEMA_VERSION})"
                    )
                if version is None:
                    self._put_setting(connection, "schema_version", str(SCHEMA_VERSION))

    def add(self, session: ProfilingSession) -> None:
        self.add_many([session])

    def add_many(self, sessions: list[ProfilingSession]) -> None:
        with self._transaction() as connection:
            self._insert(connection, sessions)

    def _insert(self, connection: sa.Connection, sessions: list[ProfilingSession]) -> None:
        documents = [storable_document(session) for session in sessions]  # checked first
        rows = [
            {
                "uuid": session.uuid,
                "timestamp": session.started,
                "method": storable_text(session.method, 16),
                "path": storable_text(session.path, PATH_LENGTH),
                "query": storable_text(session.query, QUERY_LENGTH),
                "status": session.status,
                "duration": session.duration,
                "cpu_time": session.cpu_time,
                "failed": session.failed,
                "document": document,
            }
            for session, document in zip(sessions, documents, strict=True)
        ]
        connection.execute(
            sa.delete(self.sessions).where(self.sessions.c.uuid.in_([row["uuid"] for row in rows]))
        )
        connection.execute(sa.insert(self.sessions), rows)

    def get(self, session_uuid: str) -> ProfilingSession | None:
        """The session, or SessionFormatError if its row or document is damaged."""
        columns = self.sessions.c
        with self._transaction() as connection:
            row = connection.execute(
                sa.select(*(columns[name] for name in SUMMARY_FIELDS), columns.document).where(
                    columns.uuid == str(session_uuid)[:36]
                )
            ).first()
        return None if row is None else session_of_row(row)

    def get_all(self) -> OrderedDict[str, ProfilingSession]:
        """Every session that reads (a damaged one is left out, and logged)."""
        with self._transaction() as connection:
            rows = connection.execute(
                sa.select(self.sessions.c.uuid, self.sessions.c.document).order_by(
                    self.sessions.c.timestamp, self.sessions.c.uuid
                )
            ).all()
        return OrderedDict(
            readable_sessions(self.describe(), rows, lambda _, data: session_of_data(data))
        )

    def delete(self, session_uuid: str) -> int:
        return self.delete_many([session_uuid])

    def delete_many(self, session_uuids: Iterable[str]) -> int:
        uuids = sorted({str(uuid)[:36] for uuid in session_uuids})
        removed = 0
        with self._transaction() as connection:
            for start in range(0, len(uuids), 500):
                chunk = uuids[start : start + 500]
                removed += connection.execute(
                    sa.delete(self.sessions).where(self.sessions.c.uuid.in_(chunk))
                ).rowcount
        return removed

    def delete_all(self) -> int:
        with self._transaction() as connection:
            return connection.execute(sa.delete(self.sessions)).rowcount

    # -- richer calls ---------------------------------------------------------
    def _where(self, query: SessionQuery | None) -> list:
        return where_clauses(self.tables, query)

    def count(self, query: SessionQuery | None = None, limit: int | None = None) -> int:
        rows = sa.select(sa.literal(1)).select_from(self.sessions)
        for clause in self._where(query):
            rows = rows.where(clause)
        if limit is not None:
            rows = rows.limit(int(limit))
        statement = sa.select(sa.func.count()).select_from(rows.subquery())
        with self._transaction() as connection:
            return int(connection.execute(statement).scalar() or 0)

    def list_summaries(
        self, offset: int = 0, limit: int = 50, query: SessionQuery | None = None
    ) -> list[SessionSummary]:
        query = query or SessionQuery()
        columns = self.sessions.c
        key = columns[query.sort]

        def direction(column):
            return column.desc() if query.descending else column.asc()

        order = [direction(key), direction(columns.timestamp), direction(columns.uuid)]
        if query.sort == "status":
            # A missing status sorts as the lowest value, as in the other stores (and
            # without NULLS FIRST, which MariaDB lacks). Only here: it defeats an index.
            order.insert(0, direction(sa.case((key.is_(None), 0), else_=1)))
        if query.sort == "timestamp":
            order = [direction(columns.timestamp), direction(columns.uuid)]
        statement = sa.select(*(columns[name] for name in SUMMARY_FIELDS)).order_by(*order)
        for clause in self._where(query):
            statement = statement.where(clause)
        if limit >= 0:
            statement = statement.limit(int(limit))
        if offset:
            statement = statement.offset(int(offset))
        with self._transaction() as connection:
            rows = connection.execute(statement).all()
        return summaries_of_rows(rows)

    def summaries(self) -> list[SessionSummary]:
        return self.list_summaries(0, -1, SessionQuery(descending=False))

    def delete_matching(self, query: SessionQuery) -> int:
        statement = sa.delete(self.sessions)
        for clause in self._where(query):
            statement = statement.where(clause)
        with self._transaction() as connection:
            return connection.execute(statement).rowcount

    def prune(self, keep: int) -> int:
        columns = self.sessions.c
        with self._transaction() as connection:
            cutoff = (
                connection.execute(
                    sa.select(columns.timestamp)
                    .order_by(columns.timestamp.desc())
                    .offset(max(int(keep), 1) - 1)
                    .limit(1)
                ).scalar()
                if keep > 0
                else None
            )
            if keep > 0 and cutoff is None:
                return 0
            statement = sa.delete(self.sessions)
            if cutoff is not None:
                statement = statement.where(columns.timestamp < cutoff)
            return connection.execute(statement).rowcount

    def prune_older(self, before: float) -> int:
        with self._transaction() as connection:
            return connection.execute(
                sa.delete(self.sessions).where(self.sessions.c.timestamp < float(before))
            ).rowcount

    def endpoint_rows(self) -> list[tuple]:
        table = self.sessions
        with self._transaction() as connection:
            return [
                tuple(row)
                for row in connection.execute(
                    sa.select(
                        table.c.method,
                        table.c.path,
                        table.c.duration,
                        table.c.failed,
                        table.c.status,
                        table.c.timestamp,
                    )
                )
            ]

    def add_captured(self, session: ProfilingSession, window_id: str) -> bool:
        columns = self.captures_table.c
        with self._transaction() as connection:
            # The window's row stays locked until the commit: racing processes take turns.
            found = connection.execute(
                sa.select(*self._window_columns()).where(columns.id == window_id).with_for_update()
            ).first()
            captured = self.captured_table.c
            if (
                found
                and connection.execute(
                    sa.select(captured.uuid).where(
                        captured.capture_id == window_id, captured.uuid == session.uuid
                    )
                ).first()
            ):
                return True  # stored by an earlier try
            now = time.time()
            window = CaptureWindow.from_stored(*found) if found else None
            if window is None or not window.is_open(now):
                return False
            self._insert(connection, [session])
            connection.execute(
                sa.insert(self.captured_table), {"capture_id": window_id, "uuid": session.uuid}
            )
            window = window.caught_one(now)
            connection.execute(
                sa.update(self.captures_table)
                .where(columns.id == window_id)
                .values(caught=window.caught, ended=window.ended)
            )
        return True

    def drop_tables(self) -> None:
        """Remove linesman's tables (for tests and uninstalling)."""
        with self._transaction() as connection:
            self.metadata.drop_all(connection, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()


def _short(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's long background link."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _dispose_in_child(engine_ref: weakref.ref) -> None:
    engine = engine_ref()
    if engine is not None:
        engine.dispose(close=False)
