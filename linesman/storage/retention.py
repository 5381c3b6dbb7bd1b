"""Retention: how many and how old stored sessions may be, applied by the
writer now and then (never a scan per insert)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linesman.model.endpoint import DEFAULT_FOLDS, EndpointRule

if TYPE_CHECKING:
    from linesman.backends.base import Backend

__all__ = [
    "Retention",
    "RetentionSchedule",
    "apply_retention",
    "prune_keeping_slowest",
    "slowest_per_endpoint",
]


@dataclass(frozen=True)
class Retention:
    """How many and how old stored sessions may be; applied now and then."""

    max_sessions: int | None = None
    max_age: float | None = None
    interval: float = 10.0  # seconds between checks at most
    keep_slowest: int | None = None  # max_sessions spares each endpoint's N slowest
    folds: tuple = DEFAULT_FOLDS  # what makes paths one endpoint
    query_names: tuple = ()  # endpoint_query: query parameters that name endpoints

    def every(self) -> int:
        """Inserts between two checks: a tenth of the limit, so it overshoots little."""
        return max(1, (self.max_sessions or 1000) // 10)


class RetentionSchedule:
    """When retention runs: after a tenth of ``max_sessions`` stores, or after
    ``interval`` seconds with any store, and only once nothing waits for the
    store (the writer's own backlog comes first)."""

    def __init__(self, retention: Retention) -> None:
        self.retention = retention
        self.stored_since = 0
        self.last_run = time.monotonic()

    def count_stored(self, count: int) -> None:
        self.stored_since += count

    def due(self) -> bool:
        retention = self.retention
        if retention.max_sessions is None and retention.max_age is None:
            return False
        return self.stored_since >= retention.every() or bool(
            self.stored_since and time.monotonic() - self.last_run >= retention.interval
        )

    def run(self, backend: Backend) -> int:
        """Apply retention now; how many sessions it removed."""
        self.stored_since = 0
        self.last_run = time.monotonic()
        return apply_retention(backend, self.retention)


def apply_retention(backend: Backend, retention: Retention) -> int:
    """Remove what is too old, then what is beyond the count; how many went."""
    removed = 0
    if retention.max_age is not None:
        removed += backend.prune_older(time.time() - retention.max_age)
    if retention.max_sessions is not None and retention.keep_slowest:
        removed += prune_keeping_slowest(
            backend,
            retention.max_sessions,
            retention.keep_slowest,
            retention.folds,
            retention.query_names,
        )
    elif retention.max_sessions is not None:
        removed += backend.prune(retention.max_sessions)
    return removed


def slowest_per_endpoint(
    summaries: Iterable[dict],
    count: int,
    folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS,
    query_names: Iterable[str] = (),
) -> set[str]:
    """The ids of each endpoint's ``count`` slowest sessions (endpoints as the
    endpoints page names them, ``endpoint_query`` included)."""
    rule = EndpointRule(tuple(folds), tuple(query_names))
    groups: dict[str, list[dict]] = {}
    for row in summaries:
        key = rule.key(row["method"], row["path"], row.get("query") or "")
        groups.setdefault(key, []).append(row)
    kept: set[str] = set()
    for rows in groups.values():
        rows.sort(key=lambda row: row["duration"], reverse=True)
        kept.update(row["uuid"] for row in rows[:count])
    return kept


def prune_keeping_slowest(
    backend: Backend,
    keep: int,
    slowest: int,
    folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS,
    query_names: Iterable[str] = (),
) -> int:
    """Remove the oldest sessions beyond ``keep``, sparing each endpoint's
    ``slowest`` slowest, so a rare slow request is not pushed out by many fast
    ones (the store may then hold a little more than ``keep``)."""
    rows = backend.summaries()  # oldest first
    excess = len(rows) - keep
    if excess <= 0:
        return 0
    spared = slowest_per_endpoint(rows, slowest, folds, query_names)
    doomed = [row["uuid"] for row in rows if row["uuid"] not in spared][:excess]
    return backend.delete_many(doomed) if doomed else 0
