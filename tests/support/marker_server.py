"""A real waitress server for the concurrency tests: each route runs its own marker.

Run as a script: ``python marker_server.py PORT STORE [THREADS]``. ``/counts`` answers
linesman's counters as JSON, ``/captures`` how many open capture windows the
process follows; neither is profiled.
"""

from __future__ import annotations

import json
import sys
import time

from waitress import serve

from linesman.middleware import ProfilingMiddleware


def work(seconds=0.003):
    end = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < end:
        total += 1
    return total


def marker_0():
    return work()


def marker_1():
    return work()


def marker_2():
    return work()


def marker_3():
    return work()


def marker_4():
    return work()


def marker_5():
    return work()


def marker_6():
    return work()


def marker_7():
    return work()


MARKERS = [marker_0, marker_1, marker_2, marker_3, marker_4, marker_5, marker_6, marker_7]


def build(store: str) -> ProfilingMiddleware:
    holder = {}

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/counts":
            middleware = holder["middleware"]
            middleware.flush(10)
            body = json.dumps(middleware.health.counts()).encode()
        elif path == "/captures":  # how many open windows this process follows
            body = str(len(holder["middleware"].captures)).encode()
        else:
            number = int(path.strip("/r"))
            MARKERS[number]()
            body = f"route {number}".encode()
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def streamed(environ, start_response):
        if environ["PATH_INFO"].startswith("/s"):
            number = int(environ["PATH_INFO"].strip("/s"))
            start_response("200 OK", [("Content-Type", "text/plain")])

            def body():
                yield b"start "
                MARKERS[number]()
                yield f"stream {number}".encode()

            return body()
        return app(environ, start_response)

    middleware = ProfilingMiddleware(streamed, filename=store, exclude_paths="^/(counts|captures)$")
    holder["middleware"] = middleware
    return middleware


if __name__ == "__main__":
    port, store = int(sys.argv[1]), sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    serve(build(store), host="127.0.0.1", port=port, threads=threads, _quiet=True)
