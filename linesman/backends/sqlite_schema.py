"""The SQLite store's tables and the SQL that reads and writes them: summary
columns (indexed for the list page) beside a compressed JSON document, so a
listing never decodes a profile."""

from __future__ import annotations

import re
from typing import Any

from linesman.backends.base import (
    PATH_LENGTH,
    QUERY_LENGTH,
    SUMMARY_FIELDS,
    SessionQuery,
    storable_document,
    storable_text,
)
from linesman.model.session import ProfilingSession

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    uuid TEXT PRIMARY KEY,
    timestamp REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    status INTEGER,
    duration REAL NOT NULL,
    cpu_time REAL NOT NULL,
    failed INTEGER NOT NULL,
    document BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_timestamp ON sessions (timestamp);
CREATE INDEX IF NOT EXISTS sessions_duration ON sessions (duration);
CREATE INDEX IF NOT EXISTS sessions_path ON sessions (path);
CREATE INDEX IF NOT EXISTS sessions_status ON sessions (status);
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS captures (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created REAL NOT NULL,
    ended REAL,
    caught INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS captured (
    capture_id TEXT NOT NULL,
    uuid TEXT NOT NULL,
    PRIMARY KEY (capture_id, uuid)
);
"""
SUMMARY_COLUMNS = ", ".join(SUMMARY_FIELDS)
INSERT = (
    "INSERT OR REPLACE INTO sessions (uuid, timestamp, method, path, query, status, "
    "duration, cpu_time, failed, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def session_row(session: ProfilingSession) -> tuple:
    """The row of a session; SessionRefused for one that would read back damaged."""
    document = storable_document(session)
    return (
        session.uuid,
        session.started,
        storable_text(session.method, 16),
        storable_text(session.path, PATH_LENGTH),
        storable_text(session.query, QUERY_LENGTH),
        session.status,
        session.duration,
        session.cpu_time,
        int(session.failed),
        document,
    )


ORDER = "timestamp, rowid"


def where_clause(query: SessionQuery | None) -> tuple[str, list]:
    """The WHERE clause of a query; every value goes in as a parameter."""
    if query is None:
        return "", []
    clauses: list[str] = []
    parameters: list[Any] = []
    if query.path_contains:
        escaped = re.sub(r"([\\%_])", r"\\\1", query.path_contains)
        clauses.append("path LIKE ? ESCAPE '\\'")
        parameters.append(f"%{escaped}%")
    if query.method:
        clauses.append("method = ?")
        parameters.append(query.method)
    if query.status is not None:
        clauses.append("status = ?")
        parameters.append(query.status)
    if query.min_duration:
        clauses.append("duration >= ?")
        parameters.append(query.min_duration)
    if query.capture:
        clauses.append("uuid IN (SELECT uuid FROM captured WHERE capture_id = ?)")
        parameters.append(query.capture)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), parameters
