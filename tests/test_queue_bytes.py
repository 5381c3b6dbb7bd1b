"""What waits for a locked store stays within ``queue_bytes``: raw profiles in the
writer's queue and built sessions in its backlog together (issue 21, item 8).

Only the count was checked once, so while SQLite was locked up to 1,000 raw
profiles of 3,000 functions waited and memory grew by 417-532 MB against the
64 MB bound. Memory is read with tracemalloc, which sees cProfile's entries and
the sampler's stacks alike."""

from __future__ import annotations

import cProfile
import gc
import sqlite3
import time
import tracemalloc

import pytest
from support.wsgi_client import call

from linesman.model.session import ProfilingSession, approximate_size
from linesman.profiling.gate import is_exclusive_profiler
from linesman.profiling.sampling import SampledProfile
from linesman.profiling.unseen import can_run_unseen
from linesman.storage.backlog import Backlog, Waiting
from linesman.storage.record import ProfileRecord, RecordSizes

# Room for two sessions of 3,000 functions as the backlog counts them (3 MB each),
# so that more than one waits.
QUEUE_BYTES = 8 << 20
# The writer's work on the one session in its hands, beyond what waits: encoding a
# session of 3,000 functions for SQLite peaks at 4 MB (its JSON before compression).
TRANSIENT = 6 << 20


def generated(source: str, names: list[str]) -> list:
    namespace: dict = {}
    exec(compile(source, "<generated app>", "exec"), namespace)
    return [namespace[name] for name in names]


def many_functions() -> list:
    """3,000 distinct functions, each called once by the app: a big page's profile."""
    names = [f"function_{number}" for number in range(3000)]
    return generated("".join(f"def {name}():\n    return 1\n" for name in names), names)


def call_all(functions: list) -> None:
    for function in functions:
        function()


def deep_chains() -> list:
    """10 chains of 100 distinct functions, each doing a little work that allocates
    nothing (small ints are cached) before calling the next, so that the sampler,
    at 0.1 ms, records a thousand distinct stacks up to 100 frames deep."""
    work = "    sum(range(250))\n" * 8
    lines, heads = [], []
    for chain in range(10):
        heads.append(f"chain_{chain}_0")
        for depth in range(100):
            callee = f"chain_{chain}_{depth + 1}()" if depth < 99 else "None"
            lines.append(f"def chain_{chain}_{depth}():\n{work}    return {callee}\n")
    return generated("".join(lines), heads)


def app_calling(functions: list):
    def app(environ, start_response):
        call_all(functions)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    return app


def flood_a_locked_store(middleware, store, requests: int) -> None:
    """Send ``requests`` while another connection holds the store locked (the
    writer stays blocked in SQLite); check what the waiting profiles hold then,
    by tracemalloc and as the writer counts it. The lock is released after."""
    locker = sqlite3.connect(store, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        counted = 0
        for number in range(requests):
            assert call(middleware, f"/page/{number}").chunks == [b"done"]
            counted = max(counted, middleware.writer.waiting_bytes)
        held, peak = (traced - before for traced in tracemalloc.get_traced_memory())
        waiting = middleware.writer.pending
    finally:
        tracemalloc.stop()
        locker.execute("ROLLBACK")
        locker.close()
    print(
        f"queue_bytes: {waiting} waiting hold {held / 2**20:.1f} MB (peak {peak / 2**20:.1f} MB),"
        f" counted {counted / 2**20:.1f} MB"
    )
    assert waiting >= 2, "the store was not locked: nothing waited"
    assert held < QUEUE_BYTES, f"{waiting} profiles waiting hold {held / 2**20:.1f} MB"
    assert peak < QUEUE_BYTES + TRANSIENT, f"traced memory peaked at +{peak / 2**20:.1f} MB"
    assert counted <= QUEUE_BYTES


def assert_every_accepted_profile_stored(middleware) -> None:
    assert middleware.flush(120), "the writer did not drain once the store was free"
    counts = middleware.health.counts()
    stored = len(middleware.backend.get_all())
    refused = counts.get("skipped.queue_full", 0)
    assert refused >= 1, f"nothing was refused: {counts}"
    assert stored == counts["profiled"] - refused == counts["stored"], counts
    assert stored >= 3, f"fewer than two profiles waited: {counts}"
    assert not [name for name in counts if name.startswith("lost.")], counts


@pytest.mark.skipif(
    is_exclusive_profiler() and not can_run_unseen(),
    reason="where the writer cannot run unseen (3.12+), no request gets cProfile while "
    "it works (here, blocked in the locked store): they are sampled, as tested below",
)
def test_raw_cprofiles_waiting_for_a_locked_store_stay_within_queue_bytes(make_profiled, tmp_path):
    """60 profiles of 3,000 functions each (0.42 MB raw, 1.4 MB as a session,
    counted 3 MB) with the store locked: all 60 waited, raw, and held 25 MB against
    an 8 MB bound; now two wait, holding 0.9 to 3.1 MB."""
    store = tmp_path / "locked.db"
    middleware = make_profiled(
        app_calling(many_functions()),
        filename=str(store),
        profiler="cprofile",
        timeout="120",  # the writer stays blocked in SQLite while the requests come
        queue_bytes="8MB",
    )
    assert call(middleware, "/warm-up").chunks == [b"done"]  # the writer learns their size
    assert middleware.flush(60)
    flood_a_locked_store(middleware, store, 60)
    assert_every_accepted_profile_stored(middleware)


def test_sampled_profiles_waiting_for_a_locked_store_stay_within_queue_bytes(
    make_profiled, tmp_path
):
    """20 sampled profiles of some 1,300 distinct stacks each (1 MB raw, 2.2 MB as
    a session counted) with the store locked: all 20 waited and held 16.7 MB
    against an 8 MB bound; now three to five wait, holding 3.8 to 4.9 MB."""
    store = tmp_path / "locked.db"
    middleware = make_profiled(
        app_calling(deep_chains()),
        filename=str(store),
        profiler="sampling",
        sample_interval="0.1ms",
        timeout="120",
        queue_bytes="8MB",
    )
    assert call(middleware, "/warm-up").chunks == [b"done"]
    assert middleware.flush(60)
    flood_a_locked_store(middleware, store, 20)
    assert_every_accepted_profile_stored(middleware)


def profiled_record(engine: str, functions: list) -> ProfileRecord:
    if engine == "cprofile":
        profile = cProfile.Profile()
        profile.enable()
        try:
            call_all(functions)
        finally:
            profile.disable()
        raw: object = profile
    else:
        sampled = SampledProfile(0.0001)
        sampled.call(call_all, functions)
        raw = sampled
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/page", "QUERY_STRING": "q=1"}
    return ProfileRecord(raw, environ, "uuid", time.time(), 0.1, 0.1, 200, 4, None, False)


@pytest.mark.parametrize(
    "engine, functions", [("cprofile", many_functions), ("sampling", deep_chains)]
)
def test_a_raw_profile_is_charged_at_least_what_it_holds(engine, functions):
    """The charge a record is queued with, learned from one record before it, covers
    what its raw profile holds; the writer's count of that raw profile (cProfile's
    entries, the sampler's stacks) is what tracemalloc sees, on this Python."""
    app = functions()
    sizes = RecordSizes(0)  # no first guess: what it learns from the first record
    first = profiled_record(engine, app)
    session, raw = first.build()
    sizes.learn(first, raw, approximate_size(session))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        second = profiled_record(engine, app)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    charge = sizes.charge(second)
    session, raw = second.build()
    print(f"{engine}: holds {held} B raw, counted {raw} B, charged {charge} B")
    assert 0.9 * held <= raw <= 1.5 * held
    assert charge >= held
    assert charge >= 0.5 * approximate_size(session)  # what it will hold once built


def test_a_built_session_takes_the_room_its_charge_kept_and_no_more():
    """Once built, a record waits in the backlog if it is no larger than it was
    charged (its room was kept), or if it fits beside what waits, raw records
    included; one alone always waits."""
    backlog = Backlog(max_count=3, max_bytes=1000)
    session = ProfilingSession()
    assert backlog.has_room_for(5000)  # alone, however large
    assert not backlog.has_room_for(800, elsewhere=300)  # beside raw records charged 300
    assert backlog.has_room_for(800, elsewhere=300, reserved=800)  # its own room
    backlog.append(Waiting(session, 600, None, True))
    assert backlog.has_room_for(400) and not backlog.has_room_for(401)
    assert not backlog.has_room_for(300, elsewhere=200)
    assert backlog.has_room_for(300, elsewhere=200, reserved=300)
    assert not backlog.has_room_for(301, elsewhere=200, reserved=300)
    backlog.append(Waiting(session, 100, None, True))
    backlog.append(Waiting(session, 100, None, True))
    assert not backlog.has_room_for(1, reserved=100)  # the count is a bound too
