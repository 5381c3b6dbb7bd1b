"""The profiled request as plain data: what the backends store and the UI shows.

A :class:`ProfilingSession` is built from ``cProfile.Profile().getstats()`` and a
WSGI environ, in the writer thread rather than on the request path. It holds a
summary of the request and the raw figures of every function and every
caller/callee pair, and turns into a versioned JSON-ready dict and back with
every figure unchanged. Derived views (the networkx graph among them) are
computed from those figures by :mod:`linesman.callgraph` when asked.
"""

from __future__ import annotations

import re
import time
import uuid as uuid_module
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

__all__ = ["ProfilingSession", "FunctionStats", "CallStats", "SessionFormatError", "mask_query"]

SCHEMA = "linesman.session"
SCHEMA_VERSION = 1
_BUILTIN_FILE = "~"  # what pstats uses for functions without a source file
_KEPT_HEADERS = ("HTTP_HOST", "HTTP_USER_AGENT", "CONTENT_TYPE", "CONTENT_LENGTH")
_SECRET_NAME = re.compile(r"token|passw|pwd|secret|key|auth|session|signature|sig$|credential", re.I)


class SessionFormatError(ValueError):
    """A stored session document that this version cannot read."""


@dataclass(frozen=True, slots=True)
class FunctionStats:
    """One function's totals, the fields of a cProfile ``profiler_entry``."""

    file: str
    line: int
    name: str
    callcount: int
    reccallcount: int
    inlinetime: float
    totaltime: float

    @property
    def key(self) -> str:
        """A node key that never merges two distinct functions."""
        return function_key(self.file, self.line, self.name)


@dataclass(frozen=True, slots=True)
class CallStats:
    """The figures of one caller -> callee pair (a ``profiler_subentry``)."""

    caller: str
    callee: str
    callcount: int
    reccallcount: int
    inlinetime: float
    totaltime: float


def function_key(file: str, line: int, name: str) -> str:
    if file == _BUILTIN_FILE:
        return name
    return f"{file}:{line}({name})"


def _label(code: Any) -> tuple[str, int, str]:
    if isinstance(code, str):
        return (_BUILTIN_FILE, 0, code)
    name = getattr(code, "co_qualname", code.co_name)
    return (code.co_filename, code.co_firstlineno, name)


def _is_profiler_noise(label: tuple[str, int, str]) -> bool:
    # Turning the profiler off is recorded as a call; it is never the app's.
    return label[0] == _BUILTIN_FILE and "_lsprof.Profiler" in label[2]


def stats_from_profile(entries: Iterable[Any]) -> tuple[list[FunctionStats], list[CallStats]]:
    """``Profile.getstats()`` -> function and call rows, profiler noise removed."""
    functions: list[FunctionStats] = []
    calls: list[CallStats] = []
    for entry in entries:
        label = _label(entry.code)
        if _is_profiler_noise(label):
            continue
        function = FunctionStats(*label, entry.callcount, entry.reccallcount,
                                 entry.inlinetime, entry.totaltime)
        functions.append(function)
        for sub in entry.calls or ():
            sub_label = _label(sub.code)
            if _is_profiler_noise(sub_label):
                continue
            calls.append(CallStats(function.key, function_key(*sub_label), sub.callcount,
                                   sub.reccallcount, sub.inlinetime, sub.totaltime))
    return functions, calls


def _wsgi_text(value: str) -> str:
    """WSGI strings are bytes decoded as latin-1; show them as the UTF-8 they were."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value


def mask_query(query: str) -> str:
    """Hide the values of parameters whose names look like credentials."""
    if not query:
        return ""
    parts = []
    for part in query.split("&"):
        name, sep, value = part.partition("=")
        if sep and value and _SECRET_NAME.search(name):
            part = f"{name}=***"
        parts.append(part)
    return "&".join(parts)


def summarize_environ(environ: Mapping[str, Any]) -> dict[str, Any]:
    """The little of a request worth keeping; never cookies or credentials."""
    path = _wsgi_text(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
    return {
        "method": str(environ.get("REQUEST_METHOD", "GET")),
        "path": path,
        "query": mask_query(_wsgi_text(environ.get("QUERY_STRING", ""))),
        "headers": {
            name: _wsgi_text(str(environ[name])) for name in _KEPT_HEADERS if environ.get(name)
        },
    }


class ProfilingSession:
    """One profiled request: its summary and its profile's figures."""

    def __init__(self, stats: Iterable[Any] = (), environ: Mapping[str, Any] | None = None,
                 timestamp: float | None = None, *, uuid: str | None = None,
                 duration: float | None = None, cpu_time: float = 0.0,
                 status: int | None = None, response_size: int = 0,
                 error: str | None = None, concurrent: bool = False) -> None:
        self.uuid = uuid or str(uuid_module.uuid4())
        self.timestamp = time.time() if timestamp is None else float(timestamp)
        request = summarize_environ(environ or {})
        self.method: str = request["method"]
        self.path: str = request["path"]
        self.query: str = request["query"]
        self.headers: dict[str, str] = request["headers"]
        self.functions, self.calls = stats_from_profile(stats)
        self.duration = float(duration) if duration is not None else self._profiled_time()
        self.cpu_time = float(cpu_time)
        self.status = status
        self.response_size = int(response_size)
        self.error = error
        self.concurrent = bool(concurrent)
        self._graph = None

    def _profiled_time(self) -> float:
        return max((function.totaltime for function in self.functions), default=0.0)

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.status is not None and self.status >= 500)

    @property
    def graph(self):
        """The call graph as a ``networkx.DiGraph``, built on first use."""
        if self._graph is None:
            from linesman.callgraph import build_graph

            self._graph = build_graph(self)
        return self._graph

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
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            **self.summary(),
            "headers": dict(self.headers),
            "response_size": self.response_size,
            "error": self.error,
            "concurrent": self.concurrent,
            "functions": [
                [f.file, f.line, f.name, f.callcount, f.reccallcount, f.inlinetime, f.totaltime]
                for f in self.functions
            ],
            "calls": [
                [index[c.caller], index[c.callee], c.callcount, c.reccallcount,
                 c.inlinetime, c.totaltime]
                for c in self.calls
                if c.caller in index and c.callee in index
            ],
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
            return cls._from_v1(document)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise SessionFormatError(f"damaged session document: {exc!r}") from None

    @classmethod
    def _from_v1(cls, document: Mapping[str, Any]) -> "ProfilingSession":
        session = cls(uuid=str(document["uuid"]), timestamp=document["timestamp"],
                      duration=document["duration"], cpu_time=document["cpu_time"],
                      status=document["status"], response_size=document["response_size"],
                      error=document["error"], concurrent=document["concurrent"])
        session.method = str(document["method"])
        session.path = str(document["path"])
        session.query = str(document["query"])
        session.headers = {str(k): str(v) for k, v in dict(document["headers"]).items()}
        session.functions = [
            FunctionStats(str(file), int(line), str(name), int(cc), int(rcc),
                          float(inline), float(total))
            for file, line, name, cc, rcc, inline, total in document["functions"]
        ]
        keys = [function.key for function in session.functions]
        session.calls = [
            CallStats(keys[caller], keys[callee], int(cc), int(rcc), float(inline), float(total))
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
