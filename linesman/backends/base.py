"""The storage contract every backend fulfils.

The seven methods are the original linesman's documented API, so a backend
written for it (or by a user against these seven alone) keeps working. The
richer methods below them are what the UI and the middleware call; their
default implementations are built on the seven, and the bundled backends
override them with queries that never decode a stored session to list it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from linesman.backends.process_controls import ProcessControls
from linesman.backends.row_check import SUMMARY_FIELDS, session_problem, summary_of_session
from linesman.model.codec import encode_session
from linesman.model.session import capped_text

if TYPE_CHECKING:
    from linesman.model.session import ProfilingSession

__all__ = [
    "Backend",
    "BackendError",
    "SessionRefused",
    "SessionQuery",
    "SessionSummary",
    "SORT_KEYS",
    "SUMMARY_FIELDS",
    "storable_text",
    "storable_document",
]

# One value per SUMMARY_FIELDS name (what a listing shows of a session; stores keep
# these as columns beside the document), checked as it is read (see row_check): a
# row that is not sound has a "damaged" reason beside values of the right types.
SessionSummary = dict
SORT_KEYS = ("timestamp", "duration", "path", "status")
PATH_LENGTH = 700  # a stored path's column: indexable everywhere (MariaDB: 3072 bytes)
QUERY_LENGTH = 8000  # a stored query's column (MariaDB's TEXT takes 65,535 bytes)


@dataclass(frozen=True)
class SessionQuery:
    """Which sessions a listing shows, and in what order (the list page's filters)."""

    path_contains: str = ""
    method: str = ""
    status: int | None = None
    min_duration: float = 0.0
    capture: str = ""  # the id of a capture window: only the sessions it caught
    sort: str = "timestamp"
    descending: bool = True

    def __post_init__(self) -> None:
        # Stored paths hold a NUL as %00 (see storable_text); so does the filter.
        object.__setattr__(self, "path_contains", self.path_contains.replace("\0", "%00"))
        if self.sort not in SORT_KEYS:
            raise ValueError(f"cannot sort by {self.sort!r}")

    @property
    def filters(self) -> bool:
        return bool(
            self.path_contains
            or self.method
            or self.status is not None
            or self.min_duration
            or self.capture
        )

    def matches(self, summary: SessionSummary) -> bool:
        if (
            self.path_contains
            and self.path_contains.casefold() not in str(summary.get("path", "")).casefold()
        ):
            return False
        if self.method and summary.get("method") != self.method:
            return False
        if self.status is not None and summary.get("status") != self.status:
            return False
        return not (self.min_duration and (summary.get("duration") or 0.0) < self.min_duration)

    def order(self, summaries: list[SessionSummary]) -> list[SessionSummary]:
        def key(summary: SessionSummary) -> tuple[Any, ...]:
            value = summary.get(self.sort)
            return (
                value is not None,
                value if value is not None else 0,
                summary.get("timestamp") or 0.0,
            )

        return sorted(summaries, key=key, reverse=self.descending)


class BackendError(RuntimeError):
    """The store cannot be used: unreachable, damaged, or refusing a write."""


class SessionRefused(BackendError):
    """The store answers, but refuses this session for what it holds (a value its
    column cannot take): retrying cannot help, so the writer drops it and goes on."""


def storable_text(text: str, limit: int) -> str:
    """Text any store takes: NUL (which PostgreSQL refuses) written as ``%00``, as
    the client sent it, and at most ``limit`` characters, cut with a marker."""
    return capped_text(text.replace("\0", "%00") if "\0" in text else text, limit)


def storable_document(session: ProfilingSession) -> bytes:
    """The session's stored document; SessionRefused for a session whose row would
    read back as damaged (a NaN or negative time, say) or that does not encode."""
    problem = session_problem(session)
    if problem is None:
        try:
            return encode_session(session)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
    raise SessionRefused(f"session {session.uuid!r} cannot be stored: {problem}")


class Backend(ProcessControls):
    """Base class of a session store. Subclasses implement the seven methods.

    The writer thread calls ``add`` and the delete methods, the UI and the
    command line the readers, from any thread: a store is shared by threads
    (and, for the bundled ones, by processes). A method that cannot reach the
    store raises; the writer keeps the sessions and retries, the UI shows the
    trouble. Everything beyond the seven has a default built on them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Takes anything, as the original's did, so a subclass may pass its own
        options up through ``super().__init__``; the base keeps none of them."""

    # -- the documented seven ------------------------------------------------
    def setup(self) -> None:
        """Prepare the store (create tables, open files); called once at start-up,
        before any other method, and safe to call when the store already exists."""
        raise NotImplementedError

    def add(self, session: ProfilingSession) -> None:
        """Store one :class:`~linesman.model.session.ProfilingSession`; storing a
        session whose ``uuid`` is already stored replaces it."""
        raise NotImplementedError

    def get(self, session_uuid: str) -> ProfilingSession | None:
        """The session with that id (equal to the one added), or None when there is
        none."""
        raise NotImplementedError

    def get_all(self) -> OrderedDict[str, ProfilingSession]:
        """Every session, as an ordered mapping uuid -> session, oldest first."""
        raise NotImplementedError

    def delete(self, session_uuid: str) -> int:
        """Remove one session; 1 if it was there, else 0 (an unknown id is no error)."""
        raise NotImplementedError

    def delete_many(self, session_uuids: Iterable[str]) -> int:
        """Remove several sessions; the number removed (unknown ids are skipped)."""
        raise NotImplementedError

    def delete_all(self) -> int:
        """Remove every session; the number removed."""
        raise NotImplementedError

    # -- richer calls, with defaults on top of the seven ---------------------
    def add_many(self, sessions: list[ProfilingSession]) -> None:
        """Store several sessions; stores override it to use one transaction."""
        for session in sessions:
            self.add(session)

    def summaries(self) -> list[SessionSummary]:
        """Every session's summary, oldest first; stores override it not to decode."""
        return [summary_of_session(session) for session in self.get_all().values()]

    def endpoint_rows(self) -> list[tuple]:
        """``(method, path, duration, failed, status, timestamp)`` of every session:
        all the endpoints page needs; stores override it to read six columns, not
        whole rows (the endpoints page also takes the first four alone). The
        figures check each (``row_check.sound_endpoint_rows``); a damaged row's
        duration is None here, so they count it as damaged and leave it out."""
        return [
            (
                row["method"],
                row["path"],
                None if row.get("damaged") else row["duration"],
                row.get("failed"),
                row.get("status"),
                row.get("timestamp"),
            )
            for row in self.summaries()
        ]

    def count(self, query: SessionQuery | None = None, limit: int | None = None) -> int:
        """How many sessions the query selects; at most ``limit``, which stores use
        to stop counting early (a listing needs no exact figure past some point)."""
        if query is None or not query.filters:
            found = len(self.summaries())
        else:
            found = len(self._selected(query))
        return found if limit is None else min(found, limit)

    def _selected(self, query: SessionQuery) -> list[SessionSummary]:
        caught = set(self.captured_uuids(query.capture)) if query.capture else None
        return [
            summary
            for summary in self.summaries()
            if query.matches(summary) and (caught is None or summary["uuid"] in caught)
        ]

    def list_summaries(
        self, offset: int = 0, limit: int = 50, query: SessionQuery | None = None
    ) -> list[SessionSummary]:
        """A page of the summaries ``query`` selects, newest first by default."""
        query = query or SessionQuery()
        chosen = query.order(self._selected(query))
        return chosen[offset:] if limit < 0 else chosen[offset : offset + limit]

    def delete_matching(self, query: SessionQuery) -> int:
        """Remove every session the query selects; the number removed."""
        if not query.filters:
            return self.delete_all()
        return self.delete_many([summary["uuid"] for summary in self._selected(query)])

    def prune(self, keep: int) -> int:
        """Keep the newest ``keep`` sessions; the number removed."""
        sessions = list(self.get_all())
        excess = len(sessions) - keep
        return self.delete_many(sessions[:excess]) if excess > 0 else 0

    def prune_older(self, before: float) -> int:
        """Remove sessions stored before the ``before`` timestamp; the number removed."""
        return self.delete_many(
            [
                summary["uuid"]
                for summary in self.summaries()
                if (summary.get("timestamp") or 0.0) < before
            ]
        )

    # -- capture windows (see linesman.model.capture) --------------------------------
    # The defaults keep windows in this process only, like the switch above; the
    # bundled SQL stores keep them in tables, shared by every process.

    def close(self) -> None:
        """Release connections and files; the default has none."""

    def describe(self) -> str:
        """Where the sessions go, for logs and the UI."""
        return type(self).__name__
