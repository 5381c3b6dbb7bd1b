"""The sampling engine on deep stacks: its cost stays a bounded share of the
request whatever the depth, and what it keeps of a deep stack is bounded too.

A sample walks the whole stack. Before, once one walk took longer than the
interval, the next call sampled again at once, so every call sampled: a request
2,000 frames deep went from 0.3 s to a minute and half a gigabyte."""

from __future__ import annotations

import os
import sys
import time

import pytest
from support.servers import HERE, free_port, get, running
from support.waiting import wait_for

from linesman.backends.sqlite import SqliteBackend
from linesman.profiling.sampling import ELIDED, LEAF_FRAMES, ROOT_FRAMES, SampledProfile

SERVER = os.path.join(HERE, "support", "deep_app.py")


@pytest.mark.server
@pytest.mark.parametrize("depth", [0, 1000, 2000])
def test_a_deep_request_under_waitress_samples_at_its_interval(depth, tmp_path):
    store = tmp_path / "sessions.db"
    port = free_port()
    backend = SqliteBackend(filename=str(store))
    try:
        with running([SERVER, str(store), str(port)], port):
            begun = time.perf_counter()
            status, headers, _ = get(port, f"/?depth={depth}", timeout=120)
            took = time.perf_counter() - begun
            assert status == 200
            wait_for(lambda: backend.count() == 1, timeout=60, what="the session stored")
        session = next(iter(backend.get_all().values()))
    finally:
        backend.close()
    assert session.kind == "sampled"
    assert session.duration <= took
    # At most one sample per interval: no walk ever starts the next one at once.
    assert 1 <= session.samples <= session.duration / session.interval + 5, (
        f"{session.samples} samples in {session.duration:.3f} s at {session.interval} s"
    )
    deepest = max(len(stack.frames) for stack in session.stacks)
    assert deepest <= ROOT_FRAMES + LEAF_FRAMES + 2  # the cut, and a C leaf
    labels = session.labels()
    names = {labels[key][2] for stack in session.stacks for key in stack.frames}
    assert {"deep_app", "leaf_work"} <= names
    assert (ELIDED in names) == (depth > ROOT_FRAMES + LEAF_FRAMES)
    # The stacks' times still add up to the request's profiled time, walks aside.
    total = sum(stack.time for stack in session.stacks)
    assert 0.5 * session.duration <= total <= session.duration


def test_a_deep_stack_keeps_its_entry_and_its_leaf():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))

    def descend(depth: int) -> float:
        if depth == 0:
            end = time.perf_counter() + 0.05
            while time.perf_counter() < end:
                abs(-1)
            return end
        return descend(depth - 1)

    def entry() -> float:
        return descend(2000)

    profile = SampledProfile(0.001)
    begun = time.thread_time()
    profile.call(entry)
    spent = time.thread_time() - begun
    assert profile.samples >= 3
    # The walks' cost is a bounded share of the request (about WALK_SHARE), in CPU
    # time, which another process's load does not inflate.
    assert profile.walk_time <= 0.25 * spent, f"{profile.walk_time:.3f} of {spent:.3f} s"
    cut = [codes for codes, _leaf in profile.stacks if ELIDED in codes]
    assert cut, "no sample at the bottom of the stack"
    for codes in cut:
        assert codes[-1].co_name == "entry"  # the root side is kept ...
        assert codes[0].co_name == "descend"  # ... and the leaf side
        assert len(codes) == ROOT_FRAMES + LEAF_FRAMES + 1
        assert codes.index(ELIDED) == LEAF_FRAMES
    assert all(len(codes) <= ROOT_FRAMES + LEAF_FRAMES + 1 for codes, _ in profile.stacks)
