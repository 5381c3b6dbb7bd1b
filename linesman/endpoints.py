"""Views across sessions: requests grouped by endpoint, merged profiles, comparisons.

An endpoint is a method and a path with its variable parts folded
(``/users/123/orders/9f1c...`` is ``/users/{id}/orders/{id}``). Its sessions'
figures add up to one merged profile, shown like a single session; two
sessions (or two merges) compare function by function.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Iterable

from linesman.session import CallStats, FunctionStats, ProfilingSession

__all__ = ["DEFAULT_FOLDS", "fold_path", "endpoint_of", "EndpointStats", "endpoint_stats",
           "merge_sessions", "compare_sessions"]

# Numbers, UUIDs and long hex tokens, each a whole path segment.
DEFAULT_FOLDS = (
    re.compile(r"(?<=/)[0-9]+(?=/|$)"),
    re.compile(r"(?<=/)[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
               r"[0-9a-fA-F]{12}(?=/|$)"),
    re.compile(r"(?<=/)[0-9a-fA-F]{16,}(?=/|$)"),
)


def fold_path(path: str, folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS) -> str:
    for pattern in folds:
        path = pattern.sub("{id}", path)
    return path


def endpoint_of(method: str, path: str, folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS) -> str:
    return f"{method} {fold_path(path, folds)}"


@dataclass(frozen=True)
class EndpointStats:
    endpoint: str
    count: int
    median: float
    p95: float
    slowest: float
    errors: int


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def endpoint_stats(summaries: Iterable[dict],
                   folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS) -> list[EndpointStats]:
    """Per endpoint: count, median, 95th percentile and max duration, errors; slowest first."""
    folds = tuple(folds)
    groups: dict[str, list[dict]] = {}
    for summary in summaries:
        groups.setdefault(endpoint_of(summary["method"], summary["path"], folds),
                          []).append(summary)
    result = []
    for endpoint, rows in groups.items():
        durations = sorted(row["duration"] for row in rows)
        result.append(EndpointStats(endpoint, len(rows), statistics.median(durations),
                                    _percentile(durations, 0.95), durations[-1],
                                    sum(1 for row in rows if row.get("failed"))))
    return sorted(result, key=lambda stats: stats.p95, reverse=True)


def merge_sessions(sessions: list[ProfilingSession], method: str, path: str) -> ProfilingSession:
    """One profile whose every figure is the sum of the sessions' figures."""
    functions: dict[str, list] = {}
    labels: dict[str, tuple[str, int, str]] = {}
    calls: dict[tuple[str, str], list] = {}
    for session in sessions:
        for function in session.functions:
            labels.setdefault(function.key, (function.file, function.line, function.name))
            figures = functions.setdefault(function.key, [0, 0, 0.0, 0.0])
            figures[0] += function.callcount
            figures[1] += function.reccallcount
            figures[2] += function.inlinetime
            figures[3] += function.totaltime
        for call in session.calls:
            figures = calls.setdefault((call.caller, call.callee), [0, 0, 0.0, 0.0])
            figures[0] += call.callcount
            figures[1] += call.reccallcount
            figures[2] += call.inlinetime
            figures[3] += call.totaltime
    merged = ProfilingSession(environ={"REQUEST_METHOD": method, "PATH_INFO": path},
                              timestamp=max((s.timestamp for s in sessions), default=None))
    merged.functions = [FunctionStats(*labels[key], *figures)
                        for key, figures in functions.items()]
    merged.calls = [CallStats(caller, callee, *figures)
                    for (caller, callee), figures in calls.items()]
    merged.duration = sum(s.duration for s in sessions)
    merged.cpu_time = sum(s.cpu_time for s in sessions)
    merged.response_size = sum(s.response_size for s in sessions)
    merged.status = None
    return merged


def _self_time(session: ProfilingSession) -> dict[str, float]:
    """Own time with the built-ins a function called counted as its own: a loop's clock
    reads or a handler's sleep are that function's doing."""
    builtin = {f.key for f in session.functions if f.file == "~"}
    own = {f.key: f.inlinetime for f in session.functions}
    for call in session.calls:
        if call.callee in builtin and call.caller in own and call.caller not in builtin:
            own[call.caller] += call.totaltime
    return own


def compare_sessions(before: ProfilingSession, after: ProfilingSession) -> dict:
    """Function by function, what changed from ``before`` to ``after``, largest first."""
    old = {f.key: f for f in before.functions}
    new = {f.key: f for f in after.functions}
    old_self, new_self = _self_time(before), _self_time(after)
    rows = []
    for key in old.keys() | new.keys():
        a, b = old.get(key), new.get(key)
        sample = b or a
        rows.append({
            "function": key, "name": sample.name, "file": sample.file, "line": sample.line,
            "status": "appeared" if a is None else "vanished" if b is None else "changed",
            "cumtime_before": a.totaltime if a else 0.0, "cumtime_after": b.totaltime if b else 0.0,
            "cumtime_change": (b.totaltime if b else 0.0) - (a.totaltime if a else 0.0),
            "tottime_change": (b.inlinetime if b else 0.0) - (a.inlinetime if a else 0.0),
            "selftime_change": new_self.get(key, 0.0) - old_self.get(key, 0.0),
            "calls_before": a.callcount if a else 0, "calls_after": b.callcount if b else 0,
        })
    # Own time first (built-ins counted with their caller): a slowed function and all
    # its callers gain the same cumulative time, but only the function itself gains
    # own time. On a tie the Python function comes before the built-in it called.
    rows.sort(key=lambda row: (abs(row["selftime_change"]), row["file"] != "~",
                               abs(row["cumtime_change"])), reverse=True)
    return {
        "before": before.uuid, "after": after.uuid,
        "duration_before": before.duration, "duration_after": after.duration,
        "duration_change": after.duration - before.duration,
        "functions": rows,
    }
