"""The switch, the secret and the capture windows in a SQL database's tables,
shared by every process and host that uses the database."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

import sqlalchemy as sa  # imported by linesman.backends.sqlalchemy, which says what is missing

from linesman.backends.base import BackendError
from linesman.backends.sqlalchemy_retry import retrying
from linesman.backends.sqlalchemy_upsert import adding, keeping, replacing
from linesman.model.capture import CaptureWindow
from linesman.signing import new_secret


class SQLAlchemyControls:
    """SQLAlchemyBackend's control store: the settings and captures tables."""

    settings: sa.Table
    captures_table: sa.Table
    captured_table: sa.Table
    counters_table: sa.Table
    writer_counters_table: sa.Table
    engine: sa.Engine
    _transaction: Callable[[], AbstractContextManager[sa.Connection]]
    describe: Callable[[], str]

    shares_counters = True

    def _writer(self) -> tuple[str, threading.Lock]:
        """This store object's name in the writer counters table, and the lock its
        threads take turns on its rows with; new in a forked child, which must
        not add to its parent's rows (nor inherit a lock held at the fork)."""
        pid = os.getpid()
        held = self.__dict__.get("_linesman_writer")
        if held is None or held[0] != pid:
            held = self.__dict__["_linesman_writer"] = (pid, uuid.uuid4().hex, threading.Lock())
        return held[1], held[2]

    def add_counters(self, counts: Mapping[str, int]) -> None:
        """Add to this writer's own rows of the counters (an upsert of the rows, in
        the order of their names, in one transaction: the counts land whole or not
        at all). No other process writes these rows, so no writer ever waits for
        another's lock: adding cannot deadlock however many processes store at once."""
        rows = sorted((name, int(value)) for name, value in counts.items() if value)
        if not rows:
            return
        table = self.writer_counters_table
        writer, own_rows = self._writer()
        upsert = adding(self.engine.dialect.name, table, "value")

        def add(connection: sa.Connection) -> None:
            if upsert is not None:  # one statement for the rows, in name order
                values = [{"writer": writer, "name": name, "value": n} for name, n in rows]
                connection.execute(upsert, values)
                return
            for name, value in rows:  # a dialect without an upsert: these rows are ours
                mine = sa.and_(table.c.writer == writer, table.c.name == name)
                updated = connection.execute(
                    sa.update(table).where(mine).values(value=table.c.value + value)
                ).rowcount
                if not updated:
                    connection.execute(
                        sa.insert(table), {"writer": writer, "name": name, "value": value}
                    )

        with own_rows:  # this object's threads take turns on its rows
            retrying(self._transaction, add, self.describe)

    def read_counters(self) -> dict[str, int]:
        """Every writer's share summed, with the shared rows stores before this one
        added to (kept, so an upgrade loses no count)."""
        shared = self.counters_table
        shares = self.writer_counters_table
        totals: Counter[str] = Counter()
        with self._transaction() as connection:
            for table in (shared, shares):
                rows = connection.execute(
                    sa.select(table.c.name, sa.func.sum(table.c.value)).group_by(table.c.name)
                )
                totals.update({name: int(value) for name, value in rows})
        return dict(totals)

    def _setting(self, connection: sa.Connection, name: str) -> str | None:
        return connection.execute(
            sa.select(self.settings.c.value).where(self.settings.c.name == name)
        ).scalar()

    def _put_setting(self, connection: sa.Connection, name: str, value: str) -> None:
        """One upsert: an update of a missing row, then its insert, would lock the
        gap where it goes on MariaDB, and two processes doing so deadlock."""
        upsert = replacing(self.engine.dialect.name, self.settings)
        if upsert is not None:
            connection.execute(upsert, {"name": name, "value": value})
            return
        updated = connection.execute(
            sa.update(self.settings).where(self.settings.c.name == name).values(value=value)
        ).rowcount
        if not updated:
            connection.execute(sa.insert(self.settings), {"name": name, "value": value})

    def get_enabled(self) -> bool | None:
        with self._transaction() as connection:
            value = self._setting(connection, "enabled")
        return None if value is None else value == "1"

    def set_enabled(self, enabled: bool) -> None:
        retrying(
            self._transaction,
            lambda connection: self._put_setting(connection, "enabled", "1" if enabled else "0"),
            self.describe,
        )

    def get_secret(self) -> bytes:
        """The store's secret: the first process to need one writes it, and a
        racing process's insert keeps that row and reads it back."""
        with self._transaction() as connection:
            value = self._setting(connection, "secret")
        if value is not None:
            return bytes.fromhex(value)
        insert = keeping(self.engine.dialect.name, self.settings)
        row = {"name": "secret", "value": new_secret().hex()}

        def create(connection: sa.Connection) -> str | None:
            if insert is not None:
                connection.execute(insert, row)
            elif self._setting(connection, "secret") is None:
                connection.execute(sa.insert(self.settings), row)
            return self._setting(connection, "secret")

        for _ in range(2):  # without an upsert, a racer's insert fails ours once
            try:
                value = retrying(self._transaction, create, self.describe)
            except BackendError:
                continue
            if value is not None:
                return bytes.fromhex(value)
        raise BackendError(f"{self.describe()}: cannot read or create the store's secret")

    def set_secret(self, secret: bytes) -> None:
        retrying(
            self._transaction,
            lambda connection: self._put_setting(connection, "secret", bytes(secret).hex()),
            self.describe,
        )

    # -- capture windows ---------------------------------------------------------
    def _window_columns(self) -> list:
        columns = self.captures_table.c
        return [columns.id, columns.spec, columns.created, columns.ended, columns.caught]

    def start_capture(self, window: CaptureWindow) -> None:
        with self._transaction() as connection:
            connection.execute(
                sa.insert(self.captures_table),
                {
                    "id": window.id,
                    "spec": window.spec(),
                    "created": window.created,
                    "ended": window.ended,
                    "caught": window.caught,
                },
            )

    def captures(self, limit: int = 20) -> list[CaptureWindow]:
        statement = (
            sa.select(*self._window_columns())
            .order_by(self.captures_table.c.created.desc())
            .limit(int(limit))
        )
        with self._transaction() as connection:
            return [CaptureWindow.from_stored(*row) for row in connection.execute(statement)]

    def open_captures(self) -> list[CaptureWindow]:
        statement = (
            sa.select(*self._window_columns())
            .where(self.captures_table.c.ended.is_(None))
            .order_by(self.captures_table.c.created.desc())
        )
        with self._transaction() as connection:
            windows = [CaptureWindow.from_stored(*row) for row in connection.execute(statement)]
        now = time.time()
        return [window for window in windows if window.is_open(now)]

    def stop_capture(self, window_id: str) -> bool:
        columns = self.captures_table.c
        with self._transaction() as connection:
            return (
                connection.execute(
                    sa.update(self.captures_table)
                    .where(columns.id == str(window_id), columns.ended.is_(None))
                    .values(ended=time.time())
                ).rowcount
                == 1
            )

    def captured_uuids(self, window_id: str) -> list[str]:
        statement = sa.select(self.captured_table.c.uuid).where(
            self.captured_table.c.capture_id == str(window_id)
        )
        with self._transaction() as connection:
            return list(connection.execute(statement).scalars())
