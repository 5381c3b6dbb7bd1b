"""The profiled request as plain data: what the backends store and the UI shows.

A :class:`ProfilingSession` is built in the writer thread, never on the request
path, from one of two engines' output and a WSGI environ:

* ``deterministic``: cProfile's ``getstats()``, exact call counts and times of
  every function and every caller/callee pair, but no call stacks;
* ``sampled``: the sampling engine's stacks (:mod:`linesman.profiling.sampling`), each
  distinct stack with its sample count and time. The function rows and
  caller/callee pairs are derived from the stacks (a function's "calls" are then
  the samples it appears in), so everything built on rows works for both.

It turns into a versioned JSON-ready dict and back with every figure unchanged.
Derived views (the networkx graph among them) are computed from those figures
by :mod:`linesman.model.callgraph` when asked.
"""

from __future__ import annotations

import re
import time
import uuid as uuid_module
from datetime import datetime
from typing import Any, Collection, Iterable, Mapping, NamedTuple
from urllib.parse import unquote_plus

from linesman.model.rows import BUILTIN_FILE, CallStats, FunctionStats, StackStats, function_key

__all__ = ["ProfilingSession", "FunctionStats", "CallStats", "StackStats", "SessionFormatError",
           "mask_query", "capped_text", "UUID_PATTERN", "METHOD_PATTERN", "approximate_size", "DETERMINISTIC", "SAMPLED", "TEXT_LIMITS"]

SCHEMA = "linesman.session"  # stored in every document: never renamed
SCHEMA_VERSION = 2  # 2 added the engine's kind, its interval and sampled stacks
# A session id as stored and linked (uuid4, lower case), and a request method, as
# every parser of ids and methods checks them.
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
METHOD_PATTERN = r"[A-Z]{1,10}"
DETERMINISTIC = "deterministic"  # cProfile: exact call counts, no stacks
SAMPLED = "sampled"  # the sampling engine: stacks with samples and time, no call counts
_KEPT_HEADERS = ("HTTP_HOST", "HTTP_USER_AGENT", "CONTENT_TYPE", "CONTENT_LENGTH")
# What a session keeps of a request's text, at most (characters): a bound on the
# memory of every waiting session, whatever a client sends.
TEXT_LIMITS = {"path": 2000, "query": 4000, "header": 500}
_SECRET_NAME = re.compile(r"token|passw|pwd|secret|key|auth|session|signature|sig$|credential", re.I)


class SessionFormatError(ValueError):
    """A stored session document that this version cannot read."""


def _label(code: Any) -> tuple[str, int, str]:
    if isinstance(code, str):
        return (BUILTIN_FILE, 0, code)
    name = getattr(code, "co_qualname", code.co_name)
    return (code.co_filename, code.co_firstlineno, name)


def is_profiler_noise(label: tuple[str, int, str]) -> bool:
    # Turning the profiler off is recorded as a call; it is never the app's.
    return label[0] == BUILTIN_FILE and "_lsprof.Profiler" in label[2]


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
                _Entry(sub.code, sub.callcount, sub.reccallcount, sub.totaltime * share,
                       sub.inlinetime * share) for sub in their_calls]
        kept.append(_Entry(entry.code, entry.callcount, entry.reccallcount, entry.totaltime,
                           entry.inlinetime, calls))
    return kept


def stats_from_profile(entries: Iterable[Any]) -> tuple[list[FunctionStats], list[CallStats]]:
    """``Profile.getstats()`` -> function and call rows, profiler noise removed."""
    functions: list[FunctionStats] = []
    calls: list[CallStats] = []
    for entry in entries:
        label = _label(entry.code)
        if is_profiler_noise(label):
            continue
        function = FunctionStats(*label, entry.callcount, entry.reccallcount,
                                 entry.inlinetime, entry.totaltime)
        functions.append(function)
        for sub in entry.calls or ():
            sub_label = _label(sub.code)
            if is_profiler_noise(sub_label):
                continue
            calls.append(CallStats(function.key, function_key(*sub_label), sub.callcount,
                                   sub.reccallcount, sub.inlinetime, sub.totaltime))
    return functions, calls


Label = tuple[str, int, str]


def stacks_from_samples(raw: Mapping[Any, list]) -> tuple[dict[str, Label], list[StackStats]]:
    """The sampling engine's stacks (code objects, leaf first) -> labels and stacks."""
    labels: dict[str, Label] = {}
    keys: dict[Any, str] = {}  # code object or C label -> key

    def key_of(code: Any) -> str:
        key = keys.get(code)
        if key is None:
            label = _label(code)
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


def rows_from_stacks(labels: Mapping[str, Label], stacks: Iterable[StackStats]
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
        for pair in set(zip(frames, frames[1:])):
            figures = pairs.setdefault(pair, [0, 0.0, 0.0])
            figures[0] += stack.samples
            figures[2] += stack.time
        if len(frames) > 1:
            pairs[(frames[-2], frames[-1])][1] += stack.time
    rows = [FunctionStats(*labels[key], samples, 0, own, cum)
            for key, (samples, own, cum) in functions.items() if samples]
    calls = [CallStats(caller, callee, samples, 0, own, cum)
             for (caller, callee), (samples, own, cum) in pairs.items()]
    return rows, calls


def _wsgi_text(value: str) -> str:
    """WSGI strings are bytes decoded as latin-1; show them as the UTF-8 they were."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value


def mask_query(query: str) -> str:
    """Hide the values of parameters whose names look like credentials, judged on
    the decoded name (``%70assword``, ``pass%77ord``) and after ``&`` or ``;``."""
    if not query:
        return ""
    parts = re.split(r"([&;])", query)
    for number in range(0, len(parts), 2):
        name, sep, value = parts[number].partition("=")
        if sep and value and _SECRET_NAME.search(unquote_plus(name)):
            parts[number] = f"{name}=***"
    return "".join(parts)


def capped_text(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut with a marker."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def approximate_size(session: "ProfilingSession") -> int:
    """Bytes a session holds in memory, roughly (measured with tracemalloc on
    real profiles: about 1 KB per function row and its call pair); its graph,
    once built, about as much again."""
    stacks = session.stacks or ()
    text = len(session.path) + len(session.query) + sum(map(len, session.headers.values()))
    return (1000 + 2 * text + 600 * len(session.functions) + 450 * len(session.calls)
            + sum(150 + 8 * len(stack.frames) for stack in stacks))


def summarize_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    """The little of a request worth keeping; never cookies or credentials."""
    path = _wsgi_text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
    return {
        "method": capped_text(str(environ.get("REQUEST_METHOD", "GET")), 32),
        "path": capped_text(path, TEXT_LIMITS["path"]),
        "query": capped_text(mask_query(_wsgi_text(environ.get("QUERY_STRING", ""))),
                         TEXT_LIMITS["query"]),
        "headers": {
            name: capped_text(_wsgi_text(str(environ[name])), TEXT_LIMITS["header"])
            for name in _KEPT_HEADERS if environ.get(name)
        },
    }


class ProfilingSession:
    """One profiled request: its summary and its profile's figures.

    ``stats`` is cProfile's ``getstats()``; a sampled profile gives ``stacks``
    (with the ``labels`` of the functions on them) and its ``interval`` instead.
    """

    def __init__(self, stats: Iterable[Any] = (), environ: Mapping[str, Any] | None = None,
                 timestamp: "float | datetime | None" = None, *, uuid: str | None = None,
                 duration: float | None = None, cpu_time: float = 0.0,
                 status: int | None = None, response_size: int = 0,
                 error: str | None = None, concurrent: bool = False,
                 stacks: Iterable[StackStats] | None = None,
                 labels: Mapping[str, Label] | None = None,
                 interval: float | None = None) -> None:
        self.uuid = uuid or str(uuid_module.uuid4())
        if isinstance(timestamp, datetime):  # the original passed datetimes; naive is local
            timestamp = timestamp.timestamp()
        self.timestamp = time.time() if timestamp is None else float(timestamp)
        request = summarize_environ(environ or {})
        self.method: str = request["method"]
        self.path: str = request["path"]
        self.query: str = request["query"]
        self.headers: dict[str, str] = request["headers"]
        self.stacks: list[StackStats] | None = None
        self.interval: float | None = None
        if stacks is not None:
            self.stacks = [stack for stack in stacks if stack.frames]
            self.interval = interval
            self.functions, self.calls = rows_from_stacks(labels or {}, self.stacks)
        else:
            self.functions, self.calls = stats_from_profile(stats)
        self.duration = float(duration) if duration is not None else self._profiled_time()
        self.cpu_time = float(cpu_time)
        self.status = status
        self.response_size = int(response_size)
        self.error = error
        self.concurrent = bool(concurrent)
        self._graph = None
        self._call_index = None
        self._by_key: dict[str, FunctionStats] | None = None

    def _profiled_time(self) -> float:
        if self.stacks is not None:
            return sum(stack.time for stack in self.stacks)
        return max((function.totaltime for function in self.functions), default=0.0)

    @property
    def kind(self) -> str:
        """Which engine made it: ``deterministic`` (cProfile) or ``sampled``."""
        return DETERMINISTIC if self.stacks is None else SAMPLED

    @property
    def samples(self) -> int:
        """How many samples a sampled session holds (0 for cProfile's)."""
        return sum(stack.samples for stack in self.stacks or ())

    def labels(self) -> dict[str, Label]:
        """Each function's (file, line, name), by key."""
        return {f.key: (f.file, f.line, f.name) for f in self.functions}

    def function(self, key: str) -> "FunctionStats":
        """The function row with this key (an index is built on first use)."""
        if self._by_key is None:
            self._by_key = {f.key: f for f in self.functions}
        return self._by_key[key]

    def recursive_keys(self) -> set[str]:
        """Functions that ran while already running (directly or through others):
        cProfile counts those calls apart; a sampled stack shows the frame twice."""
        if self.stacks is None:
            return {f.key for f in self.functions if f.reccallcount > 0}
        found: set[str] = set()
        for stack in self.stacks:
            seen: set[str] = set()
            for key in stack.frames:
                if key in seen:
                    found.add(key)
                seen.add(key)
        return found

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.status is not None and self.status >= 500)

    @property
    def graph(self):
        """The call graph as a ``networkx.DiGraph``, built on first use."""
        if self._graph is None:
            from linesman.model.callgraph import build_graph

            self._graph = build_graph(self)
        return self._graph

    @property
    def call_index(self):
        """The call graph as plain dicts (``linesman.model.callindex``): what pages walk."""
        if self._call_index is None:
            from linesman.model.callindex import CallIndex

            self._call_index = CallIndex(self.functions, self.calls, self.kind)
        return self._call_index

    def summary(self) -> dict[str, Any]:
        """What a listing shows; backends keep these beside the document."""
        return {
            "uuid": self.uuid,
            "timestamp": self.timestamp,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "duration": self.duration,
            "cpu_time": self.cpu_time,
            "failed": self.failed,
        }

    def to_dict(self) -> dict[str, Any]:
        index = {function.key: number for number, function in enumerate(self.functions)}
        sampled = self.stacks is not None
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            **self.summary(),
            "headers": dict(self.headers),
            "response_size": self.response_size,
            "error": self.error,
            "concurrent": self.concurrent,
            "kind": self.kind,
            "interval": self.interval,
            "functions": [
                [f.file, f.line, f.name, f.callcount, f.reccallcount, f.inlinetime, f.totaltime]
                for f in self.functions
            ],
            # A sampled session's pairs are derived from its stacks when read.
            "calls": [] if sampled else [
                [index[c.caller], index[c.callee], c.callcount, c.reccallcount,
                 c.inlinetime, c.totaltime]
                for c in self.calls
                if c.caller in index and c.callee in index
            ],
            "stacks": [[[index[key] for key in stack.frames], stack.samples, stack.time]
                       for stack in self.stacks] if sampled else None,
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> "ProfilingSession":
        if document.get("schema") != SCHEMA:
            raise SessionFormatError("not a linesman session document")
        version = document.get("version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise SessionFormatError(f"session document version {version!r} is newer than "
                                     f"this linesman reads ({SCHEMA_VERSION})")
        try:
            return cls._from_document(document)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise SessionFormatError(f"damaged session document: {exc!r}") from None

    @classmethod
    def _from_document(cls, document: Mapping[str, Any]) -> "ProfilingSession":
        """Versions 1 and 2; version 1 had only cProfile's sessions."""
        session = cls(uuid=str(document["uuid"]), timestamp=document["timestamp"],
                      duration=document["duration"], cpu_time=document["cpu_time"],
                      status=document["status"], response_size=document["response_size"],
                      error=document["error"], concurrent=document["concurrent"])
        session.method = str(document["method"])
        session.path = str(document["path"])
        session.query = str(document["query"])
        session.headers = {str(k): str(v) for k, v in dict(document["headers"]).items()}
        functions = FunctionStats.rows(document["functions"])
        keys = [function.key for function in functions]
        stacks = document.get("stacks")
        if document.get("kind", DETERMINISTIC) == SAMPLED and stacks is not None:
            session.stacks = [
                StackStats(tuple(keys[number] for number in frames), int(samples), float(seconds))
                for frames, samples, seconds in stacks
            ]
            interval = document.get("interval")
            session.interval = None if interval is None else float(interval)
            labels = {f.key: (f.file, f.line, f.name) for f in functions}
            session.functions, session.calls = rows_from_stacks(labels, session.stacks)
            return session
        session.functions = functions
        new = tuple.__new__  # CallStats' own __new__ is a Python frame per row
        session.calls = [
            new(CallStats, (keys[caller], keys[callee], int(cc), int(rcc), float(inline),
                            float(total)))
            for caller, callee, cc, rcc, inline, total in document["calls"]
        ]
        return session

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProfilingSession):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"<ProfilingSession {self.uuid} {self.method} {self.path} "
                f"{self.duration * 1000:.1f} ms>")
