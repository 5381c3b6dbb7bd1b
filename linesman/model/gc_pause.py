"""Cyclic garbage collection paused while a page of a big profile is built.

Decoding a 50,000-function session makes a few hundred thousand lists and
tuples; each batch of new objects triggers a collection that walks everything
still alive, and those walks were 40% of such a page's time. Nothing the pages
build is cyclic, so pausing changes no result, only when the app's own cycles
are collected (at most a page's time later). Only a collector that was on is
turned back on: an app that disabled it keeps it disabled.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]

_lock = threading.Lock()
_depth = 0  # pauses in progress, across threads: the last one out restores
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
