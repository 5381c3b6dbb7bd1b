"""Two profiles compared function by function: what appeared, vanished or
changed, per request where a side is merged, by share where the engines differ."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from linesman.model.callgraph import profile_total
from linesman.model.rows import BUILTIN_FILE, FunctionStats
from linesman.model.session import ProfilingSession

if TYPE_CHECKING:
    pass


__all__ = ["FunctionChange", "Comparison", "compare_sessions", "one_kind"]


def one_kind(sessions: list[ProfilingSession]) -> list[ProfilingSession]:
    """The sessions made by the engine most of them were made by (the newest's on
    a tie): call counts and samples do not add up."""
    kinds = [session.kind for session in sessions]
    if len(set(kinds)) < 2:
        return sessions
    newest = max(sessions, key=lambda session: session.started).kind
    chosen = max(set(kinds), key=lambda kind: (kinds.count(kind), kind == newest))
    return [session for session in sessions if session.kind == chosen]


def _self_time(session: ProfilingSession) -> dict[str, float]:
    """Own time with the built-ins a function called counted as its own: a loop's clock
    reads or a handler's sleep are that function's doing."""
    builtin = {f.key for f in session.functions if f.file == BUILTIN_FILE}
    own = {f.key: f.inlinetime for f in session.functions}
    for call in session.calls:
        if call.callee in builtin and call.caller in own and call.caller not in builtin:
            own[call.caller] += call.totaltime
    return own


class FunctionChange(TypedDict):
    """One function's row of a comparison (per request where a side is merged;
    shares of the profile's time where ``basis`` is ``share``)."""

    function: str  # its key
    name: str
    file: str
    line: int
    status: str  # appeared, vanished or changed
    cumtime_before: float
    cumtime_after: float
    cumtime_change: float
    tottime_change: float
    selftime_before: float  # own time, with the built-ins it called
    selftime_after: float
    selftime_change: float
    calls_before: float | None  # None where calls cannot compare (basis share)
    calls_after: float | None


class Comparison(TypedDict):
    """A comparison, as the API answers it and the page draws it."""

    before: str
    after: str
    basis: str  # time, or share where the two engines differ
    kinds: list[str]
    sessions_before: int  # the sessions each side adds up
    sessions_after: int
    sessions_before_found: int  # the sessions each side names (fewer merged when cut)
    sessions_after_found: int
    cut: str | None  # why a side merged fewer sessions than it names, or None
    duration_before: float
    duration_after: float
    duration_change: float
    functions: list[FunctionChange]  # largest change of own time first


def compare_sessions(
    before: ProfilingSession,
    after: ProfilingSession,
    before_count: int = 1,
    after_count: int = 1,
    *,
    found: tuple[int, int] | None = None,
    cut: str | None = None,
) -> Comparison:
    """Function by function, what changed from ``before`` to ``after``, largest first.

    A side that is a merge of several sessions counts per request (its figures
    divided by ``*_count``), so 500 requests last week compare fairly with 20
    today. A cProfile profile and a sampled one compare by time shares (each
    figure as a fraction of its own profile's time): ``basis`` says which.
    ``found`` is how many sessions each side names (its count unless a merge
    was cut short), ``cut`` the sentence that says why."""
    by_share = before.kind != after.kind
    old = {f.key: f for f in before.functions}
    new = {f.key: f for f in after.functions}
    old_self, new_self = _self_time(before), _self_time(after)

    def per(value: float, count: int) -> float:
        return value / count if count > 1 else value

    per_before, per_after = before_count, after_count  # what function figures divide by
    if by_share:  # times as shares of their own side; calls are not comparable
        before_total, after_total = profile_total(before) or 1.0, profile_total(after) or 1.0
        old_self = {key: value / before_total for key, value in old_self.items()}
        new_self = {key: value / after_total for key, value in new_self.items()}
        old = {key: _as_share(f, before_total) for key, f in old.items()}
        new = {key: _as_share(f, after_total) for key, f in new.items()}
        per_before = per_after = 1

    rows: list[FunctionChange] = []
    for key in old.keys() | new.keys():
        a, b = old.get(key), new.get(key)
        sample = b or a
        assert sample is not None  # the key came from one side
        cum_a = per(a.totaltime, per_before) if a else 0.0
        cum_b = per(b.totaltime, per_after) if b else 0.0
        self_a = per(old_self.get(key, 0.0), per_before)
        self_b = per(new_self.get(key, 0.0), per_after)
        rows.append(
            FunctionChange(
                function=key,
                name=sample.name,
                file=sample.file,
                line=sample.line,
                status="appeared" if a is None else "vanished" if b is None else "changed",
                cumtime_before=cum_a,
                cumtime_after=cum_b,
                cumtime_change=cum_b - cum_a,
                tottime_change=(per(b.inlinetime, per_after) if b else 0.0)
                - (per(a.inlinetime, per_before) if a else 0.0),
                selftime_before=self_a,
                selftime_after=self_b,
                selftime_change=self_b - self_a,
                calls_before=None if by_share else per(a.callcount, per_before) if a else 0,
                calls_after=None if by_share else per(b.callcount, per_after) if b else 0,
            )
        )
    # Own time first (built-ins counted with their caller): a slowed function and all
    # its callers gain the same cumulative time, but only the function itself gains
    # own time. On a tie the Python function comes before the built-in it called.
    rows.sort(
        key=lambda row: (
            abs(row["selftime_change"]),
            row["file"] != BUILTIN_FILE,
            abs(row["cumtime_change"]),
        ),
        reverse=True,
    )
    duration_before = per(before.duration, before_count)
    duration_after = per(after.duration, after_count)
    return Comparison(
        before=before.uuid,
        after=after.uuid,
        basis="share" if by_share else "time",
        kinds=[before.kind, after.kind],
        sessions_before=before_count,
        sessions_after=after_count,
        sessions_before_found=found[0] if found else before_count,
        sessions_after_found=found[1] if found else after_count,
        cut=cut,
        duration_before=duration_before,
        duration_after=duration_after,
        duration_change=duration_after - duration_before,
        functions=rows,
    )


def _as_share(function: FunctionStats, total: float) -> FunctionStats:
    return FunctionStats(
        function.file,
        function.line,
        function.name,
        function.callcount,
        function.reccallcount,
        function.inlinetime / total,
        function.totaltime / total,
    )
