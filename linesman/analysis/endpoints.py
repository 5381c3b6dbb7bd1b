"""Requests grouped by endpoint, and each endpoint's figures.

An endpoint is a method and a path with its variable parts folded
(``/users/123/orders/9f1c...`` is ``/users/{id}/orders/{id}``). Its sessions'
figures add up to one merged profile (``linesman.model.merge``), and two
profiles compare function by function (``linesman.analysis.compare``).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from typing import NamedTuple

from linesman.backends.row_check import sound_endpoint_rows
from linesman.model.endpoint import DEFAULT_FOLDS, endpoint_of, fold_path
from linesman.model.merge import percentile

__all__ = [
    "EndpointStats",
    "EndpointGroups",
    "DurationSeries",
    "group_rows",
    "stats_of_groups",
    "time_range",
    "duration_series",
    "endpoint_stats",
    "stats_of_rows",
    "DEFAULT_FOLDS",
    "fold_path",
    "endpoint_of",
]


class EndpointStats(NamedTuple):
    """One endpoint's figures (a tuple: a store of 100,000 paths makes as many)."""

    endpoint: str
    count: int  # type: ignore[assignment]  # shadows tuple.count, as the API names it
    median: float
    p95: float
    slowest: float
    errors: int  # server errors: a 5xx status, or the app raised
    client_errors: int = 0  # a 4xx status


class DurationSeries(NamedTuple):
    """An endpoint's requests in equal time buckets: when each bucket starts, and
    its request count, median and 95th percentile duration (None where empty)."""

    starts: list[float]
    counts: list[int]
    medians: list[float | None]
    p95s: list[float | None]


class EndpointGroups(dict[str, list[tuple]]):
    """The rows by endpoint, and how many rows were damaged (left out: a row of
    wrong types or impossible values must neither break nor skew the figures)."""

    damaged: int = 0


def endpoint_stats(
    summaries: Iterable[dict], folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS
) -> list[EndpointStats]:
    """Per endpoint: count, median, 95th percentile and max duration, errors; slowest
    first. A damaged summary counts for nothing."""
    return stats_of_rows(
        (_row_of(summary) for summary in summaries if not summary.get("damaged")), folds
    )


def _row_of(summary: dict) -> tuple:
    """A summary's endpoint row; one without a time gives none, nor a status."""
    row = (summary["method"], summary["path"], summary["duration"], summary.get("failed", False))
    if "timestamp" not in summary:
        return row
    return (*row, summary.get("status"), summary["timestamp"])


def stats_of_rows(
    rows: Iterable[tuple], folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS
) -> list[EndpointStats]:
    """endpoint_stats from ``(method, path, duration, failed, status, timestamp)``
    rows, as ``Backend.endpoint_rows`` gives them."""
    return stats_of_groups(group_rows(rows, folds))


def group_rows(
    rows: Iterable[tuple], folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS
) -> EndpointGroups:
    """The sound rows by endpoint (see ``row_check.sound_endpoint_rows``). A row of a
    store that gives only ``(method, path, duration, failed)`` has no status or time."""
    sound, damaged = sound_endpoint_rows(rows)
    subs = [pattern.sub for pattern in folds]
    groups = EndpointGroups()
    groups.damaged = damaged
    for row in sound:
        path = row[1]
        for sub in subs:  # fold_path, inline: it runs once per stored session
            path = sub("{id}", path)
        endpoint = f"{row[0]} {path}"
        found = groups.get(endpoint)
        if found is None:
            groups[endpoint] = [row]
        else:
            found.append(row)
    return groups


def _is_client_error(status: int | None) -> bool:
    return status is not None and 400 <= status < 500


def stats_of_groups(groups: dict[str, list[tuple]]) -> list[EndpointStats]:
    """Each endpoint's figures, slowest (95th percentile) first."""
    result = []
    for endpoint, members in groups.items():
        if len(members) == 1:  # a store of distinct paths is mostly these
            _, _, value, failed, status, _ = members[0]
            client = 1 if _is_client_error(status) else 0
            server = 1 if failed else 0
            result.append(EndpointStats(endpoint, 1, value, value, value, server, client))
            continue
        values = sorted([row[2] for row in members])
        result.append(
            EndpointStats(
                endpoint,
                len(values),
                statistics.median(values),
                percentile(values, 0.95),
                values[-1],
                sum(1 for row in members if row[3]),
                sum(1 for row in members if _is_client_error(row[4])),
            )
        )
    result.sort(key=lambda stats: stats.p95, reverse=True)
    return result


def time_range(groups: dict[str, list[tuple]]) -> tuple[float, float] | None:
    """The first and last request's time over every endpoint (None without times)."""
    times = [row[5] for members in groups.values() for row in members if row[5] is not None]
    return (min(times), max(times)) if times else None


def duration_series(
    members: list[tuple], start: float, end: float, buckets: int = 24
) -> DurationSeries:
    """The endpoint's rows in ``buckets`` equal buckets from ``start`` to ``end``:
    every endpoint of a page on one time axis, so their charts line up."""
    width = (end - start) / buckets or 1.0
    durations: list[list[float]] = [[] for _ in range(buckets)]
    for row in members:
        if row[5] is not None:
            index = min(buckets - 1, max(0, int((row[5] - start) / width)))
            durations[index].append(row[2])
    medians: list[float | None] = []
    p95s: list[float | None] = []
    for values in durations:
        values.sort()
        medians.append(statistics.median(values) if values else None)
        p95s.append(percentile(values, 0.95) if values else None)
    return DurationSeries(
        [start + index * width for index in range(buckets)],
        [len(values) for values in durations],
        medians,
        p95s,
    )
