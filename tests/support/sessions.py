"""Real profiled sessions for the storage tests."""

from __future__ import annotations

import cProfile
import threading

from linesman import ProfilingSession
from support.apps import spin

# From 3.12 on cProfile is process-wide: two threads building sessions at once
# would collide ("Another profiling tool is already active"), so they take turns.
_PROFILING = threading.Lock()


class Parser:
    def __init__(self, text):
        self.words = text.split()


class Renderer:
    def __init__(self, words):
        self.html = "".join(f"<b>{word}</b>" for word in words)


def handle(text):
    spin(0.0005)
    return Renderer(Parser(text).words).html


def real_session(
    path="/items", timestamp=None, status=200, method="GET", query=""
) -> ProfilingSession:
    profile = cProfile.Profile()
    with _PROFILING:
        profile.enable()
        handle("a b c " * 20)
        profile.disable()
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    return ProfilingSession(
        profile.getstats(),
        environ,
        timestamp,
        status=status,
        duration=0.01,
        cpu_time=0.009,
        response_size=100,
    )


def sampled_session(path="/items", timestamp=None, status=200) -> ProfilingSession:
    """A session of the sampling engine, from a real run (at least a few samples)."""
    from linesman.model.rows import stacks_from_samples
    from linesman.profiling.sampling import SampledProfile

    profile = SampledProfile(0.0002)
    while profile.samples < 5:
        profile.call(handle, "a b c " * 200)
    labels, stacks = stacks_from_samples(profile.stacks)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path}
    return ProfilingSession(
        environ=environ,
        timestamp=timestamp,
        status=status,
        duration=0.01,
        cpu_time=profile.cpu_time,
        stacks=stacks,
        labels=labels,
        interval=profile.interval,
    )
