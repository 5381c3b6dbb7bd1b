"""An app whose work happens at the end of a deep stack, served by waitress behind
linesman with the sampling engine.

Run as a script: ``python deep_app.py STORE PORT``; ``GET /?depth=N`` recurses N
frames deep, then makes many small calls there.
"""

from __future__ import annotations

import sys
from urllib.parse import parse_qs

CALLS = 30_000


def small_call(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def leaf_work(calls: int) -> int:
    return sum(small_call(12) for _ in range(calls))


def descend(depth: int) -> int:
    if depth == 0:
        return leaf_work(CALLS)
    return descend(depth - 1)


def deep_app(environ, start_response):
    depth = int(parse_qs(environ.get("QUERY_STRING", "")).get("depth", ["0"])[0])
    sys.setrecursionlimit(max(sys.getrecursionlimit(), depth + 500))
    body = str(descend(depth)).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


if __name__ == "__main__":
    import waitress

    from linesman.middleware import ProfilingMiddleware

    app = ProfilingMiddleware(deep_app, filename=sys.argv[1], profiler="sampling")
    waitress.serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=4, _quiet=True)
