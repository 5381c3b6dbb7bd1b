"""An app that measures its own functions around each request and returns the
truth in its response, to hold linesman's profiles against.

Each request (``/truth/NAME``, NAME unique per request) runs, inside
``work`` (timed as a whole: ``app_wall``):

* ``part_a`` then ``part_b``: CPU work of 28 ms and 12 ms of thread CPU time
  (a 70/30 split), each timed by the app in wall time (what both engines
  measure: cProfile's clock and the sampler's are ``perf_counter``) and in
  thread CPU time;
* two functions made for this request alone with ``exec``: ``request_NAME``,
  inside which all the work below runs (so every sampled stack holds it), and
  ``tick_NAME``, called exactly ``TICKS`` times; a profile holding another
  request's ``request_`` or ``tick_`` holds another request's calls, and
  cProfile's count of its own ``tick_`` must be exact;
* ``time.sleep(0.02)``, timed in wall time: the wait, and its share of
  ``truth_app``'s wall time.

The body is the truth as JSON. Served as ``support.truth_app:application``
(gunicorn, store named by LINESMAN_TEST_STORE) or by running this file with
``STORE PORT`` (waitress, its default settings); linesman with default settings.
"""

from __future__ import annotations

import json
import os
import sys
import time

TICKS = 37
PART_A_CPU = 0.028
PART_B_CPU = 0.012
WAIT = 0.02


def burn(seconds: float) -> int:
    end = time.thread_time() + seconds
    total = 0
    while time.thread_time() < end:
        total += sum(divmod(n, 7)[0] for n in range(50))
    return total


def part_a() -> int:
    return burn(PART_A_CPU)


def part_b() -> int:
    return burn(PART_B_CPU)


def make_own(name: str):
    """``request_NAME`` and ``tick_NAME``, compiled for this request alone (their
    own code objects and file name), so a profile can tell them from every other
    request's: all the request's work runs inside ``request_NAME`` (on every
    sampled stack), and ``tick_NAME`` is the small function counted exactly."""
    namespace: dict = {}
    source = (
        f"def request_{name}(work, tick):\n    return work(tick)\n\n"
        f"def tick_{name}(x):\n    return x + 1\n"
    )
    exec(compile(source, f"<request {name}>", "exec"), namespace)
    return namespace[f"request_{name}"], namespace[f"tick_{name}"]


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.thread_time()
    function(*args)
    return time.perf_counter() - wall, time.thread_time() - cpu


def work(tick) -> dict:
    began = time.perf_counter()
    a_wall, a_cpu = timed(part_a)
    b_wall, b_cpu = timed(part_b)
    value = 0
    for _ in range(TICKS):
        value = tick(value)
    sleep_wall, _ = timed(time.sleep, WAIT)
    return {
        "ticks": value,
        "a_wall": a_wall,
        "b_wall": b_wall,
        "a_cpu": a_cpu,
        "b_cpu": b_cpu,
        "sleep_wall": sleep_wall,
        "app_wall": time.perf_counter() - began,
    }


def truth_app(name: str) -> dict:
    own, tick = make_own(name)
    truth = own(work, tick)
    return {"name": name, "own": f"request_{name}", "tick": f"tick_{name}", **truth}


def truth_route(environ, start_response):
    name = environ.get("PATH_INFO", "/").rsplit("/", 1)[-1] or "root"
    body = json.dumps(truth_app(name)).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def build(store: str):
    from linesman.middleware import ProfilingMiddleware

    return ProfilingMiddleware(truth_route, filename=store)


application = (
    build(os.environ["LINESMAN_TEST_STORE"]) if "LINESMAN_TEST_STORE" in os.environ else None
)

if __name__ == "__main__":
    import waitress

    waitress.serve(build(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), _quiet=True)
