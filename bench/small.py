"""The small-request case: what profiling costs a short route on real servers.

A 0.3 ms view of about 100 functions (bench.small_app) served by gunicorn
(sync, one worker) and waitress (its four threads), one client, each request
waited for before the next: the bare app, the app under a raw cProfile (enabled
and disabled around it, its figures thrown away), under pyinstrument's own
per-request use, and under linesman with each engine and with ``auto``. Every
variant runs in a server process of its own, started before the first round;
a round sends ``per_round`` requests to each, in a shuffled order, and the
figure of a variant is the median of its rounds' mean time per request. The
linesman stores are counted at the end: every profiled request must be in them.
"""

from __future__ import annotations

import http.client
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.small_app import SMALL_PATH

SERVERS = ("gunicorn sync", "waitress")
VARIANTS = (
    "bare",
    "raw cProfile",
    "pyinstrument",
    "linesman cprofile",
    "linesman sampling",
    "linesman auto",
)

SERVER = textwrap.dedent("""
    import cProfile, logging, sys
    from bench.small_app import small_app
    variant, server, port, store = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

    def raw_cprofile(environ, start_response):
        profile = cProfile.Profile()
        profile.enable()
        try:
            return list(small_app(environ, start_response))
        finally:
            profile.disable()

    def with_pyinstrument(environ, start_response):
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        try:
            return list(small_app(environ, start_response))
        finally:
            profiler.stop()

    if variant == "bare":
        app = small_app
    elif variant == "raw cProfile":
        app = raw_cprofile
    elif variant == "pyinstrument":
        app = with_pyinstrument
    else:
        from linesman.middleware import ProfilingMiddleware
        app = ProfilingMiddleware(small_app, filename=store, response_header="false",
                                  profiler=variant.split()[1])

    if server == "waitress":
        from waitress import serve
        logging.getLogger("waitress").setLevel(logging.ERROR)
        serve(app, host="127.0.0.1", port=port, _quiet=True)
    else:
        from gunicorn.app.base import BaseApplication

        class One(BaseApplication):
            def load_config(self):
                for name, value in dict(bind=f"127.0.0.1:{port}", workers=1,
                                        worker_class="sync", loglevel="error",
                                        accesslog=None).items():
                    self.cfg.set(name, value)

            def load(self):
                return app

        One().run()
""")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _get(port, None)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server on port {port} did not start")


def _get(port: int, connection: http.client.HTTPConnection | None) -> None:
    """One request; a fresh connection where none is kept (gunicorn sync closes it)."""
    own = connection is None
    if connection is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", SMALL_PATH)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
    finally:
        if own:
            connection.close()


def _round(port: int, keep_alive: bool, count: int) -> float:
    """Mean seconds per request over ``count`` requests, one after another."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30) if keep_alive else None
    try:
        started = time.perf_counter()
        for _ in range(count):
            _get(port, connection)
        return (time.perf_counter() - started) / count
    finally:
        if connection is not None:
            connection.close()


def _stored(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as connection:
        return connection.execute("SELECT count(*) FROM sessions").fetchone()[0]


def small_requests(rounds: int, per_round: int, folder: Path, line, record, section) -> None:
    """Run the case and print it (``line``, ``record`` and ``section`` are run.py's)."""
    import platform

    version = platform.python_version()
    section(
        f"7. Small requests: a 0.3 ms route of ~100 functions, one client, {rounds} rounds "
        f"of {per_round} requests (Python {version})"
    )
    root = Path(__file__).resolve().parent.parent
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    servers: dict[tuple[str, str], tuple[subprocess.Popen, int, Path]] = {}
    sent: dict[tuple[str, str], int] = {}
    try:
        for server in SERVERS:
            for variant in VARIANTS:
                port = _free_port()
                store = folder / f"small-{server.split()[0]}-{variant.replace(' ', '-')}.db"
                process = subprocess.Popen(
                    [sys.executable, "-c", SERVER, variant, server, str(port), str(store)], env=env
                )
                servers[(server, variant)] = (process, port, store)
        for key, (_, port, _) in servers.items():
            _wait_for(port)
            for _ in range(20):  # warm up: imports, the writer's thread, the store
                _get(port, None)
            sent[key] = 21
        times: dict[tuple[str, str], list[float]] = {key: [] for key in servers}
        order = list(servers)
        for _ in range(rounds):
            random.shuffle(order)
            for key in order:
                _, port, _ = servers[key]
                times[key].append(_round(port, key[0] == "waitress", per_round))
                sent[key] += per_round
        _report(servers, times, sent, version, line, record)
    finally:
        for process, _, _ in servers.values():
            process.terminate()
        for process, _, _ in servers.values():
            process.wait(30)


def _report(servers, times, sent, version, line, record) -> None:
    for server in SERVERS:
        bare = statistics.median(times[(server, "bare")])
        raw = statistics.median(times[(server, "raw cProfile")])
        print(f"  {server}: bare {bare * 1000:.3f} ms per request ({1 / bare:.0f}/s)")
        for variant in VARIANTS:
            key = (server, variant)
            median = statistics.median(times[key])
            spread = sorted(times[key])
            quarter = len(spread) // 4
            low, high = spread[quarter], spread[-1 - quarter]
            stored = ""
            if variant.startswith("linesman"):
                deadline = time.monotonic() + 30
                count = _stored(servers[key][2])
                while count < sent[key] and time.monotonic() < deadline:
                    time.sleep(0.2)
                    count = _stored(servers[key][2])
                stored = f"; stored {count} of {sent[key]}"
            verdict = None
            if variant in ("linesman cprofile", "linesman sampling"):
                verdict = median / raw <= 1.15
            line(
                f"  {variant}",
                f"{median * 1000:.3f} ms ({low * 1000:.2f}-{high * 1000:.2f})",
                f"{median / bare:.2f}x bare, {median / raw:.2f}x raw cProfile{stored}"
                + ("; target <= 1.15x" if verdict is not None else ""),
                verdict,
            )
            record(
                f"small.{version}.{server}.{variant}",
                median_seconds=median,
                p25=low,
                p75=high,
                ratio_to_bare=median / bare,
                ratio_to_cprofile=median / raw,
                requests_per_second=1 / median,
            )
