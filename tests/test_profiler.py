"""The profiler gate: who is profiled, and which profiles may be kept."""

from __future__ import annotations

import cProfile
import queue
import sys
import threading
import time

from support import apps
from support.login import token_environ, ui_client
from support.wsgi_client import call

from linesman.model.rows import stats_from_profile
from linesman.profiling.gate import ProfilerGate, is_exclusive_profiler


def names(profile):
    functions, _ = stats_from_profile(profile.profile.getstats())
    return {function.name for function in functions}


def test_the_strategy_follows_the_python_version():
    assert ProfilerGate().exclusive is (sys.version_info >= (3, 12))
    assert is_exclusive_profiler() is (sys.version_info >= (3, 12))


def test_profile_call_records_only_what_runs_inside_it():
    gate = ProfilerGate()
    profile, reason = gate.enter(True)
    assert reason is None
    apps.spin(0.001)  # before: not the app's
    assert profile.call(apps.spin_cpu, 0.002) is None
    gate.leave(profile)
    assert "spin_cpu" in names(profile) and "spin" not in names(profile)
    spin = next(
        f for f in stats_from_profile(profile.profile.getstats())[0] if f.name == "spin_cpu"
    )
    assert spin.callcount == 1
    assert profile.cpu_time >= 0.0015


def test_exclusive_gate_serves_a_second_request_unprofiled():
    gate = ProfilerGate(exclusive=True)
    first, _ = gate.enter(True)
    second, reason = gate.enter(True)
    assert second is None and reason == "busy"
    gate.leave(None)
    gate.leave(first)
    assert gate.reason_not_to_store(first) == "overlap", "a request ran alongside the profiled one"
    third, reason = gate.enter(True)
    assert reason is None and third is not None
    gate.leave(third)
    assert gate.reason_not_to_store(third) is None
    assert gate.in_flight == 0


def test_shared_gate_profiles_both_and_flags_them():
    gate = ProfilerGate(exclusive=False)
    first, _ = gate.enter(True)
    second, _ = gate.enter(True)
    assert first is not None and second is not None
    gate.leave(first)
    gate.leave(second)
    assert first.concurrent and second.concurrent
    assert gate.reason_not_to_store(first) is None and gate.reason_not_to_store(second) is None


def test_an_unselected_request_in_flight_still_marks_an_overlap():
    gate = ProfilerGate(exclusive=True)
    profile, _ = gate.enter(True)
    gate.enter(False)
    gate.leave(None)
    gate.leave(profile)
    assert gate.reason_not_to_store(profile) == "overlap"


def test_another_active_profiler_means_no_profile_and_no_error(make_profiled):
    middleware = make_profiled(apps.hello_app)
    other = cProfile.Profile()
    other.enable()
    try:
        outcome = call(middleware)
    finally:
        other.disable()
    assert outcome.chunks == [b"hello"]
    assert middleware.flush(10)
    if sys.version_info >= (3, 12):
        # The process's profiler slot is taken: auto samples the request instead.
        (session,) = middleware.backend.get_all().values()
        assert session.kind == "sampled"
        middleware.backend.delete_all()
    else:  # the thread's one hook is taken, for either engine
        assert middleware.backend.count() == 0
        assert middleware.health.counts()["skipped.profiler_unavailable"] == 1
    call(middleware)
    assert middleware.flush(10)
    assert middleware.backend.count() == 1


def test_a_python_level_profiler_is_left_in_place():
    gate = ProfilerGate()
    profile, _ = gate.enter(True)
    hook = lambda frame, event, arg: None  # noqa: E731
    sys.setprofile(hook)
    try:
        profile.call(apps.spin, 0.0001)
        assert sys.getprofile() is hook
    finally:
        sys.setprofile(None)
    gate.leave(profile)
    # Before 3.12 both would share one per-thread hook; from 3.12 they coexist.
    expected = None if sys.version_info >= (3, 12) else "profiler_unavailable"
    assert gate.reason_not_to_store(profile) == expected


def hold(gate, seconds, started):
    gate.start_writer_work()
    started.set()
    time.sleep(seconds)
    gate.end_writer_work()


def test_a_profile_does_not_start_while_linesman_holds_the_gate():
    gate = ProfilerGate(exclusive=True, patience=0.01)
    started = threading.Event()
    worker = threading.Thread(target=hold, args=(gate, 0.3, started))
    worker.start()
    started.wait(5)
    profile, reason = gate.enter(True)
    assert (profile, reason) == (None, "busy")
    gate.leave(None)
    worker.join()


def test_a_profile_waits_for_a_short_hold():
    gate = ProfilerGate(exclusive=True, patience=2.0)
    started = threading.Event()
    worker = threading.Thread(target=hold, args=(gate, 0.02, started))
    worker.start()
    started.wait(5)
    profile, reason = gate.enter(True)
    assert reason is None and profile is not None
    gate.leave(profile)
    assert gate.reason_not_to_store(profile) is None
    worker.join()


def test_taking_the_hold_during_a_profile_drops_it():
    gate = ProfilerGate(exclusive=True)
    profile, _ = gate.enter(True)
    gate.start_writer_work()  # the writer gave up waiting for the request to end
    gate.end_writer_work()
    gate.leave(profile)
    assert gate.reason_not_to_store(profile) == "overlap"


def test_the_hold_is_free_where_profiles_are_per_thread():
    gate = ProfilerGate(exclusive=False)
    profile, _ = gate.enter(True)
    gate.start_writer_work()
    second, reason = gate.enter(True)
    assert reason is None
    gate.leave(second)
    gate.end_writer_work()
    gate.leave(profile)
    assert gate.reason_not_to_store(profile) is None


def work_after_idle(gate, items, woke):
    """A writer's stretch: work, wait until an item comes, then Python code."""
    gate.start_writer_work()
    woke.append(gate.wait_for_work_and_quiet(items, 10.0))
    woke.append(sorted(str(number) for number in range(50)))  # code a profile must not see
    gate.end_writer_work()


def test_the_writer_idles_without_a_call_a_profile_could_record():
    """On 3.12+ one profiler records every thread: the writer waking up, waiting
    for quiet and taking the hold again must leave nothing in a profile that ran
    meanwhile. It wakes during the profile (an item arrives), short_sleeps while the
    request is in flight, and works only after it left."""
    gate = ProfilerGate(exclusive=True)
    items = queue.SimpleQueue()
    woke = []
    writer = threading.Thread(target=work_after_idle, args=(gate, items, woke))
    writer.start()
    deadline = time.monotonic() + 5
    while gate.writer_working and time.monotonic() < deadline:  # until it waits
        time.sleep(0.001)
    profile, reason = gate.enter(True)
    assert reason is None
    profile.call(items.put, "record")
    profile.call(apps.spin, 0.05)  # the writer is awake and napping meanwhile
    gate.leave(profile)
    writer.join(5)
    assert woke[0] == "record"
    assert gate.reason_not_to_store(profile) is None, "the writer held the gate during the profile"
    recorded = names(profile)
    assert not [
        name
        for name in recorded
        if "sleep" in name or "sorted" in name or "idle" in name or "work_after_idle" in name
    ], recorded


def test_what_the_writer_queues_compares_in_c():
    """Assumption 3 of linesman.profiling.gate: the writer's queue compares each
    item with a sentinel in C; an ``__eq__`` of our own would be a Python call
    that lands in a profile on 3.12+."""
    from linesman.storage.record import ProfileRecord

    assert ProfileRecord.__eq__ is object.__eq__ and ProfileRecord.__ne__ is object.__ne__


def test_a_build_without_the_gil_profiles_nothing_and_says_why(make_profiled, monkeypatch, caplog):
    """A free-threaded build breaks the gate's assumptions 1 and 4. This Python
    has the GIL, so the build's answer is stood in for (the one fault here that
    cannot be produced for real)."""
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    with caplog.at_level("WARNING", logger="linesman"):
        middleware = make_profiled(apps.hello_app)
    assert "without the GIL" in caplog.text
    for _ in range(3):
        response = call(middleware, path="/hello", **token_environ(middleware))
        assert b"".join(response.chunks) == b"hello" and response.status.startswith("200")
        assert response.header("X-Linesman-Session") is None  # a UI client: none to name
    assert middleware.flush(5) and middleware.backend.count() == 0
    page = ui_client(middleware).get("/__profiler__/")
    assert "Profiling is off in this process" in page.text and "without the GIL" in page.text
