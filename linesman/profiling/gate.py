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
import functools
import itertools
import math
import sys
import time
from collections.abc import Callable, Iterator
from queue import Empty
from typing import Any, Protocol

__all__ = ["ProfilerGate", "RequestProfile", "is_exclusive_profiler"]

_NOT_YET = math.inf  # a hold's start time before it is read: "just now"
_NEVER = object()  # a sentinel no item equals, compared in C (see ProfilerGate.idle)
NAP = 0.001  # how often the idle writer looks for a moment with no request in flight


def is_exclusive_profiler() -> bool:
    """True where cProfile is one per process and sees every thread (3.12+)."""
    return sys.version_info >= (3, 12)


class GatedProfile(Protocol):
    """What the gate reads and marks on a profile, whichever engine made it."""

    concurrent: bool

    @property
    def arrival(self) -> int: ...

    @property
    def lost(self) -> str | None: ...

    @property
    def sees_every_thread(self) -> bool: ...


class RequestProfile:
    """One request's cProfile, enabled around each piece of the app's work."""

    __slots__ = ("profile", "cpu_time", "concurrent", "lost", "arrival", "_check_thread_hook")

    kind = "deterministic"

    def __init__(self, arrival: int, concurrent: bool, check_thread_hook: bool) -> None:
        self.profile = cProfile.Profile()
        self.cpu_time = 0.0
        self.arrival = arrival
        self.concurrent = concurrent
        self.lost: str | None = None
        self._check_thread_hook = check_thread_hook

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` with the profiler on; never fails because of it."""
        if self.lost is not None:
            return function(*args)
        started = time.thread_time()  # read before enabling: linesman's clock is not the app's
        if not self._enable():
            return function(*args)
        try:
            return function(*args)
        finally:
            self.profile.disable()
            self.cpu_time += time.thread_time() - started

    @property
    def sees_every_thread(self) -> bool:
        """Whether other threads' calls land in it (cProfile from Python 3.12)."""
        return not self._check_thread_hook

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

    linesman's own thread (the writer) counts as company too, since where one
    profiler sees every thread its encoding and SQL would land in the request
    being profiled. The writer *holds* the gate whenever it runs Python code:
    taking the hold draws a number, so a profile already running is dropped,
    and no profile starts while it is held (a request waits for it, ``patience``
    0.2 s at most, before it is served unprofiled). The writer lets go only
    inside :meth:`idle`, which sleeps and waits for a moment with no request in
    flight without making a single call a profiler could record.
    """

    def __init__(self, exclusive: bool | None = None, patience: float = 0.2) -> None:
        self.exclusive = is_exclusive_profiler() if exclusive is None else exclusive
        self.patience = patience
        self._in_flight: list[None] = []
        self._held = [False]  # a one-slot list: set and cleared without a call
        self._held_since = _NOT_YET
        self._arrivals = itertools.count()
        self._naps = iter(functools.partial(time.sleep, NAP), _NEVER)

    def enter(self, wants_profile: bool) -> tuple[RequestProfile | None, str | None]:
        """Count a request in; give it a profile, or the reason it gets none."""
        self._in_flight.append(None)
        arrival = next(self._arrivals)
        if not wants_profile:
            return None, None
        overlapping = len(self._in_flight) > 1
        if self.exclusive:
            if overlapping or not self._hold_ended():
                return None, "busy"
            arrival = next(self._arrivals)  # counted afresh after the wait
            if len(self._in_flight) > 1 or self._held[0]:
                return None, "busy"
        return RequestProfile(arrival, overlapping, not self.exclusive), None

    def _hold_ended(self) -> bool:
        """Wait for a short hold; never for one that is already long (a locked or
        unreachable store), so a request's added wait stays under ``patience``
        and is nothing at all while the store is in trouble."""
        while self._held[0]:
            if time.monotonic() - self._held_since > self.patience:
                return False
            time.sleep(0.0005)
        return True

    def seal(self, profile: GatedProfile) -> None:
        """The profile's last number: did anyone draw one since its first?"""
        if next(self._arrivals) - profile.arrival > 1:
            profile.concurrent = True

    def leave(self, profile: GatedProfile | None = None) -> None:
        """Count a request out (sealing its profile first, if not done yet)."""
        if profile is not None:
            self.seal(profile)
        self._in_flight.pop()

    def arrival(self) -> int:
        """A fresh arrival number, for a request already counted in."""
        return next(self._arrivals)

    def count_in(self) -> int:
        """Count in a request that runs no cProfile; its arrival number."""
        self._in_flight.append(None)
        return next(self._arrivals)

    def verdict(self, profile: GatedProfile) -> str | None:
        """Why this finished profile must not be stored, if it must not."""
        if profile.lost is not None:
            return profile.lost
        if profile.sees_every_thread and profile.concurrent:
            return "overlap"
        return None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def quiet_wait(self) -> float:
        """How long the writer waits for no request in flight before it works
        anyway: where one profiler sees every thread that wait spares a profile
        (1 s); elsewhere it is a courtesy (0.5 s), short enough that under steady
        load storage keeps up."""
        return 1.0 if self.exclusive else 0.5

    def hold(self) -> None:
        """linesman's own thread is about to run Python code (see the class notes)."""
        self._held[0] = True
        next(self._arrivals)
        self._held_since = time.monotonic()

    def release(self) -> None:
        self._held_since = _NOT_YET
        self._held[0] = False

    def idle(self, waiting: Iterator[Any]) -> Any:
        """Let go of the hold, take the next item from ``waiting`` (None if it
        timed out), wait for a moment with no request in flight, hold again.

        Between letting go and holding again this makes no call a profiler
        records (``sys.monitoring`` reports calls, starts and returns, never
        plain bytecode): ``waiting`` and the 1 ms naps are C iterators driven by
        ``for``, and the rest is stores and comparisons. So a request profiled
        meanwhile holds none of linesman's code, and one that is still running
        when the hold is taken again is dropped as overlapping.
        """
        held, in_flight, naps = self._held, self._in_flight, self._naps
        patience_naps = int(self.quiet_wait / NAP)
        item = None
        self._held_since = _NOT_YET
        held[0] = False
        try:
            for item in waiting:  # noqa: B007 (the loop binds the item returned below)
                break
        except Empty:
            pass
        waited = 0
        while in_flight and waited < patience_naps:
            for _ in naps:
                break
            waited += 1
        held[0] = True  # no backward jump between the last look and here: no thread switch
        for _ in self._arrivals:
            break
        self._held_since = time.monotonic()
        return item
