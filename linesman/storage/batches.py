"""Storing one batch of waiting sessions: in one transaction where the store
takes them all, one by one where it refuses one for what it holds (only that
one is lost), and through the capture window's count for those a window caught.
An outage raises, and the writer keeps the batch for its next try."""

from __future__ import annotations

import functools
from collections.abc import Callable

from linesman.backends.base import Backend, BackendError, SessionRefused
from linesman.model.session import ProfilingSession
from linesman.storage.backlog import Waiting
from linesman.storage.health import Health

__all__ = ["BatchStore"]


class BatchStore:
    """Stores batches into ``backend``, counting what is lost in ``health``."""

    def __init__(self, backend: Backend, health: Health) -> None:
        self.backend = backend
        self.health = health

    def store(self, batch: list[Waiting]) -> int:
        """Store the batch; how many sessions were stored. A session a capture
        window asked for is stored only if the window still has room (the store
        decides), or if it was wanted anyway."""
        stored = 0
        plain = [waiting.session for waiting in batch if waiting.capture is None]
        if plain:
            stored += self._store_plain(plain)
        for waiting in batch:
            if waiting.capture is None:
                continue
            kept = self._store_alone(
                functools.partial(self._store_captured, waiting), waiting.session
            )
            if kept:
                stored += 1
            elif kept is False:
                self.health.count("skipped.capture_closed")
        return stored

    def _store_captured(self, waiting: Waiting) -> bool:
        assert waiting.capture is not None  # only captured sessions come here
        if self.backend.add_captured(waiting.session, waiting.capture):
            return True
        if waiting.selected:
            self.backend.add(waiting.session)
            return True
        return False

    def _store_plain(self, sessions: list[ProfilingSession]) -> int:
        try:
            self.backend.add_many(sessions)
        except SessionRefused:
            return self._store_one_by_one(sessions)
        except BackendError:
            raise
        except Exception:  # a bug in the backend: each alone, so only its victims are lost
            return sum(
                1
                for session in sessions
                if self._store_alone(functools.partial(self.backend.add, session), session)
            )
        return len(sessions)

    def _store_one_by_one(self, sessions: list[ProfilingSession]) -> int:
        """A batch the store refused for what one of them holds: each alone, so only
        the sessions it refuses are lost, and storage goes on after them. (An outage
        on the way raises; storing again later replaces, never duplicates.)"""
        stored = 0
        for session in sessions:
            try:
                self.backend.add(session)
            except SessionRefused as exc:
                self._refused(session, exc)
                continue
            stored += 1
        return stored

    def _refused(self, session: ProfilingSession, exc: Exception) -> None:
        self._lost("refused_by_store", session, exc)
        self.health.problem(
            "refused",
            "linesman: the store refused a session for its content and it was dropped (%s %s): %s",
            session.method,
            session.path[:200].encode("unicode_escape").decode(),
            exc,
        )

    def _lost(self, reason: str, session: ProfilingSession | None, exc: Exception) -> None:
        """Count a session the store did not take, and say why on the list page (the
        store's error banner is cleared by the next batch it takes)."""
        self.health.count(f"lost.{reason}")
        what = "" if session is None else f"{session.method} {session.path[:200]}: "
        self.health.last_lost = f"{what}{type(exc).__name__}: {str(exc)[:500]}"

    def _store_alone(
        self, store: Callable[[], bool | None], session: ProfilingSession | None = None
    ) -> bool | None:
        """One session's store call: whether it was stored, or None when the backend
        failed on it (a bug, not an outage: that session alone is lost, counted)."""
        try:
            return store() is not False
        except SessionRefused as exc:
            if session is not None:
                self._refused(session, exc)
            return None
        except BackendError:
            raise
        except Exception as exc:
            self._lost("store_error", session, exc)
            self.health.problem(
                "add", "linesman: the backend failed to store a session", exc_info=True
            )
            return None
