"""The writer beside small requests: it keeps no request waiting, lands in no
profile, stores a batch per transaction with the counters once per batch, and
its fast row-making gives the rows the plain per-row way gives."""

from __future__ import annotations

import cProfile
import sys
import threading
import time

from support import apps
from support.waiting import wait_for
from support.wsgi_client import call

from linesman.backends.sqlite import SqliteBackend
from linesman.profiling.gate import ProfilerGate
from linesman.profiling.unseen import can_run_unseen, run_unseen


class SlowBackend(SqliteBackend):
    """A store whose add_many runs Python code for a while (as encoding and SQL
    do), and that counts its transactions and its counter writes."""

    busy_seconds = 0.3
    instances: list[SlowBackend] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []
        self.counter_writes = 0
        self.inside = threading.Event()
        SlowBackend.instances.append(self)

    def add_many(self, sessions):
        self.inside.set()
        end = time.monotonic() + self.busy_seconds
        while time.monotonic() < end:
            sorted(str(number) for number in range(200))  # the writer's own Python calls
        self.batches.append(len(sessions))
        super().add_many(sessions)

    def add_counters(self, counts):
        self.counter_writes += 1
        super().add_counters(counts)


def own_names(profile):
    return {str(entry.code) for entry in profile.getstats()}


def test_a_request_never_waits_for_the_writer_and_holds_none_of_its_work(make_profiled):
    """The writer is storing (Python code for 0.3 s) when a request comes: it is
    profiled at once (no wait on the gate), and its profile holds the app's calls
    and none of the writer's: on 3.12+ because the writer runs where no profiler
    sees it, before that because cProfile is the request thread's own."""
    SlowBackend.instances.clear()
    middleware = make_profiled(
        apps.hello_app, backend=f"{__name__}:SlowBackend", profiler="cprofile"
    )
    assert call(middleware).chunks == [b"hello"]
    backend = SlowBackend.instances[-1]
    wait_for(backend.inside.is_set, what="the writer storing")
    assert middleware.gate.writer_unseen is can_run_unseen()
    if middleware.gate.exclusive:  # where the gate would make a request wait for it
        assert not middleware.gate.writer_working
    started = time.perf_counter()
    profile, reason = middleware.gate.enter(True)
    waited = time.perf_counter() - started
    assert reason is None and profile is not None
    assert waited < 0.05, f"the request waited {waited * 1000:.1f} ms for the writer"
    profile.call(apps.spin_cpu, 0.05)  # the writer works meanwhile
    middleware.gate.profile_done(profile)
    middleware.gate.leave(profile)
    assert middleware.gate.reason_not_to_store(profile) is None
    recorded = own_names(profile.profile)
    assert any("spin_cpu" in name for name in recorded), recorded
    assert not any("genexpr" in name or "sorted" in name for name in recorded), recorded
    assert not any("linesman" in name for name in recorded), recorded
    assert middleware.flush(10)


def test_waiting_sessions_are_stored_a_batch_per_transaction(make_profiled):
    """While the store is busy, requests keep coming: what waited is stored in one
    transaction, with the counters written once for it (on 3.12+ as well, where
    the writer used to store one session per stretch of work)."""
    SlowBackend.instances.clear()
    middleware = make_profiled(
        apps.hello_app, backend=f"{__name__}:SlowBackend", profiler="cprofile"
    )
    assert call(middleware).chunks == [b"hello"]
    backend = SlowBackend.instances[-1]
    wait_for(backend.inside.is_set, what="the writer storing the first")
    for _ in range(30):
        assert call(middleware).chunks == [b"hello"]
    assert middleware.flush(20)
    assert sum(backend.batches) == 31, backend.batches
    assert len(backend.batches) <= 3, backend.batches
    assert backend.counter_writes <= len(backend.batches) + 2, backend.counter_writes
    counters = backend.read_counters()
    assert counters["stored"] == counters["profiled"] == 31, counters


def test_code_run_inside_a_monitoring_callback_is_seen_by_no_profiler():
    """Assumption 5 of linesman.profiling.gate, which the unseen writer rests on."""
    if sys.version_info < (3, 12):
        assert not can_run_unseen()  # nothing to hide from: cProfile is per thread
        return
    profile = cProfile.Profile()
    hidden_started, hidden_may_end = threading.Event(), threading.Event()
    ran = []

    def hidden_work():
        hidden_started.set()
        while not hidden_may_end.is_set():
            ran.append(sorted(str(number) for number in range(50)))  # Python calls

    def body():
        assert run_unseen(hidden_work, lambda: None)

    thread = threading.Thread(target=body)
    thread.start()
    assert hidden_started.wait(10)
    profile.enable()
    try:
        apps.spin_cpu(0.05)
    finally:
        profile.disable()
    hidden_may_end.set()
    thread.join(10)
    assert ran, "the hidden work never ran"
    recorded = own_names(profile)
    assert any("spin_cpu" in name for name in recorded), recorded
    assert not any("sorted" in name or "genexpr" in name for name in recorded), recorded
    # The tool id was let go at once: another tool may take it.
    assert all(sys.monitoring.get_tool(tool) != "linesman-writer" for tool in range(6))


def test_the_gate_keeps_nobody_waiting_for_an_unseen_writer():
    gate = ProfilerGate(exclusive=True, patience=2.0)
    gate.writer_unseen = True
    gate.end_writer_work()
    started = time.perf_counter()
    profile, reason = gate.enter(True)
    assert reason is None and profile is not None
    assert time.perf_counter() - started < 0.05
    gate.profile_done(profile)
    gate.leave(profile)
    assert gate.quiet_wait == 0.5  # a courtesy, as where cProfile is per thread


def test_where_every_free_tool_id_is_taken_the_writer_works_in_sight(make_profiled):
    """The fallback: the gate's old wait keeps the writer out of profiles, and
    every profiled request is still stored."""
    taken = []
    if can_run_unseen():
        from linesman.profiling.unseen import TOOL_IDS

        for tool in TOOL_IDS:
            if sys.monitoring.get_tool(tool) is None:
                sys.monitoring.use_tool_id(tool, "a tool of the app's")
                taken.append(tool)
    try:
        middleware = make_profiled(apps.hello_app, profiler="cprofile")
        for _ in range(5):
            assert call(middleware).chunks == [b"hello"]
        assert middleware.flush(10)
        assert middleware.gate.writer_unseen is False
        assert middleware.backend.count() == 5
    finally:
        for tool in taken:
            sys.monitoring.free_tool_id(tool)
