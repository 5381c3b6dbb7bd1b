"""Profiling a request that runs in a green thread (gevent, eventlet: greenlet).

Under gunicorn's gevent worker (or eventlet's) every request of a worker runs in
a greenlet of one OS thread, so any per-thread hook (cProfile's, the sampler's)
sees every greenlet: another request's functions land in a profile, and the
time a request is switched out (waiting in a patched ``time.sleep`` or socket)
goes to whatever ran meanwhile. The design, in full:

1. A request is green when the ``greenlet`` module is loaded and the request runs
   in a greenlet that is not its thread's main one (a hub's child). The
   middleware looks only when greenlet is loaded: a plain request pays one dict
   lookup, and the engines are unchanged for it.
2. A green request is sampled (:class:`GreenletProfile`, the sampling engine
   with a greenlet-aware gate), never given cProfile, which cannot tell one
   greenlet's calls from another's: ``profiler = cprofile`` is refused there
   (counted as ``skipped.green_thread``, logged once).
3. One switch tracer per OS thread (``greenlet.settrace`` is per thread),
   installed at a green request's first piece of work and chaining the tracer
   it found. On each switch the profile of the greenlet switched out is
   suspended (its hook off, its clock stopped) and its stack at the switch
   noted; the profile of the greenlet switched in resumes, and the time it was
   out goes to that stack, ending in :data:`WAITING`. So other greenlets (other
   requests, the hub, linesman's writer, a greenlet under monkey-patching) run
   with no request's hook on, and a wait shows as waiting where it was made.
4. greenlet calls the tracer once the switch is made, in the greenlet switched
   in, before the tracer can turn the old hook off: a profile samples only while
   its own greenlet is current, so a sample its hook takes there is dropped.
5. Where a request's switches may have gone unseen (the tracer was replaced
   during its work, or greenlet has no ``settrace``) its profile is dropped and
   counted as ``skipped.green_untraced``.

Work a request hands to other greenlets (even its own children) shows as its
waiting, as work handed to a thread does.
"""

from __future__ import annotations

import logging
import sys
import time
from array import array
from collections.abc import Callable
from types import FrameType
from typing import Any

from linesman.profiling.sampling import SampledProfile, cut_deep

__all__ = ["GreenThreads", "GreenletProfile", "WAITING", "green_thread"]

WAITING = "<waiting: green thread switched out>"  # the leaf of a switched-out stack
_perf_counter = time.perf_counter
_CALL_CODE = SampledProfile.call.__code__  # the frame a sampled stack ends below

log = logging.getLogger("linesman")


def green_thread() -> Any | None:
    """The greenlet this code runs in, if greenlet is loaded and it is not its
    thread's main greenlet; else None."""
    module = sys.modules.get("greenlet")
    if module is None:
        return None
    current = module.getcurrent()
    return current if current.parent is not None else None


class _SwitchTracer:
    """greenlet's trace function for one OS thread; calls the one it replaced."""

    __slots__ = ("threads", "previous")

    def __init__(self, threads: GreenThreads, previous: Callable | None) -> None:
        self.threads = threads
        self.previous = previous

    def __call__(self, event: str, args: Any) -> Any:
        running = self.threads.running
        coming = None
        if running and (event == "switch" or event == "throw"):
            try:
                origin, target = args
                going = running.get(origin)
                if going is not None:
                    going.switched_out(origin)
                coming = running.get(target)
            except Exception:  # never into the app's greenlets
                self.threads.problem()
        previous = self.previous
        if previous is not None:
            previous(event, args)  # before a request's hook is on again
        if coming is not None:
            try:
                coming.switched_in()
            except Exception:
                self.threads.problem()


class GreenThreads:
    """Which green request's profile runs in which greenlet, and the tracers that
    tell them of switches (one per OS thread, all sharing ``running``)."""

    def __init__(self, problem: Callable[..., None] | None = None) -> None:
        import greenlet  # loaded already: a request runs in one

        self._greenlet: Any = greenlet
        self._getcurrent = greenlet.getcurrent
        self.running: dict[Any, GreenletProfile] = {}
        self._problem = problem
        self._warned: set[str] = set()
        self.hidden = frozenset(
            {
                _SwitchTracer.__call__.__code__,
                GreenletProfile.switched_in.__code__,
                GreenletProfile.switched_out.__code__,
                SampledProfile.resume.__code__,
                SampledProfile.suspend.__code__,
            }
        )

    def installed(self) -> Any | None:
        """This thread's tracer with ours in its chain, installed if it was not;
        None where greenlet cannot trace switches."""
        gettrace = getattr(self._greenlet, "gettrace", None)
        settrace = getattr(self._greenlet, "settrace", None)
        if gettrace is None or settrace is None:
            return None
        tracer = gettrace()
        link = tracer
        while isinstance(link, _SwitchTracer):
            if link.threads is self:
                return tracer
            link = link.previous
        ours = _SwitchTracer(self, tracer)
        settrace(ours)
        return ours

    def current_tracer(self) -> Any:
        return self._greenlet.gettrace()

    def problem(self) -> None:
        if self._problem is not None:
            self._problem("greenlets", "linesman: a green thread's switch failed", exc_info=True)

    def warn_once(self, key: str, message: str) -> None:
        """Log ``message`` the first time ``key`` happens in this process."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning("linesman: %s", message)


class GreenletProfile(SampledProfile):
    """A green request's sampled stacks: sampled only while its greenlet runs, with
    the time it is switched out as stacks ending in :data:`WAITING`."""

    __slots__ = ("greenlet", "_threads", "_waits", "_out_at", "_out_key", "_left_out", "waited")

    def __init__(
        self,
        interval: float,
        first_number: int,
        hidden: frozenset,
        threads: GreenThreads,
    ) -> None:
        super().__init__(interval, first_number, hidden | threads.hidden)
        self._left_out = frozenset(map(id, self.hidden))
        self.greenlet = threads._getcurrent()
        self._threads = threads
        self._waits: dict[bytes, list] = {}  # as SampledProfile's stacks: [count, s, codes]
        self._out_at = 0.0
        self._out_key: bytes | None = None
        self.waited = 0.0  # seconds switched out, inside the app's work

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        if self.lost is not None:
            return function(*args)
        threads = self._threads
        tracer = threads.installed()
        if tracer is None:
            self.lost = "green_untraced"
            return function(*args)
        running = threads.running
        current = self.greenlet
        if running.get(current) is not None:  # profiled already (linesman twice)
            return function(*args)
        running[current] = self
        try:
            return SampledProfile.call(self, function, *args)
        finally:
            running.pop(current, None)
            if threads.current_tracer() is not tracer and self.lost is None:
                self.lost = "green_untraced"  # switches after that may have gone unseen

    def _sample(self, frame: FrameType, event: str, arg: Any) -> None:
        if self._threads._getcurrent() is self.greenlet:
            SampledProfile._sample(self, frame, event, arg)

    def switched_out(self, origin: Any) -> None:
        """Its greenlet is switched out (now, in another's context): stop sampling,
        note where it waits."""
        self.suspend()
        now = _perf_counter()
        codes: list = []
        frame = origin.gr_frame
        while frame is not None and frame.f_code is not _CALL_CODE:
            codes.append(frame.f_code)
            frame = frame.f_back
        hidden = self._left_out
        if not hidden.isdisjoint(map(id, codes)):
            codes = [code for code in codes if id(code) not in hidden]
        codes = cut_deep(codes)
        key = array("Q", map(id, codes)).tobytes()
        if key not in self._waits:
            self._waits[key] = [0, 0.0, tuple(codes)]
        self._out_key = key
        self._out_at = now

    def switched_in(self) -> None:
        """Its greenlet runs again: the time away to its waiting stack, sampling on."""
        key = self._out_key
        if key is not None:
            self._out_key = None
            entry = self._waits[key]
            away = _perf_counter() - self._out_at
            entry[0] += 1
            entry[1] += away
            self.waited += away
        self.resume()

    @property
    def stacks(self) -> dict:
        stacks = SampledProfile.stacks.fget(self)  # type: ignore[attr-defined]
        for count, seconds, codes in self._waits.values():
            if count:
                stacks[(codes, WAITING)] = [count, seconds]
        return stacks

    @property
    def stack_count(self) -> int:
        return SampledProfile.stack_count.fget(self) + len(self._waits)  # type: ignore[attr-defined]
