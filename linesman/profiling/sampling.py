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
from array import array
from collections.abc import Callable
from types import FrameType
from typing import Any

from pyinstrument.low_level.stat_profile import setstatprofile

__all__ = ["SampledProfile", "c_function_label", "DEFAULT_INTERVAL", "ELIDED"]

DEFAULT_INTERVAL = 0.001
WALK_SHARE = 0.1  # at most about this share of a request's time goes to walking its stack
ROOT_FRAMES = 64  # a deep stack keeps its entry's first frames ...
LEAF_FRAMES = 960  # ... and the frames nearest the leaf; the middle is counted, not kept
ELIDED = "<deep stack: frames elided>"  # stands for the middle of a stack cut that way
FIRST_SAMPLE = 1e-6  # a request's first sample: at the app's first call
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


def cut_deep(codes: list) -> list:
    """A stack deeper than ROOT_FRAMES + LEAF_FRAMES, its middle replaced by ELIDED:
    what a deep recursion's samples keep is bounded, its entry and its leaf intact."""
    if len(codes) <= ROOT_FRAMES + LEAF_FRAMES:
        return codes
    return [*codes[:LEAF_FRAMES], ELIDED, *codes[-ROOT_FRAMES:]]


class SampledProfile:
    """One request's sampled stacks, with the interface of a request's cProfile.

    A sample walks the whole stack in Python, so its cost grows with the depth.
    Two rules keep that cost a bounded share of the request whatever the depth:
    the next interval is counted from the end of a walk, not from its start
    (pyinstrument's hook counts from the start, and would call again at once after
    a walk longer than the interval), and it is stretched to ``1 / WALK_SHARE``
    times the last walk's CPU time when that is longer than ``interval``. The
    walks' own time is charged to no stack.
    """

    __slots__ = (
        "interval",
        "_counts",
        "samples",
        "cpu_time",
        "lost",
        "concurrent",
        "first_number",
        "hidden",
        "_hidden_ids",
        "_base",
        "_last",
        "_last_key",
        "_hook",
        "_next_due",
        "_unsampled",
        "_armed",
        "walk_time",
        "_suspended",
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
        self._hidden_ids = frozenset(map(id, hidden))
        # (code ids, leaf) -> [samples, seconds, codes]. Keyed by the codes' ids,
        # packed in bytes (8 per frame, hashed in one pass): a code object's own hash
        # is computed afresh each time, from its contents, which costs microseconds
        # per frame. The codes kept in the entry keep the ids from being reused
        # while the profile lives.
        self._counts: dict[tuple, list] = {}
        self.samples = 0
        self.cpu_time = 0.0
        self.lost: str | None = None
        self.concurrent = False
        self.first_number = first_number
        self._base: FrameType | None = None
        self._last = 0.0
        self._last_key: tuple[bytes, str | None] | None = None
        self._hook: Any = None  # the thread's hook object while ours is set
        self._next_due = 0.0  # no sample before this perf_counter() reading
        self._unsampled = 0.0  # the app's time since the last sample, over its pieces
        self._armed = 0.0  # the interval the hook was last set with
        self.walk_time = 0.0  # CPU seconds the samples' walks cost this thread
        self._suspended = False

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` with sampling on; never fails because of it, and
        leaves the thread's hook as the app left it."""
        if self.lost is not None:
            return function(*args)
        if sys.getprofile() is not None:  # another tool's hook on this thread
            self.lost = "profiler_unavailable"
            return function(*args)
        started = _thread_time()
        self._base = sys._getframe()
        # The request's clock goes on across its pieces (the app call, each chunk of
        # a streamed body): a piece's first sample comes when the interval is up
        # counting the pieces before, so twenty 1 ms chunks hold twenty samples.
        # The first piece samples at its first call: every request holds a stack.
        first = FIRST_SAMPLE if self.samples == 0 else self.interval - self._unsampled
        self._armed = max(FIRST_SAMPLE, first)
        self._last = _perf_counter()
        setstatprofile(self._sample, self._armed)
        self._hook = sys.getprofile()
        try:
            return function(*args)
        finally:
            if sys.getprofile() is self._hook:
                setstatprofile(None)
            else:  # the app set a hook of its own meanwhile: it stays, our samples stop
                self.lost = "app_profiler"
            self._hook = None
            self._unsampled += _perf_counter() - self._last
            self._close_gap()
            self._base = None
            self.cpu_time += _thread_time() - started

    def suspend(self) -> None:
        """Inside ``call``, the thread goes on with other work for a while (the
        request's green thread is switched out, see linesman.profiling.greenlets):
        the hook off, the time since the last sample to the last stack seen."""
        if self._hook is None:
            return
        if sys.getprofile() is self._hook:
            setstatprofile(None)
        elif self.lost is None:
            self.lost = "app_profiler"
        self._hook = None
        self._suspended = True
        self._unsampled += _perf_counter() - self._last
        self._close_gap()

    def resume(self) -> None:
        """The work ``suspend`` set aside goes on: the hook on again, the request's
        clock carried on as across its pieces (the time away is the caller's)."""
        if not self._suspended:
            return
        self._suspended = False
        if self.lost is not None:
            return
        if sys.getprofile() is not None:  # another tool's hook meanwhile
            self.lost = "profiler_unavailable"
            return
        first = FIRST_SAMPLE if self.samples == 0 else self.interval - self._unsampled
        self._armed = max(FIRST_SAMPLE, first)
        self._last = _perf_counter()
        setstatprofile(self._sample, self._armed)  # greenlets.GreenletProfile overrides it
        self._hook = sys.getprofile()

    def _sample(self, frame: FrameType, event: str, arg: Any) -> None:
        began = _perf_counter()
        if began < self._next_due:  # right after a long walk: not yet
            return
        cpu_began = _thread_time()
        leaf = None
        if event == "call":  # the callee has not run yet: the time was its caller's
            frame = frame.f_back  # type: ignore[assignment]
        elif event == "c_return" or event == "c_exception":
            leaf = c_function_label(arg)
        base = self._base
        codes: list = []
        append = codes.append
        while frame is not None and frame is not base:
            append(frame.f_code)
            frame = frame.f_back  # type: ignore[assignment]
        hidden = self._hidden_ids
        if hidden and not hidden.isdisjoint(map(id, codes)):
            codes = [code for code in codes if id(code) not in hidden]
        if not codes:  # linesman's own frame, before the app's first call: not yet
            return
        codes = cut_deep(codes)
        key = (array("Q", map(id, codes)).tobytes(), leaf)
        entry = self._counts.get(key)
        if entry is None:
            self._counts[key] = [1, began - self._last, tuple(codes)]
        else:
            entry[0] += 1
            entry[1] += began - self._last
        self.samples += 1
        self._last_key = key
        # The walk's cost in this thread's CPU time: a walk the machine preempted
        # costs the request no more than a quick one.
        walk = _thread_time() - cpu_began
        self.walk_time += walk
        self._unsampled = 0.0
        self._last = _perf_counter()
        # Only the walk's own CPU is left out: time the thread waited meanwhile (for
        # the GIL, under load) it would have waited anyway, so it is the stack's.
        waited = self._last - began - walk
        if waited > 0:
            self._counts[key][1] += waited
        if self._armed != self.interval:  # a piece's first, early sample: now the usual
            self._armed = self.interval
            setstatprofile(self._sample, self.interval)
            self._hook = sys.getprofile()
        if walk * 4 > self.interval:
            # Counted from now, stretched: the walks stay a small share of the time.
            # (pyinstrument's hook still calls every interval; those calls return at
            # once, which costs a microsecond.)
            self._next_due = self._last + max(self.interval, walk / WALK_SHARE) - self.interval

    @property
    def stacks(self) -> dict[StackKey, list]:
        """The stacks sampled: (codes from the leaf down, C leaf) -> [samples, seconds]."""
        return {
            (codes, key[1]): [samples, seconds]
            for key, (samples, seconds, codes) in self._counts.items()
        }

    @property
    def stack_count(self) -> int:
        """How many distinct stacks are kept (cheap: no stack is built)."""
        return len(self._counts)

    def _close_gap(self) -> None:
        """The time since the last sample belongs to the last stack seen."""
        key = self._last_key
        if key is not None:
            self._counts[key][1] += _perf_counter() - self._last
