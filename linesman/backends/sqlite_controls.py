"""The switch, the secret and the capture windows in a SQLite store's tables,
shared by every process that opens the file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from linesman.backends.base import BackendError
from linesman.model.capture import CaptureWindow
from linesman.signing import new_secret


class SqliteControls:
    """SqliteBackend's control store: the settings and captures tables."""

    _run: Callable[..., sqlite3.Cursor]
    filename: str

    if TYPE_CHECKING:

        @property
        def conn(self) -> sqlite3.Connection: ...  # SqliteBackend's, for this thread

    shares_counters = True

    def add_counters(self, counts: Mapping[str, int]) -> None:
        rows = [(name, int(value)) for name, value in counts.items() if value]
        if not rows:
            return
        try:
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany(
                    "INSERT INTO counters (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                    rows,
                )
        except sqlite3.Error as exc:
            raise BackendError(f"{self.filename}: {exc}") from exc

    def read_counters(self) -> dict[str, int]:
        try:
            rows = self.conn.execute("SELECT name, value FROM counters").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a file from before the counters, read-only
                return {}
            raise BackendError(f"{self.filename}: {exc}") from exc
        return {name: int(value) for name, value in rows}

    def get_enabled(self) -> bool | None:
        row = self._run("SELECT value FROM settings WHERE name = 'enabled'").fetchone()
        return None if row is None else row[0] == "1"

    def set_enabled(self, enabled: bool) -> None:
        self._run(
            "INSERT OR REPLACE INTO settings (name, value) VALUES ('enabled', ?)",
            ("1" if enabled else "0",),
        )

    def get_secret(self) -> bytes:
        """Read every half second by each writer: a write only the first time."""
        row = self._run("SELECT value FROM settings WHERE name = 'secret'").fetchone()
        if row is None:
            self._run(
                "INSERT OR IGNORE INTO settings (name, value) VALUES ('secret', ?)",
                (new_secret().hex(),),
            )
            row = self._run("SELECT value FROM settings WHERE name = 'secret'").fetchone()
        return bytes.fromhex(row[0])

    def set_secret(self, secret: bytes) -> None:
        self._run(
            "INSERT OR REPLACE INTO settings (name, value) VALUES ('secret', ?)",
            (bytes(secret).hex(),),
        )

    # -- capture windows ---------------------------------------------------------
    def start_capture(self, window: CaptureWindow) -> None:
        self._run(
            "INSERT INTO captures (id, spec, created, ended, caught) VALUES (?, ?, ?, ?, ?)",
            (window.id, window.spec(), window.created, window.ended, window.caught),
        )

    def captures(self, limit: int = 20) -> list[CaptureWindow]:
        rows = self._run(
            "SELECT id, spec, created, ended, caught FROM captures ORDER BY created DESC LIMIT ?",
            (int(limit),),
        )
        return [CaptureWindow.from_stored(*row) for row in rows]

    def open_captures(self) -> list[CaptureWindow]:
        rows = self._run(
            "SELECT id, spec, created, ended, caught FROM captures "
            "WHERE ended IS NULL ORDER BY created DESC"
        )
        now = time.time()
        windows = [CaptureWindow.from_stored(*row) for row in rows]
        return [window for window in windows if window.is_open(now)]

    def stop_capture(self, window_id: str) -> bool:
        return (
            self._run(
                "UPDATE captures SET ended = ? WHERE id = ? AND ended IS NULL",
                (time.time(), str(window_id)),
            ).rowcount
            == 1
        )

    def captured_uuids(self, window_id: str) -> list[str]:
        rows = self._run("SELECT uuid FROM captured WHERE capture_id = ?", (str(window_id),))
        return [uuid for (uuid,) in rows]
