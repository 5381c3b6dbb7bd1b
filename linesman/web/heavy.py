"""The UI's heavy views, one at a time, each within a time budget.

A heavy view reads many sessions: a merged profile, its ``.prof`` export, a
comparison (page or JSON) with an endpoint on a side. Each may name 500
sessions; read in full they took 12 to 95 s of a server thread the app needs,
and four at once left an app request waiting past 20 s. So a UI holds one
heavy view at a time: a second one asked meanwhile is answered at once (503,
with Retry-After, and a page that says why) rather than queued in a server
thread, and the one that runs stops reading sessions at its deadline
(``view_budget``, see linesman.analysis.merging) and shows what it merged.

The gate is this UI's, and a process serves one UI (the middleware makes it);
a process with two middlewares would allow one heavy view in each.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from webob import exc as http

from linesman.analysis.merging import Deadline

__all__ = ["HeavyViews"]


class HeavyViews:
    """A non-blocking gate for heavy views, and the budget each one gets."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self._running = threading.Lock()

    @property
    def retry_after(self) -> int:
        """Seconds after which the running view has surely ended (its budget, and
        a second for drawing its page)."""
        return math.ceil(self.budget) + 1

    @contextmanager
    def slot(self, heavy: bool = True) -> Iterator[Deadline]:
        """The deadline of a view that holds the gate while the block runs, or a
        503 at once if another holds it. A view that turns out light (two
        sessions compared) passes ``heavy=False``: no gate, no deadline."""
        if not heavy:
            yield Deadline(None)
            return
        if not self._running.acquire(blocking=False):
            raise http.HTTPServiceUnavailable(
                "Another heavy view (a merged profile or a comparison of endpoints) is "
                "being worked out in this process. One runs at a time, so that the app "
                f"keeps its server threads: try again in {self.retry_after} seconds.",
                headers={"Retry-After": str(self.retry_after)},
            )
        try:
            yield Deadline(self.budget)
        finally:
            self._running.release()
