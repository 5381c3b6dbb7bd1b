"""The rows a profile is made of: each function's totals, each caller/callee
pair's, and (from the sampling engine) each distinct stack. Immutable tuples:
a big app's profile holds 50,000 of them, and a page decodes them all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["BUILTIN_FILE", "FunctionStats", "CallStats", "StackStats", "function_key"]

BUILTIN_FILE = "~"  # what pstats uses for functions without a source file


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

    def __new__(cls, file: str, line: int, name: str, callcount: int, reccallcount: int,
                inlinetime: float, totaltime: float) -> "FunctionStats":
        return tuple.__new__(cls, (file, line, name, callcount, reccallcount, inlinetime,
                                   totaltime, function_key(file, line, name)))

    @classmethod
    def rows(cls, stored: Iterable[Iterable[Any]]) -> list["FunctionStats"]:
        """Rows from a document's ``[file, line, name, calls, recursive calls, own,
        cumulative]`` lists, each value checked for its type, in one loop: a page
        of a 50,000-function profile decodes them all."""
        new, builtin = tuple.__new__, BUILTIN_FILE
        made = []
        for file, line, name, cc, rcc, inline, total in stored:
            file, line, name = str(file), int(line), str(name)
            key = name if file == builtin else f"{file}:{line}({name})"  # function_key
            made.append(new(cls, (file, line, name, int(cc), int(rcc), float(inline),
                                  float(total), key)))
        return made

    def __getnewargs__(self) -> tuple:  # pickle calls __new__ with the seven figures
        return tuple(self)[:7]

    def _replace(self, **changes: Any) -> "FunctionStats":
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


