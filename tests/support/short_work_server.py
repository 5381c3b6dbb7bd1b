"""A real waitress server whose work comes in pieces shorter than the sampling
interval: a streamed body of 20 chunks of under 1 ms of CPU each (0.7 ms: never
an interval in one piece), and a request
of about 50 microseconds, behind linesman's sampling engine.

Run as a script: ``python short_work_server.py STORE PORT``.
"""

from __future__ import annotations

import sys
import time

from waitress import serve

from linesman.middleware import ProfilingMiddleware

CHUNKS = 20


def spin(seconds: float) -> int:
    """CPU work for about ``seconds`` (the thread never waits)."""
    end = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < end:
        total += 1
    return total


def chunk_work() -> bytes:
    """One chunk of the streamed body: 0.7 ms of CPU, under the 1 ms interval."""
    return b"%d\n" % spin(0.0007)


def streamed_body():
    for _ in range(CHUNKS):
        yield chunk_work()


def short_work() -> bytes:
    """The whole of a short request: about 50 microseconds."""
    return b"%d\n" % spin(0.00005)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] == "/stream":
        return streamed_body()
    return [short_work()]


def build(store: str) -> ProfilingMiddleware:
    return ProfilingMiddleware(app, filename=store, profiler="sampling")


if __name__ == "__main__":
    store, port = sys.argv[1], int(sys.argv[2])
    serve(build(store), host="127.0.0.1", port=port, threads=4, _quiet=True)
