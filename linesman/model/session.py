"""The profiled request as plain, immutable data: what the backends store and
the UI shows.

A :class:`ProfilingSession` is built in the writer thread, never on the request
path, from one of two engines' output and a WSGI environ:

* ``deterministic``: cProfile's ``getstats()``, exact call counts and times of
  every function and every caller/callee pair, but no call stacks;
* ``sampled``: the sampling engine's stacks (:mod:`linesman.profiling.sampling`), each
  distinct stack with its sample count and time. The function rows and
  caller/callee pairs are derived from the stacks (a function's "calls" are then
  the samples it appears in), so everything built on rows works for both.

Every other producer (a stored document, a ``.prof`` file, a merge) gives all
its fields at once to :meth:`ProfilingSession.from_rows`. Nothing changes a
session afterwards (:meth:`ProfilingSession.replace` makes a new one), so the
views derived from it (the networkx graph, the call index) are cached safely.
"""

from __future__ import annotations

import time
import uuid as uuid_module
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from linesman.model.document import SessionFormatError, document_fields, to_document
from linesman.model.request import TEXT_LIMITS, capped_text, mask_query, summarize_environ
from linesman.model.rows import (
    DETERMINISTIC,
    SAMPLED,
    CallStats,
    FunctionStats,
    Label,
    StackStats,
    function_key,
    is_thread_entry,
    rows_from_stacks,
    stats_from_profile,
)

__all__ = [
    "ProfilingSession",
    "FunctionStats",
    "CallStats",
    "StackStats",
    "SessionFormatError",
    "function_key",
    "mask_query",
    "capped_text",
    "UUID_PATTERN",
    "METHOD_PATTERN",
    "approximate_size",
    "DETERMINISTIC",
    "SAMPLED",
    "TEXT_LIMITS",
]

# A session id as stored and linked (uuid4, lower case), and a request method, as
# every parser of ids and methods checks them.
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
METHOD_PATTERN = r"[A-Z]{1,10}"

# A session's fields, all given at once by every constructor.
FIELDS = (
    "uuid", "started", "method", "path", "query", "headers", "duration", "cpu_time",
    "status", "response_size", "error", "concurrent", "functions", "calls", "stacks",
    "interval", "clipped",
)  # fmt: skip


def started_from(timestamp: Any) -> float:
    """Seconds since the epoch of a timestamp given in "any format", as the
    original allowed: a number is taken as such, a ``datetime`` (naive is local
    time) or anything else with a ``timestamp()`` method is asked, and what
    cannot say when (None, a text, an object of the caller's own) is now."""
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        return float(timestamp)
    to_seconds = getattr(timestamp, "timestamp", None)
    if callable(to_seconds):
        try:
            return float(to_seconds())
        except (TypeError, ValueError, OverflowError, OSError):
            pass
    return time.time()


def moment(started: float) -> datetime:
    """The ``datetime`` the original's middleware gave every session (local
    time, naive, as ``datetime.now()``), for a start in seconds; one no clock
    can show (a damaged row's) is the epoch."""
    try:
        return datetime.fromtimestamp(started)
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0)


class ProfilingSession:
    """One profiled request: its summary and its profile's figures.

    ``ProfilingSession(stats, environ, timestamp)`` is the original's
    constructor: ``stats`` is cProfile's ``getstats()``. A sampled profile gives
    ``stacks`` (with the ``labels`` of the functions on them) and its
    ``interval`` instead.

    ``timestamp`` is kept as it was given, in any format, as the original kept
    it: the middleware gives a ``datetime``, and a backend written for the
    original may call ``session.timestamp.timetuple()``. ``started`` is the same
    moment in seconds since the epoch, what pages, sorting and stores use; a
    session made from stored rows gets ``timestamp = datetime.fromtimestamp(started)``.
    """

    uuid: str
    timestamp: Any
    started: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    duration: float
    cpu_time: float
    status: int | None
    response_size: int
    error: str | None
    concurrent: bool
    functions: list[FunctionStats]
    calls: list[CallStats]
    stacks: list[StackStats] | None
    interval: float | None
    clipped: int  # functions whose figures held another thread's work, cut to the request's time

    def __init__(
        self,
        stats: Iterable[Any] = (),
        environ: Mapping[str, Any] | None = None,
        timestamp: Any = None,
        *,
        uuid: str | None = None,
        duration: float | None = None,
        cpu_time: float = 0.0,
        status: int | None = None,
        response_size: int = 0,
        error: str | None = None,
        concurrent: bool = False,
        stacks: Iterable[StackStats] | None = None,
        labels: Mapping[str, Label] | None = None,
        interval: float | None = None,
        clipped: int = 0,
    ) -> None:
        kept = None if stacks is None else [stack for stack in stacks if stack.frames]
        if kept is not None:
            functions, calls = rows_from_stacks(labels or {}, kept)
        else:
            functions, calls = stats_from_profile(stats)
            interval = None
        self._assign(
            **summarize_environ(environ or {}), uuid=uuid, started=started_from(timestamp),
            duration=duration, cpu_time=cpu_time, status=status,
            response_size=response_size, error=error, concurrent=concurrent,
            functions=functions, calls=calls, stacks=kept, interval=interval,
            clipped=clipped,
        )  # fmt: skip
        self.__dict__["timestamp"] = timestamp

    @classmethod
    def from_rows(
        cls,
        *,
        functions: Iterable[FunctionStats],
        calls: Iterable[CallStats],
        stacks: Iterable[StackStats] | None = None,
        interval: float | None = None,
        method: str = "GET",
        path: str = "/",
        query: str = "",
        headers: Mapping[str, str] | None = None,
        uuid: str | None = None,
        started: float | None = None,
        duration: float | None = None,
        cpu_time: float = 0.0,
        status: int | None = None,
        response_size: int = 0,
        error: str | None = None,
        concurrent: bool = False,
        clipped: int = 0,
        timestamp: Any = None,
    ) -> ProfilingSession:
        """A session from rows already made (a stored document, a ``.prof`` file, a
        merge), every field given here; ``duration`` defaults to the profile's,
        ``started`` to now and ``timestamp`` to ``started`` as a ``datetime``."""
        session = cls.__new__(cls)
        session._assign(
            functions=list(functions), calls=list(calls),
            stacks=None if stacks is None else list(stacks), interval=interval,
            method=method, path=path, query=query, headers=dict(headers or {}), uuid=uuid,
            started=time.time() if started is None else started, duration=duration,
            cpu_time=cpu_time, status=status,
            response_size=response_size, error=error, concurrent=concurrent,
            clipped=clipped,
        )  # fmt: skip
        session.__dict__["timestamp"] = moment(session.started) if timestamp is None else timestamp
        return session

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ProfilingSession:
        """A session from its stored document (``to_dict``'s), or SessionFormatError."""
        return cls.from_rows(**document_fields(document))

    def _assign(self, **fields: Any) -> None:
        """Every field at once, each to its type: the only place fields are set."""
        stacks, functions = fields["stacks"], fields["functions"]
        if fields["duration"] is None:  # the profile's own time
            fields["duration"] = (
                sum(stack.time for stack in stacks) if stacks is not None
                else max((function.totaltime for function in functions), default=0.0)
            )  # fmt: skip
        fields.update(
            uuid=fields["uuid"] or str(uuid_module.uuid4()),
            started=float(fields["started"]),
            duration=float(fields["duration"]),
            cpu_time=float(fields["cpu_time"]),
            response_size=int(fields["response_size"]),
            concurrent=bool(fields["concurrent"]),
            clipped=int(fields["clipped"]),
            interval=None if fields["interval"] is None else float(fields["interval"]),
        )
        assert set(fields) == set(FIELDS), set(fields) ^ set(FIELDS)
        self.__dict__.update(fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a ProfilingSession does not change: use replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a ProfilingSession does not change")

    def replace(self, **changes: Any) -> ProfilingSession:
        """A copy with these fields changed (its derived views made anew); the
        ``timestamp`` as given is kept unless ``started`` or it changes."""
        unknown = set(changes) - set(FIELDS) - {"timestamp"}
        if unknown:
            raise TypeError(f"not a session field: {', '.join(sorted(unknown))}")
        kept = {} if "started" in changes else {"timestamp": self.timestamp}
        fields = {name: getattr(self, name) for name in FIELDS} | kept | changes
        if "timestamp" in changes and "started" not in changes:
            fields["started"] = started_from(changes["timestamp"])
        return type(self).from_rows(**fields)

    @property
    def kind(self) -> str:
        """Which engine made it: ``deterministic`` (cProfile) or ``sampled``."""
        return DETERMINISTIC if self.stacks is None else SAMPLED

    @property
    def threads_recorded(self) -> int:
        """How many threads the request started ran under its profile: cProfile
        hears every thread from Python 3.12 on, so their functions are mixed into
        the request's (the sampler and 3.11's cProfile hear the request's only)."""
        return sum(f.callcount for f in self.functions if is_thread_entry(f))

    @property
    def samples(self) -> int:
        """How many samples a sampled session holds (0 for cProfile's)."""
        return sum(stack.samples for stack in self.stacks or ())

    def labels(self) -> dict[str, Label]:
        """Each function's (file, line, name), by key."""
        return {f.key: (f.file, f.line, f.name) for f in self.functions}

    @cached_property
    def _by_key(self) -> dict[str, FunctionStats]:
        return {f.key: f for f in self.functions}

    def function(self, key: str) -> FunctionStats:
        """The function row with this key."""
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

    @cached_property
    def graph(self) -> Any:
        """The call graph as a ``networkx.DiGraph``, built on first use."""
        from linesman.model.callgraph import build_graph

        return build_graph(self)

    @cached_property
    def call_index(self) -> Any:
        """The call graph as plain dicts (``linesman.model.callindex``): what pages walk."""
        from linesman.model.callindex import CallIndex

        return CallIndex(self.functions, self.calls, self.kind)

    def summary(self) -> dict[str, Any]:
        """What a listing shows; backends keep these beside the document."""
        return {
            "uuid": self.uuid,
            "timestamp": self.started,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "duration": self.duration,
            "cpu_time": self.cpu_time,
            "failed": self.failed,
        }

    def to_dict(self) -> dict[str, Any]:
        """The stored document (see ``linesman.model.document``)."""
        return to_document(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProfilingSession):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"<ProfilingSession {self.uuid} {self.method} {self.path} "
            f"{self.duration * 1000:.1f} ms>"
        )


def approximate_size(session: ProfilingSession) -> int:
    """Bytes a session holds in memory, roughly (measured with tracemalloc on
    real profiles: about 1 KB per function row and its call pair); its graph,
    once built, about as much again."""
    stacks = session.stacks or ()
    text = len(session.path) + len(session.query) + sum(map(len, session.headers.values()))
    return (
        1000
        + 2 * text
        + 600 * len(session.functions)
        + 450 * len(session.calls)
        + sum(150 + 8 * len(stack.frames) for stack in stacks)
    )
