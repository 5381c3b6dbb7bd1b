"""The JSON API's figures across sessions: the endpoints table (``api/endpoints``)
and the counters (``api/counters``), for scripts and the regression watch.

They read what the pages read (the UI's cached endpoint table, the health
counters and the store's shared counters) and answer under the same access
rules, which the UI checks before any route. The field names here are the
OpenAPI document's too (``linesman.web.openapi``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from webob import Request, Response
from webob import exc as http

from linesman.storage.health import LOST_REASONS, SKIP_REASONS
from linesman.web.json_answers import json_response
from linesman.web.params import MAX_PER_PAGE, choice

if TYPE_CHECKING:
    from linesman.analysis.endpoints import EndpointStats
    from linesman.controls import Controls
    from linesman.web.across_pages import EndpointTable

__all__ = [
    "FiguresAPI",
    "ENDPOINT_FIELDS",
    "COUNTER_FIELDS",
    "ENDPOINTS_PER_PAGE",
    "counter_figures",
    "endpoint_figures",
]

# One endpoint's figures in the API: (field, JSON type, what it is).
ENDPOINT_FIELDS = (
    ("endpoint", "string", "The method and folded path, and the endpoint_query values"),
    ("sessions", "integer", "Stored sessions of the endpoint"),
    ("median", "number", "Median duration, in seconds"),
    ("p95", "number", "95th percentile duration, in seconds"),
    ("max", "number", "Longest duration, in seconds"),
    ("client_errors", "integer", "Sessions answered with a 4xx status"),
    ("server_errors", "integer", "Sessions answered with a 5xx status, or the app raised"),
)
# A set of counters in the API: (field, what it counts).
COUNTER_FIELDS = (
    ("profiled", "Requests profiled and handed to the writer"),
    ("stored", "Sessions the writer stored"),
    ("skipped", "Requests selected but not profiled or not kept, by reason"),
    ("lost", "Profiles built but never stored, by reason"),
)
ENDPOINTS_PER_PAGE = 100  # the endpoints a page of the API holds by default


def endpoint_figures(stats: EndpointStats) -> dict[str, Any]:
    """One row of the endpoints table, as the API gives it (ENDPOINT_FIELDS)."""
    values = (
        stats.endpoint,
        stats.count,
        stats.median,
        stats.p95,
        stats.slowest,
        stats.client_errors,
        stats.errors,
    )
    return {name: value for (name, _, _), value in zip(ENDPOINT_FIELDS, values, strict=True)}


def counter_figures(counts: dict[str, int]) -> dict[str, Any]:
    """Counters by COUNTER_FIELDS: every known reason is there (0 if none), and
    any other a store holds (another version's) is kept as it is named."""
    skipped = dict.fromkeys(SKIP_REASONS, 0)
    lost = dict.fromkeys(LOST_REASONS, 0)
    for name, number in counts.items():
        kind, _, reason = name.partition(".")
        if kind == "skipped" and reason:
            skipped[reason] = skipped.get(reason, 0) + int(number)
        elif kind == "lost" and reason:
            lost[reason] = lost.get(reason, 0) + int(number)
    return {
        "profiled": int(counts.get("profiled", 0)),
        "stored": int(counts.get("stored", 0)),
        "skipped": skipped,
        "lost": lost,
    }


def _number(request: Request, name: str, default: int, most: int) -> int:
    text = choice(request.GET.get(name), r"[1-9][0-9]{0,5}", name)
    number = int(text) if text else default
    if number > most:
        raise http.HTTPBadRequest(f"{name} is a whole number from 1 to {most}.")
    return number


class FiguresAPI:
    """The endpoints and counters views; routes are registered by the UI, which
    checks access first."""

    def __init__(self, controls: Controls, endpoint_table: Callable[[], EndpointTable]) -> None:
        self.controls = controls
        self.endpoint_table = endpoint_table  # the UI's, kept while the store is unchanged

    def endpoints(self, request: Request) -> Response:
        """A page of the endpoints table, slowest (95th percentile) first, as the
        endpoints page orders it: a store of 100,000 distinct paths is as many."""
        per_page = _number(request, "per_page", ENDPOINTS_PER_PAGE, MAX_PER_PAGE)
        page = _number(request, "page", 1, 999_999)
        table = self.endpoint_table()
        start = (page - 1) * per_page
        return json_response(
            {
                "total": len(table.stats),
                "page": page,
                "per_page": per_page,
                "damaged": table.damaged,
                "endpoints": [
                    endpoint_figures(stats) for stats in table.stats[start : start + per_page]
                ],
            }
        )

    def counters(self, request: Request) -> Response:
        """This process's counters and, where the store keeps them for every process
        that shares it, the store's (``null`` where it does not)."""
        backend = self.controls.backend
        shared = None
        if getattr(backend, "shares_counters", False):
            try:
                shared = counter_figures(backend.read_counters())
            except Exception:
                self.controls.health.problem(
                    "counters", "linesman: the store's counters could not be read", exc_info=True
                )
                raise http.HTTPServiceUnavailable(
                    "The store's counters cannot be read right now."
                ) from None
        return json_response(
            {"store": shared, "process": counter_figures(self.controls.health.counts())}
        )
