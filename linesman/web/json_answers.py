"""The JSON API's answers: a value, or an error as ``{"error": "..."}`` with its
status code. A leaf module, so every view that answers JSON (the API, the
figures API, the comparison) can use it without importing another."""

from __future__ import annotations

import json
from typing import Any

from webob import Response
from webob import exc as http

__all__ = ["json_response", "json_error"]


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
