"""Request shapes that stress a profiler: many small calls, and the same work at
the end of a stack 1,000 and 2,000 frames deep (where a sampler that walks the
whole stack at every sample used to run away). The target: each of linesman's
engines costs at most 2x raw cProfile on every shape."""

from __future__ import annotations

import sys

DEPTHS = {"flat": 0, "deep-1000": 1000, "deep-2000": 2000}
CALLS = 20_000  # small calls made at the leaf of each request


def _small(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def _leaf(calls: int) -> int:
    return sum(_small(12) for _ in range(calls))


def _descend(depth: int, calls: int) -> int:
    if depth == 0:
        return _leaf(calls)
    return _descend(depth - 1, calls)


def shape_app(environ, start_response):
    """The shape named by the path: ``/flat``, ``/deep-1000``, ``/deep-2000``."""
    depth = DEPTHS[environ["PATH_INFO"].strip("/")]
    if sys.getrecursionlimit() < depth + 500:
        sys.setrecursionlimit(depth + 500)
    body = str(_descend(depth, CALLS)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
