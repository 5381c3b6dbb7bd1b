"""What a finished request hands to the writer: its raw profile and figures,
turned into a session later, in the writer's thread; and the bytes a record is
charged against ``queue_bytes`` while it waits.

Nothing on the request path can say how big a cProfile is: the number of
functions it holds is known only through ``getstats()``, which for 3,000
functions costs as much again as the request that called them (11 to 21 ms
against 10 to 13 ms here). So a record is charged, when queued, what recent
records of its engine held, as the writer measured them once built; the
writer counts each at its real size once it takes it.
"""

from __future__ import annotations

import operator
from collections import deque
from dataclasses import dataclass
from typing import Any

from linesman.model.request import summarize_environ
from linesman.model.rows import clip_to, stacks_from_samples, stats_from_profile
from linesman.model.session import ProfilingSession, moment
from linesman.profiling.sampling import SampledProfile

__all__ = ["ProfileRecord", "RecordSizes"]

# Bytes the raw profiles hold (tracemalloc, CPython 3.11 to 3.13): cProfile's
# entry per function and per caller/callee pair; the sampler's per distinct
# stack (its key, tuple and figures) and per frame in it (an id in the key and
# the code in the entry).
RAW_ENTRY, RAW_PAIR = 80, 64
RAW_STACK, RAW_FRAME = 320, 16
RAW_BASE = 2000  # the record, its figures, its environ's dict and the profile object
_CALLS = operator.attrgetter("calls")
REMEMBERED = 256  # recent records whose sizes make the next charges
FIRST_STACK_CHARGE = 512  # a raw stack some 20 frames deep, before any was measured


@dataclass(slots=True, eq=False)  # compared to a sentinel in C: no Python __eq__
class ProfileRecord:
    """A finished request's raw profile and figures, before it is a session."""

    profile: Any  # cProfile.Profile, disabled, or the SampledProfile that ran
    environ: dict
    uuid: str | None  # None: the session makes its own (no response header named it)
    timestamp: float
    duration: float
    cpu_time: float
    status: int | None
    response_size: int
    error: str | None
    concurrent: bool
    capture: str | None = None  # the capture window that asked for it
    selected: bool = True  # wanted by the switch and the options too, window or not
    hidden: frozenset = frozenset()  # code of linesman's hooks the app called
    charge: int = 0  # bytes the writer's queue counted it for (RecordSizes.charge)

    def to_session(self) -> ProfilingSession:
        return self.build()[0]

    def build(self, known: dict | None = None) -> tuple[ProfilingSession, int]:
        """The session, and the bytes this record held before it was built;
        ``known`` is the writer's memo of code labels (see ``stats_from_profile``)."""
        summary: dict[str, Any] = dict(
            uuid=self.uuid,
            duration=self.duration,
            cpu_time=self.cpu_time,
            status=self.status,
            response_size=self.response_size,
            error=self.error,
            concurrent=self.concurrent,
        )
        raw = RAW_BASE + text_bytes(self.environ)
        if isinstance(self.profile, SampledProfile):
            sampled = self.profile.stacks
            raw += sum(RAW_STACK + RAW_FRAME * len(codes) for codes, _ in sampled)
            labels, stacks = stacks_from_samples(sampled)
            session = ProfilingSession(
                environ=self.environ,
                timestamp=moment(self.timestamp),
                stacks=stacks,
                labels=labels,
                interval=self.profile.interval,
                **summary,
            )
            return session, raw
        entries = self.profile.getstats()
        pairs = sum(map(len, filter(None, map(_CALLS, entries))))
        raw += RAW_ENTRY * len(entries) + RAW_PAIR * pairs
        # From 3.12 on cProfile hears the threads a request starts, too: no figure
        # may say more than the request's own time (clip_to).
        kept, clipped = clip_to(entries, self.duration)
        functions, calls = stats_from_profile(kept, known, self.hidden)
        session = ProfilingSession.from_rows(
            functions=functions,
            calls=calls,
            started=self.timestamp,
            timestamp=moment(self.timestamp),
            clipped=clipped,
            **summarize_environ(self.environ),
            **summary,
        )
        return session, raw


def text_bytes(environ: dict) -> int:
    """The characters of the request's text a record keeps (bounded by the middleware)."""
    return sum(map(len, environ.values()))


class RecordSizes:
    """What a record is charged against ``queue_bytes`` when it is queued.

    A record waits first raw, in the queue, then as a session, in the backlog,
    and the session is mostly the larger (a cProfile of 3,000 functions holds
    0.42 MB, its session 1.4 MB, counted 3 MB by ``approximate_size``), so it is
    charged what it will hold at most: what counts against the bound is then
    the same from the request to the store, and a record the request admits
    does not have to be built only to be refused. The charge is the largest
    among the last ``REMEMBERED`` records built, of the request's text
    (counting it on the request path would cost a microsecond) and of the rest,
    per engine; a sampled record with more stacks than those had is charged at
    least its raw stacks, at the most bytes a stack held. The writer learns
    these from each record it builds (:meth:`learn`).

    Until the writer has built a record of an engine (it waits for a quiet
    moment, up to a second, before its first) such records are charged
    ``first``: ``queue_bytes / queue_size`` makes the count the only bound then.
    """

    def __init__(self, first: int) -> None:
        self._text = RecentMax(RAW_BASE)
        self._cprofile = RecentMax(max(0, first - RAW_BASE))
        self._sampled = RecentMax(max(0, first - RAW_BASE))
        self._per_stack = RecentMax(FIRST_STACK_CHARGE)  # raw, per distinct stack
        # What the request path reads: plain numbers, added up by the writer.
        self.cprofile = self.sampled = max(first, RAW_BASE)
        self.text, self.per_stack = RAW_BASE, FIRST_STACK_CHARGE

    def charge(self, record: ProfileRecord) -> int:
        """The record's charge: a few attribute reads, for the request path."""
        profile = record.profile
        if isinstance(profile, SampledProfile):
            stacks = self.text + self.per_stack * profile.stack_count
            return stacks if stacks > self.sampled else self.sampled
        return self.cprofile

    def learn(self, record: ProfileRecord, raw: int, session: int) -> None:
        """The writer built ``record``: its raw profile held ``raw`` bytes (as
        :meth:`ProfileRecord.build` counts them), its session ``session``."""
        text = RAW_BASE + 2 * text_bytes(record.environ)  # its raw strings, or the session's
        self.text = self._text.add(text)
        rest = max(0, max(raw, session) - text)
        if isinstance(record.profile, SampledProfile):
            self._sampled.add(rest)
            stacks = max(0, raw - RAW_BASE - text_bytes(record.environ))
            self.per_stack = self._per_stack.add(-(-stacks // max(1, record.profile.stack_count)))
        else:
            self._cprofile.add(rest)
        self.cprofile = self.text + self._cprofile.value
        self.sampled = self.text + self._sampled.value


class RecentMax:
    """The largest of the last ``REMEMBERED`` values added; ``first`` before any."""

    def __init__(self, first: int) -> None:
        self.value = first
        self._values: deque[int] = deque(maxlen=REMEMBERED)

    def add(self, value: int) -> int:
        """Add ``value``; the largest now (the first guess is forgotten at once)."""
        self._values.append(value)
        self.value = max(self._values)
        return self.value
