"""The default store: one SQLite file, shared by threads and processes.

Each session is a row of summary columns (what the list page sorts and
filters on, indexed) beside its compressed JSON document, so listing never
decodes a profile. WAL mode and a busy timeout let several threads and worker
processes write one file without losing a session; every thread gets its own
connection, as sqlite3 wants, and that connection is closed when its thread
ends: servers that start a thread per request (werkzeug's, as ``flask run``
starts it, and Django's runserver) would otherwise leak two descriptors per
request until the app itself runs out.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from linesman.backends.base import (
    Backend,
    BackendError,
    SessionQuery,
    SessionRefused,
    SessionSummary,
)
from linesman.backends.row_check import (
    readable_sessions,
    session_of_data,
    session_of_row,
    summaries_of_rows,
)
from linesman.backends.sqlite_controls import SqliteControls
from linesman.backends.sqlite_schema import (
    INSERT,
    ORDER,
    SCHEMA,
    SCHEMA_VERSION,
    SUMMARY_COLUMNS,
    session_row,
    where_clause,
)
from linesman.model.capture import CaptureWindow
from linesman.model.session import ProfilingSession
from linesman.options import backend_option, to_seconds

__all__ = ["SqliteBackend"]

log = logging.getLogger("linesman")


class _ThreadConnection:
    """One thread's connection, held only by that thread's local storage, and
    closed only in that thread: when the thread ends its storage is dropped, and
    with it this holder; when the backend is closed or its file reopened, the
    thread replaces it on its next call. Closing a connection from another thread
    while its own runs a statement on it crashes the process, so nothing does.
    (``sqlite3.Connection`` itself takes no weak reference.)"""

    __slots__ = ("connection", "generation")

    def __init__(self, connection: sqlite3.Connection, generation: int) -> None:
        self.connection = connection
        self.generation = generation

    def close(self) -> None:
        try:
            self.connection.close()
        except sqlite3.Error:
            pass

    def __del__(self) -> None:
        self.close()


class SqliteBackend(SqliteControls, Backend):
    """Sessions in a SQLite file (``filename``, or a ``file:`` URI), created on first use."""

    def __init__(self, filename: str = "sessions.db", timeout: float = 5.0) -> None:
        self.filename = os.fspath(filename)
        self.timeout = backend_option("timeout", timeout, to_seconds)
        self._local = threading.local()
        self._generation = 0  # bumped when the file is reopened or closed: old connections go
        self._identity: tuple[int, int] | None = None  # the file's (device, inode)

    def describe(self) -> str:
        return f"SQLite file {self.filename}"

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections are not shared), closed
        when the thread ends."""
        held: _ThreadConnection | None = getattr(self._local, "held", None)
        if held is None or held.generation != self._generation:
            held = _ThreadConnection(self._connect(), self._generation)
            self._local.held = held
        return held.connection

    def _file_identity(self) -> tuple[int, int] | None:
        if self.filename.startswith("file:") or self.filename == ":memory:":
            return None
        try:
            found = os.stat(self.filename)
        except OSError:
            return None
        return (found.st_dev, found.st_ino)

    def _check_file(self) -> None:
        """A store file deleted (or replaced) under a running app would swallow every
        session into the unlinked file: notice it, say so, and open the path again."""
        if self._identity is None or self._identity == self._file_identity():
            return
        log.warning(
            "linesman: %s was deleted or replaced while in use; opening it again "
            "(sessions stored in the old file since are gone with it)",
            self.filename,
        )
        self._let_go()
        self._identity = None
        self.setup()

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.filename,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
                uri=self.filename.startswith("file:"),
            )
            connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            # In WAL mode, NORMAL never corrupts the file; it syncs at checkpoints only.
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open {self.filename}: {exc}") from exc
        return connection

    def _run(self, sql: str, parameters: Iterable = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, tuple(parameters))
        except sqlite3.Error as exc:
            raise BackendError(f"{self.filename}: {exc}") from exc

    # -- the documented seven ------------------------------------------------
    @property
    def read_only(self) -> bool:
        """Opened as ``file:...?mode=ro``: what the read-only commands use."""
        return self.filename.startswith("file:") and "mode=ro" in self.filename

    def setup(self) -> None:
        if self.read_only:
            self._check_read_only()
            return
        try:
            connection = self.conn
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                connection.execute("PRAGMA journal_mode = DELETE")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise BackendError(
                    f"{self.filename} was written by a newer linesman "
                    f"(schema {version}, this one reads {SCHEMA_VERSION})"
                )
            connection.executescript(SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise BackendError(f"cannot set up {self.filename}: {exc}") from exc
        self._identity = self._file_identity()

    def _check_read_only(self) -> None:
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {
                row[0]
                for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.Error as exc:
            raise BackendError(f"cannot read {self.filename}: {exc}") from exc
        if version > SCHEMA_VERSION:
            raise BackendError(
                f"{self.filename} was written by a newer linesman "
                f"(schema {version}, this one reads {SCHEMA_VERSION})"
            )
        if "sessions" not in tables:
            raise BackendError("it holds no linesman sessions")

    def add(self, session: ProfilingSession) -> None:
        self.add_many([session])

    def add_many(self, sessions: list[ProfilingSession]) -> None:
        self._check_file()
        rows = [session_row(session) for session in sessions]
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany(INSERT, rows)
        except (sqlite3.DataError, sqlite3.IntegrityError) as exc:
            raise SessionRefused(f"{self.filename}: {exc}") from exc
        except sqlite3.Error as exc:
            raise BackendError(f"{self.filename}: {exc}") from exc

    def get(self, session_uuid: str) -> ProfilingSession | None:
        """The session, or SessionFormatError if its row or document is damaged."""
        row = self._run(
            f"SELECT {SUMMARY_COLUMNS}, document FROM sessions WHERE uuid = ?",
            (str(session_uuid),),
        ).fetchone()
        return session_of_row(row) if row else None

    def get_all(self) -> OrderedDict[str, ProfilingSession]:
        """Every session that reads (a damaged one is left out, and logged)."""
        rows = self._run(f"SELECT uuid, document FROM sessions ORDER BY {ORDER}")
        return OrderedDict(
            readable_sessions(self.filename, rows, lambda _, data: session_of_data(data))
        )

    def delete(self, session_uuid: str) -> int:
        return self._run("DELETE FROM sessions WHERE uuid = ?", (str(session_uuid),)).rowcount

    def delete_many(self, session_uuids: Iterable[str]) -> int:
        uuids = [(str(uuid),) for uuid in session_uuids]
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                cursor = self.conn.executemany("DELETE FROM sessions WHERE uuid = ?", uuids)
                return max(cursor.rowcount, 0)
        except sqlite3.Error as exc:
            raise BackendError(f"{self.filename}: {exc}") from exc

    def delete_all(self) -> int:
        return self._run("DELETE FROM sessions").rowcount

    # -- richer calls ---------------------------------------------------------
    def count(self, query: SessionQuery | None = None, limit: int | None = None) -> int:
        where, parameters = where_clause(query)
        if limit is None:
            return self._run(f"SELECT COUNT(*) FROM sessions{where}", parameters).fetchone()[0]
        return self._run(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM sessions{where} LIMIT ?)",
            (*parameters, int(limit)),
        ).fetchone()[0]

    def summaries(self) -> list[SessionSummary]:
        return self.list_summaries(0, -1, SessionQuery(descending=False))

    def list_summaries(
        self, offset: int = 0, limit: int = 50, query: SessionQuery | None = None
    ) -> list[SessionSummary]:
        query = query or SessionQuery()
        where, parameters = where_clause(query)
        direction = "DESC" if query.descending else "ASC"
        rows = self._run(
            f"SELECT {SUMMARY_COLUMNS} FROM sessions{where} "
            f"ORDER BY {query.sort} {direction}, timestamp {direction}, rowid {direction} "
            f"LIMIT ? OFFSET ?",
            (*parameters, int(limit), int(offset)),
        )
        return summaries_of_rows(rows)

    def delete_matching(self, query: SessionQuery) -> int:
        where, parameters = where_clause(query)
        return self._run(f"DELETE FROM sessions{where}", parameters).rowcount

    def prune(self, keep: int) -> int:
        cutoff = (
            self._run(
                "SELECT timestamp, rowid FROM sessions ORDER BY timestamp DESC, rowid DESC "
                "LIMIT 1 OFFSET ?",
                (int(keep) - 1,),
            ).fetchone()
            if keep > 0
            else None
        )
        if keep > 0 and cutoff is None:
            return 0
        if cutoff is None:
            return self.delete_all()
        return self._run(
            "DELETE FROM sessions WHERE timestamp < ? OR (timestamp = ? AND rowid < ?)",
            (cutoff[0], cutoff[0], cutoff[1]),
        ).rowcount

    def prune_older(self, before: float) -> int:
        return self._run("DELETE FROM sessions WHERE timestamp < ?", (float(before),)).rowcount

    def endpoint_rows(self) -> list[tuple]:
        return self._run(
            "SELECT method, path, duration, failed, status, timestamp FROM sessions"
        ).fetchall()

    def add_captured(self, session: ProfilingSession, window_id: str) -> bool:
        self._check_file()
        row = session_row(session)
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")  # the count and the insert, as one
                found = self.conn.execute(
                    "SELECT id, spec, created, ended, caught FROM captures WHERE id = ?",
                    (window_id,),
                ).fetchone()
                if (
                    found
                    and self.conn.execute(  # stored by an earlier try: done
                        "SELECT 1 FROM captured WHERE capture_id = ? AND uuid = ?",
                        (window_id, session.uuid),
                    ).fetchone()
                ):
                    return True
                now = time.time()
                window = CaptureWindow.from_stored(*found) if found else None
                if window is None or not window.is_open(now):
                    return False
                self.conn.execute(INSERT, row)
                self.conn.execute(
                    "INSERT OR IGNORE INTO captured (capture_id, uuid) VALUES (?, ?)",
                    (window_id, session.uuid),
                )
                window = window.caught_one(now)
                self.conn.execute(
                    "UPDATE captures SET caught = ?, ended = ? WHERE id = ?",
                    (window.caught, window.ended, window_id),
                )
        except (sqlite3.DataError, sqlite3.IntegrityError) as exc:
            raise SessionRefused(f"{self.filename}: {exc}") from exc
        except sqlite3.Error as exc:
            raise BackendError(f"{self.filename}: {exc}") from exc
        return True

    def close(self) -> None:
        self._let_go()

    def _let_go(self) -> None:
        """Retire every thread's connection: this thread's closes now, every other
        thread's the next time that thread calls or when it ends (see
        _ThreadConnection)."""
        self._generation += 1
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held.close()
