"""An app as busy servers run one: each request waits 20 ms (as on its database)
and then computes a few milliseconds; with BACKGROUND set, a thread of the app's
own ticks every 5 ms beside the requests (a metrics exporter, a scheduler).

Served as ``support.busy_app:application`` (gunicorn) or by running this file
with ``STORE PORT`` (waitress, 8 threads), behind linesman with default settings
on the store named by LINESMAN_TEST_STORE.
"""

from __future__ import annotations

import os
import sys
import threading
import time


def background_tick() -> int:
    return sum(n * n for n in range(300))


def background_loop() -> None:
    while True:
        background_tick()
        time.sleep(0.005)


def request_compute(milliseconds: float) -> int:
    end = time.thread_time() + milliseconds / 1000
    total = 0
    while time.thread_time() < end:
        total += sum(divmod(n, 7)[0] for n in range(50))
    return total


def busy_route(environ, start_response):
    time.sleep(0.02)
    request_compute(3)
    body = environ.get("PATH_INFO", "").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def build(store: str):
    from linesman.middleware import ProfilingMiddleware

    if os.environ.get("LINESMAN_TEST_BACKGROUND"):
        threading.Thread(target=background_loop, name="app-ticker", daemon=True).start()
    return ProfilingMiddleware(busy_route, filename=store)


application = (
    build(os.environ["LINESMAN_TEST_STORE"]) if "LINESMAN_TEST_STORE" in os.environ else None
)

if __name__ == "__main__":
    import waitress

    waitress.serve(
        build(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), threads=8, _quiet=True
    )
