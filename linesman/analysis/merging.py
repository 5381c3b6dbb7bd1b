"""An endpoint's stored sessions merged for the UI, within a time budget.

A merged profile or a comparison of endpoints may name 500 sessions, and reading
and decoding them all took 12 to 95 s in a server thread the app needs. Here
they are read newest first and added up one at a time (a running sum, not 500
sessions held at once); between two sessions the view's deadline is checked,
and once it has passed the merge stops with what it has, and says so: how many
of the sessions the reference names were merged, and why not all.

Newest first, because a cut merge should show how the endpoint behaves now:
the page says which span of time it covers, and its time range form reaches
the older sessions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linesman.analysis.compare import Comparison, compare_sessions
from linesman.analysis.refs import MERGE_LIMIT, ProfileRef, endpoint_uuids
from linesman.model.endpoint import EndpointRule
from linesman.model.merge import RequestFigures, SessionSum, request_figures
from linesman.model.session import SAMPLED, ProfilingSession, SessionFormatError

if TYPE_CHECKING:
    from linesman.backends.base import Backend

__all__ = ["Deadline", "RefProfile", "Compared", "NothingStored", "compare_refs", "merge_endpoint"]


class Deadline:
    """The moment a view's work stops (on the monotonic clock), ``seconds`` from
    now; ``None`` never passes (the command line's merges)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = None if seconds is None else clock() + seconds

    def passed(self) -> bool:
        return self._end is not None and self._clock() >= self._end

    def share(self, parts: int) -> Deadline:
        """A deadline for the first of ``parts`` pieces of work still to do: an equal
        share of the time left (what it leaves unused, the next piece gets)."""
        if self._end is None or parts <= 1:
            return self
        early = Deadline(max(0.0, self._end - self._clock()) / parts, self._clock)
        early.seconds = self.seconds  # the view's whole budget, as a note names it
        return early


@dataclass(frozen=True)
class RefProfile:
    """The profile a reference names (a session, or an endpoint's sessions added
    up) and how many of the sessions it names made it in."""

    ref: ProfileRef
    profile: ProfilingSession  # the sum, named by the ref
    requests: RequestFigures  # of the sessions merged
    found: int  # the sessions the ref names (its newest MERGE_LIMIT)
    cut: bool  # the deadline stopped the reading before the last of them
    unreadable: int  # stored sessions whose documents did not decode, left out
    budget: float | None  # the view's budget in seconds, for the note

    @property
    def merged(self) -> int:
        return self.requests.requests

    def note(self) -> str | None:
        """Why fewer sessions were merged than the ref names, in a sentence; None
        when nothing was left out."""
        parts = []
        if self.cut:
            budget = f" (view_budget = {self.budget:g} s)" if self.budget is not None else ""
            parts.append(
                f"{self.merged} of {self.found} requests were merged because the view's "
                f"time budget{budget} ran out: these are the newest {self.merged}. "
                "Narrow the time range to merge older ones."
            )
        if self.unreadable:
            were = "was" if self.unreadable == 1 else "were"
            parts.append(
                f"{self.unreadable} stored session{'' if self.unreadable == 1 else 's'} of "
                f"this endpoint could not be read and {were} left out."
            )
        return " ".join(parts) or None


def merge_endpoint(
    backend: Backend,
    ref: ProfileRef,
    rule: EndpointRule,
    limit: int = MERGE_LIMIT,
    deadline: Deadline | None = None,
) -> RefProfile | None:
    """The ref's endpoint's sessions added up, newest first, until ``deadline``
    (at least one is always merged); None if none is stored. Call counts and
    samples do not add up, so only the sessions of the engine most of those read
    used are merged (the newest's on a tie), as ``one_kind`` chooses."""
    deadline = deadline or Deadline(None)
    uuids = endpoint_uuids(backend, ref, rule, limit)
    sums: dict[str, SessionSum] = {}
    newest_kind = ""
    cut = False
    unreadable = 0
    for uuid in uuids:
        if sums and deadline.passed():
            cut = True
            break
        try:
            session = backend.get(uuid)
        except SessionFormatError:
            unreadable += 1
            continue
        if session is None:  # deleted since it was listed
            continue
        kind = session.kind
        newest_kind = newest_kind or kind
        total = sums.get(kind)
        if total is None:
            total = sums[kind] = SessionSum(by_stacks=kind == SAMPLED)
        total.add(session)
    if not sums:
        return None
    chosen = max(sums, key=lambda kind: (sums[kind].count, kind == newest_kind))
    method, _, path = ref.endpoint.partition(" ")
    return RefProfile(
        ref=ref,
        profile=sums[chosen].total(method, path, uuid=str(ref)),
        requests=sums[chosen].figures(),
        found=len(uuids),
        cut=cut,
        unreadable=unreadable,
        budget=deadline.seconds,
    )


def resolve_within(
    backend: Backend,
    ref: ProfileRef,
    rule: EndpointRule,
    limit: int = MERGE_LIMIT,
    deadline: Deadline | None = None,
) -> RefProfile | None:
    """The profile a ref names: its one session, or its endpoint's merged within
    ``deadline``; None if nothing stored matches."""
    if not ref.uuid:
        return merge_endpoint(backend, ref, rule, limit, deadline)
    session = backend.get(ref.uuid)
    if session is None:
        return None
    return RefProfile(ref, session, request_figures([session]), 1, False, 0, None)


class NothingStored(LookupError):
    """A side of a comparison names nothing stored; ``args[0]`` is its name."""


@dataclass(frozen=True)
class Compared:
    """Two profiles compared: the report, and each side (before first)."""

    report: Comparison
    before: RefProfile
    after: RefProfile


def compare_refs(
    backend: Backend,
    refs: list[ProfileRef],
    rule: EndpointRule,
    limit: int = MERGE_LIMIT,
    deadline: Deadline | None = None,
) -> Compared:
    """Two refs (a and b) compared, or NothingStored naming the side that matches
    nothing. Merged sides share the deadline: the first gets half the time left,
    the second the rest. Of two sessions, the earlier is "before"."""
    deadline = deadline or Deadline(None)
    merges_left = sum(1 for ref in refs if not ref.uuid)
    sides = []
    for name, ref in zip("ab", refs, strict=True):
        side = resolve_within(backend, ref, rule, limit, deadline.share(merges_left))
        if side is None:
            raise NothingStored(name)
        sides.append(side)
        merges_left -= not ref.uuid
    before, after = sides
    if before.ref.uuid and after.ref.uuid and before.profile.started > after.profile.started:
        before, after = after, before
    notes = [
        f"{label}: {side.note()}"
        for label, side in (("Before", before), ("After", after))
        if side.note()
    ]
    report = compare_sessions(
        before.profile,
        after.profile,
        before.merged,
        after.merged,
        found=(before.found, after.found),
        cut=" ".join(notes) or None,
    )
    return Compared(report, before, after)
