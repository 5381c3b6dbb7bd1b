"""Running one WSGI request under cProfile, and deciding when that is possible.

A request's profile is switched on only while the app's own code runs: the
app call, each step of the body's iteration and ``close()``; the server's
work between chunks is not charged to the app.

The concurrency rule lives here, and only here. Up to Python 3.11 cProfile is
per thread, so every thread may profile its own request. From 3.12 cProfile is
built on ``sys.monitoring``: one profiler per process, and it records every
thread. There the :class:`ProfilerGate` lets one request at a time be
profiled, serves the others unprofiled (the middleware samples them instead),
and marks a profile during which another request, or linesman's own writer,
ran Python code, so that it is dropped instead of stored with calls not its
own.

What this rests on in CPython (each checked by a test in tests/test_profiler.py):

1. ``list.append``, ``list.pop`` and ``next()`` on an ``itertools.count`` are
   single operations no other thread can interleave with (the GIL), so the
   gate needs no lock and a request that is not profiled pays none.
2. A profiler records calls (``PY_START``, ``CALL``, returns), never plain
   bytecode: storing into a list slot, comparing and looping are invisible
   to it. A C iterator advanced by ``for`` (``iter(callable, sentinel)`` over a
   C callable such as ``SimpleQueue.get`` or ``time.sleep``) makes no
   recordable call either, which is how the writer waits without showing up.
3. The sentinel those iterators compare each item with is compared in C; the
   items (``ProfileRecord``) must keep ``object``'s ``__eq__``, or the
   comparison becomes a Python call.
4. A thread switch happens only at a call or a backward jump, so nothing runs
   between the writer's last look at ``_in_flight`` and its taking the gate.

5. No monitoring event reaches a thread while it runs a ``sys.monitoring``
   callback, for any tool: linesman's writer runs its loop inside one
   (:mod:`linesman.profiling.unseen`), so on 3.12+ it lands in no profile and
   neither waits for requests nor makes them wait. Where that cannot be had,
   the writer stops and starts its work as 1 to 4 allow, and a request that
   wants cProfile while it works waits for it (``patience``).

A free-threaded build (``python3.13t`` with the GIL off) breaks 1 and 4:
:func:`profiling_is_safe` says so, and the middleware then profiles nothing
and says why in its log and its UI.
"""

from __future__ import annotations

import cProfile
import functools
import itertools
import math
import sys
import threading
import time
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, Protocol

from linesman.profiling.slot import ProfilerSlot, profiler_slot

__all__ = ["ProfilerGate", "RequestProfile", "is_exclusive_profiler", "profiling_is_safe"]

_NOT_YET = math.inf  # when the writer's work started, before it is read: "just now"
_NEVER = object()  # a sentinel no item equals, compared in C (assumption 3)
QUIET_POLL = 0.001  # how often the waiting writer looks for a moment with no request in flight


def is_exclusive_profiler() -> bool:
    """True where cProfile is one per process and sees every thread (3.12+)."""
    return sys.version_info >= (3, 12)


def gil_disabled() -> bool:
    """True on a free-threaded build running without the GIL."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return is_gil_enabled is not None and not is_gil_enabled()


def profiling_is_safe() -> str | None:
    """None where the assumptions above hold; otherwise why profiling is off."""
    if gil_disabled():
        return (
            "this Python runs without the GIL (a free-threaded build), where "
            "linesman cannot keep one request's profile from another's: profiling is off"
        )
    return None


class GatedProfile(Protocol):
    """What the gate reads and marks on a profile, whichever engine made it."""

    concurrent: bool

    @property
    def first_number(self) -> int: ...

    @property
    def lost(self) -> str | None: ...

    @property
    def sees_every_thread(self) -> bool: ...


class RequestProfile:
    """One request's cProfile, enabled around each piece of the app's work.

    It never keeps the app from a profiler of its own. Where cProfile is one per
    process (3.12+) it holds the process's profiler slot (``slot``) only while no
    one else asks for it (see :mod:`linesman.profiling.slot`). Where it is per
    thread (3.11) it sets this thread's hook, and an app that sets its own
    meanwhile keeps it: disabling cProfile clears the thread's hook whatever it
    is, so the app's is put back. Either way the profile is then incomplete, and
    marked lost (``app_profiler``).
    """

    __slots__ = (
        "profile",
        "cpu_time",
        "concurrent",
        "lost",
        "first_number",
        "_check_thread_hook",
        "_slot",
    )

    kind = "deterministic"

    def __init__(
        self,
        first_number: int,
        concurrent: bool,
        check_thread_hook: bool,
        slot: ProfilerSlot | None = None,
    ) -> None:
        self.profile = cProfile.Profile()
        self.cpu_time = 0.0
        self.first_number = first_number
        self.concurrent = concurrent
        self.lost: str | None = None
        self._check_thread_hook = check_thread_hook
        self._slot = slot

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` with the profiler on; never fails because of it.

        Between enabling and disabling, linesman makes no Python call (the
        profile would record it): the slot is a list set by subscript, and the
        one C call, ``sys.getprofile``, is left out as the profiler's own."""
        if self.lost is not None:
            return function(*args)
        started = time.thread_time()  # read before enabling: linesman's clock is not the app's
        if not self._enable():
            return function(*args)
        slot = self._slot
        try:
            return function(*args)
        finally:
            if slot is not None:
                if slot.holder[0] is self:
                    slot.holder[0] = None
                if self.lost is None:  # else it stepped aside, switched off already
                    self.profile.disable()
            else:
                hook = sys.getprofile()
                if hook is self.profile:
                    self.profile.disable()
                else:
                    self._give_back_hook(hook)
            self.cpu_time += time.thread_time() - started

    def step_aside(self) -> None:
        """Another tool asks for the profiler slot this profile holds: let it have it."""
        self.lost = "app_profiler"
        self.profile.disable()

    def _give_back_hook(self, hook: Any) -> None:
        """The app replaced this thread's hook during its work: switch ours off (which
        clears the thread's hook) and set the app's again."""
        self.lost = "app_profiler"
        self.profile.disable()
        restore_hook(hook)

    @property
    def sees_every_thread(self) -> bool:
        """Whether other threads' calls land in it (cProfile from Python 3.12)."""
        return not self._check_thread_hook

    def _enable(self) -> bool:
        # Before 3.12, enabling would silently replace another tool's hook.
        if self._check_thread_hook and sys.getprofile() is not None:
            self.lost = "profiler_unavailable"
            return False
        slot = self._slot
        if slot is not None:  # held before enabling: an app asking meanwhile finds us
            slot.holder[0] = self
            slot.enabling[0] = threading.get_ident()
        try:
            self.profile.enable()
        except ValueError:  # 3.12+: "Another profiling tool is already active"
            self.lost = "profiler_unavailable"
        finally:
            if slot is not None:
                slot.enabling[0] = None
        if self.lost is not None:  # refused, or asked to step aside while enabling
            if slot is not None and slot.holder[0] is self:
                slot.holder[0] = None
            return False
        return True


def restore_hook(hook: Any) -> None:
    """Set a thread's profile hook again, as ``sys.getprofile()`` gave it: a Python
    function as ``sys.setprofile`` set it, a ``cProfile.Profile`` by enabling it
    again (with its default options). Another C-level hook cannot be set again
    from Python, and stays off."""
    if hook is None:
        return
    if isinstance(hook, cProfile.Profile):
        hook.enable()
    elif callable(hook):
        sys.setprofile(hook)


class ProfilerGate:
    """Who may be profiled now, and whether anything ran alongside.

    Every request counted in appends to ``_in_flight`` and draws a number from
    ``_numbers``, and pops on its way out. A profile overlapped another request
    if one was in flight when it began, or if anyone drew a number between its
    first and its last (:meth:`mark_overlap`).

    linesman's writer thread draws a number too whenever it starts running
    Python code (:meth:`start_writer_work`): where one profiler sees every
    thread, its encoding and SQL would land in the request being profiled, so a
    profile running then is dropped, and no profile starts until the writer is
    done (a request waits ``patience``, 0.2 s at most, then is served
    unprofiled). The writer stops working only inside
    :meth:`wait_for_work_and_quiet`, which waits for its next item and then for
    a moment with no cProfile request in flight (sampled ones are its own
    thread's: the writer cannot spoil them) without making a call a profiler
    could record.

    All of that is the fallback. Where the writer runs unseen (assumption 5,
    ``writer_unseen``) it never says it works, so no request waits for it; it
    still waits for a moment with no cProfile request in flight (at most
    ``quiet_wait``), whose timings its work on the same GIL would swell.
    """

    def __init__(self, exclusive: bool | None = None, patience: float = 0.2) -> None:
        self.exclusive = is_exclusive_profiler() if exclusive is None else exclusive
        self.patience = patience
        # Where cProfile is one per process, the app may ask for its slot: let it.
        self.slot = profiler_slot() if self.exclusive else None
        self._in_flight: list[None] = []
        # Requests running under a cProfile that sees every thread: only these can be
        # spoiled by the writer's work, so only these make it wait.
        self._cprofiling: list[None] = []
        self._writer_working = [False]  # a one-slot list: set and cleared without a call (2)
        # The writer runs where no profiler sees it (assumption 5): it keeps nobody waiting.
        self.writer_unseen = False
        self._writer_started_at = _NOT_YET
        self._numbers = itertools.count()
        self._short_sleeps = iter(functools.partial(time.sleep, QUIET_POLL), _NEVER)

    def enter(self, wants_profile: bool) -> tuple[RequestProfile | None, str | None]:
        """Count a request in; give it a profile, or the reason it gets none."""
        self._in_flight.append(None)
        first_number = next(self._numbers)
        if not wants_profile:
            return None, None
        overlapping = len(self._in_flight) > 1
        if self.exclusive:
            if overlapping or not self._writer_done_soon():
                return None, "busy"
            # Counted as profiling before the last look, as it is counted in flight
            # before the first: the writer never starts between the look and this.
            self._cprofiling.append(None)
            first_number = next(self._numbers)  # counted afresh after the wait
            if len(self._in_flight) > 1 or self._writer_working[0]:
                self._cprofiling.pop()
                return None, "busy"
        return RequestProfile(first_number, overlapping, not self.exclusive, self.slot), None

    def _writer_done_soon(self) -> bool:
        """Wait for the writer's short work; never for work already long (a locked or
        unreachable store), so a request's added wait stays under ``patience``
        and is nothing at all while the store is in trouble."""
        while self._writer_working[0]:
            if time.monotonic() - self._writer_started_at > self.patience:
                return False
            time.sleep(0.0005)
        return True

    def mark_overlap(self, profile: GatedProfile) -> None:
        """Mark the profile overlapped if anyone drew a number since its first."""
        if next(self._numbers) - profile.first_number > 1:
            profile.concurrent = True

    def leave(self, profile: GatedProfile | None = None) -> None:
        """Count a request out (sealing its profile first, if not done yet)."""
        if profile is not None:
            self.mark_overlap(profile)
        self._in_flight.pop()

    def profile_done(self, profile: GatedProfile) -> None:
        """A profile handed out by :meth:`enter` is finished (before its request
        leaves): the writer need not wait for it any more."""
        if profile.sees_every_thread:
            self._cprofiling.pop()

    @property
    def cprofiling(self) -> int:
        """Requests running under a cProfile that sees every thread now."""
        return len(self._cprofiling)

    def draw_number(self) -> int:
        """A fresh number, for a request already counted in."""
        return next(self._numbers)

    def count_in(self) -> int:
        """Count in a request that runs no cProfile; its first number."""
        self._in_flight.append(None)
        return next(self._numbers)

    def reason_not_to_store(self, profile: GatedProfile) -> str | None:
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
        """How long the writer waits for quiet before it works anyway: where one
        profiler sees every thread, for the cProfile requests in flight to end,
        which spares their profiles (1 s); elsewhere for no request in flight, a
        courtesy (0.5 s), short enough that under steady load storage keeps up."""
        return 1.0 if self.exclusive and not self.writer_unseen else 0.5

    @property
    def writer_working(self) -> bool:
        """Whether linesman's writer is running Python code now."""
        return self._writer_working[0]

    def start_writer_work(self) -> None:
        """linesman's own thread is about to run Python code (see the class notes)."""
        self._writer_working[0] = True
        next(self._numbers)
        self._writer_started_at = time.monotonic()

    def end_writer_work(self) -> None:
        """linesman's own thread runs no more Python code until it starts again."""
        self._writer_started_at = _NOT_YET
        self._writer_working[0] = False

    def wait_for_work_and_quiet(self, work: SimpleQueue, timeout: float) -> Any:
        """End the writer's work, take the next item from ``work`` (None if none
        came within ``timeout``), wait for a moment with no cProfile request in
        flight (where it sees every thread; elsewhere no request at all), at most
        ``quiet_wait``, and start the writer's work again.

        Between the end and the start this makes no call a profiler records
        (assumption 2 above): the wait for an item and the short sleeps are C iterators
        driven by ``for``, and the rest is stores and comparisons. So a request
        profiled meanwhile holds none of linesman's code, and one still running
        when the writer starts again is dropped as overlapping.
        """
        # Made before the writer stops working: building it takes Python calls.
        waiting = iter(functools.partial(work.get, True, timeout), _NEVER)
        # Where one cProfile sees every thread, the writer waits only while such a
        # profile runs (a sampled request is not spoiled by it: under load a moment
        # with no request at all may never come); elsewhere, as a courtesy, for a
        # moment with no request in flight.
        # A writer no profiler sees (assumption 5) never says it works, so it holds
        # no request back; it still waits for the cProfile requests in flight, whose
        # timings its work on the same GIL would swell.
        unseen = self.writer_unseen
        writer_working, waited_on, short_sleeps = (
            self._writer_working,
            self._cprofiling if self.exclusive else self._in_flight,
            self._short_sleeps,
        )
        patience_sleeps = int(self.quiet_wait / QUIET_POLL)
        item = None
        if not unseen:
            self._writer_started_at = _NOT_YET
            writer_working[0] = False
        try:
            for item in waiting:  # noqa: B007 (the loop binds the item returned below)
                break
        except Empty:
            pass
        waited = 0
        while waited_on and waited < patience_sleeps:
            for _ in short_sleeps:
                break
            waited += 1
        if unseen:
            return item
        # No call and no backward jump between the last look and here: no thread
        # switch either (assumption 4).
        writer_working[0] = True
        for _ in self._numbers:
            break
        self._writer_started_at = time.monotonic()
        return item
