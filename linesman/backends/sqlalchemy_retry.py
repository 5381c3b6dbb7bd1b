"""The SQL store's answer to a transaction the database refused for now.

Every racing write of the SQL store is built so that it cannot deadlock (see
linesman.backends.sqlalchemy_upsert). What a database may still refuse is a
lock held too long by someone else (a lock wait timeout, or the statement
deadline, which the backend's ``timeout`` sets to the same length, so a long
lock wait often ends as that), and on a server configured for it a
serialization failure; a deadlock is kept on the same list
as a safety net for servers whose locking we have not measured. In each case
the whole transaction was rolled back (``engine.begin()`` rolls back on any
error), so running it again adds nothing twice. Any other error (a server
gone, a value refused) is not retried here: the writer's backlog keeps the work
and backs off on its own, and retrying a refused value cannot help.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

import sqlalchemy as sa  # imported by linesman.backends.sqlalchemy, which says what is missing

from linesman.backends.base import BackendError

__all__ = ["TRIES", "refused_for_now", "retrying"]

log = logging.getLogger("linesman")
Result = TypeVar("Result")

TRIES = 3  # the first try and two more: a lock wait of `timeout` thrice at most
FIRST_WAIT = 0.02  # seconds; doubled each time, with jitter so racers spread out

_POSTGRESQL_STATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
}
_MYSQL_CODES = {
    1205,  # ER_LOCK_WAIT_TIMEOUT
    1213,  # ER_LOCK_DEADLOCK
    1969,  # ER_STATEMENT_TIMEOUT (MariaDB's max_statement_time)
    3024,  # ER_QUERY_TIMEOUT (MySQL's max_execution_time)
}
_SQLITE_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED: the busy timeout ran out


def refused_for_now(error: BaseException | None) -> bool:
    """True for a refusal that rolled the transaction back and may pass on a
    second try: a lock wait timeout, a serialization failure or a deadlock."""
    while error is not None and not isinstance(error, sa.exc.DBAPIError):
        error = error.__cause__
    if error is None:
        return False
    driver_error = error.orig
    state = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
    if state in _POSTGRESQL_STATES:
        return True
    if isinstance(driver_error, sqlite3.Error):
        return getattr(driver_error, "sqlite_errorcode", None) in _SQLITE_CODES
    arguments: tuple = getattr(driver_error, "args", ())
    return bool(arguments) and arguments[0] in _MYSQL_CODES


def retrying(
    transaction: Callable[[], AbstractContextManager[sa.Connection]],
    work: Callable[[sa.Connection], Result],
    describe: Callable[[], str],
    tries: int = TRIES,
) -> Result:
    """``work`` run in a transaction, tried again after a short random wait when
    the database refused it for now, at most ``tries`` times in all."""
    for attempt in range(tries):
        try:
            with transaction() as connection:
                return work(connection)
        except BackendError as exc:
            if attempt + 1 >= tries or not refused_for_now(exc):
                raise
            wait = FIRST_WAIT * (2**attempt) * random.uniform(0.5, 1.5)
            log.warning(
                "linesman: %s refused a write for now (%s); trying again in %.0f ms (%d of %d)",
                describe(),
                exc,
                wait * 1000,
                attempt + 2,
                tries,
            )
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
