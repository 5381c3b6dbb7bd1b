"""Rows as a store gives them back, checked before a page or a figure reads them.

Linesman writes every row, but a store file or a database may hold what another
tool, an older version, a hand edit or a hostile writer left there: text where a
number goes, NaN, an infinite or negative time, a status of 2**63, bytes, NULL,
a document that is not a session. Every backend reads its summary columns (the
pickle store its documents) through this module, so such a row reaches the
pages as a summary of the right types with a ``damaged`` reason, which the list
flags and the figures leave out; and a session whose row or document is not
sound is a ``SessionFormatError`` (the UI's "damaged" page), never whatever
broke first. A sound row passes one expression of type and range tests, so
listing 100,000 sessions costs about what it did without the check.
"""

from __future__ import annotations

import functools
import logging
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from linesman.model.codec import decode_session
from linesman.model.session import UUID_PATTERN, ProfilingSession, SessionFormatError

__all__ = [
    "SUMMARY_FIELDS",
    "summaries_of_rows",
    "summary_of_row",
    "summary_of_document",
    "summary_of_session",
    "ENDPOINT_FIELDS",
    "sound_endpoint_rows",
    "session_problem",
    "session_of_row",
    "session_of_data",
    "session_of_document",
    "readable_sessions",
]

log = logging.getLogger("linesman")

# What a listing shows of a session, in the order stores keep them as columns.
SUMMARY_FIELDS = (
    "uuid", "timestamp", "method", "path", "query", "status", "duration", "cpu_time", "failed",
)  # fmt: skip
LATEST = 253402300800.0  # 10000-01-01 UTC: past it no page can show the time
MOST_SECONDS = 1e9  # 31 years: no request lasts so long; in ms, summed, still finite
MOST_STATUS = 999  # the middleware keeps a status line's three digits
MOST_METHOD = 100  # characters; linesman writes at most 32
MOST_TEXT = 100_000  # characters of a path or a query; linesman writes at most 8,000
_MOST = {"method": MOST_METHOD, "path": MOST_TEXT, "query": MOST_TEXT}
_is_uuid = re.compile(UUID_PATTERN).fullmatch  # the only ids the pages can open
_FLAGS = (0, 1)  # a stored ``failed``: a bool, or SQLite's 0 and 1

_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = _shown.maxlong = 40
_shown.maxlevel = 2


def shown(value: Any) -> str:
    """A short, safe picture of a stored value for a reason (never a 1 MB path)."""
    try:
        return _shown.repr(value)
    except Exception:  # a value whose repr fails is still a bad value
        return f"a {type(value).__name__}"


# -- one field at a time (the slow path, for a row that failed the quick test) -------
def _number(value: Any) -> float | None:
    if type(value) is float or (type(value) is int and abs(value) < 1 << 1000):
        return float(value)
    return None


def _bounded(name: str, value: Any, most: float) -> tuple[float, str | None]:
    """A time or a duration: a number from 0 to below ``most``."""
    number = _number(value)
    if number is None:
        return 0.0, f"{name} is {shown(value)}, not a number"
    if not 0.0 <= number < most:
        return 0.0, f"{name} {shown(value)} is not from 0 to {most:.4g}"
    return number, None


def _status(name: str, value: Any) -> tuple[int | None, str | None]:
    if value is None or (type(value) is int and 0 <= value <= MOST_STATUS):
        return value, None
    return None, f"{name} {shown(value)} is not an HTTP status"


def _flag(name: str, value: Any) -> tuple[bool, str | None]:
    if type(value) is bool or (type(value) is int and value in _FLAGS):
        return bool(value), None
    return False, f"{name} is {shown(value)}, not true or false"


def _id(name: str, value: Any) -> tuple[str, str | None]:
    if type(value) is str and _is_uuid(value):
        return value, None
    return _text("method", value)[0][:100], f"{name} is {shown(value)}, not a session id"


def _text(name: str, value: Any) -> tuple[str, str | None]:
    most = _MOST[name]
    if type(value) is str:
        if len(value) <= most:
            return value, None
        return value[:200] + "…", f"{name} is {len(value):,} characters long"
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value)[:200].decode("utf-8", "replace")
    else:
        text = "" if value is None else shown(value)
    return text, f"{name} is {shown(value)}, not text"


_CHECKS: dict[str, Callable[[str, Any], tuple[Any, str | None]]] = {
    "uuid": _id,
    "timestamp": functools.partial(_bounded, most=LATEST),
    "method": _text,
    "path": _text,
    "query": _text,
    "status": _status,
    "duration": functools.partial(_bounded, most=MOST_SECONDS),
    "cpu_time": functools.partial(_bounded, most=MOST_SECONDS),
    "failed": _flag,
}


def _checked(values: Sequence[Any]) -> dict[str, Any]:
    """Each field to its type, a stand-in where it cannot be; ``damaged`` says why."""
    summary: dict[str, Any] = {}
    problems = []
    for name, value in zip(SUMMARY_FIELDS, values, strict=True):
        summary[name], problem = _CHECKS[name](name, value)
        if problem:
            problems.append(problem)
    if problems:
        summary["damaged"] = "; ".join(problems)
    return summary


# -- rows ------------------------------------------------------------------------
def summaries_of_rows(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """The summaries of rows of the SUMMARY_FIELDS columns, checked; a row that is
    not sound has a ``damaged`` reason and stand-ins of the right types (0.0 for a
    time, no status, "" or a picture of the value for text). One loop for all the
    rows, no call per sound one: a listing of 100,000 costs what it did unchecked."""
    summaries: list[dict[str, Any]] = []
    append, is_uuid = summaries.append, _is_uuid
    for row in rows:
        uuid, timestamp, method, path, query, status, duration, cpu_time, failed = row
        if (
            type(timestamp) is float
            and 0.0 <= timestamp < LATEST
            and type(duration) is float
            and 0.0 <= duration < MOST_SECONDS
            and type(cpu_time) is float
            and 0.0 <= cpu_time < MOST_SECONDS
            and (status is None or (type(status) is int and 0 <= status <= MOST_STATUS))
            and (failed is True or failed is False or (type(failed) is int and failed in _FLAGS))
            and type(uuid) is str
            and is_uuid(uuid)
            and type(method) is str
            and type(path) is str
            and type(query) is str
            and len(path) <= MOST_TEXT
            and len(query) <= MOST_TEXT
            and len(method) <= MOST_METHOD
        ):
            append(
                {
                    "uuid": uuid,
                    "timestamp": timestamp,
                    "method": method,
                    "path": path,
                    "query": query,
                    "status": status,
                    "duration": duration,
                    "cpu_time": cpu_time,
                    "failed": bool(failed),
                }
            )
        else:
            append(_checked(row))
    return summaries


def summary_of_row(row: Sequence[Any]) -> dict[str, Any]:
    """The summary of one row (see summaries_of_rows)."""
    return summaries_of_rows((row,))[0]


def summary_of_document(key: Any, document: Any) -> dict[str, Any]:
    """The summary of a document the pickle store holds under ``key``, checked."""
    if not isinstance(document, Mapping):
        summary = _checked((key, *([None] * (len(SUMMARY_FIELDS) - 1))))
        summary["damaged"] = f"the stored document is {shown(document)}, not a session"
        return summary
    summary = summary_of_row(tuple(document.get(name) for name in SUMMARY_FIELDS))
    reason = document.get("damaged")  # a document the store could not write back
    if summary["uuid"] != key:
        reason = reason or f"it is stored under {shown(key)}, not its uuid"
        summary["uuid"] = _id("uuid", key)[0]
    if reason:
        reason = reason[:500] if isinstance(reason, str) else shown(reason)
        summary["damaged"] = "; ".join(filter(None, (reason, summary.get("damaged"))))
    return summary


def summary_of_session(session: ProfilingSession) -> dict[str, Any]:
    """The summary of a session a store built (a seven-method store's), checked."""
    values = [getattr(session, name, None) for name in SUMMARY_FIELDS[:-1]]
    try:
        failed = session.failed
    except Exception:  # a status that is not a number
        failed = None
    return summary_of_row((*values, failed))


ENDPOINT_FIELDS = ("method", "path", "duration", "failed", "status", "timestamp")


def sound_endpoint_rows(rows: Iterable[Sequence[Any]]) -> tuple[list[tuple], int]:
    """The ENDPOINT_FIELDS rows fit for the figures, and how many were not (left
    out). A row of four (a store that gives no status or time) gets None for both."""
    kept: list[tuple] = []
    damaged = 0
    for row in rows:
        if len(row) == 6:
            method, path, duration, failed, status, timestamp = row
            if (
                type(duration) is float
                and 0.0 <= duration < MOST_SECONDS
                and type(timestamp) is float
                and 0.0 <= timestamp < LATEST
                and (status is None or (type(status) is int and 0 <= status <= MOST_STATUS))
                and type(method) is str
                and type(path) is str
                and len(path) <= MOST_TEXT
                and len(method) <= MOST_METHOD
                and failed in _FLAGS
            ):
                kept.append(row if type(row) is tuple else tuple(row))
                continue
        sound = _sound_fields(ENDPOINT_FIELDS[: min(len(row), 6)], row)
        if sound is None:
            damaged += 1
        else:
            kept.append((*sound, None, None)[:6])
    return kept, damaged


def _sound_fields(names: Sequence[str], values: Sequence[Any]) -> tuple | None:
    """The values each made its field's type, or None if one cannot be."""
    sound = []
    for name, value in zip(names, values, strict=False):
        clean, problem = _CHECKS[name](name, value)
        if problem is not None:
            return None
        sound.append(clean)
    return tuple(sound)


# -- sessions ----------------------------------------------------------------------
def session_problem(session: ProfilingSession) -> str | None:
    """Why a session's own fields would make a damaged row, or None if they would not."""
    try:
        summary = session.summary()  # the row's own fields, "timestamp" in seconds
        values = [summary[name] for name in SUMMARY_FIELDS[:-1]]
        error = session.error
    except Exception as exc:  # an attribute missing: not a session as linesman makes them
        return f"{type(exc).__name__}: {exc}"
    problem = _checked((*values, False)).get("damaged")
    if problem is None and error is not None and type(error) is not str:
        problem = f"error is {shown(error)}, not text"
    return problem


def _read(build: Callable[[], ProfilingSession]) -> ProfilingSession:
    """``build()``'s session, or SessionFormatError whatever is wrong with what it
    reads (a RecursionError, a field's ValueError) or with the session it makes."""
    try:
        session = build()
    except SessionFormatError:
        raise
    except Exception as exc:
        raise SessionFormatError(
            f"damaged session document ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    problem = session_problem(session)
    if problem is not None:
        raise SessionFormatError(f"damaged session document: {problem}")
    return session


def session_of_data(data: Any) -> ProfilingSession:
    """The session of a stored document (compressed JSON), or SessionFormatError."""
    return _read(lambda: decode_session(data))


def session_of_row(row: Sequence[Any]) -> ProfilingSession:
    """The session of a row of the SUMMARY_FIELDS columns and the document: a row
    whose columns are damaged is as damaged as its document could be."""
    problem = summary_of_row(row[:-1]).get("damaged")
    if problem is not None:
        raise SessionFormatError(f"damaged stored row: {problem}")
    return session_of_data(row[-1])


def session_of_document(key: Any, document: Any) -> ProfilingSession:
    """The session of a document the pickle store holds, or SessionFormatError."""
    problem = summary_of_document(key, document).get("damaged")
    if problem is not None:
        raise SessionFormatError(f"damaged session document: {problem}")
    return _read(lambda: ProfilingSession.from_dict(document))


def readable_sessions(
    where: str, pairs: Iterable[tuple[str, Any]], read: Callable[[str, Any], ProfilingSession]
) -> dict[str, ProfilingSession]:
    """``{uuid: read(uuid, stored)}`` of every pair whose session reads; the damaged
    ones are left out, and said so once in the log (``get_all`` of a store)."""
    sessions: dict[str, ProfilingSession] = {}
    damaged: list[tuple[str, SessionFormatError]] = []
    for uuid, stored in pairs:
        try:
            sessions[uuid] = read(uuid, stored)
        except SessionFormatError as error:
            damaged.append((uuid, error))
    if damaged:
        log.warning(
            "linesman: %s holds %d damaged session(s), left out: %s (%s)%s",
            where,
            len(damaged),
            shown(damaged[0][0]),
            damaged[0][1],
            "" if len(damaged) == 1 else ", ...",
        )
    return sessions
