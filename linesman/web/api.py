"""The JSON API under ``profiler_path/api/``, and its OpenAPI document.

The same access rules as the pages apply (the UI checks them before any route),
and the same CSRF rule for changes: ``DELETE`` and ``PUT`` carry the
``linesman_csrf`` cookie's value in an ``X-Linesman-CSRF`` header. Errors are
JSON too: ``{"error": "..."}`` with the status code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from webob import Request, Response
from webob import exc as http

from linesman.backends.base import SUMMARY_FIELDS
from linesman.model.capture import (
    CaptureError,
    parse_capture,
)
from linesman.web.json_answers import json_error, json_response
from linesman.web.openapi import openapi_document
from linesman.web.params import MAX_PER_PAGE, parse_list_query

if TYPE_CHECKING:
    from linesman.controls import Controls
    from linesman.model.session import ProfilingSession
    from linesman.web.cache import PageCache

__all__ = ["SessionsAPI", "json_response", "json_error"]


def _json_body(request: Request) -> Any:
    """The body's JSON; a malformed body is the client's error (400), and so is one
    nested past the parser's recursion limit (each body here is one flat object)."""
    try:
        return json.loads(request.body or b"null")
    except RecursionError:
        raise http.HTTPBadRequest(
            "The body is nested too deeply to read: the API takes one flat JSON object."
        ) from None
    except ValueError:
        raise http.HTTPBadRequest("The body is not JSON.") from None


def _summary(row: dict) -> dict:
    """A listed session; a damaged row's says why (its figures are stand-ins)."""
    summary = {name: row[name] for name in SUMMARY_FIELDS} | {"failed": bool(row["failed"])}
    if row.get("damaged"):
        summary["damaged"] = row["damaged"]
    return summary


class SessionsAPI:
    """The API's views; routes are registered by the UI, which checks access first."""

    def __init__(
        self, controls: Controls, cache: PageCache, load: Callable[[str], ProfilingSession]
    ) -> None:
        self.controls = controls
        self.cache = cache  # computed pages, forgotten when their session is deleted
        self.load = load  # a stored session, or the UI's 404 that says why there is none

    def list(self, request: Request) -> Response:
        query, page = parse_list_query(request.GET)
        per_page = request.GET.get("per_page", "50")
        if (
            not per_page.isascii()
            or not per_page.isdigit()
            or not (1 <= int(per_page[:4]) <= MAX_PER_PAGE)
            or len(per_page) > 3
        ):
            raise http.HTTPBadRequest(f"per_page is a whole number from 1 to {MAX_PER_PAGE}.")
        size = int(per_page)
        backend = self.controls.backend
        rows = backend.list_summaries((page - 1) * size, size, query)
        return json_response(
            {
                "total": backend.count(query),
                "page": page,
                "per_page": size,
                "sessions": [_summary(row) for row in rows],
            }
        )

    def detail(self, request: Request, session_uuid: str) -> Response:
        session = self.load(session_uuid)
        document = session.summary() | {
            "headers": session.headers,
            "response_size": session.response_size,
            "error": session.error,
            "concurrent": session.concurrent,
        }
        functions = [
            {
                "name": f.name,
                "file": f.file,
                "line": f.line,
                "ncalls": f.callcount,
                "primitive_calls": f.callcount - f.reccallcount,
                "tottime": f.inlinetime,
                "cumtime": f.totaltime,
            }
            for f in sorted(session.functions, key=lambda f: f.totaltime, reverse=True)
        ]
        return json_response(
            {
                "session": _summary(document)
                | {
                    key: document[key]
                    for key in ("headers", "response_size", "error", "concurrent")
                }
                | {
                    "profiler": session.kind,
                    "interval": session.interval,
                    "samples": session.samples,
                },
                "functions": functions,
            }
        )

    def delete(self, request: Request, session_uuid: str) -> Response:
        deleted = self.controls.backend.delete(session_uuid)
        self.cache.forget({session_uuid})
        return json_response({"deleted": deleted})

    def state(self, request: Request) -> Response:
        return json_response({"enabled": bool(self.controls.enabled)})

    def set_state(self, request: Request) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise http.HTTPBadRequest('The body is {"enabled": true} or {"enabled": false}.')
        self.controls.set_enabled(body["enabled"])
        return json_response({"enabled": body["enabled"]})

    def captures(self, request: Request) -> Response:
        return json_response(
            {"captures": [window.to_json() for window in self.controls.backend.captures(50)]}
        )

    def start_capture(self, request: Request) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict):
            raise http.HTTPBadRequest('The body is an object such as {"requests": 10}.')
        try:
            window = parse_capture(body)
        except CaptureError as error:
            raise http.HTTPBadRequest(str(error)) from None
        self.controls.start_capture(window)
        return json_response(window.to_json(), status=201)

    def stop_capture(self, request: Request, window_id: str) -> Response:
        return json_response({"stopped": self.controls.stop_capture(window_id)})

    def openapi(self, request: Request) -> Response:
        return json_response(openapi_document(request.script_name))
