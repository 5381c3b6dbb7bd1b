"""The control store's defaults for a backend that has none of its own (one
written against the original's seven methods): the switch, the secret and the
capture windows are kept in this process only. The bundled stores keep them in
tables, shared by every process."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from linesman.model.capture import CaptureWindow
from linesman.signing import new_secret

if TYPE_CHECKING:
    from linesman.model.session import ProfilingSession


class ProcessControls:
    """The switch, the secret and capture windows, in this process only."""

    add: Callable[[ProfilingSession], None]
    shares_counters = False  # the counters below are this process's own

    def add_counters(self, counts: Mapping[str, int]) -> None:
        """Add to the counters every process sharing the store sums into
        (profiled, stored, skipped.<reason>)."""
        lock, _, _ = self._local_captures()
        with lock:
            self.__dict__.setdefault("_linesman_counters", Counter()).update(counts)

    def read_counters(self) -> dict[str, int]:
        """The counters summed by every process that shares the store."""
        lock, _, _ = self._local_captures()
        with lock:
            return dict(self.__dict__.get("_linesman_counters", {}))

    def get_enabled(self) -> bool | None:
        """The shared on/off switch, or None when it was never set."""
        return getattr(self, "_linesman_enabled", None)

    def set_enabled(self, enabled: bool) -> None:
        # A store without a settings table keeps the switch for this process only.
        self._linesman_enabled = bool(enabled)

    def get_secret(self) -> bytes:
        """The store's random secret, made on first use: every process sharing the
        store signs the UI's login and forms with it (see linesman.signing)."""
        secret = self.__dict__.get("_linesman_secret")
        if secret is None:  # a store without a settings table: this process only
            secret = self.__dict__.setdefault("_linesman_secret", new_secret())
        return secret

    def set_secret(self, secret: bytes) -> None:
        """A new secret, for this process only (a store without a settings table
        has no secret other processes read: each process's is its own)."""
        self.__dict__["_linesman_secret"] = bytes(secret)

    def _local_captures(
        self,
    ) -> tuple[threading.Lock, dict[str, CaptureWindow], dict[str, list[str]]]:
        state = self.__dict__.get("_linesman_captures")
        if state is None:
            state = self.__dict__.setdefault("_linesman_captures", (threading.Lock(), {}, {}))
        return state

    def start_capture(self, window: CaptureWindow) -> None:
        """Arm a window."""
        lock, windows, _ = self._local_captures()
        with lock:
            windows[window.id] = window

    def captures(self, limit: int = 20) -> list[CaptureWindow]:
        """The newest windows, open or ended, newest first."""
        _, windows, _ = self._local_captures()
        return sorted(windows.values(), key=lambda window: window.created, reverse=True)[:limit]

    def open_captures(self) -> list[CaptureWindow]:
        """The windows still catching, read by every process with the switch."""
        now = time.time()
        return [window for window in self.captures(10_000) if window.is_open(now)]

    def stop_capture(self, window_id: str) -> bool:
        """End a window now; False if there is no such window or it had ended."""
        lock, windows, _ = self._local_captures()
        with lock:
            window = windows.get(window_id)
            if window is None or window.ended is not None:
                return False
            windows[window_id] = window.stopped(time.time())
        return True

    def add_captured(self, session: ProfilingSession, window_id: str) -> bool:
        """Store a session caught by a window, and count it, if the window still
        has room; False (nothing stored) if not. Stores do both in one transaction,
        so a window of N holds exactly N however many processes race."""
        lock, windows, caught = self._local_captures()
        with lock:
            window = windows.get(window_id)
            now = time.time()
            if session.uuid in caught.get(window_id, ()):
                return True  # stored by an earlier try
            if window is None or not window.is_open(now):
                return False
            self.add(session)
            windows[window_id] = window.caught_one(now)
            caught.setdefault(window_id, []).append(session.uuid)
        return True

    def captured_uuids(self, window_id: str) -> list[str]:
        """The ids of the sessions a window caught (some may have been deleted since)."""
        _, _, caught = self._local_captures()
        return list(caught.get(window_id, ()))
