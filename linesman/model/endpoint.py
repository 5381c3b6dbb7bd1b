"""What makes requests one endpoint: the method and the path with its variable
parts folded (``/users/123/orders/9f1c...`` is ``/users/{id}/orders/{id}``), and
the values of the query parameters named by ``endpoint_query``
(``GET /?cmd={capabilities}``). Analysis groups by it, and retention spares each
endpoint's slowest sessions.

The key is computed when the sessions are read, never stored: every session
keeps its path and query, so sessions stored before ``endpoint_query`` was set
(or changed) fold by the rule of the day, and no stored column must change."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

__all__ = [
    "DEFAULT_FOLDS",
    "DEFAULT_RULE",
    "EndpointRule",
    "QUERY_VALUE_LENGTH",
    "fold_path",
    "endpoint_of",
    "query_part",
    "query_names_in",
]

# Numbers, UUIDs and long hex tokens, each a whole path segment: one pattern, so a
# store of 100,000 paths is folded in one pass each.
DEFAULT_FOLDS = (
    re.compile(
        r"(?<=/)(?:[0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
        r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,})(?=/|$)"
    ),
)

# Characters of a query value kept in an endpoint, at most, once escaped: any
# client chooses the value, and every distinct one is a row of the endpoints page.
QUERY_VALUE_LENGTH = 64
# A value keeps these as they are; anything else (spaces, ``@``, braces, ``&``,
# ``%``, non-ASCII) is percent-escaped, so the endpoint stays one word that a
# reference (``GET /?cmd={x}@FROM..TO``) and a URL carry unchanged.
_VALUE_SAFE = "-._~:/+,=!*'()$;"
_PLAIN_VALUE = re.compile(rf"[A-Za-z0-9\-._~:/+,=!*'()$;]{{0,{QUERY_VALUE_LENGTH}}}")


def fold_path(path: str, folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS) -> str:
    for pattern in folds:
        path = pattern.sub("{id}", path)
    return path


def endpoint_of(method: str, path: str, folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS) -> str:
    return f"{method} {fold_path(path, folds)}"


def query_part(query: str, names: tuple[str, ...]) -> str:
    """``?name={value}&...`` for each of ``names`` the query has (its first value,
    in the order of ``names``), escaped and cut to QUERY_VALUE_LENGTH; ``""`` if
    it has none of them. Read as ``parse_qsl`` reads a query (``&`` between
    fields, names and values percent- and plus-decoded), a field at a time."""
    if not query or not names:
        return ""
    found: dict[str, str] = {}
    for field in query.split("&"):
        name, _, value = field.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if name in names and name not in found:
            found[name] = unquote_plus(value) if "%" in value or "+" in value else value
            if len(found) == len(names):
                break
    if not found:
        return ""
    parts = []
    for name in names:
        if name in found:
            value = found[name]
            if _PLAIN_VALUE.fullmatch(value):  # most are: "capabilities", "git-upload-pack"
                parts.append(f"{name}={{{value}}}")
                continue
            value = quote(value, safe=_VALUE_SAFE)
            if len(value) > QUERY_VALUE_LENGTH:
                value = value[: QUERY_VALUE_LENGTH - 1] + "…"
            parts.append(f"{name}={{{value}}}")
    return "?" + "&".join(parts)


_NAMED_VALUE = re.compile(r"[?&]([^?&={}\s]+)=\{")


def query_names_in(endpoint: str) -> tuple[str, ...]:
    """The query parameters an endpoint names (``GET /?cmd={capabilities}`` names
    ``cmd``): where the store's ``endpoint_query`` is not known (the command line),
    the endpoint itself says which parameters it was made of."""
    _, _, query = endpoint.partition("?")
    return tuple(_NAMED_VALUE.findall("?" + query)) if query else ()


@dataclass(frozen=True)
class EndpointRule:
    """The rule that names a request's endpoint: the path folds, and the query
    parameters (``endpoint_query``) whose values are part of it."""

    folds: tuple[re.Pattern[str], ...] = DEFAULT_FOLDS
    query_names: tuple[str, ...] = ()

    def key(self, method: str, path: str, query: str = "") -> str:
        """The endpoint of one request, as the endpoints page lists it."""
        endpoint = endpoint_of(method, path, self.folds)
        if self.query_names and query:
            return endpoint + query_part(query, self.query_names)
        return endpoint


DEFAULT_RULE = EndpointRule()
