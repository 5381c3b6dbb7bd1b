"""Views across sessions: requests grouped by endpoint, merged profiles, comparisons.

An endpoint is a method and a path with its variable parts folded
(``/users/123/orders/9f1c...`` is ``/users/{id}/orders/{id}``). Its sessions'
figures add up to one merged profile, shown like a single session; two
sessions (or two merges) compare function by function.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from linesman.model.callgraph import profile_total
from linesman.model.endpoint import DEFAULT_FOLDS, endpoint_of, fold_path
from linesman.model.merge import merge_sessions
from linesman.model.rows import BUILTIN_FILE, FunctionStats
from linesman.model.session import ProfilingSession

if TYPE_CHECKING:
    from linesman.backends.base import Backend

__all__ = [
    "DEFAULT_FOLDS",
    "fold_path",
    "endpoint_of",
    "EndpointStats",
    "endpoint_stats",
    "merge_sessions",
    "compare_sessions",
    "ProfileRef",
    "parse_ref",
    "parse_time",
    "endpoint_sessions",
    "resolve",
    "median_session",
    "MERGE_LIMIT",
    "iso_utc",
]

MERGE_LIMIT = 500  # the newest sessions of an endpoint that a merge adds up
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ENDPOINT = re.compile(r"[A-Z]{1,10} /\S{0,800}")
_RANGE = re.compile(r"@([^@\s]*)\.\.([^@\s]*)$")


class EndpointStats(NamedTuple):
    """One endpoint's figures (a tuple: a store of 100,000 paths makes as many)."""

    endpoint: str
    count: int  # type: ignore[assignment]  # shadows tuple.count, as the API names it
    median: float
    p95: float
    slowest: float
    errors: int


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def endpoint_stats(
    summaries: Iterable[dict], folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS
) -> list[EndpointStats]:
    """Per endpoint: count, median, 95th percentile and max duration, errors; slowest first."""
    return stats_of_rows(
        (
            (summary["method"], summary["path"], summary["duration"], summary.get("failed"))
            for summary in summaries
        ),
        folds,
    )


def stats_of_rows(
    rows: Iterable[tuple], folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS
) -> list[EndpointStats]:
    """endpoint_stats from ``(method, path, duration, failed)`` rows, as
    ``Backend.endpoint_rows`` gives them."""
    folds = tuple(folds)
    subs = [pattern.sub for pattern in folds]
    durations: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for method, path, duration, failed in rows:
        for sub in subs:  # fold_path, inline: it runs once per stored session
            path = sub("{id}", path)
        endpoint = f"{method} {path}"
        found = durations.get(endpoint)
        if found is None:
            durations[endpoint] = [duration]
            errors[endpoint] = 1 if failed else 0
            continue
        found.append(duration)
        if failed:
            errors[endpoint] += 1
    result = []
    for endpoint, values in durations.items():
        if len(values) == 1:  # a store of distinct paths is mostly these
            value = values[0]
            result.append(EndpointStats(endpoint, 1, value, value, value, errors[endpoint]))
            continue
        values.sort()
        result.append(
            EndpointStats(
                endpoint,
                len(values),
                statistics.median(values),
                _percentile(values, 0.95),
                values[-1],
                errors[endpoint],
            )
        )
    result.sort(key=lambda stats: stats.p95, reverse=True)
    return result


def one_kind(sessions: list[ProfilingSession]) -> list[ProfilingSession]:
    """The sessions made by the engine most of them were made by (the newest's on
    a tie): call counts and samples do not add up."""
    kinds = [session.kind for session in sessions]
    if len(set(kinds)) < 2:
        return sessions
    newest = max(sessions, key=lambda session: session.timestamp).kind
    chosen = max(set(kinds), key=lambda kind: (kinds.count(kind), kind == newest))
    return [session for session in sessions if session.kind == chosen]


def _self_time(session: ProfilingSession) -> dict[str, float]:
    """Own time with the built-ins a function called counted as its own: a loop's clock
    reads or a handler's sleep are that function's doing."""
    builtin = {f.key for f in session.functions if f.file == BUILTIN_FILE}
    own = {f.key: f.inlinetime for f in session.functions}
    for call in session.calls:
        if call.callee in builtin and call.caller in own and call.caller not in builtin:
            own[call.caller] += call.totaltime
    return own


def compare_sessions(
    before: ProfilingSession, after: ProfilingSession, before_count: int = 1, after_count: int = 1
) -> dict:
    """Function by function, what changed from ``before`` to ``after``, largest first.

    A side that is a merge of several sessions counts per request (its figures
    divided by ``*_count``), so 500 requests last week compare fairly with 20
    today. A cProfile profile and a sampled one compare by time shares (each
    figure as a fraction of its own profile's time): ``basis`` says which."""
    by_share = before.kind != after.kind
    old = {f.key: f for f in before.functions}
    new = {f.key: f for f in after.functions}
    old_self, new_self = _self_time(before), _self_time(after)

    def per(value: float, count: int) -> float:
        return value / count if count > 1 else value

    per_before, per_after = before_count, after_count  # what function figures divide by
    if by_share:  # times as shares of their own side; calls are not comparable
        before_total, after_total = profile_total(before) or 1.0, profile_total(after) or 1.0
        old_self = {key: value / before_total for key, value in old_self.items()}
        new_self = {key: value / after_total for key, value in new_self.items()}
        old = {key: _as_share(f, before_total) for key, f in old.items()}
        new = {key: _as_share(f, after_total) for key, f in new.items()}
        per_before = per_after = 1

    rows: list[dict[str, Any]] = []
    for key in old.keys() | new.keys():
        a, b = old.get(key), new.get(key)
        sample = b or a
        assert sample is not None  # the key came from one side
        cum_a = per(a.totaltime, per_before) if a else 0.0
        cum_b = per(b.totaltime, per_after) if b else 0.0
        rows.append(
            {
                "function": key,
                "name": sample.name,
                "file": sample.file,
                "line": sample.line,
                "status": "appeared" if a is None else "vanished" if b is None else "changed",
                "cumtime_before": cum_a,
                "cumtime_after": cum_b,
                "cumtime_change": cum_b - cum_a,
                "tottime_change": (per(b.inlinetime, per_after) if b else 0.0)
                - (per(a.inlinetime, per_before) if a else 0.0),
                "selftime_change": per(new_self.get(key, 0.0), per_after)
                - per(old_self.get(key, 0.0), per_before),
                "calls_before": None if by_share else per(a.callcount, per_before) if a else 0,
                "calls_after": None if by_share else per(b.callcount, per_after) if b else 0,
            }
        )
    # Own time first (built-ins counted with their caller): a slowed function and all
    # its callers gain the same cumulative time, but only the function itself gains
    # own time. On a tie the Python function comes before the built-in it called.
    rows.sort(
        key=lambda row: (
            abs(row["selftime_change"]),
            row["file"] != BUILTIN_FILE,
            abs(row["cumtime_change"]),
        ),
        reverse=True,
    )
    duration_before = per(before.duration, before_count)
    duration_after = per(after.duration, after_count)
    return {
        "before": before.uuid,
        "after": after.uuid,
        "basis": "share" if by_share else "time",
        "kinds": [before.kind, after.kind],
        "sessions_before": before_count,
        "sessions_after": after_count,
        "duration_before": duration_before,
        "duration_after": duration_after,
        "duration_change": duration_after - duration_before,
        "functions": rows,
    }


def _as_share(function: FunctionStats, total: float) -> FunctionStats:
    return FunctionStats(
        function.file,
        function.line,
        function.name,
        function.callcount,
        function.reccallcount,
        function.inlinetime / total,
        function.totaltime / total,
    )


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


def endpoint_sessions(
    backend: Backend, ref: ProfileRef, folds: Iterable[re.Pattern[str]], limit: int = MERGE_LIMIT
) -> list[ProfilingSession]:
    """The newest ``limit`` stored sessions of the endpoint within the ref's range."""
    folds = tuple(folds)
    uuids = [
        row["uuid"]
        for row in reversed(backend.summaries())
        if (ref.since is None or row["timestamp"] >= ref.since)
        and (ref.until is None or row["timestamp"] < ref.until)
        and endpoint_of(row["method"], row["path"], folds) == ref.endpoint
    ][:limit]
    return one_kind([session for session in map(backend.get, uuids) if session is not None])


def resolve(
    backend: Backend, ref: ProfileRef, folds: Iterable[re.Pattern[str]], limit: int = MERGE_LIMIT
) -> tuple[ProfilingSession, int] | None:
    """The profile a ref names and how many sessions it adds up; None if none."""
    if ref.uuid:
        session = backend.get(ref.uuid)
        return None if session is None else (session, 1)
    sessions = endpoint_sessions(backend, ref, folds, limit)
    if not sessions:
        return None
    method, _, path = ref.endpoint.partition(" ")
    return merge_sessions(sessions, method, path, uuid=str(ref)), len(sessions)


def median_session(
    backend: Backend, session: ProfilingSession, folds: Iterable[re.Pattern[str]]
) -> str:
    """The id of the session of median duration among this one's endpoint."""
    folds = tuple(folds)
    endpoint = endpoint_of(session.method, session.path, folds)
    rows = sorted(
        (
            row
            for row in backend.summaries()
            if endpoint_of(row["method"], row["path"], folds) == endpoint
        ),
        key=lambda row: row["duration"],
    )
    return rows[(len(rows) - 1) // 2]["uuid"] if rows else session.uuid
