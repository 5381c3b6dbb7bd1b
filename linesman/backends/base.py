"""The storage contract every backend fulfils.

The seven methods are the original linesman's documented API, so a backend
written for it (or by a user against these seven alone) keeps working. The
richer methods below them are what the UI and the middleware call; their
default implementations are built on the seven, and the bundled backends
override them with queries that never decode a stored session to list it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from linesman.session import ProfilingSession

__all__ = ["Backend", "BackendError", "SessionSummary"]

SessionSummary = dict  # uuid, timestamp, method, path, query, status, duration, cpu_time, failed


class BackendError(RuntimeError):
    """The store cannot be used: unreachable, damaged, or refusing a write."""


class Backend:
    """Base class of a session store. Subclasses implement the seven methods."""

    # -- the documented seven ------------------------------------------------
    def setup(self) -> None:
        """Prepare the store (create tables, open files); called once at start-up."""
        raise NotImplementedError

    def add(self, session: "ProfilingSession") -> None:
        """Store one session."""
        raise NotImplementedError

    def get(self, session_uuid: str) -> "ProfilingSession | None":
        """The session with that id, or None when there is none."""
        raise NotImplementedError

    def get_all(self) -> "OrderedDict[str, ProfilingSession]":
        """Every session, uuid -> session, oldest first."""
        raise NotImplementedError

    def delete(self, session_uuid: str) -> int:
        """Remove one session; 1 if it was there, else 0."""
        raise NotImplementedError

    def delete_many(self, session_uuids: Iterable[str]) -> int:
        """Remove several sessions; the number removed."""
        raise NotImplementedError

    def delete_all(self) -> int:
        """Remove every session; the number removed."""
        raise NotImplementedError

    # -- richer calls, with defaults on top of the seven ---------------------
    def count(self) -> int:
        return len(self.get_all())

    def list_summaries(self, offset: int = 0, limit: int = 50,
                       newest_first: bool = True) -> list[SessionSummary]:
        """A page of session summaries, newest first by default."""
        sessions = list(self.get_all().values())
        if newest_first:
            sessions.reverse()
        return [session.summary() for session in sessions[offset:offset + limit]]

    def prune(self, keep: int) -> int:
        """Keep the newest ``keep`` sessions; the number removed."""
        sessions = list(self.get_all())
        excess = len(sessions) - keep
        return self.delete_many(sessions[:excess]) if excess > 0 else 0

    def get_enabled(self) -> bool | None:
        """The shared on/off switch, or None when it was never set."""
        return getattr(self, "_linesman_enabled", None)

    def set_enabled(self, enabled: bool) -> None:
        # A store without a settings table keeps the switch for this process only.
        self._linesman_enabled = bool(enabled)

    def close(self) -> None:
        """Release connections and files; the default has none."""

    def describe(self) -> str:
        """Where the sessions go, for logs and the UI."""
        return type(self).__name__
