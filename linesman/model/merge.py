"""Sessions added up into one profile: every figure the sum of theirs, shown
like a single session (an endpoint's requests, one side of a comparison)."""

from __future__ import annotations

import statistics
from typing import Any, NamedTuple

from linesman.model.rows import CallStats, FunctionStats, StackStats
from linesman.model.session import SAMPLED, ProfilingSession

__all__ = ["merge_sessions", "request_figures", "RequestFigures", "percentile"]


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


def request_figures(sessions: list[ProfilingSession]) -> RequestFigures:
    """The figures of the requests a merge adds up."""
    durations = sorted(session.duration for session in sessions)
    sizes = sorted(session.response_size for session in sessions)
    times = [session.timestamp for session in sessions]
    return RequestFigures(
        len(sessions),
        min(times),
        max(times),
        statistics.median(durations),
        percentile(durations, 0.95),
        statistics.median(sizes),
        percentile(sizes, 0.95),
    )


def merge_sessions(
    sessions: list[ProfilingSession], method: str, path: str, uuid: str | None = None
) -> ProfilingSession:
    """One profile whose every figure is the sum of the sessions' figures; sampled
    sessions add up their stacks, so the merged tree is still exact."""
    if sessions and all(session.kind == SAMPLED for session in sessions):
        return _merge_stacks(sessions, method, path, uuid)
    if len(sessions) == 1:  # nothing to add up: the rows as they are (immutable)
        functions, calls = sessions[0].functions, sessions[0].calls
    else:
        functions, calls = _summed_rows(sessions)
    return ProfilingSession.from_rows(
        functions=functions,
        calls=calls,
        method=method,
        path=path,
        uuid=uuid,
        timestamp=max((s.timestamp for s in sessions), default=None),
        duration=sum(s.duration for s in sessions),
        cpu_time=sum(s.cpu_time for s in sessions),
        response_size=sum(s.response_size for s in sessions),
    )


def _summed_rows(sessions: list[ProfilingSession]) -> tuple[list, list]:
    """Each function's and each caller/callee pair's figures, added up."""
    functions: dict[str, list] = {}
    labels: dict[str, tuple[str, int, str]] = {}
    calls: dict[tuple[str, str], list] = {}
    for session in sessions:
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
    return (
        [FunctionStats(*labels[key], *figures) for key, figures in functions.items()],
        [CallStats(caller, callee, *figures) for (caller, callee), figures in calls.items()],
    )


def _merge_stacks(
    sessions: list[ProfilingSession], method: str, path: str, uuid: str | None
) -> ProfilingSession:
    labels: dict = {}
    stacks: dict[tuple[str, ...], list] = {}
    for session in sessions:
        labels.update(session.labels())
        for stack in session.stacks or ():
            figures = stacks.setdefault(stack.frames, [0, 0.0])
            figures[0] += stack.samples
            figures[1] += stack.time
    intervals = {session.interval for session in sessions}
    return ProfilingSession(
        environ={"REQUEST_METHOD": method, "PATH_INFO": path},
        uuid=uuid,
        timestamp=max(s.timestamp for s in sessions),
        duration=sum(s.duration for s in sessions),
        cpu_time=sum(s.cpu_time for s in sessions),
        response_size=sum(s.response_size for s in sessions),
        stacks=[
            StackStats(frames, samples, seconds) for frames, (samples, seconds) in stacks.items()
        ],
        labels=labels,
        interval=intervals.pop() if len(intervals) == 1 else None,
    )
