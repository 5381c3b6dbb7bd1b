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

from linesman.model.endpoint import DEFAULT_FOLDS, endpoint_of, fold_path

__all__ = [
    "EndpointStats",
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
