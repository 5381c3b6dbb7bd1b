"""Requests grouped by endpoint, and each endpoint's figures.

An endpoint is a method and a path with its variable parts folded
(``/users/123/orders/9f1c...`` is ``/users/{id}/orders/{id}``), and the values of
the query parameters ``endpoint_query`` names (see ``linesman.model.endpoint``).
Its sessions' figures add up to one merged profile (``linesman.model.merge``),
and two profiles compare function by function (``linesman.analysis.compare``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from linesman.backends.row_check import sound_endpoint_rows
from linesman.model.endpoint import (
    DEFAULT_FOLDS,
    DEFAULT_RULE,
    EndpointRule,
    endpoint_of,
    fold_path,
    query_part,
)
from linesman.model.merge import percentile

if TYPE_CHECKING:
    from linesman.backends.base import Backend

QUERIES_REMEMBERED = 10_000  # distinct queries whose endpoint part one grouping keeps

__all__ = [
    "EndpointStats",
    "EndpointGroups",
    "DurationSeries",
    "group_rows",
    "group_summaries",
    "endpoint_groups",
    "stats_of_groups",
    "time_range",
    "duration_series",
    "endpoint_stats",
    "stats_of_rows",
    "DEFAULT_FOLDS",
    "DEFAULT_RULE",
    "EndpointRule",
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
    summaries: Iterable[dict], rule: EndpointRule = DEFAULT_RULE
) -> list[EndpointStats]:
    """Per endpoint: count, median, 95th percentile and max duration, errors; slowest
    first. A damaged summary counts for nothing."""
    return stats_of_groups(group_summaries(summaries, rule))


def stats_of_rows(rows: Iterable[tuple], rule: EndpointRule = DEFAULT_RULE) -> list[EndpointStats]:
    """endpoint_stats from ``(method, path, duration, failed, status, timestamp)``
    rows, as ``Backend.endpoint_rows`` gives them."""
    return stats_of_groups(group_rows(rows, rule))


def endpoint_groups(backend: Backend, rule: EndpointRule = DEFAULT_RULE) -> EndpointGroups:
    """The store's sessions by endpoint. The six columns of ``endpoint_rows`` name
    an endpoint unless the rule reads the query (``endpoint_query``): then the
    summaries, which keep it, are read instead."""
    if rule.query_names:
        return group_summaries(backend.summaries(), rule)
    return group_rows(backend.endpoint_rows(), rule)


def group_rows(rows: Iterable[tuple], rule: EndpointRule = DEFAULT_RULE) -> EndpointGroups:
    """The sound rows by endpoint (see ``row_check.sound_endpoint_rows``). A row of a
    store that gives only ``(method, path, duration, failed)`` has no status or time.
    The rows carry no query: the rule's ``query_names`` play no part here."""
    sound, damaged = sound_endpoint_rows(rows)
    subs = [pattern.sub for pattern in rule.folds]
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


def group_summaries(summaries: Iterable[dict], rule: EndpointRule = DEFAULT_RULE) -> EndpointGroups:
    """Summaries by endpoint, the query read where the rule names parameters, as
    ``(method, path, duration, failed, status, timestamp)`` rows checked as
    ``group_rows`` checks them; a damaged one is counted and left out."""
    if not rule.query_names:
        return group_rows((_row_of(summary) for summary in summaries), rule)
    # By the query's part of the endpoint first (many requests share one query, so
    # each distinct one is read once), then each bucket as group_rows groups rows.
    buckets: dict[str, list[tuple]] = {}
    parts: dict[str, str] = {}
    names = rule.query_names
    for summary in summaries:
        query = summary.get("query")
        query = query if type(query) is str else ""
        part = parts.get(query)
        if part is None:
            part = query_part(query, names)
            if len(parts) < QUERIES_REMEMBERED:
                parts[query] = part
        found = buckets.get(part)
        if found is None:
            buckets[part] = [_row_of(summary)]
        else:
            found.append(_row_of(summary))
    groups = EndpointGroups()
    for part, rows in buckets.items():
        grouped = group_rows(rows, rule)
        groups.damaged += grouped.damaged
        for endpoint, members in grouped.items():
            groups[endpoint + part] = members
    return groups


def _row_of(summary: dict) -> tuple:
    """A summary's endpoint row; one without a time gives none, nor a status. A
    damaged summary's duration is None: the check counts it as damaged."""
    duration = None if summary.get("damaged") else summary["duration"]
    row = (summary["method"], summary["path"], duration, summary.get("failed", False))
    if "timestamp" not in summary:
        return row
    return (*row, summary.get("status"), summary["timestamp"])


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
