"""A WSGI app for gunicorn's gevent worker that measures its own request: it
waits in (gevent's patched) ``time.sleep`` inside ``wait_part``, then computes in
``compute_<k>`` (one function per client, so a session holding another client's
function is plain), and answers with the truth: seconds waited and computed.

``LINESMAN_STORE`` names the SQLite store; ``GREEN_PROFILER`` the engine option."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import parse_qs

from linesman.middleware import ProfilingMiddleware

CLIENTS = 20
WAIT = 0.02
COMPUTE = 0.004


def _spin(seconds: float) -> int:
    end = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < end:
        count += 1
    return count


def _make_compute(k: int):
    namespace: dict = {"_spin": _spin}
    exec(f"def compute_{k}(seconds):\n    return _spin(seconds)\n", namespace)  # noqa: S102
    return namespace[f"compute_{k}"]


COMPUTES = [_make_compute(k) for k in range(CLIENTS)]


def wait_part(seconds: float) -> None:
    time.sleep(seconds)  # gevent's sleep under the gevent worker: a switch


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    k = int(query.get("k", ["0"])[0])
    started = time.perf_counter()
    wait_part(WAIT)
    waited = time.perf_counter() - started
    COMPUTES[k](COMPUTE)
    total = time.perf_counter() - started
    body = json.dumps({"waited": waited, "total": total}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


application = ProfilingMiddleware(
    app,
    filename=os.environ["LINESMAN_STORE"],
    profiler=os.environ.get("GREEN_PROFILER", "auto"),
)
