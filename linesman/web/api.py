"""The JSON API under ``profiler_path/api/``, and its OpenAPI document.

The same access rules as the pages apply (the UI checks them before any route),
and the same CSRF rule for changes: ``DELETE`` and ``PUT`` carry the
``linesman_csrf`` cookie's value in an ``X-Linesman-CSRF`` header. Errors are
JSON too: ``{"error": "..."}`` with the status code.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from webob import Request, Response
from webob import exc as http

from linesman import __version__
from linesman.backends.base import SORT_KEYS, SUMMARY_FIELDS
from linesman.model.capture import (
    MAX_CAPTURE_MINUTES,
    MAX_CAPTURE_REQUESTS,
    CaptureError,
    parse_capture,
)
from linesman.web.params import parse_list_query

if TYPE_CHECKING:
    from linesman.web.ui import ProfilerUI

__all__ = ["SessionsAPI", "openapi_document", "json_response", "json_error"]

MAX_PER_PAGE = 500


def json_response(value: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(value, allow_nan=False),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def json_error(error: http.HTTPException) -> Response:
    response = json_response({"error": str(error.detail or error.title)}, error.code)
    for name in ("Allow", "WWW-Authenticate"):
        if name in error.headers:
            response.headers[name] = error.headers[name]
    return response


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise http.HTTPBadRequest("The body is not JSON.") from None


def _summary(row: dict) -> dict:
    return {name: row[name] for name in SUMMARY_FIELDS} | {"failed": bool(row["failed"])}


class SessionsAPI:
    """The API's views; routes are registered by the UI, which checks access first."""

    def __init__(self, ui: ProfilerUI) -> None:
        self.ui = ui

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
        backend = self.ui.backend
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
        session = self.ui.load(session_uuid)
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
        deleted = self.ui.backend.delete(session_uuid)
        self.ui.cache.forget({session_uuid})
        return json_response({"deleted": deleted})

    def state(self, request: Request) -> Response:
        return json_response({"enabled": bool(self.ui.middleware.enabled)})

    def set_state(self, request: Request) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise http.HTTPBadRequest('The body is {"enabled": true} or {"enabled": false}.')
        self.ui.middleware.set_enabled(body["enabled"])
        return json_response({"enabled": body["enabled"]})

    def captures(self, request: Request) -> Response:
        return json_response(
            {"captures": [window.to_json() for window in self.ui.backend.captures(50)]}
        )

    def start_capture(self, request: Request) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict):
            raise http.HTTPBadRequest('The body is an object such as {"requests": 10}.')
        try:
            window = parse_capture(body)
        except CaptureError as error:
            raise http.HTTPBadRequest(str(error)) from None
        self.ui.middleware.start_capture(window)
        return json_response(window.to_json(), status=201)

    def stop_capture(self, request: Request, window_id: str) -> Response:
        return json_response({"stopped": self.ui.middleware.stop_capture(window_id)})

    def openapi(self, request: Request) -> Response:
        return json_response(openapi_document(request.script_name))


def openapi_document(base: str) -> dict:
    """The OpenAPI 3 description of the API, served at ``api/openapi.json``."""
    error = {
        "description": "An error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    uuid_parameter = {
        "name": "uuid",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
    refused = {"401": error, "403": error}
    string = {"type": "string"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "linesman",
            "version": __version__,
            "description": "The stored profiles of a WSGI app, the on/off switch and "
            "capture windows. Every call needs the access token "
            "(`linesman url STORE` prints it) in an X-Linesman-Token "
            "header; without it, 401. A browser logged in by its cookie "
            "sends a signed CSRF token in an X-Linesman-CSRF header with "
            "DELETE, PUT and POST; without it they answer 403.",
        },
        "security": [{"token": []}],
        "servers": [{"url": f"{base}/api"}],
        "paths": {
            "/sessions": {
                "get": {
                    "summary": "A page of session summaries, newest first by default",
                    "parameters": [
                        {
                            "name": "path",
                            "in": "query",
                            "schema": {"type": "string", "maxLength": 500},
                        },
                        {
                            "name": "method",
                            "in": "query",
                            "schema": {"type": "string", "pattern": "^[A-Z]{1,10}$"},
                        },
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "pattern": "^[1-5][0-9]{2}$"},
                        },
                        {
                            "name": "min_ms",
                            "in": "query",
                            "schema": {"type": "string", "pattern": "^[0-9]{1,7}(\\.[0-9]{1,3})?$"},
                        },
                        {
                            "name": "sort",
                            "in": "query",
                            "schema": {"type": "string", "enum": list(SORT_KEYS)},
                        },
                        {
                            "name": "order",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["asc", "desc"]},
                        },
                        {
                            "name": "page",
                            "in": "query",
                            "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,5}$"},
                        },
                        {
                            "name": "capture",
                            "in": "query",
                            "schema": {"type": "string", "format": "uuid"},
                            "description": "Only the sessions this capture window caught",
                        },
                        {
                            "name": "per_page",
                            "in": "query",
                            "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,2}$"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "Sessions",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Page"}
                                }
                            },
                        },
                        "400": error,
                        **refused,
                    },
                }
            },
            "/sessions/{uuid}": {
                "parameters": [uuid_parameter],
                "get": {
                    "summary": "One session's summary and function statistics",
                    "responses": {
                        "200": {
                            "description": "The session",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Detail"}
                                }
                            },
                        },
                        "404": error,
                        "500": error,
                        **refused,
                    },
                },
                "delete": {
                    "summary": "Delete one session",
                    "responses": {
                        "200": {
                            "description": "How many were deleted",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Deleted"}
                                }
                            },
                        },
                        "404": error,
                        **refused,
                    },
                },
            },
            "/compare": {
                "get": {
                    "summary": "Two profiles compared function by function, largest change "
                    "first: sessions, or endpoints merged (GET /users/{id}, with an "
                    "optional @SINCE..UNTIL in ISO 8601 UTC or Unix seconds)",
                    "parameters": [
                        {
                            "name": "a",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 900},
                        },
                        {
                            "name": "b",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 900},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The comparison",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Comparison"}
                                }
                            },
                        },
                        "400": error,
                        "404": error,
                        "500": error,
                        **refused,
                    },
                }
            },
            "/captures": {
                "get": {
                    "summary": "The newest capture windows, open or ended",
                    "responses": {
                        "200": {
                            "description": "Windows",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["captures"],
                                        "properties": {
                                            "captures": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Capture"},
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        **refused,
                    },
                },
                "post": {
                    "summary": "Arm a capture window for every process: profile the "
                    "next N matching requests, or for M minutes",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/NewCapture"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "The window",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Capture"}
                                }
                            },
                        },
                        "400": error,
                        **refused,
                    },
                },
            },
            "/captures/{id}/stop": {
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "post": {
                    "summary": "End a capture window now",
                    "responses": {
                        "200": {
                            "description": "Whether it was running",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["stopped"],
                                        "properties": {"stopped": {"type": "boolean"}},
                                    }
                                }
                            },
                        },
                        "400": error,
                        "404": error,
                        **refused,
                    },
                },
            },
            "/state": {
                "get": {
                    "summary": "Whether profiling is on",
                    "responses": {
                        "200": {
                            "description": "The switch",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/State"}
                                }
                            },
                        },
                        **refused,
                    },
                },
                "put": {
                    "summary": "Turn profiling on or off, for every process",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/State"}}
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The new state",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/State"}
                                }
                            },
                        },
                        "400": error,
                        **refused,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Linesman-Token"}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": string}},
                "State": {
                    "type": "object",
                    "required": ["enabled"],
                    "properties": {"enabled": {"type": "boolean"}},
                    "additionalProperties": False,
                },
                "Comparison": {
                    "type": "object",
                    "required": [
                        "before",
                        "after",
                        "duration_before",
                        "duration_after",
                        "duration_change",
                        "functions",
                    ],
                    "properties": {
                        "before": {"type": "string"},
                        "after": {"type": "string"},
                        "duration_before": {"type": "number"},
                        "duration_after": {"type": "number"},
                        "duration_change": {"type": "number"},
                        "functions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [
                                    "function",
                                    "status",
                                    "cumtime_change",
                                    "tottime_change",
                                    "selftime_change",
                                    "calls_before",
                                    "calls_after",
                                ],
                                "properties": {
                                    "function": string,
                                    "name": string,
                                    "file": string,
                                    "line": {"type": "integer"},
                                    "status": {
                                        "type": "string",
                                        "enum": ["appeared", "vanished", "changed"],
                                    },
                                    "cumtime_before": {"type": "number"},
                                    "cumtime_after": {"type": "number"},
                                    "cumtime_change": {"type": "number"},
                                    "tottime_change": {"type": "number"},
                                    "selftime_change": {"type": "number"},
                                    "calls_before": {"type": "number"},
                                    "calls_after": {"type": "number"},
                                },
                            },
                        },
                        "sessions_before": {"type": "integer", "minimum": 1},
                        "sessions_after": {"type": "integer", "minimum": 1},
                    },
                },
                "NewCapture": {
                    "type": "object",
                    "properties": {
                        "requests": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_CAPTURE_REQUESTS,
                        },
                        "minutes": {
                            "type": "number",
                            "minimum": 0.1,
                            "maximum": MAX_CAPTURE_MINUTES,
                        },
                        "pattern": {
                            "type": "string",
                            "maxLength": 500,
                            "description": "A regular expression searched in the path",
                        },
                        "method": {"type": "string", "pattern": "^([A-Z]{1,10})?$"},
                        "min_ms": {"type": "number", "minimum": 0, "maximum": 3600000},
                    },
                    "description": "At least one of requests and minutes.",
                },
                "Capture": {
                    "type": "object",
                    "required": [
                        "id",
                        "pattern",
                        "method",
                        "requests",
                        "until",
                        "min_duration",
                        "created",
                        "ended",
                        "caught",
                        "open",
                    ],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "pattern": string,
                        "method": string,
                        "requests": {"type": "integer", "nullable": True},
                        "until": {"type": "number", "nullable": True},
                        "min_duration": {"type": "number"},
                        "created": {"type": "number"},
                        "ended": {"type": "number", "nullable": True},
                        "caught": {"type": "integer", "minimum": 0},
                        "open": {"type": "boolean"},
                    },
                },
                "Deleted": {
                    "type": "object",
                    "required": ["deleted"],
                    "properties": {"deleted": {"type": "integer", "minimum": 0}},
                },
                "Summary": {
                    "type": "object",
                    "required": [
                        "uuid",
                        "timestamp",
                        "method",
                        "path",
                        "query",
                        "status",
                        "duration",
                        "cpu_time",
                        "failed",
                    ],
                    "properties": {
                        "uuid": {"type": "string", "format": "uuid"},
                        "timestamp": {"type": "number"},
                        "method": string,
                        "path": string,
                        "query": string,
                        "status": {"type": "integer", "nullable": True},
                        "duration": {"type": "number", "minimum": 0},
                        "cpu_time": {"type": "number", "minimum": 0},
                        "failed": {"type": "boolean"},
                    },
                },
                "Page": {
                    "type": "object",
                    "required": ["total", "page", "per_page", "sessions"],
                    "properties": {
                        "total": {"type": "integer", "minimum": 0},
                        "page": {"type": "integer", "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1},
                        "sessions": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Summary"},
                        },
                    },
                },
                "Detail": {
                    "type": "object",
                    "required": ["session", "functions"],
                    "properties": {
                        "session": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Summary"},
                                {
                                    "type": "object",
                                    "required": [
                                        "headers",
                                        "response_size",
                                        "error",
                                        "concurrent",
                                        "profiler",
                                        "interval",
                                        "samples",
                                    ],
                                    "properties": {
                                        "headers": {
                                            "type": "object",
                                            "additionalProperties": string,
                                        },
                                        "response_size": {"type": "integer", "minimum": 0},
                                        "error": {"type": "string", "nullable": True},
                                        "concurrent": {"type": "boolean"},
                                        "profiler": {
                                            "type": "string",
                                            "enum": ["deterministic", "sampled"],
                                            "description": "cProfile's exact call counts, or "
                                            "sampled stacks (ncalls are samples)",
                                        },
                                        "interval": {"type": "number", "nullable": True},
                                        "samples": {"type": "integer", "minimum": 0},
                                    },
                                },
                            ]
                        },
                        "functions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [
                                    "name",
                                    "file",
                                    "line",
                                    "ncalls",
                                    "primitive_calls",
                                    "tottime",
                                    "cumtime",
                                ],
                                "properties": {
                                    "name": string,
                                    "file": string,
                                    "line": {"type": "integer"},
                                    "ncalls": {"type": "integer"},
                                    "primitive_calls": {"type": "integer"},
                                    "tottime": {"type": "number"},
                                    "cumtime": {"type": "number"},
                                },
                            },
                        },
                    },
                },
            },
        },
    }
