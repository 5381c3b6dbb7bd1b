"""The SQL store's tables (summary columns indexed for the list page, the
compressed document, the settings and capture windows), under a prefix, and
the WHERE clauses of a list query."""

from __future__ import annotations

import sqlalchemy as sa  # imported by linesman.backends.sqlalchemy, which says what is missing

from linesman.backends.base import PATH_LENGTH, SessionQuery

__all__ = ["Tables", "where_clauses"]


class Tables:
    """The six tables, named ``{prefix}sessions`` and so on."""

    def __init__(self, prefix: str) -> None:
        self.metadata = sa.MetaData()
        self.sessions = sa.Table(
            f"{prefix}sessions",
            self.metadata,
            sa.Column("uuid", sa.String(36), primary_key=True),
            sa.Column("timestamp", sa.Double, nullable=False, index=True),
            sa.Column("method", sa.String(16), nullable=False, index=True),
            sa.Column("path", sa.String(PATH_LENGTH), nullable=False, index=True),
            sa.Column("query", sa.Text, nullable=False),
            sa.Column("status", sa.Integer, nullable=True, index=True),
            sa.Column("duration", sa.Double, nullable=False, index=True),
            sa.Column("cpu_time", sa.Double, nullable=False),
            sa.Column("failed", sa.Boolean, nullable=False),
            sa.Column("document", sa.LargeBinary(length=(1 << 32) - 1), nullable=False),
        )
        self.settings = sa.Table(
            f"{prefix}settings",
            self.metadata,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.String(255), nullable=False),
        )
        self.captures = sa.Table(
            f"{prefix}captures",
            self.metadata,
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("spec", sa.Text, nullable=False),
            sa.Column("created", sa.Double, nullable=False, index=True),
            sa.Column("ended", sa.Double, nullable=True),
            sa.Column("caught", sa.Integer, nullable=False),
        )
        self.counters = sa.Table(
            f"{prefix}counters",
            self.metadata,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.BigInteger, nullable=False),
        )
        # Each writer's own share of the counters, summed on read with the table
        # above (where stores before this one added): no two writers ever touch
        # one row, so adding never waits for another process, let alone deadlocks.
        self.writer_counters = sa.Table(
            f"{prefix}writer_counters",
            self.metadata,
            sa.Column("writer", sa.String(36), primary_key=True),
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.BigInteger, nullable=False),
        )
        self.captured = sa.Table(
            f"{prefix}captured",
            self.metadata,
            sa.Column("capture_id", sa.String(36), primary_key=True),
            sa.Column("uuid", sa.String(36), primary_key=True),
        )


def where_clauses(tables: Tables, query: SessionQuery | None) -> list:
    if query is None:
        return []
    columns = tables.sessions.c
    clauses = []
    if query.path_contains:
        clauses.append(columns.path.icontains(query.path_contains, autoescape=True))
    if query.method:
        clauses.append(columns.method == query.method)
    if query.status is not None:
        clauses.append(columns.status == query.status)
    if query.min_duration:
        clauses.append(columns.duration >= query.min_duration)
    if query.capture:
        clauses.append(
            columns.uuid.in_(
                sa.select(tables.captured.c.uuid).where(
                    tables.captured.c.capture_id == query.capture
                )
            )
        )
    return clauses
