"""The switch, the secret and the capture windows in a SQL database's tables,
shared by every process and host that uses the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

import sqlalchemy as sa  # imported by linesman.backends.sqlalchemy, which says what is missing

from linesman.backends.base import BackendError
from linesman.model.capture import CaptureWindow
from linesman.signing import new_secret


class SQLAlchemyControls:
    """SQLAlchemyBackend's control store: the settings and captures tables."""

    settings: sa.Table
    captures_table: sa.Table
    captured_table: sa.Table
    counters_table: sa.Table
    _transaction: Callable[[], AbstractContextManager[sa.Connection]]
    describe: Callable[[], str]

    shares_counters = True

    def add_counters(self, counts: Mapping[str, int]) -> None:
        """Each counter is added to in place; a counter two processes create at
        once is inserted by one, and the other's second try adds to it."""
        table = self.counters_table
        counts = {name: int(value) for name, value in counts.items() if value}
        for attempt in range(2):
            try:
                with self._transaction() as connection:
                    missing = []
                    for name, value in sorted(counts.items()):  # one lock order
                        updated = connection.execute(
                            sa.update(table)
                            .where(table.c.name == name)
                            .values(value=table.c.value + value)
                        ).rowcount
                        if not updated:
                            missing.append({"name": name, "value": value})
                    if missing:
                        connection.execute(sa.insert(table), missing)
                return
            except BackendError:
                if attempt:
                    raise

    def read_counters(self) -> dict[str, int]:
        table = self.counters_table
        with self._transaction() as connection:
            rows = connection.execute(sa.select(table.c.name, table.c.value))
            return {name: int(value) for name, value in rows}

    def _setting(self, connection: sa.Connection, name: str) -> str | None:
        return connection.execute(
            sa.select(self.settings.c.value).where(self.settings.c.name == name)
        ).scalar()

    def _put_setting(self, connection: sa.Connection, name: str, value: str) -> None:
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
        with self._transaction() as connection:
            self._put_setting(connection, "enabled", "1" if enabled else "0")

    def get_secret(self) -> bytes:
        for _ in range(2):  # a second try reads what a racing process inserted
            with self._transaction() as connection:
                value = self._setting(connection, "secret")
                if value is not None:
                    return bytes.fromhex(value)
            try:
                with self._transaction() as connection:
                    connection.execute(
                        sa.insert(self.settings), {"name": "secret", "value": new_secret().hex()}
                    )
            except BackendError:
                continue
        raise BackendError(f"{self.describe()}: cannot read or create the store's secret")

    def set_secret(self, secret: bytes) -> None:
        with self._transaction() as connection:
            self._put_setting(connection, "secret", bytes(secret).hex())

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
