"""The UI's and the API's query parameters, validated: a bad one is a 400 that
says what was expected, never an error further in."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from webob import exc as http

from linesman.analysis.refs import ProfileRef, iso_utc
from linesman.backends.base import SORT_KEYS, SessionQuery
from linesman.model.session import METHOD_PATTERN, UUID_PATTERN

PAGE_SIZE = 50

ENDPOINTS_PER_PAGE = 100

DEFAULT_CUTOFF = 5.0

_ASCII_NUMBER = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")


def parse_cutoff(text: str | None) -> float:
    """The cutoff percentage from a query string: ASCII digits, 0 to 100."""
    if text is None or text == "":
        return DEFAULT_CUTOFF
    if not _ASCII_NUMBER.fullmatch(text):
        raise http.HTTPBadRequest("The cutoff is a percentage from 0 to 100, such as 5 or 0.5.")
    value = float(text)
    if value > 100:
        raise http.HTTPBadRequest("The cutoff is a percentage from 0 to 100, such as 5 or 0.5.")
    return value


def choice(value: str | None, pattern: str, what: str) -> str:
    if value is None or value == "":
        return ""
    if not re.fullmatch(pattern, value):
        raise http.HTTPBadRequest(f"That is not a valid {what}.")
    return value


# The list's query parameters: each one's pattern and what it is called in an
# error. The pages, the API and the API's OpenAPI document all read this table.
LIST_PARAMETERS = {
    "method": (METHOD_PATTERN, "method"),
    "status": (r"[1-5][0-9]{2}", "status code"),
    "min_ms": (r"[0-9]{1,7}(\.[0-9]{1,3})?", "minimum duration"),
    "sort": ("|".join(SORT_KEYS), "sort"),
    "order": ("asc|desc", "order"),
    "page": (r"[1-9][0-9]{0,5}", "page number"),
    "capture": (UUID_PATTERN, "capture window"),
}
PATH_FILTER_LENGTH = 500  # characters of the path filter, at most
MAX_PER_PAGE = 500  # the API's page size, at most


def list_parameter(params, name: str) -> str:
    """One of LIST_PARAMETERS from the query string, checked ("" when absent)."""
    pattern, what = LIST_PARAMETERS[name]
    return choice(params.get(name), pattern, what)


def parse_list_query(params) -> tuple[SessionQuery, int]:
    """The list page's filters, sort and page number, validated."""
    method, status, min_ms, sort, order, page, capture = (
        list_parameter(params, name) for name in LIST_PARAMETERS
    )
    path = params.get("path", "")
    if len(path) > PATH_FILTER_LENGTH:
        raise http.HTTPBadRequest("The path filter is too long.")
    query = SessionQuery(
        path_contains=path,
        method=method,
        status=int(status) if status else None,
        min_duration=float(min_ms) / 1000 if min_ms else 0.0,
        capture=capture,
        sort=sort or "timestamp",
        descending=order != "asc",
    )
    return query, int(page or "1")


def query_params(query: SessionQuery) -> dict[str, str]:
    """A query as the list page's URL parameters, defaults left out."""
    params = {
        "path": query.path_contains,
        "method": query.method,
        "status": "" if query.status is None else str(query.status),
        "min_ms": f"{query.min_duration * 1000:g}" if query.min_duration else "",
        "capture": query.capture,
        "sort": "" if query.sort == "timestamp" else query.sort,
        "order": "" if query.descending else "asc",
    }
    return {name: value for name, value in params.items() if value}


class ListLinks:
    """URLs of the list page that keep its filters while changing one thing."""

    def __init__(self, base: str, query: SessionQuery) -> None:
        self.base = base
        self.query = query
        self.params = query_params(query)

    def page(self, **changes: str) -> str:
        merged = {**self.params, **changes}
        merged = {name: value for name, value in merged.items() if value}
        return f"{self.base}/?{urlencode(merged)}" if merged else f"{self.base}/"

    def sort(self, key: str) -> str:
        descending = not (self.query.sort == key and self.query.descending)
        return self.page(
            sort="" if key == "timestamp" else key, order="" if descending else "asc", page=""
        )

    def arrow(self, key: str) -> str:
        if self.query.sort != key:
            return ""
        return " ▼" if self.query.descending else " ▲"


def merge_params(ref: ProfileRef) -> dict[str, str]:
    """The merged page's URL parameters for an endpoint reference (exact times, so
    the page merges the very sessions the reference names)."""
    params = {"endpoint": ref.endpoint}
    for name in ("since", "until"):
        moment = getattr(ref, name)
        if moment is not None:
            params[name] = iso_utc(moment)
    return params
