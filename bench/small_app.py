"""The small request the benchmarks profile: about 0.6 ms of work spread over
about 100 distinct functions, as a short JSON or form view is (a router, a few
validators, a serializer, helpers), where linesman's own cost per request shows
most against the app's."""

from __future__ import annotations

import json

SMALL_PATH = "/small"
STEPS = 96  # distinct functions the route calls, besides its few fixed ones


def _make_steps() -> list:
    """STEPS distinct small functions (each its own code object, as an app's many
    helpers are), made from one template so the bench reads as one page."""
    steps = []
    for number in range(STEPS):
        namespace: dict = {}
        exec(  # noqa: S102 (a fixed template: each step a function of its own)
            f"def step_{number}(record):\n"
            f"    total = 0\n"
            f"    for value in record['values']:\n"
            f"        total += (value * {number + 3}) % 97\n"
            f"    record['step_{number}'] = total\n"
            f"    return record\n",
            namespace,
        )
        steps.append(namespace[f"step_{number}"])
    return steps


_STEPS = _make_steps()


def _record(number: int) -> dict:
    return {"id": number, "values": list(range(number, number + 16))}


def _render(record: dict) -> bytes:
    del record["values"]
    return json.dumps(record, sort_keys=True).encode()


def small_app(environ, start_response):
    """A 0.6 ms view of some 100 functions; anything else is a 404."""
    if environ.get("PATH_INFO") != SMALL_PATH:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    record = _record(7)
    for step in _STEPS:
        record = step(record)
    body = _render(record)
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]
