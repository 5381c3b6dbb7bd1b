"""Computed session pages kept in memory, bounded in entries and bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict

from linesman.model.session import ProfilingSession, approximate_size

PAGE_CACHE_BYTES = 64 << 20  # computed session pages kept, at most (approximate bytes)


class PageCache:
    """Computed session pages, keyed by (uuid, cutoff), dropped on delete; bounded
    in entries and in (approximate) bytes, so one huge session viewed at many
    cutoffs cannot fill the app's memory. A session's pages share its object."""

    def __init__(self, size: int = 32, max_bytes: int = PAGE_CACHE_BYTES) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[tuple[str, float], dict] = OrderedDict()
        self._weights: dict[tuple[str, float], int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def weight(value: dict) -> int:
        # Counted whole for each entry even where pages share it: an upper bound.
        return 2 * len(value["figures"]) + 2 * approximate_size(value["session"])

    def session_of(self, uuid: str) -> ProfilingSession | None:
        """The session object a cached page of ``uuid`` already holds, if any."""
        with self._lock:
            for (key_uuid, _), entry in self._entries.items():
                if key_uuid == uuid:
                    return entry["session"]
        return None

    def get(self, key: tuple[str, float]) -> dict | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, float], value: dict) -> None:
        weight = self.weight(value)
        if weight > self.max_bytes:
            return  # larger than the whole cache: drawn each time instead
        with self._lock:
            self._drop(key)
            self._entries[key] = value
            self._weights[key] = weight
            self.bytes += weight
            while len(self._entries) > self.size or self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, float]) -> None:
        if self._entries.pop(key, None) is not None:
            self.bytes -= self._weights.pop(key)

    def forget(self, uuids: set[str] | None = None) -> None:
        """Drop the entries of these sessions (all entries when None)."""
        with self._lock:
            for key in list(self._entries):
                if uuids is None or key[0] in uuids:
                    self._drop(key)
