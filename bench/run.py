"""linesman's benchmarks: ratios against the bare app and the peers, in one run.

These machines are shared and noisy, so every comparison is made of
interleaved rounds (each round runs every variant once, in a shuffled order)
and reports the median per-request time over rounds, its spread (the 25th to
75th percentile of rounds) and the ratio of medians. Nothing here is a test:
run it by hand, ``python -m bench`` (``--quick`` for a short run), after
``pip install '.[bench]'``. It prints a table and writes the same figures as
JSON (``--output``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pickle
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid as uuid_module
from collections.abc import Callable
from pathlib import Path

from bench.sample_app import ROUTES, hello_app, sample_app

Request = Callable[[], None]
RESULTS: dict[str, dict] = {}


# -- driving WSGI apps in-process -------------------------------------------------
def environ_for(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def request_of(app, path: str) -> Request:
    """One request as a server makes it: call, iterate, close."""

    def start_response(status, headers, exc_info=None):
        return lambda data: None

    def run() -> None:
        body = app(environ_for(path), start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return run


def raw_cprofile_request(app, path: str) -> Request:
    """cProfile switched on around the call, the body and close(): the floor."""
    inner = request_of(app, path)

    def run() -> None:
        profile = cProfile.Profile()
        profile.enable()
        try:
            inner()
        finally:
            profile.disable()

    return run


def interleaved(
    variants: dict[str, Request],
    rounds: int,
    per_round: int,
    settle: Callable[[], None] = lambda: None,
) -> dict[str, list]:
    """Per-request seconds of each variant, one figure per round, rounds interleaved.

    ``settle`` runs untimed after every batch: linesman's writer drains there, so
    its deferred work is charged to no other variant's batch.
    """
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for name in names:  # warm every variant up once
        variants[name]()
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            run = variants[name]
            started = time.perf_counter()
            for _ in range(per_round):
                run()
            times[name].append((time.perf_counter() - started) / per_round)
            settle()
    return times


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    quarter = max(0, len(ordered) // 4)
    return {
        "median": statistics.median(ordered),
        "p25": ordered[quarter],
        "p75": ordered[-1 - quarter],
    }


# -- reporting -----------------------------------------------------------------------
def line(label: str, value: str, target: str = "", verdict: bool | None = None) -> None:
    mark = "" if verdict is None else ("  ok" if verdict else "  MISSED")
    print(f"  {label:<52} {value:>22}   {target}{mark}")


def ratio_line(label: str, ours: list[float], theirs: list[float], target: float) -> float:
    """The ratio of medians with its spread (from the rounds' quartiles); a target
    inside the spread is "too noisy to judge", not a verdict either way."""
    a, b = summary(ours), summary(theirs)
    ratio = a["median"] / b["median"]
    low, high = a["p25"] / b["p75"], a["p75"] / b["p25"]
    value = f"{ratio:.3f}x ({low:.2f}-{high:.2f})"
    if high <= target or low > target:
        line(label, value, f"target <= {target}x", high <= target)
    else:
        line(label, value, f"target <= {target}x  too noisy to judge: run more rounds")
    return ratio


def section(title: str) -> None:
    print(f"\n{title}\n" + "-" * len(title))


def record(key: str, **figures) -> None:
    RESULTS[key] = figures


# -- 1. pass-through -----------------------------------------------------------------
def pass_through(rounds: int, per_round: int, store: Path) -> None:
    from linesman.middleware import ProfilingMiddleware

    section("1. Pass-through: profiling off, or a request not selected (ratio to bare app)")
    for app_name, app, per in (
        ("hello-world", hello_app, per_round * 20),
        ("sample app", sample_app, max(3, per_round // 4)),
    ):
        off = ProfilingMiddleware(app, filename=str(store / f"off-{app_name}.db"), enabled="false")
        skipped = ProfilingMiddleware(
            app, filename=str(store / f"skip-{app_name}.db"), exclude_paths="^/"
        )
        path = "/" if app is hello_app else "/strings"
        times = interleaved(
            {
                "bare": request_of(app, path),
                "off": request_of(off, path),
                "not selected": request_of(skipped, path),
            },
            rounds,
            per,
        )
        bare = summary(times["bare"])["median"]
        target = 2.5 if app is hello_app else 1.01
        for variant in ("off", "not selected"):
            ratio = ratio_line(f"{app_name}, {variant}", times[variant], times["bare"], target)
            record(
                f"pass_through.{app_name}.{variant}", ratio=ratio, target=target, bare_seconds=bare
            )
        for middleware in (off, skipped):
            middleware.close()


# -- 2. profiled latency -------------------------------------------------------------
def peers(app, store: Path) -> dict[str, Callable[[str], Request]]:
    from linesman.middleware import ProfilingMiddleware

    made: dict[str, Callable[[str], Request]] = {
        "bare": lambda path: request_of(app, path),
        "raw cProfile": lambda path: raw_cprofile_request(app, path),
    }
    linesman = ProfilingMiddleware(
        app, filename=str(store / "latency.db"), response_header="false", profiler="cprofile"
    )
    sampling = ProfilingMiddleware(
        app,
        filename=str(store / "latency-sampling.db"),
        response_header="false",
        profiler="sampling",
    )
    made["linesman"] = lambda path: request_of(linesman, path)
    made["linesman sampling"] = lambda path: request_of(sampling, path)
    try:
        from pyinstrument import Profiler

        made["pyinstrument"] = lambda path: pyinstrument_request(Profiler, app, path)
    except ImportError:
        print("  (pyinstrument not installed: pip install '.[bench]')")
    try:
        from werkzeug.middleware.profiler import ProfilerMiddleware

        werkzeug = ProfilerMiddleware(app, stream=None)
        made["werkzeug"] = lambda path: request_of(werkzeug, path)
    except ImportError:
        print("  (werkzeug not installed: pip install '.[bench]')")
    try:
        from repoze.profile import ProfileMiddleware

        repoze = ProfileMiddleware(
            app,
            log_filename=str(store / "repoze.prof"),
            discard_first_request=False,
            flush_at_shutdown=False,
        )
        made["repoze.profile"] = lambda path: request_of(repoze, path)
    except ImportError:
        print("  (repoze.profile not installed: pip install '.[bench]')")
    made["_linesman"] = (linesman, sampling)  # type: ignore[assignment]
    return made


def pyinstrument_request(profiler_class, app, path: str) -> Request:
    """pyinstrument's own per-request use: a Profiler started and stopped around it."""
    inner = request_of(app, path)

    def run() -> None:
        profiler = profiler_class(interval=0.001, async_mode="disabled")
        profiler.start()
        try:
            inner()
        finally:
            profiler.stop()

    return run


def profiled_latency(rounds: int, per_round: int, store: Path) -> None:
    section("2. Profiled request latency on the sample app (ratio to bare, and to raw cProfile)")
    makers = peers(sample_app, store)
    engines = makers.pop("_linesman")

    def settle() -> None:
        for middleware in engines:
            middleware.flush(60)

    overall: dict[str, list[float]] = {}
    for path in ROUTES:
        variants = {name: make(path) for name, make in makers.items()}
        times = interleaved(variants, rounds, per_round, settle=settle)
        bare = summary(times["bare"])["median"]
        raw = summary(times["raw cProfile"])["median"]
        cells = []
        for name, samples in times.items():
            stats = summary(samples)
            overall.setdefault(name, []).append(stats["median"] / bare)
            cells.append(f"{name} {stats['median'] / bare:.2f}x")
            record(
                f"latency.{path}.{name}",
                median_seconds=stats["median"],
                p25=stats["p25"],
                p75=stats["p75"],
                ratio_to_bare=stats["median"] / bare,
                ratio_to_cprofile=stats["median"] / raw,
            )
        print(f"  {path:<10} bare {bare * 1000:.2f} ms; " + ", ".join(cells[1:]))
        ratio_line(
            f"{path}: linesman (cProfile) / raw cProfile",
            times["linesman"],
            times["raw cProfile"],
            1.05,
        )
        ratio_line(
            f"{path}: linesman (sampling) / raw cProfile",
            times["linesman sampling"],
            times["raw cProfile"],
            1.0,
        )
    section("   overall (geometric mean over routes, ratio to bare)")
    for name, ratios in overall.items():
        mean = statistics.geometric_mean(ratios)
        line(name, f"{mean:.2f}x")
        record(f"latency.overall.{name}", ratio_to_bare=mean)
    raw = statistics.geometric_mean(overall["raw cProfile"])
    ratio = statistics.geometric_mean(overall["linesman"]) / raw
    line(
        "linesman (cProfile) / raw cProfile, overall",
        f"{ratio:.3f}x",
        "target <= 1.05x",
        ratio <= 1.05,
    )
    record("latency.overall.linesman_to_cprofile", ratio=ratio, target=1.05)
    ratio = statistics.geometric_mean(overall["linesman sampling"]) / raw
    line(
        "linesman (sampling) / raw cProfile, overall",
        f"{ratio:.3f}x",
        "target <= 1.0x",
        ratio <= 1.0,
    )
    record("latency.overall.sampling_to_cprofile", ratio=ratio, target=1.0)
    for middleware in engines:
        middleware.close()


# -- 2b. request shapes ------------------------------------------------------------------
def request_shapes(rounds: int, per_round: int, store: Path) -> None:
    from bench.shapes import DEPTHS, shape_app
    from linesman.middleware import ProfilingMiddleware

    section("2b. Request shapes: each engine against raw cProfile (target <= 2x)")
    engines = {
        engine: ProfilingMiddleware(
            shape_app, filename=str(store / f"shapes-{engine}.db"), profiler=engine
        )
        for engine in ("sampling", "cprofile")
    }

    def settle() -> None:
        for middleware in engines.values():
            middleware.flush(60)

    for shape in DEPTHS:
        path = f"/{shape}"
        variants = {
            "bare": request_of(shape_app, path),
            "raw cProfile": raw_cprofile_request(shape_app, path),
            **{f"linesman {name}": request_of(app, path) for name, app in engines.items()},
        }
        times = interleaved(variants, rounds, per_round, settle=settle)
        bare = summary(times["bare"])["median"]
        cells = [f"{name} {summary(t)['median'] / bare:.2f}x" for name, t in times.items()]
        print(f"  {shape:<10} bare {bare * 1000:.1f} ms; " + ", ".join(cells[1:]))
        for name in engines:
            ratio = ratio_line(
                f"{shape}: linesman ({name}) / raw cProfile",
                times[f"linesman {name}"],
                times["raw cProfile"],
                2.0,
            )
            record(f"shapes.{shape}.{name}", ratio_to_cprofile=ratio, target=2.0)
    for middleware in engines.values():
        middleware.close()


# -- 3. total CPU ----------------------------------------------------------------------
def total_cpu(count: int, store: Path) -> None:
    from linesman.middleware import ProfilingMiddleware

    section("3. Total CPU per profiled request, storage included (ratio to raw cProfile)")
    linesman = ProfilingMiddleware(sample_app, filename=str(store / "cpu.db"))
    runs = {
        "raw cProfile": [raw_cprofile_request(sample_app, p) for p in ROUTES],
        "linesman": [request_of(linesman, p) for p in ROUTES],
    }
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(5):
        for name in random.sample(list(runs), len(runs)):
            started = time.process_time()  # every thread: the writer's work counts
            for number in range(count):
                runs[name][number % len(ROUTES)]()
            if name == "linesman":
                linesman.flush(120)
            cpu[name].append((time.process_time() - started) / count)
    raw = statistics.median(cpu["raw cProfile"])
    ours = statistics.median(cpu["linesman"])
    line("CPU per request, raw cProfile", f"{raw * 1000:.2f} ms")
    line("CPU per request, linesman (incl. writer thread)", f"{ours * 1000:.2f} ms")
    line("linesman / raw cProfile", f"{ours / raw:.3f}x", "target <= 1.3x", ours / raw <= 1.3)
    record(
        "cpu.linesman_to_cprofile",
        ratio=ours / raw,
        target=1.3,
        raw_seconds=raw,
        linesman_seconds=ours,
    )
    linesman.close()


# -- 4. throughput under waitress ---------------------------------------------------------
SERVER = textwrap.dedent("""
    import logging, sys
    from waitress import serve
    logging.getLogger("waitress").setLevel(logging.ERROR)
    from bench.sample_app import sample_app
    mode, port, store = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    app = sample_app
    if mode != "absent":
        from linesman.middleware import ProfilingMiddleware
        app = ProfilingMiddleware(sample_app, filename=store, enabled=str(mode == "on"))
    serve(app, host="127.0.0.1", port=port, threads=4, _quiet=True)
""")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load(port: int, requests: int, clients: int) -> float:
    import http.client

    per_client = requests // clients
    errors: list[object] = []

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for number in range(per_client):
            connection.request("GET", ROUTES[(offset + number) % len(ROUTES)])
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed: {errors[:5]}")
    return per_client * clients / elapsed


def throughput(requests: int, rounds: int, store: Path) -> None:
    section(
        f"4. Throughput: waitress, 4 threads, 8 clients, {requests} requests "
        f"(Python {platform.python_version()})"
    )
    root = Path(__file__).resolve().parent.parent
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    )
    rates: dict[str, list[float]] = {"absent": [], "off": [], "on": []}
    for _ in range(rounds):
        for mode in random.sample(list(rates), len(rates)):
            port = free_port()
            server = subprocess.Popen(
                [sys.executable, "-c", SERVER, mode, str(port), str(store / f"load-{mode}.db")],
                env=env,
            )
            try:
                wait_for(port)
                load(port, 50, 8)  # warm up
                rates[mode].append(load(port, requests, 8))
            finally:
                server.terminate()
                server.wait(30)
    absent = statistics.median(rates["absent"])
    for mode in ("absent", "off", "on"):
        rate = statistics.median(rates[mode])
        line(f"linesman {mode}", f"{rate:.0f} req/s  ({rate / absent:.2f}x)")
        record(
            f"throughput.{platform.python_version()}.{mode}",
            requests_per_second=rate,
            ratio_to_absent=rate / absent,
        )


def wait_for(port: int) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server on port {port} did not start")


# -- 5. store and UI at scale --------------------------------------------------------------
def sample_sessions():
    """One real session per sample route, as linesman stores them."""
    from linesman import ProfilingSession

    sessions = []
    for path in ROUTES:
        profile = cProfile.Profile()
        profile.enable()
        request_of(sample_app, path)()
        profile.disable()
        sessions.append(ProfilingSession(profile.getstats(), environ_for(path), status=200))
    return sessions


def fill(backend, sessions, count: int) -> None:
    """Add ``count`` copies of the sample sessions with fresh ids, fast."""
    from linesman.model.codec import encode_session

    documents = [(session, encode_session(session)) for session in sessions]
    now = time.time() - count
    rows = []
    for number in range(count):
        session, document = documents[number % len(documents)]
        rows.append(
            (
                str(uuid_module.uuid4()),
                now + number,
                session.method,
                f"{session.path}/{number % 997}",
                "",
                200 if number % 50 else 500,
                session.duration * (1 + number % 7),
                session.cpu_time,
                int(not number % 50),
                document,
            )
        )
    if hasattr(backend, "conn"):  # SQLite
        with backend.conn:
            backend.conn.executemany(
                "INSERT INTO sessions (uuid, timestamp, method, path, query, status, duration, "
                "cpu_time, failed, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        backend.conn.execute("ANALYZE")
        return
    from linesman.backends.base import SUMMARY_FIELDS

    names = (*SUMMARY_FIELDS, "document")
    with backend.engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(
                backend.sessions.insert(),
                [
                    dict(zip(names, row, strict=True)) | {"failed": bool(row[8])}
                    for row in rows[start : start + 5000]
                ],
            )
    # What autovacuum would have done by the time anyone looks at that many sessions.
    import sqlalchemy as sa

    with backend.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text(f"ANALYZE {backend.sessions.name}"))


def page_time(middleware, path: str, repeat: int = 7) -> float:
    from webtest import TestApp

    client = TestApp(
        middleware,
        extra_environ={
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "localhost",
            "HTTP_X_LINESMAN_TOKEN": middleware.current_signer().login_token,
        },
    )
    client.get(path)
    samples = []
    for _ in range(repeat):
        middleware.ui.forget_computed()
        started = time.perf_counter()
        client.get(path)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def at_scale(sizes: list[int], store: Path, postgresql: str | None) -> None:
    from linesman.middleware import ProfilingMiddleware

    section("5. Store and UI at scale")
    sessions = sample_sessions()
    stores: list[tuple[str, dict]] = [("SQLite", {"filename": None})]
    if postgresql:
        stores.append(
            (
                "PostgreSQL",
                {"backend": "linesman.backends.sqlalchemy:SQLAlchemyBackend", "url": postgresql},
            )
        )
    for name, options in stores:
        times = {}
        for size in sizes:
            made = dict(options)
            if name == "SQLite":
                made["filename"] = str(store / f"scale-{size}.db")
            else:
                made["table_prefix"] = f"bench{size}_"
            middleware = ProfilingMiddleware(hello_app, **made)
            middleware.backend.delete_all()
            fill(middleware.backend, sessions, size)
            times[size] = {
                "list": page_time(middleware, "/__profiler__/"),
                "sorted": page_time(middleware, "/__profiler__/?sort=duration"),
                "filtered": page_time(middleware, "/__profiler__/?path=json&status=200"),
            }
            if size == sizes[-1] and size >= 10000:
                uuids = [s["uuid"] for s in middleware.backend.list_summaries(0, 10000)]
                started = time.perf_counter()
                middleware.backend.delete_many(uuids)
                record(f"scale.{name}.delete_10000", seconds=time.perf_counter() - started)
                line(f"{name}: delete 10,000 sessions", f"{time.perf_counter() - started:.2f} s")
            if name != "SQLite":
                middleware.backend.drop_tables()
            middleware.close()
        smallest = times[sizes[0]]
        for size in sizes:
            for view in ("list", "sorted", "filtered"):
                ratio = times[size][view] / smallest[view]
                line(
                    f"{name}: {view} page, {size:,} sessions",
                    f"{times[size][view] * 1000:.1f} ms ({ratio:.2f}x)",
                    "target <= 1.5x" if size == sizes[-1] and view == "list" else "",
                    ratio <= 1.5 if size == sizes[-1] and view == "list" else None,
                )
                record(
                    f"scale.{name}.{view}.{size}",
                    seconds=times[size][view],
                    ratio_to_smallest=ratio,
                )

    from linesman.model.codec import encode_session

    stored = statistics.mean(len(encode_session(s)) for s in sessions)
    pickled = statistics.mean(len(pickle.dumps(s.graph)) for s in sessions)
    line("bytes stored per session (mean of the routes)", f"{stored:.0f} B")
    line("the same graph pickled (what the original stored)", f"{pickled:.0f} B")
    line(
        "stored / pickled graph",
        f"{stored / pickled:.3f}",
        "target <= 0.5",
        stored / pickled <= 0.5,
    )
    record("bytes_per_session", stored=stored, pickled_graph=pickled, ratio=stored / pickled)

    from linesman.demo.profiles import many_functions_session

    for count in (5000, 50000):
        big = many_functions_session(count)
        middleware = ProfilingMiddleware(hello_app, filename=str(store / f"big-{count}.db"))
        middleware.backend.add(big)
        for label, url in (
            ("session page", f"/__profiler__/profiles/{big.uuid}"),
            ("session page at cutoff 0", f"/__profiler__/profiles/{big.uuid}?cutoff=0"),
            ("merged page", "/__profiler__/endpoints/merged?endpoint=GET+/big"),
        ):
            seconds = page_time(middleware, url, repeat=3)
            line(
                f"{label}, {count:,} functions (server time)",
                f"{seconds * 1000:.0f} ms",
                "target < 500 ms",
                seconds < 0.5,
            )
            record(f"{label.replace(' ', '_')}_{count}_functions", seconds=seconds, target=0.5)
        middleware.close()
    distinct = sizes[-1] if sizes else 10_000
    middleware = ProfilingMiddleware(hello_app, filename=str(store / "distinct.db"))
    fill_distinct_paths(middleware.backend, distinct)
    seconds = page_time(middleware, "/__profiler__/endpoints", repeat=3)
    line(
        f"endpoints page, {distinct:,} distinct paths (server time)",
        f"{seconds * 1000:.0f} ms",
        "target < 500 ms",
        seconds < 0.5,
    )
    record(f"endpoints_page_{distinct}_distinct_paths", seconds=seconds, target=0.5)
    middleware.close()


def fill_distinct_paths(backend, count: int) -> None:
    """``count`` sessions, each of its own path (one small document shared): a store
    an app with ids in its query-less paths fills."""
    import sqlite3

    from linesman.model.codec import encode_session
    from linesman.model.session import ProfilingSession

    document = encode_session(ProfilingSession([], {"PATH_INFO": "/x"}))
    with sqlite3.connect(backend.filename) as connection:
        connection.executemany(
            "INSERT INTO sessions (uuid, timestamp, method, path, query, status, duration, "
            "cpu_time, failed, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    str(uuid_module.uuid4()),
                    1.7e9 + number,
                    "GET",
                    f"/item-{number}/x{number}",
                    "",
                    200,
                    0.01 + number * 1e-7,
                    0.01,
                    0,
                    document,
                )
                for number in range(count)
            ],
        )


# -- 6. sustained load: every profiled request stored ---------------------------------------
SUSTAINED_SERVER = textwrap.dedent("""
    import logging, sys, time
    from waitress import serve
    logging.getLogger("waitress").setLevel(logging.ERROR)
    from linesman.middleware import ProfilingMiddleware

    def compute(seconds):
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            sum(divmod(n, 7)[0] for n in range(50))

    def waits_then_computes(environ, start_response):
        time.sleep(0.02)  # as an app waits on its database
        compute(0.003)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    port, store = int(sys.argv[1]), sys.argv[2]
    serve(ProfilingMiddleware(waits_then_computes, filename=store), host="127.0.0.1",
          port=port, _quiet=True)
""")


def steady_load(port: int, seconds: float, clients: int) -> int:
    """``clients`` keep-alive clients for ``seconds``; how many requests were answered."""
    import http.client

    answered: list[int] = []
    errors: list[object] = []
    end = time.monotonic() + seconds

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        done = 0
        while time.monotonic() < end:
            connection.request("GET", f"/sustained/{number}")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
            done += 1
        connection.close()
        answered.append(done)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed: {errors[:5]}")
    return sum(answered)


def store_throughput(sessions: list, folder: Path, batch: int, seconds: float = 3.0) -> float:
    """Sessions per second SqliteBackend.add_many stores, in batches of ``batch``
    copies of ``sessions`` (fresh ids), on a fresh file, for about ``seconds`` of
    the store's own time (making the copies is not counted)."""
    from linesman.backends.sqlite import SqliteBackend

    backend = SqliteBackend(filename=str(folder / f"throughput-{batch}.db"))
    backend.setup()
    stored, number, spent = 0, 0, 0.0
    try:
        while spent < seconds:
            copies = []
            for _ in range(batch):
                session = sessions[number % len(sessions)]
                copies.append(session.replace(uuid=str(uuid_module.uuid4())))
                number += 1
            began = time.perf_counter()
            backend.add_many(copies)
            spent += time.perf_counter() - began
            stored += len(copies)
    finally:
        backend.close()
    return stored / spent


def sustained(seconds: float, store: Path, clients: int = 8) -> None:
    """8 clients on a route that waits 20 ms then computes 3 ms, under waitress with
    default settings: the share of requests stored while the load lasted and after,
    beside what the store itself sustains for sessions of that size."""
    from linesman.backends.sqlite import SqliteBackend

    section(
        f"6. Sustained load: waitress (defaults), {clients} clients, {seconds:.0f} s, "
        f"wait 20 ms + compute 3 ms (Python {platform.python_version()})"
    )
    root = Path(__file__).resolve().parent.parent
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    )
    path = store / "sustained.db"
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SUSTAINED_SERVER, str(port), str(path)], env=env
    )
    backend = SqliteBackend(filename=str(path))
    try:
        wait_for(port)
        started = time.perf_counter()
        answered = steady_load(port, seconds, clients)
        elapsed = time.perf_counter() - started
        during = backend.count()
        deadline, last, still = time.monotonic() + 60, -1, time.monotonic()
        while time.monotonic() < deadline:  # until all are in, or none came for 5 s
            now = backend.count()
            if now >= answered:
                break
            if now != last:
                last, still = now, time.monotonic()
            elif time.monotonic() - still > 5:
                break
            time.sleep(0.1)
        after = backend.count()
        drained = time.perf_counter() - started - elapsed
        counters = backend.read_counters()
        sessions = [backend.get(summary["uuid"]) for summary in backend.list_summaries(0, 20)]
    finally:
        server.terminate()
        server.wait(30)
        backend.close()
    skipped = {name: value for name, value in counters.items() if name.startswith("skipped.")}
    line("requests answered", f"{answered} ({answered / elapsed:.0f}/s)")
    line("stored when the load ended", f"{during} ({during / answered:.1%})", "target >= 99%",
         during >= 0.99 * answered)  # fmt: skip
    line("stored in the end", f"{after} ({after / answered:.1%}, +{drained:.1f} s)",
         "target >= 99%", after >= 0.99 * answered)  # fmt: skip
    line("skipped (counters)", json.dumps(skipped) if skipped else "none")
    size = statistics.median(len(pickle.dumps(session.to_dict())) for session in sessions)
    kinds = sorted({session.kind for session in sessions})
    rates = {batch: store_throughput(sessions, store, batch) for batch in (1, 20, 200)}
    for batch, rate in rates.items():
        line(f"store: add_many, batches of {batch} ({', '.join(kinds)}, ~{size / 1000:.1f} kB)",
             f"{rate:.0f} sessions/s", f"load: {answered / elapsed:.0f}/s")  # fmt: skip
    record(
        f"sustained.{platform.python_version()}",
        seconds=elapsed,
        clients=clients,
        answered=answered,
        requests_per_second=answered / elapsed,
        stored_during=during,
        stored_after=after,
        drain_seconds=drained,
        skipped=skipped,
        session_kinds=kinds,
        session_pickled_bytes=size,
        store_sessions_per_second={str(batch): rate for batch, rate in rates.items()},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sizes")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["pass", "latency", "shapes", "cpu", "load", "scale", "sustained", "small"],
        help="run only these parts",
    )
    parser.add_argument(
        "--postgresql",
        default=os.environ.get("LINESMAN_BENCH_POSTGRESQL_URL", ""),
        help="SQLAlchemy URL for the scale part",
    )
    parser.add_argument("--output", default="bench-results.json", help="JSON file to write")
    args = parser.parse_args(argv)
    parts = set(
        args.only or ["pass", "latency", "shapes", "cpu", "load", "scale", "sustained", "small"]
    )
    rounds = 5 if args.quick else 15
    print(
        f"linesman benchmarks on Python {platform.python_version()}, "
        f"{os.cpu_count()} cores; medians of {rounds} interleaved rounds"
    )
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder)
        if "pass" in parts:
            pass_through(rounds, 40, store)
        if "latency" in parts:
            profiled_latency(rounds, 8 if args.quick else 20, store)
        if "shapes" in parts:
            request_shapes(rounds, 2 if args.quick else 3, store)
        if "cpu" in parts:
            total_cpu(50 if args.quick else 200, store)
        if "load" in parts:
            throughput(400 if args.quick else 2000, 1 if args.quick else 3, store)
        if "scale" in parts:
            sizes = [100, 10_000] if args.quick else [100, 10_000, 100_000]
            at_scale(sizes, store, args.postgresql or None)
        if "sustained" in parts:
            sustained(15 if args.quick else 60, store)
        if "small" in parts:
            from bench.small import small_requests

            small_requests(rounds, 50 if args.quick else 100, store, line, record, section)
    Path(args.output).write_text(
        json.dumps({"python": platform.python_version(), "results": RESULTS}, indent=1)
    )
    print(f"\nfigures written to {args.output}")
    return 0
