"""What a session keeps of a request: method, path, query (credentials masked)
and a few headers, each cut to a bound; never cookies or credentials."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

__all__ = ["summarize_environ", "mask_query", "capped_text", "TEXT_LIMITS"]

_KEPT_HEADERS = ("HTTP_HOST", "HTTP_USER_AGENT", "CONTENT_TYPE", "CONTENT_LENGTH")
# What a session keeps of a request's text, at most (characters): a bound on the
# memory of every waiting session, whatever a client sends.
TEXT_LIMITS = {"path": 2000, "query": 4000, "header": 500}
_SECRET_NAME = re.compile(
    r"token|passw|pwd|secret|key|auth|session|signature|sig$|credential", re.I
)


def _wsgi_text(value: str) -> str:
    """WSGI strings are bytes decoded as latin-1; show them as the UTF-8 they were."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value


def mask_query(query: str) -> str:
    """Hide the values of parameters whose names look like credentials, judged on
    the decoded name (``%70assword``, ``pass%77ord``) and after ``&`` or ``;``."""
    if not query:
        return ""
    parts = re.split(r"([&;])", query)
    for number in range(0, len(parts), 2):
        name, sep, value = parts[number].partition("=")
        if sep and value and _SECRET_NAME.search(unquote_plus(name)):
            parts[number] = f"{name}=***"
    return "".join(parts)


def capped_text(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut with a marker."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    """The little of a request worth keeping; never cookies or credentials."""
    path = _wsgi_text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
    return {
        "method": capped_text(str(environ.get("REQUEST_METHOD", "GET")), 32),
        "path": capped_text(path, TEXT_LIMITS["path"]),
        "query": capped_text(
            mask_query(_wsgi_text(environ.get("QUERY_STRING", ""))), TEXT_LIMITS["query"]
        ),
        "headers": {
            name: capped_text(_wsgi_text(str(environ[name])), TEXT_LIMITS["header"])
            for name in _KEPT_HEADERS
            if environ.get(name)
        },
    }
