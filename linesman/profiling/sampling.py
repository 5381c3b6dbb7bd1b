"""The sampling engine: one request's call stacks, sampled on its own thread.

cProfile cannot give each concurrent request its own profile from Python 3.12
on (it is one per process there and records every thread). This engine can, on
every Python: it installs pyinstrument's statistical hook (``setstatprofile``, a
C profile function set on one thread only) around each piece of the app's work,
and every ``interval`` seconds, at the next call or return, records the stack
of that thread from the app's entry frame up. Time between two samples goes to
the stack of the later one, so the stacks' times add up to the profiled wall
time even where the thread waited for the GIL or slept.

Stacks are kept as tuples of code objects (cheap to hash, nothing formatted on
the request path); the writer thread turns them into labels.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from pyinstrument.low_level.stat_profile import setstatprofile

__all__ = ["SampledProfile", "c_function_label", "DEFAULT_INTERVAL"]

DEFAULT_INTERVAL = 0.001
_perf_counter = time.perf_counter
_thread_time = time.thread_time

# A stack as recorded: the code objects from the leaf down to the app's entry,
# and the label of the C function the leaf was running, if it was one.
StackKey = tuple[tuple[Any, ...], "str | None"]


def c_function_label(function: Any) -> str:
    """The name cProfile gives a built-in, so both engines' rows read alike."""
    name = getattr(function, "__name__", None) or repr(function)
    owner = getattr(function, "__self__", None)
    if owner is None or type(owner).__name__ == "module":
        module = getattr(function, "__module__", None) or getattr(owner, "__name__", None)
        return f"<built-in method {module}.{name}>" if module else f"<built-in method {name}>"
    kind = owner if isinstance(owner, type) else type(owner)
    return f"<method '{name}' of '{kind.__name__}' objects>"


class SampledProfile:
    """One request's sampled stacks, with the interface of a request's cProfile."""

    __slots__ = (
        "interval",
        "stacks",
        "samples",
        "cpu_time",
        "lost",
        "concurrent",
        "first_number",
        "hidden",
        "_base",
        "_last",
        "_last_key",
    )

    kind = "sampled"
    sees_every_thread = False  # its hook is set on the request's own thread only

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        first_number: int = 0,
        hidden: frozenset = frozenset(),
    ) -> None:
        self.interval = interval
        self.hidden = hidden  # code objects of linesman's hooks, left out of stacks
        self.stacks: dict[StackKey, list] = {}  # stack -> [samples, seconds]
        self.samples = 0
        self.cpu_time = 0.0
        self.lost: str | None = None
        self.concurrent = False
        self.first_number = first_number
        self._base: FrameType | None = None
        self._last = 0.0
        self._last_key: StackKey | None = None

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` with sampling on; never fails because of it."""
        if self.lost is not None:
            return function(*args)
        if sys.getprofile() is not None:  # another tool's hook on this thread
            self.lost = "profiler_unavailable"
            return function(*args)
        started = _thread_time()
        self._base = sys._getframe()
        self._last = _perf_counter()
        setstatprofile(self._sample, self.interval)
        try:
            return function(*args)
        finally:
            setstatprofile(None)
            self._close_gap()
            self._base = None
            self.cpu_time += _thread_time() - started

    def _sample(self, frame: FrameType, event: str, arg: Any) -> None:
        leaf = None
        if event == "call":  # the callee has not run yet: the time was its caller's
            frame = frame.f_back  # type: ignore[assignment]
        elif event == "c_return" or event == "c_exception":
            leaf = c_function_label(arg)
        base, hidden = self._base, self.hidden
        codes = []
        while frame is not None and frame is not base:
            code = frame.f_code
            if code not in hidden:
                codes.append(code)
            frame = frame.f_back  # type: ignore[assignment]
        if not codes:
            return  # linesman's own frame, before the app's first call
        now = _perf_counter()
        elapsed = now - self._last
        self._last = now
        key = (tuple(codes), leaf)
        entry = self.stacks.get(key)
        if entry is None:
            self.stacks[key] = [1, elapsed]
        else:
            entry[0] += 1
            entry[1] += elapsed
        self.samples += 1
        self._last_key = key

    def _close_gap(self) -> None:
        """The time since the last sample belongs to the last stack seen."""
        key = self._last_key
        if key is not None:
            self.stacks[key][1] += _perf_counter() - self._last
