"""Writes that many processes race to make, as single statements that cannot
deadlock: an insert that adds to, replaces or keeps the row already there.

Why one statement, and why it holds: reading a row and then writing it (update,
then insert what was missing; or delete, then insert) lets two transactions each
take a lock the other then waits for. On MariaDB even the failed update or the
delete of a row that does not exist locks the gap where it would be, and two
such gaps taken then filled by two writers are a deadlock. An upsert on the
primary key locks only the row it writes (the key's record; an insert takes no
gap lock of its own), and where a transaction writes several rows it writes
them in the order of their keys, so no two writers ever wait for each other in
a circle. PostgreSQL has no gap locks; the same order keeps its row locks
acyclic. SQLite locks the whole file for one writer at a time.

A dialect without an upsert (none that linesman tests) gets ``None`` and the
caller's older read-then-write form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa  # imported by linesman.backends.sqlalchemy, which says what is missing

__all__ = ["adding", "keeping", "replacing"]


def _insert_of(dialect: str, table: sa.Table) -> Any:
    """The dialect's own INSERT, which knows its conflict clause; or None."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects import mysql

        return mysql.insert(table)
    return None


def _on_conflict(dialect: str, statement: Any, key: Sequence[sa.Column], values: Mapping) -> Any:
    if not values:
        if dialect in ("mysql", "mariadb"):  # no DO NOTHING: set the key to itself
            column = key[0]
            return statement.on_duplicate_key_update({column.name: column})
        return statement.on_conflict_do_nothing(index_elements=list(key))
    if dialect in ("mysql", "mariadb"):
        return statement.on_duplicate_key_update(dict(values))
    return statement.on_conflict_do_update(index_elements=list(key), set_=dict(values))


def _proposed(dialect: str, statement: Any) -> Any:
    """The row the statement proposed: ``excluded`` (PostgreSQL, SQLite) or
    ``inserted`` (MySQL's VALUES())."""
    return statement.inserted if dialect in ("mysql", "mariadb") else statement.excluded


def adding(dialect: str, table: sa.Table, column: str) -> Any:
    """One row's insert that adds its ``column`` to the stored row's, if any."""
    statement = _insert_of(dialect, table)
    if statement is None:
        return None
    target = table.c[column]
    proposed = _proposed(dialect, statement)
    return _on_conflict(
        dialect, statement, list(table.primary_key), {column: target + proposed[column]}
    )


def replacing(dialect: str, table: sa.Table) -> Any:
    """An insert whose rows replace the stored rows of the same key, column by column."""
    statement = _insert_of(dialect, table)
    if statement is None:
        return None
    key = list(table.primary_key)
    proposed = _proposed(dialect, statement)
    values = {column.name: proposed[column.name] for column in table.columns if column not in key}
    return _on_conflict(dialect, statement, key, values)


def keeping(dialect: str, table: sa.Table) -> Any:
    """An insert that leaves a stored row of the same key as it is: the first
    writer's row wins, and the others' statements succeed without writing."""
    statement = _insert_of(dialect, table)
    if statement is None:
        return None
    return _on_conflict(dialect, statement, list(table.primary_key), {})
