"""A session as a versioned, JSON-ready document, and back, every figure
unchanged. Function rows are lists in a fixed order; pairs and stack frames
name functions by their index in that list, so a path is written once."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from linesman.model.rows import SAMPLED, CallStats, FunctionStats, StackStats, rows_from_stacks

if TYPE_CHECKING:
    from linesman.model.session import ProfilingSession

__all__ = ["SCHEMA", "SCHEMA_VERSION", "SessionFormatError", "to_document", "document_fields"]

SCHEMA = "linesman.session"  # stored in every document: never renamed
# 2 added the engine's kind, its interval and sampled stacks; 3 added ``clipped``,
# the functions whose figures held another thread's work and were cut to the
# request's time (0 in the documents before)
SCHEMA_VERSION = 3


class SessionFormatError(ValueError):
    """A stored session document that this version cannot read."""


_KEY = operator.attrgetter("key")
_STORED = operator.itemgetter(slice(0, 7))  # a function row as stored: all but its key
_CALLER, _CALLEE = operator.attrgetter("caller"), operator.attrgetter("callee")
_PAIR_FIGURES = operator.itemgetter(slice(2, 6))


def to_document(session: ProfilingSession) -> dict[str, Any]:
    """The session's document. Rows are written by C loops (``map``): the writer
    makes one per stored session, beside the app's requests."""
    functions = session.functions
    index = dict(zip(map(_KEY, functions), itertools.count(), strict=False))
    stacks = session.stacks
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        **session.summary(),
        "headers": dict(session.headers),
        "response_size": session.response_size,
        "error": session.error,
        "concurrent": session.concurrent,
        "clipped": session.clipped,
        "kind": session.kind,
        "interval": session.interval,
        "functions": list(map(list, map(_STORED, functions))),
        # A sampled session's pairs are derived from its stacks when read.
        "calls": [] if stacks is not None else _pair_rows(session.calls, index),
        "stacks": None
        if stacks is None
        else [
            [[index[key] for key in stack.frames], stack.samples, stack.time] for stack in stacks
        ],
    }


def _pair_rows(calls: list[CallStats], index: dict[str, int]) -> list[list]:
    """``[caller, callee, calls, recursive calls, own, cumulative]`` of each pair
    whose two functions are rows (by their numbers there)."""
    callers = list(map(index.get, map(_CALLER, calls)))
    callees = list(map(index.get, map(_CALLEE, calls)))
    if None in callers or None in callees:
        known = [a is not None and b is not None for a, b in zip(callers, callees, strict=True)]
        calls = list(itertools.compress(calls, known))
        callers = list(itertools.compress(callers, known))
        callees = list(itertools.compress(callees, known))
    pairs = zip(callers, callees, strict=True)
    return list(map(list, map(operator.add, pairs, map(_PAIR_FIGURES, calls))))


def document_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """A document's fields, as ``ProfilingSession.from_rows`` takes them; versions
    1 to 3 (version 1 had only cProfile's sessions, versions before 3 nothing clipped)."""
    if document.get("schema") != SCHEMA:
        raise SessionFormatError("not a linesman session document")
    version = document.get("version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise SessionFormatError(
            f"session document version {version!r} is newer than "
            f"this linesman reads ({SCHEMA_VERSION})"
        )
    try:
        return _fields(document)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SessionFormatError(f"damaged session document: {exc!r}") from None


def _fields(document: Mapping[str, Any]) -> dict[str, Any]:
    fields = {
        "uuid": str(document["uuid"]),
        "started": float(document["timestamp"]),
        "method": str(document["method"]),
        "path": str(document["path"]),
        "query": str(document["query"]),
        "headers": {str(k): str(v) for k, v in dict(document["headers"]).items()},
        "duration": document["duration"],
        "cpu_time": document["cpu_time"],
        "status": document["status"],
        "response_size": document["response_size"],
        "error": document["error"],
        "concurrent": document["concurrent"],
        "clipped": int(document.get("clipped", 0)),
    }
    functions = FunctionStats.rows(document["functions"])
    keys = [function.key for function in functions]
    stacks = document.get("stacks")
    if document.get("kind") == SAMPLED and stacks is not None:
        kept = [
            StackStats(tuple(keys[number] for number in frames), int(samples), float(seconds))
            for frames, samples, seconds in stacks
        ]
        interval = document.get("interval")
        labels = {f.key: (f.file, f.line, f.name) for f in functions}
        functions, calls = rows_from_stacks(labels, kept)
        return fields | {
            "functions": functions,
            "calls": calls,
            "stacks": kept,
            "interval": None if interval is None else float(interval),
        }
    new = tuple.__new__  # CallStats' own __new__ is a Python frame per row
    calls = [
        new(CallStats, (keys[caller], keys[callee], int(cc), int(rcc), float(inline), float(total)))
        for caller, callee, cc, rcc, inline, total in document["calls"]
    ]
    return fields | {"functions": functions, "calls": calls}
