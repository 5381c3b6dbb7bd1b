"""Sessions built and waiting for the store, bounded in count and bytes, and the
back-off between tries while the store is down: what keeps a slow or broken
store from costing the app memory or CPU."""

from __future__ import annotations

import time
from collections import deque
from typing import NamedTuple

from linesman.model.session import ProfilingSession

__all__ = ["Waiting", "Backlog", "Backoff"]


class Waiting(NamedTuple):
    """A built session in the backlog, and what it takes to store it."""

    session: ProfilingSession
    size: int  # approximate bytes it holds
    capture: str | None  # the capture window that caught it, if any
    selected: bool  # profiled for the switch too, not only for the window


class Backlog:
    """Sessions in the order they came, at most ``max_count`` and (but for the
    first) ``max_bytes`` together with what still waits in the writer's queue:
    a session that would pass either is refused."""

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: deque[Waiting] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def has_room_for(self, size: int, elsewhere: int = 0, reserved: int = 0) -> bool:
        """Whether a session of ``size`` bytes may wait too, while records charged
        ``elsewhere`` bytes wait in the queue. It was charged ``reserved`` bytes when
        queued: no larger, it takes only the room kept for it."""
        if self._items and len(self._items) >= self.max_count:
            return False
        alone = not self._items and not elsewhere  # one session always fits, however large
        return alone or size <= reserved or self.bytes + elsewhere + size <= self.max_bytes

    def append(self, waiting: Waiting) -> None:
        self._items.append(waiting)
        self.bytes += waiting.size

    def first(self, count: int) -> list[Waiting]:
        """The oldest ``count`` sessions (fewer if fewer wait), left in place."""
        return [self._items[number] for number in range(min(count, len(self._items)))]

    def remove_first(self, count: int) -> None:
        for _ in range(count):
            self.bytes -= self._items.popleft().size


class Backoff:
    """When to try the store again: ``first`` seconds after a failure, doubling
    up to ``most``, and at once again after a success."""

    def __init__(self, first: float = 0.25, most: float = 5.0) -> None:
        self.first, self.most = first, most
        self.delay = first
        self.next_try = 0.0  # time.monotonic() before which no try is made

    def due(self) -> bool:
        return time.monotonic() >= self.next_try

    def failed(self) -> None:
        self.next_try = time.monotonic() + self.delay
        self.delay = min(self.delay * 2, self.most)

    def succeeded(self) -> None:
        self.delay = self.first
