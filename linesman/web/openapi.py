"""The OpenAPI 3 document of the JSON API, served at ``api/openapi.json``: data,
built from the same constants the API checks its input against."""

from __future__ import annotations

from typing import TYPE_CHECKING

from linesman import __version__
from linesman.backends.base import SUMMARY_FIELDS
from linesman.model.capture import (
    MAX_CAPTURE_MINUTES,
    MAX_CAPTURE_REQUESTS,
)
from linesman.storage.health import LOST_REASONS, SKIP_REASONS
from linesman.web.figures_api import COUNTER_FIELDS, ENDPOINT_FIELDS, ENDPOINTS_PER_PAGE
from linesman.web.params import LIST_PARAMETERS, MAX_PER_PAGE, PATH_FILTER_LENGTH

if TYPE_CHECKING:
    pass


def _figures_paths(error: dict, refused: dict) -> dict:
    """``/endpoints`` and ``/counters`` (see linesman.web.figures_api)."""

    def answer(description: str, schema: str) -> dict:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }

    return {
        "/endpoints": {
            "get": {
                "summary": "A page of the endpoints table, slowest (95th percentile) first, "
                "as the endpoints page shows it",
                "parameters": [
                    {
                        "name": "page",
                        "in": "query",
                        "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,5}$"},
                    },
                    {
                        "name": "per_page",
                        "in": "query",
                        "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,2}$"},
                        "description": f"At most {MAX_PER_PAGE}; {ENDPOINTS_PER_PAGE} if not given",
                    },
                ],
                "responses": {
                    "200": answer("Endpoints", "Endpoints"),
                    "400": error,
                    "503": error,
                    **refused,
                },
            }
        },
        "/counters": {
            "get": {
                "summary": "What was profiled, stored and skipped (by reason): summed over "
                "every process sharing the store, and this process's own",
                "responses": {"200": answer("Counters", "Counters"), "503": error, **refused},
            }
        },
    }


def _figures_schemas() -> dict:
    """The schemas of ``/endpoints`` and ``/counters``, from the fields the API fills."""
    count = {"type": "integer", "minimum": 0}

    def by_reason(reasons: dict[str, str]) -> dict:
        return {
            "type": "object",
            "required": list(reasons),
            "properties": {name: {**count, "description": why} for name, why in reasons.items()},
            "additionalProperties": count,
        }

    kinds = {
        "skipped": by_reason(SKIP_REASONS),
        "lost": by_reason(LOST_REASONS),
    }
    counter_set = {
        "type": "object",
        "required": [name for name, _ in COUNTER_FIELDS],
        "properties": {
            name: {**kinds.get(name, count), "description": what} for name, what in COUNTER_FIELDS
        },
    }
    return {
        "Endpoint": {
            "type": "object",
            "required": [name for name, _, _ in ENDPOINT_FIELDS],
            "properties": {
                name: {"type": kind, "minimum": 0, "description": what}
                if kind != "string"
                else {"type": kind, "description": what}
                for name, kind, what in ENDPOINT_FIELDS
            },
        },
        "Endpoints": {
            "type": "object",
            "required": ["total", "page", "per_page", "damaged", "endpoints"],
            "properties": {
                "total": count,
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                "damaged": {**count, "description": "Stored rows left out as damaged"},
                "endpoints": {"type": "array", "items": {"$ref": "#/components/schemas/Endpoint"}},
            },
        },
        "Counters": {
            "type": "object",
            "required": ["store", "process"],
            "properties": {
                "store": {
                    **counter_set,
                    "nullable": True,
                    "description": "Summed over every process that shares the store; "
                    "null where the store keeps no shared counters",
                },
                "process": {**counter_set, "description": "This process's own, since it started"},
            },
        },
    }


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
                            "schema": {"type": "string", "maxLength": PATH_FILTER_LENGTH},
                        },
                        *(
                            {
                                "name": name,
                                "in": "query",
                                "schema": {"type": "string", "pattern": f"^({pattern})$"},
                                "description": f"The {what}",
                            }
                            for name, (pattern, what) in LIST_PARAMETERS.items()
                        ),
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
                        "503": {
                            "description": "Another heavy view (a merged profile or a "
                            "comparison of endpoints) is running in this process: ask again "
                            "after Retry-After seconds",
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                            "content": error["content"],
                        },
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
            **_figures_paths(error, refused),
        },
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Linesman-Token"}
            },
            "schemas": {
                **_figures_schemas(),
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
                                    "selftime_before": {"type": "number"},
                                    "selftime_after": {"type": "number"},
                                    "selftime_change": {"type": "number"},
                                    "calls_before": {"type": "number"},
                                    "calls_after": {"type": "number"},
                                },
                            },
                        },
                        "sessions_before": {"type": "integer", "minimum": 1},
                        "sessions_after": {"type": "integer", "minimum": 1},
                        "sessions_before_found": {"type": "integer", "minimum": 1},
                        "sessions_after_found": {"type": "integer", "minimum": 1},
                        "cut": {
                            "type": "string",
                            "nullable": True,
                            "description": "Why a merged side adds up fewer sessions "
                            "than it names (sessions_*_found): the view's time budget "
                            "(view_budget) ran out; null when nothing was left out",
                        },
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
                    "required": list(SUMMARY_FIELDS),
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
                        "damaged": {
                            "type": "string",
                            "description": "Only on a row the store holds damaged: why. "
                            "Its figures are then stand-ins, left out of every figure.",
                        },
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
