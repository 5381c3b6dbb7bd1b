"""A real waitress server where one request in ten is slow, for the sampling proof.

Run as a script: ``python slow_server.py PORT STORE [THREADS] [OPTION=VALUE...]``.
``/fast/N`` spends about 2 ms and ``/slow/N`` 40 ms of CPU, each in a function
whose name is its own (``fast_N``, ``slow_N``), so a profile holding another
request's work is seen by name. ``/counts`` answers linesman's counters as JSON
(after the writer has stored what it had) and is never profiled.
"""

from __future__ import annotations

import json
import sys
import time
import types

from waitress import serve

from linesman.middleware import ProfilingMiddleware

CLIENTS = 8


def step(number):
    return number * number % 7


def burn(cpu_seconds):
    """CPU work made of many small calls, as real code is."""
    end = time.thread_time() + cpu_seconds
    total = 0
    while time.thread_time() < end:
        for number in range(200):
            total += step(number)
    return total


def _route(kind, number, seconds):
    """A function named ``kind_number`` down to its code object, which profilers read."""

    def route():
        return burn(seconds)

    name = f"{kind}_{number}"
    code = route.__code__.replace(co_name=name, co_qualname=name)
    return types.FunctionType(code, route.__globals__, name, None, route.__closure__)


ROUTES = {
    (kind, number): _route(kind, number, seconds)
    for kind, seconds in (("fast", 0.002), ("slow", 0.040))
    for number in range(CLIENTS)
}


def build(store: str, **options) -> ProfilingMiddleware:
    holder = {}

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/counts":
            middleware = holder["middleware"]
            middleware.flush(20)
            body = json.dumps(middleware.health.counts()).encode()
        else:
            _, kind, number = path.split("/")
            ROUTES[(kind, int(number))]()
            body = path.encode()
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]

    middleware = ProfilingMiddleware(app, filename=store, exclude_paths="^/counts$", **options)
    holder["middleware"] = middleware
    return middleware


if __name__ == "__main__":
    port, store = int(sys.argv[1]), sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    options = dict(argument.split("=", 1) for argument in sys.argv[4:])
    serve(build(store, **options), host="127.0.0.1", port=port, threads=threads, _quiet=True)
