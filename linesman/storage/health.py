"""What linesman did and what went wrong, for its log, its UI and the tests.

Failures inside linesman never reach the app; they are counted here and
logged on the ``linesman`` logger, at most once per key and interval so a
broken store cannot flood the app's log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict

__all__ = ["Health"]

# Why a selected request was served without a stored profile.
SKIP_REASONS = {
    "busy": "another request was being profiled (one profiler per process on Python 3.12+)",
    "overlap": "another request ran alongside it, so its profile would hold foreign calls",
    "profiler_unavailable": "another profiling tool was active in the process",
    "app_profiler": "the app started a profiler or hook of its own meanwhile, and linesman "
    "stepped aside",
    "too_fast": "shorter than min_duration",
    "queue_full": "the storage queue was full",
    "green_thread": "it ran in a green thread (gevent, eventlet), where cProfile "
    "sees every request's calls: profiler = auto or sampling samples it",
    "green_untraced": "it ran in a green thread whose switches linesman could not see "
    "(another tool replaced greenlet's trace function)",
    "capture_closed": "its capture window had caught enough, or ended, before it was stored",
}

# Why a profile that was built never reached the store (counted as ``lost.<reason>``).
LOST_REASONS = {
    "refused_by_store": "refused by the store for what it held",
    "store_error": "the store failed on it",
    "exit": "not stored before the process exited",
}

# The counters every process sharing a store adds to (see Health.take_unshared).
SHARED_COUNTERS = ("profiled", "stored", "skipped.")

UNKEPT_REMEMBERED = 2000  # ids of recent profiles not kept, for the link's answer

log = logging.getLogger("linesman")


class Health:
    """Thread-safe counters plus the last store error, with rate-limited logging."""

    def __init__(self, log_interval: float = 60.0) -> None:
        self.log_interval = log_interval
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._unshared: Counter[str] = Counter()  # not yet added to the store's counters
        self._last_logged: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self.store_error: str | None = None
        self.profiling_off: str | None = None  # why this process cannot profile at all
        self._unkept: OrderedDict[str, str] = OrderedDict()
        self.last_lost: str | None = None  # why the latest built profile was not stored

    def not_kept(self, uuid: str, reason: str) -> None:
        """Remember why a response whose header names ``uuid`` has no profile."""
        with self._lock:
            self._unkept[uuid] = reason
            if len(self._unkept) > UNKEPT_REMEMBERED:
                self._unkept.popitem(last=False)

    def why_not_kept(self, uuid: str) -> str | None:
        with self._lock:
            return self._unkept.get(uuid)

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount
            if name.startswith(SHARED_COUNTERS):
                self._unshared[name] += amount

    def take_unshared(self) -> dict[str, int]:
        """What this process counted since the store's counters last took it; the
        writer adds it to them, and gives it back with ``keep_unshared`` when the
        store fails, so a count is late but never lost."""
        with self._lock:
            taken, self._unshared = dict(self._unshared), Counter()
        return taken

    def keep_unshared(self, counts: dict[str, int]) -> None:
        with self._lock:
            self._unshared.update(counts)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def problem(self, key: str, message: str, *args: object, exc_info: bool = False) -> None:
        """Count a swallowed failure and log it, unless logged lately."""
        now = time.monotonic()
        with self._lock:
            self._counts[f"error.{key}"] += 1
            last = self._last_logged.get(key)
            if last is not None and now - last < self.log_interval:
                self._suppressed[key] += 1
                return
            self._last_logged[key] = now
            suppressed, self._suppressed[key] = self._suppressed[key], 0
        if suppressed:
            message += f" ({suppressed} more like it since the last report)"
        log.error(message, *args, exc_info=exc_info)

    def store_failed(self, message: str) -> None:
        self.store_error = message

    def store_ok(self) -> None:
        self.store_error = None
