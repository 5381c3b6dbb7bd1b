"""A backend written the way the original linesman's users wrote theirs: only
the seven methods, options passed up to ``Backend.__init__``, whole sessions
pickled, and the start taken from ``session.timestamp`` as a ``datetime``."""

from __future__ import annotations

import pickle
import sqlite3
import time
from collections import OrderedDict

from linesman.backends.base import Backend


class OriginalStyleBackend(Backend):
    def __init__(self, filename="sessions.db", **kwargs):
        super().__init__(filename=filename, **kwargs)
        self.filename = filename

    def _connect(self):
        return sqlite3.connect(self.filename, isolation_level=None)

    def setup(self):
        with self._connect() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS sessions (uuid TEXT PRIMARY KEY, at FLOAT, body BLOB)"
            )

    def add(self, session):
        at = time.mktime(session.timestamp.timetuple()) if session.timestamp else None
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO sessions VALUES (?, ?, ?)",
                (session.uuid, at, pickle.dumps(session, pickle.HIGHEST_PROTOCOL)),
            )

    def get(self, session_uuid):
        with self._connect() as connection:
            row = connection.execute(
                "SELECT body FROM sessions WHERE uuid = ?", (session_uuid,)
            ).fetchone()
        return pickle.loads(row[0]) if row else None

    def get_all(self):
        with self._connect() as connection:
            rows = connection.execute("SELECT uuid, body FROM sessions ORDER BY at").fetchall()
        return OrderedDict((uuid, pickle.loads(body)) for uuid, body in rows)

    def delete(self, session_uuid):
        with self._connect() as connection:
            return connection.execute(
                "DELETE FROM sessions WHERE uuid = ?", (session_uuid,)
            ).rowcount

    def delete_all(self):
        with self._connect() as connection:
            return connection.execute("DELETE FROM sessions").rowcount


def make_backend(filename="sessions.db"):
    """A factory, as ``backend = module:function`` names one."""
    return OriginalStyleBackend(filename=filename)


def not_a_backend(filename="sessions.db"):
    return {"filename": filename}
