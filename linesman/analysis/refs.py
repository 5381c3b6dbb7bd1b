"""What a user names to compare or merge: a session id, or an endpoint with an
optional time range (``GET /users/{id}@2026-11-01..2026-11-08``), and the
sessions it stands for in a store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from linesman.analysis.compare import one_kind
from linesman.model.endpoint import EndpointRule
from linesman.model.merge import merge_sessions
from linesman.model.session import (
    METHOD_PATTERN,
    UUID_PATTERN,
    ProfilingSession,
    SessionFormatError,
)

if TYPE_CHECKING:
    from linesman.backends.base import Backend


MERGE_LIMIT = 500  # the newest sessions of an endpoint that a merge adds up

MEDIAN_TRIES = 5  # damaged sessions passed over looking for an endpoint's median one


UUID = re.compile(UUID_PATTERN)


_ENDPOINT = re.compile(METHOD_PATTERN + r" /\S{0,800}")


_RANGE = re.compile(r"@([^@\s]*)\.\.([^@\s]*)$")


def parse_time(text: str) -> float:
    """A time in ISO 8601 (UTC unless it says otherwise) or Unix seconds."""
    text = text.strip()
    if re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,6})?", text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "a time is 2026-11-26T10:00 (UTC unless it says otherwise) or Unix seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class ProfileRef:
    """What a comparison side names: one session, or an endpoint's sessions merged
    (optionally those between ``since`` and ``until``)."""

    uuid: str = ""
    endpoint: str = ""
    since: float | None = None
    until: float | None = None

    def __str__(self) -> str:
        if self.uuid:
            return self.uuid
        if self.since is None and self.until is None:
            return self.endpoint
        return f"{self.endpoint}@{iso_utc(self.since)}..{iso_utc(self.until)}"


def iso_utc(moment: float | None) -> str:
    """A range end as written in a reference: ISO 8601 in UTC, exact to the
    microsecond (so a reference names the very sessions a page showed)."""
    if moment is None:
        return ""
    text = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text.removesuffix(".000000")


def parse_ref(text: str) -> ProfileRef:
    """A session id, or ``METHOD /folded/path`` with an optional ``@SINCE..UNTIL``."""
    text = (text or "").strip()
    if UUID.fullmatch(text):
        return ProfileRef(uuid=text)
    since = until = None
    window = _RANGE.search(text)
    if window is None and "@" in text:
        raise ValueError(
            "a time range is @FROM..TO, each side a time (2026-11-26T10:00 or "
            "Unix seconds) or empty"
        )
    if window:
        text = text[: window.start()]
        since = parse_time(window.group(1)) if window.group(1) else None
        until = parse_time(window.group(2)) if window.group(2) else None
        if since is not None and until is not None and since >= until:
            raise ValueError("the time range @FROM..TO ends before it starts")
    if not _ENDPOINT.fullmatch(text):
        raise ValueError(
            "name a session id, or an endpoint such as 'GET /users/{id}' "
            "with an optional @SINCE..UNTIL"
        )
    return ProfileRef(endpoint=text, since=since, until=until)


def endpoint_uuids(
    backend: Backend, ref: ProfileRef, rule: EndpointRule, limit: int = MERGE_LIMIT
) -> list[str]:
    """The ids of the newest ``limit`` stored sessions of the endpoint within the
    ref's range, newest first (read from the summaries: nothing is decoded; a
    damaged row is left out)."""
    key = rule.key
    return [
        row["uuid"]
        for row in reversed(backend.summaries())
        if not row.get("damaged")
        and (ref.since is None or row["timestamp"] >= ref.since)
        and (ref.until is None or row["timestamp"] < ref.until)
        and key(row["method"], row["path"], row.get("query") or "") == ref.endpoint
    ][:limit]


def endpoint_sessions(
    backend: Backend, ref: ProfileRef, rule: EndpointRule, limit: int = MERGE_LIMIT
) -> list[ProfilingSession]:
    """The newest ``limit`` stored sessions of the endpoint within the ref's range
    (all read at once, without a time bound: for the command line; the UI merges
    them one at a time within its budget, see linesman.analysis.merging). A
    session whose document turns out damaged is left out."""
    uuids = endpoint_uuids(backend, ref, rule, limit)
    sessions = (_readable(backend, uuid) for uuid in uuids)
    return one_kind([session for session in sessions if session is not None])


def _readable(backend: Backend, uuid: str) -> ProfilingSession | None:
    """The stored session, or None if it is gone or damaged."""
    try:
        return backend.get(uuid)
    except SessionFormatError:
        return None


def resolve(
    backend: Backend, ref: ProfileRef, rule: EndpointRule, limit: int = MERGE_LIMIT
) -> tuple[ProfilingSession, int] | None:
    """The profile a ref names and how many sessions it adds up; None if none."""
    if ref.uuid:
        session = backend.get(ref.uuid)
        return None if session is None else (session, 1)
    sessions = endpoint_sessions(backend, ref, rule, limit)
    if not sessions:
        return None
    return merged_endpoint(ref, sessions), len(sessions)


def merged_endpoint(ref: ProfileRef, sessions: list[ProfilingSession]) -> ProfilingSession:
    """The endpoint's sessions added up into one profile, named by the ref."""
    method, _, path = ref.endpoint.partition(" ")
    return merge_sessions(sessions, method, path, uuid=str(ref))


def median_session(backend: Backend, session: ProfilingSession, rule: EndpointRule) -> str:
    """The id of the session of median duration among this one's endpoint (of
    those that read: a damaged one is passed over, a few at most)."""
    key = rule.key
    endpoint = key(session.method, session.path, session.query)
    rows = sorted(
        (
            row
            for row in backend.summaries()
            if not row.get("damaged")
            and key(row["method"], row["path"], row.get("query") or "") == endpoint
        ),
        key=lambda row: row["duration"],
    )
    for _ in range(MEDIAN_TRIES):
        if not rows:
            break
        median = rows.pop((len(rows) - 1) // 2)["uuid"]
        if median == session.uuid or _readable(backend, median) is not None:
            return median
    return session.uuid
