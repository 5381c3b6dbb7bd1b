"""Running one WSGI request under cProfile, and deciding when that is possible.

A request's profile is switched on only while the app's own code runs: the
app call, each step of the body's iteration and ``close()``; the server's
work between chunks is not charged to the app.

The concurrency rule lives here. Up to Python 3.11 cProfile is per thread, so
every thread may profile its own request. From 3.12 cProfile is built on
``sys.monitoring``: one profiler per process, and it records every thread.
There the :class:`ProfilerGate` lets one request at a time be profiled, serves
the others unprofiled, and marks a profile during which another request was
in flight so that it is dropped instead of stored with calls not its own.
"""

from __future__ import annotations

import cProfile
import itertools
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["ProfilerGate", "RequestProfile", "SKIP_REASONS", "is_exclusive_profiler"]

# Why a selected request was served without a stored profile.
SKIP_REASONS = {
    "busy": "another request was being profiled (one profiler per process on Python 3.12+)",
    "overlap": "another request ran alongside it, so its profile would hold foreign calls",
    "profiler_unavailable": "another profiling tool was active in the process",
    "too_fast": "shorter than min_duration",
    "queue_full": "the storage queue was full",
}


def is_exclusive_profiler() -> bool:
    """True where cProfile is one per process and sees every thread (3.12+)."""
    return sys.version_info >= (3, 12)


class RequestProfile:
    """One request's cProfile, enabled around each piece of the app's work."""

    __slots__ = ("profile", "cpu_time", "concurrent", "lost", "arrival", "_check_thread_hook")

    def __init__(self, arrival: int, concurrent: bool, check_thread_hook: bool) -> None:
        self.profile = cProfile.Profile()
        self.cpu_time = 0.0
        self.arrival = arrival
        self.concurrent = concurrent
        self.lost: str | None = None
        self._check_thread_hook = check_thread_hook

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` with the profiler on; never fails because of it."""
        if self.lost is not None or not self._enable():
            return function(*args)
        started = time.thread_time()
        try:
            return function(*args)
        finally:
            self.profile.disable()
            self.cpu_time += time.thread_time() - started

    def _enable(self) -> bool:
        # Before 3.12, enabling would silently replace another tool's hook.
        if self._check_thread_hook and sys.getprofile() is not None:
            self.lost = "profiler_unavailable"
            return False
        try:
            self.profile.enable()
        except ValueError:  # 3.12+: "Another profiling tool is already active"
            self.lost = "profiler_unavailable"
            return False
        return True


class ProfilerGate:
    """Who may be profiled now, and whether anything ran alongside.

    Lock-free, so a request that is not profiled pays no lock: every request
    counted in appends to ``_in_flight`` and draws a number from
    ``_arrivals`` (both single atomic operations in CPython), and pops on its
    way out. A profile saw company if another request was in flight when it
    began, or if anyone drew a number between its first and its last.

    linesman's own work off the request path (the writer thread) counts as
    company too, since where one profiler sees every thread its encoding and
    SQL would land in the request being profiled. That work waits for a moment
    with no request in flight and is done one session at a time; a request that
    wants a profile while it runs waits for it (``patience``, 0.2 s at most)
    before it is served unprofiled.
    """

    def __init__(self, exclusive: bool | None = None, patience: float = 0.2) -> None:
        self.exclusive = is_exclusive_profiler() if exclusive is None else exclusive
        self.patience = patience
        self._in_flight: list[None] = []
        self._background: list[None] = []
        self._background_since = 0.0
        self._arrivals = itertools.count()

    def enter(self, wants_profile: bool) -> tuple[RequestProfile | None, str | None]:
        """Count a request in; give it a profile, or the reason it gets none."""
        self._in_flight.append(None)
        arrival = next(self._arrivals)
        if not wants_profile:
            return None, None
        overlapping = len(self._in_flight) > 1
        if self.exclusive:
            if overlapping or not self._background_done():
                return None, "busy"
            arrival = next(self._arrivals)  # counted afresh after the wait
            if len(self._in_flight) > 1 or self._background:
                return None, "busy"
        return RequestProfile(arrival, overlapping, not self.exclusive), None

    def _background_done(self) -> bool:
        """Wait for short background work; never for work that is already long (a
        locked or unreachable store), so a request's added wait stays under
        ``patience`` and is nothing at all while the store is in trouble."""
        while self._background:
            if time.monotonic() - self._background_since > self.patience:
                return False
            time.sleep(0.0005)
        return True

    def leave(self, profile: RequestProfile | None) -> None:
        if profile is not None and next(self._arrivals) - profile.arrival > 1:
            profile.concurrent = True
        self._in_flight.pop()

    def verdict(self, profile: RequestProfile) -> str | None:
        """Why this finished profile must not be stored, if it must not."""
        if profile.lost is not None:
            return profile.lost
        if self.exclusive and profile.concurrent:
            return "overlap"
        return None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @contextmanager
    def background_work(self, wait: float | None = None) -> Iterator[None]:
        """Mark linesman's own work off the request path (see the class notes).

        It waits up to ``wait`` seconds for a moment with no profiled request in
        flight: work done then takes no time from a request. Where one profiler
        sees every thread the wait is for correctness (1 s by default) and the
        work counts as company while it runs; elsewhere it is a courtesy (0.5 s),
        short enough that under steady load storage keeps up.
        """
        if wait is None:
            wait = 1.0 if self.exclusive else 0.5
        deadline = time.monotonic() + wait
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.001)
        if not self.exclusive:
            yield
            return
        self._background_since = time.monotonic()
        self._background.append(None)
        next(self._arrivals)
        try:
            yield
        finally:
            self._background.pop()
