"""Sessions added up into one profile: every figure the sum of theirs, shown
like a single session (an endpoint's requests, one side of a comparison).

:class:`SessionSum` adds them one at a time, so a merge holds one running sum
rather than every session it read, and can stop between two sessions (the web
layer's time budget); :func:`merge_sessions` is the same for a list."""

from __future__ import annotations

import statistics
from typing import Any, NamedTuple

from linesman.model.rows import CallStats, FunctionStats, StackStats
from linesman.model.session import SAMPLED, ProfilingSession, moment

__all__ = ["merge_sessions", "request_figures", "RequestFigures", "SessionSum", "percentile"]


class RequestFigures(NamedTuple):
    """What a merged profile's sums cannot say: how many requests, over what time,
    and each request's typical and slow wall time and response size."""

    requests: int
    first: float
    last: float
    median_duration: float
    p95_duration: float
    median_size: float
    p95_size: float


def percentile(ordered: list, share: float) -> Any:
    """Nearest-rank percentile of sorted values (``share`` 0.95 for the 95th)."""
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def _figures(durations: list[float], sizes: list[int], times: list[float]) -> RequestFigures:
    durations, sizes = sorted(durations), sorted(sizes)
    return RequestFigures(
        len(durations),
        min(times),
        max(times),
        statistics.median(durations),
        percentile(durations, 0.95),
        statistics.median(sizes),
        percentile(sizes, 0.95),
    )


def request_figures(sessions: list[ProfilingSession]) -> RequestFigures:
    """The figures of the requests a merge adds up."""
    return _figures(
        [session.duration for session in sessions],
        [session.response_size for session in sessions],
        [session.started for session in sessions],
    )


class SessionSum:
    """A running sum of sessions, added one at a time. ``by_stacks`` adds up
    sampled sessions' stacks (so the merged tree is still exact); otherwise the
    function and caller/callee rows are added up. A session is not kept once
    added: only the sums and each request's three figures are."""

    def __init__(self, by_stacks: bool = False) -> None:
        self.by_stacks = by_stacks
        self.count = 0
        self._only: ProfilingSession | None = None  # the one session, while there is one
        self._functions: dict[str, list] = {}
        self._labels: dict[str, Any] = {}
        self._calls: dict[tuple[str, str], list] = {}
        self._stacks: dict[tuple[str, ...], list] = {}
        self._intervals: set[float | None] = set()
        self._durations: list[float] = []
        self._sizes: list[int] = []
        self._times: list[float] = []
        self._cpu_time = 0.0

    def add(self, session: ProfilingSession) -> None:
        self.count += 1
        self._only = session if self.count == 1 else None
        self._durations.append(session.duration)
        self._sizes.append(session.response_size)
        self._times.append(session.started)
        self._cpu_time += session.cpu_time
        if self.by_stacks:
            self._add_stacks(session)
        else:
            self._add_rows(session)

    def _add_rows(self, session: ProfilingSession) -> None:
        functions, labels, calls = self._functions, self._labels, self._calls
        for function in session.functions:
            labels.setdefault(function.key, (function.file, function.line, function.name))
            figures = functions.setdefault(function.key, [0, 0, 0.0, 0.0])
            figures[0] += function.callcount
            figures[1] += function.reccallcount
            figures[2] += function.inlinetime
            figures[3] += function.totaltime
        for call in session.calls:
            figures = calls.setdefault((call.caller, call.callee), [0, 0, 0.0, 0.0])
            figures[0] += call.callcount
            figures[1] += call.reccallcount
            figures[2] += call.inlinetime
            figures[3] += call.totaltime

    def _add_stacks(self, session: ProfilingSession) -> None:
        self._labels.update(session.labels())
        for stack in session.stacks or ():
            figures = self._stacks.setdefault(stack.frames, [0, 0.0])
            figures[0] += stack.samples
            figures[1] += stack.time
        self._intervals.add(session.interval)

    def figures(self) -> RequestFigures:
        """The requests' figures (at least one session must have been added)."""
        return _figures(self._durations, self._sizes, self._times)

    def total(self, method: str, path: str, uuid: str | None = None) -> ProfilingSession:
        """The sum as one profile, named ``method path``."""
        started = max(self._times, default=None)
        duration, size = sum(self._durations), sum(self._sizes)
        if self.by_stacks:
            intervals = set(self._intervals)
            return ProfilingSession(
                environ={"REQUEST_METHOD": method, "PATH_INFO": path},
                uuid=uuid,
                timestamp=None if started is None else moment(started),
                duration=duration,
                cpu_time=self._cpu_time,
                response_size=size,
                stacks=[
                    StackStats(frames, samples, seconds)
                    for frames, (samples, seconds) in self._stacks.items()
                ],
                labels=self._labels,
                interval=intervals.pop() if len(intervals) == 1 else None,
            )
        if self._only is not None:  # nothing to add up: the rows as they are (immutable)
            functions, calls = self._only.functions, self._only.calls
        else:
            functions = [
                FunctionStats(*self._labels[key], *figures)
                for key, figures in self._functions.items()
            ]
            calls = [
                CallStats(caller, callee, *figures)
                for (caller, callee), figures in self._calls.items()
            ]
        return ProfilingSession.from_rows(
            functions=functions,
            calls=calls,
            method=method,
            path=path,
            uuid=uuid,
            started=started,
            duration=duration,
            cpu_time=self._cpu_time,
            response_size=size,
        )


def merge_sessions(
    sessions: list[ProfilingSession], method: str, path: str, uuid: str | None = None
) -> ProfilingSession:
    """One profile whose every figure is the sum of the sessions' figures; sampled
    sessions add up their stacks, so the merged tree is still exact."""
    total = SessionSum(by_stacks=bool(sessions) and all(s.kind == SAMPLED for s in sessions))
    for session in sessions:
        total.add(session)
    return total.total(method, path, uuid)
