"""The rows a profile is made of: each function's totals, each caller/callee
pair's, and (from the sampling engine) each distinct stack; and how each
engine's raw output becomes them. Immutable tuples: a big app's profile holds
50,000 of them, and a page decodes them all."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "BUILTIN_FILE",
    "Label",
    "FunctionStats",
    "CallStats",
    "StackStats",
    "function_key",
    "label_of",
    "is_profiler_noise",
    "is_thread_entry",
    "splice_out",
    "clip_to",
    "stats_from_profile",
    "stacks_from_samples",
    "rows_from_stacks",
]

BUILTIN_FILE = "~"  # what pstats uses for functions without a source file
Label = tuple[str, int, str]  # (file, line, name), as pstats has it
DETERMINISTIC = "deterministic"  # cProfile: exact call counts, no stacks
SAMPLED = "sampled"  # the sampling engine: stacks with samples and time, no call counts


class _FunctionRow(NamedTuple):
    file: str
    line: int
    name: str
    callcount: int
    reccallcount: int
    inlinetime: float
    totaltime: float
    key: str


class FunctionStats(_FunctionRow):
    """One function's totals, the fields of a cProfile ``profiler_entry``, and its
    ``key`` (a node key that never merges two distinct functions), made once.

    Immutable tuples, made in C: a big app's profile holds 50,000 of them, and a
    page decodes them all."""

    __slots__ = ()

    def __new__(
        cls,
        file: str,
        line: int,
        name: str,
        callcount: int,
        reccallcount: int,
        inlinetime: float,
        totaltime: float,
    ) -> FunctionStats:
        return tuple.__new__(
            cls,
            (
                file,
                line,
                name,
                callcount,
                reccallcount,
                inlinetime,
                totaltime,
                function_key(file, line, name),
            ),
        )

    @classmethod
    def rows(cls, stored: Iterable[Iterable[Any]]) -> list[FunctionStats]:
        """Rows from a document's ``[file, line, name, calls, recursive calls, own,
        cumulative]`` lists, each value checked for its type, in one loop: a page
        of a 50,000-function profile decodes them all."""
        new, builtin = tuple.__new__, BUILTIN_FILE
        made = []
        for file, line, name, cc, rcc, inline, total in stored:
            file, line, name = str(file), int(line), str(name)
            key = name if file == builtin else f"{file}:{line}({name})"  # function_key
            made.append(
                new(cls, (file, line, name, int(cc), int(rcc), float(inline), float(total), key))
            )
        return made

    def __getnewargs__(self) -> tuple:  # pickle calls __new__ with the seven figures
        return tuple(self)[:7]

    def _replace(self, **changes: Any) -> FunctionStats:
        figures = {**self._asdict(), **changes}
        del figures["key"]  # made anew from the new label
        return FunctionStats(**figures)


class CallStats(NamedTuple):
    """The figures of one caller -> callee pair (a ``profiler_subentry``)."""

    caller: str
    callee: str
    callcount: int
    reccallcount: int
    inlinetime: float
    totaltime: float


@dataclass(frozen=True, slots=True)
class StackStats:
    """One distinct sampled call stack (function keys from the entry down to the
    leaf), how many samples found it and the wall time they stand for."""

    frames: tuple[str, ...]
    samples: int
    time: float


def function_key(file: str, line: int, name: str) -> str:
    if file == BUILTIN_FILE:
        return name
    return f"{file}:{line}({name})"


def label_of(code: Any) -> tuple[str, int, str]:
    if isinstance(code, str):
        return (BUILTIN_FILE, 0, code)
    name = getattr(code, "co_qualname", code.co_name)
    return (code.co_filename, code.co_firstlineno, name)


def is_profiler_noise(label: tuple[str, int, str]) -> bool:
    # Turning the profiler off is recorded as a call, and so is linesman's look at
    # the thread's hook just before (RequestProfile.call); neither is the app's.
    return label[0] == BUILTIN_FILE and (
        "_lsprof.Profiler" in label[2] or label[2] == "<built-in method sys.getprofile>"
    )


def is_thread_entry(function: FunctionStats) -> bool:
    """The first frame of every thread ``threading`` starts: in a request's
    profile, a thread that ran under it."""
    return function.name == "Thread._bootstrap" and function.file.endswith("threading.py")


class _Entry(NamedTuple):
    """A ``getstats()`` entry or sub-entry, rebuilt (those cannot be changed)."""

    code: Any
    callcount: int
    reccallcount: int
    totaltime: float
    inlinetime: float
    calls: Any = None


def splice_out(entries: Iterable[Any], hidden: Collection[Any]) -> list[Any]:
    """``getstats()`` without the functions in ``hidden`` (linesman's own hooks that
    the app calls, such as its ``start_response``): their callers call their
    callees directly, in proportion to how much each caller called them."""
    entries = list(entries)
    removed = [entry for entry in entries if entry.code in hidden]
    if not removed:
        return entries
    total = sum(entry.totaltime for entry in removed) or 1.0
    their_calls = [sub for entry in removed for sub in entry.calls or ()]
    kept = []
    for entry in entries:
        if entry.code in hidden:
            continue
        calls = list(entry.calls or ())
        into = [sub for sub in calls if sub.code in hidden]
        if into:
            share = sum(sub.totaltime for sub in into) / total
            calls = [sub for sub in calls if sub.code not in hidden] + [
                _Entry(
                    sub.code,
                    sub.callcount,
                    sub.reccallcount,
                    sub.totaltime * share,
                    sub.inlinetime * share,
                )
                for sub in their_calls
            ]
        kept.append(
            _Entry(
                entry.code,
                entry.callcount,
                entry.reccallcount,
                entry.totaltime,
                entry.inlinetime,
                calls,
            )
        )
    return kept


_TOTAL, _INLINE = operator.attrgetter("totaltime"), operator.attrgetter("inlinetime")


def clip_to(entries: Iterable[Any], limit: float) -> tuple[list[Any], int]:
    """``getstats()`` with no figure above ``limit`` (the request's own time), and
    how many functions had one.

    From Python 3.12 on cProfile hears every thread: a thread the request starts
    and joins is recorded with it, its calls merged into the same functions'
    figures (``lock.acquire`` at 19.7 ms in a 12.2 ms request). Nothing of the
    request's own thread can take longer than the request, so a figure that does
    holds another thread's work: it is cut to the request's time, and the count
    lets the page say so."""
    entries = list(entries)
    # Two C loops: most profiles have nothing to clip.
    if max(map(_TOTAL, entries), default=0.0) <= limit and (
        max(map(_INLINE, entries), default=0.0) <= limit
    ):
        return entries, 0
    kept, clipped = [], 0
    for entry in entries:
        calls = entry.calls or ()
        over = entry.totaltime > limit or entry.inlinetime > limit
        if over or any(_over(sub, limit) for sub in calls):
            clipped += over
            entry = _Entry(
                entry.code,
                entry.callcount,
                entry.reccallcount,
                min(entry.totaltime, limit),
                min(entry.inlinetime, limit),
                [
                    _Entry(
                        sub.code,
                        sub.callcount,
                        sub.reccallcount,
                        min(sub.totaltime, limit),
                        min(sub.inlinetime, limit),
                    )
                    for sub in calls
                ],
            )
        kept.append(entry)
    return kept, clipped


def _over(entry: Any, limit: float) -> bool:
    return entry.totaltime > limit or entry.inlinetime > limit


KNOWN_CODES = 20_000  # code objects whose labels a writer remembers (then it starts over)
_CODE = operator.attrgetter("code")
_CALLS = operator.attrgetter("calls")
_FIGURES = operator.attrgetter("callcount", "reccallcount", "inlinetime", "totaltime")
_LABEL, _KEY_ALONE, _KEY = (operator.itemgetter(n) for n in (1, 2, 3))


def _remember(known: dict[Any, tuple], code: Any) -> tuple:
    """The memo's entry for a code (or a C function's text), made and kept:
    ``(code, (file, line, name), (key,), key)``, or ``(code, None, None, None)``
    for the profiler's own calls."""
    if code.__class__ is str:  # getstats() makes these afresh: known by their text
        hit = known.get(code)
        if hit is None:
            hit = known[code] = _known(code)
        return hit
    hit = known[id(code)] = _known(code)
    return hit


def _known(code: Any) -> tuple:
    label = label_of(code)
    if is_profiler_noise(label):
        return (code, None, None, None)
    key = function_key(*label)
    return (code, label, (key,), key)


def _labels(codes: list[Any], known: dict[Any, tuple]) -> list[tuple]:
    """The memo's entries for these codes, in C but for the codes not met before.
    A code is known by its id, and the memo holds the code, so that while it is
    remembered no other object has that id (code objects compare by content, and
    two equal ones may come from two files)."""
    hits: list[Any] = list(map(known.get, map(id, codes)))
    if None in hits:
        for number, hit in enumerate(hits):
            if hit is None:
                hits[number] = _remember(known, codes[number])
    return hits


def stats_from_profile(
    entries: Iterable[Any],
    known: dict[Any, tuple] | None = None,
    hidden: Collection[Any] = (),
) -> tuple[list[FunctionStats], list[CallStats]]:
    """``Profile.getstats()`` -> function and call rows, profiler noise removed,
    and the functions in ``hidden`` spliced out as :func:`splice_out` does.

    ``known`` is a memo a writer keeps from one profile to the next: an app runs
    the same functions request after request, and making each label and key
    again was most of a small session's cost. The rows are made by C loops
    (``map``, ``operator``): a profiled request's session is built beside the
    app's next requests, on the same GIL, and a Python loop per row cost more
    than the request's profile itself (see docs/benchmarks.rst)."""
    if known is None:
        known = {}
    elif len(known) > KNOWN_CODES:
        known.clear()
    entries = list(entries)
    hits = _labels(list(map(_CODE, entries)), known)
    labels = list(map(_LABEL, hits))
    if None in labels:  # the profiler's own calls (always one: switching it off)
        entries = list(itertools.compress(entries, labels))
        hits = list(itertools.compress(hits, labels))
        labels = list(itertools.compress(labels, labels))
    new, add, again = tuple.__new__, operator.add, itertools.repeat
    functions = list(
        map(
            new,
            again(FunctionStats),
            map(add, map(add, labels, map(_FIGURES, entries)), map(_KEY_ALONE, hits)),
        )
    )
    callers: list[str] = []
    subs: list[Any] = []
    for key, called in zip(map(_KEY, hits), map(_CALLS, entries), strict=True):
        if called:
            subs += called
            callers += again(key, len(called))
    calls: list[CallStats] = []
    if subs:
        callees = list(map(_KEY, _labels(list(map(_CODE, subs)), known)))
        if None in callees:
            subs = list(itertools.compress(subs, callees))
            callers = list(itertools.compress(callers, callees))
            callees = list(itertools.compress(callees, callees))
        pairs = zip(callers, callees, strict=True)
        calls = list(map(new, again(CallStats), map(add, pairs, map(_FIGURES, subs))))
    if hidden:
        keys = set(map(_KEY, _labels(list(hidden), known)))
        keys.discard(None)
        if not keys.isdisjoint(map(_ROW_KEY, functions)):
            return _spliced(functions, calls, keys)
    return functions, calls


_ROW_KEY = operator.attrgetter("key")
_CALLER, _CALLEE = operator.attrgetter("caller"), operator.attrgetter("callee")


def _spliced(
    functions: list[FunctionStats], calls: list[CallStats], hidden: set[str]
) -> tuple[list[FunctionStats], list[CallStats]]:
    """The rows without the functions keyed in ``hidden``: each caller of theirs
    calls their callees instead, in proportion to how much it called them, in
    the order and with the figures :func:`splice_out` gives (the pairs of one
    caller are together, as a profile's are). Only the rows near them are
    touched: a session has them whenever the app calls ``start_response``."""
    removed = [function for function in functions if function.key in hidden]
    total = sum(function.totaltime for function in removed) or 1.0
    from_hidden = list(map(hidden.__contains__, map(_CALLER, calls)))
    into_hidden = list(map(hidden.__contains__, map(_CALLEE, calls)))
    theirs = list(itertools.compress(calls, from_hidden))
    keep = list(map(operator.not_, map(operator.or_, from_hidden, into_hidden)))
    # Where each caller's pairs end, and how much of the hidden time it called.
    ends: dict[int, list] = {}
    for number in itertools.compress(range(len(calls)), into_hidden):
        caller = calls[number].caller
        if caller in hidden:
            continue
        end = number
        while end < len(calls) and calls[end].caller == caller:
            end += 1
        ends.setdefault(end, [caller, 0.0])[1] += calls[number].totaltime
    spliced: list[CallStats] = []
    start = 0
    for end in sorted(ends):
        caller, into = ends[end]
        share = into / total
        spliced += itertools.compress(calls[start:end], keep[start:end])
        spliced += [
            CallStats(
                caller,
                pair.callee,
                pair.callcount,
                pair.reccallcount,
                pair.inlinetime * share,
                pair.totaltime * share,
            )
            for pair in theirs
        ]
        start = end
    spliced += itertools.compress(calls[start:], keep[start:])
    return [function for function in functions if function.key not in hidden], spliced


def stacks_from_samples(raw: Mapping[Any, list]) -> tuple[dict[str, Label], list[StackStats]]:
    """The sampling engine's stacks (code objects, leaf first) -> labels and stacks."""
    labels: dict[str, Label] = {}
    keys: dict[Any, str] = {}  # code object or C label -> key

    def key_of(code: Any) -> str:
        key = keys.get(code)
        if key is None:
            label = label_of(code)
            key = keys[code] = function_key(*label)
            labels[key] = label
        return key

    stacks = []
    for (codes, leaf), (samples, seconds) in raw.items():
        frames = [key_of(code) for code in reversed(codes)]
        if leaf is not None:
            frames.append(key_of(leaf))
        stacks.append(StackStats(tuple(frames), int(samples), float(seconds)))
    return labels, stacks


def rows_from_stacks(
    labels: Mapping[str, Label], stacks: Iterable[StackStats]
) -> tuple[list[FunctionStats], list[CallStats]]:
    """Function rows and caller/callee pairs of a sampled profile.

    A function's cumulative time is the time of the stacks it is on (once per
    stack, however often it recurs there), its own time that of the stacks it
    ends; its "calls" are the samples it appears in. A pair is counted the same way.
    """
    functions: dict[str, list] = {key: [0, 0.0, 0.0] for key in labels}  # samples, own, cum
    pairs: dict[tuple[str, str], list] = {}
    for stack in stacks:
        frames = stack.frames
        if not frames:
            continue
        for key in set(frames):
            figures = functions[key]
            figures[0] += stack.samples
            figures[2] += stack.time
        functions[frames[-1]][1] += stack.time
        for pair in set(zip(frames, frames[1:], strict=False)):
            figures = pairs.setdefault(pair, [0, 0.0, 0.0])
            figures[0] += stack.samples
            figures[2] += stack.time
        if len(frames) > 1:
            pairs[(frames[-2], frames[-1])][1] += stack.time
    rows = [
        FunctionStats(*labels[key], samples, 0, own, cum)
        for key, (samples, own, cum) in functions.items()
        if samples
    ]
    calls = [
        CallStats(caller, callee, samples, 0, own, cum)
        for (caller, callee), (samples, own, cum) in pairs.items()
    ]
    return rows, calls
