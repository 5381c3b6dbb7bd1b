"""Running linesman's writer where no profiler can see it (Python 3.12+).

From 3.12 on cProfile is one per process, built on ``sys.monitoring``, and
records every thread: the writer's building, encoding and SQL would land in
the profile of the request running beside it. CPython delivers no monitoring
event to a thread while that thread runs a monitoring callback (its
``tstate->tracing`` count, which keeps a tool from seeing itself), and that
holds for every tool, cProfile's included. So the writer's thread claims a
free tool id for a moment, listens for the start of one function of its own
(a code object made for it alone), calls it, and runs its whole loop inside
that callback; the callback first lets the tool id go again. Everything the
writer does from then on is invisible to every profiler, tracer and coverage
tool, and a request may be profiled while it works: no request waits for it.

Tool ids above cProfile's (2) are taken, so that on the event that enters the
callback ours runs before a profiler's (CPython calls tools from the highest
id down), and a profile running at that moment never hears the entry.

Where this cannot be had (before 3.12, where it is not needed; gevent or
eventlet's patched threads; every free id taken) :func:`run_unseen` says so
and the writer runs in plain sight, kept out of profiles by the gate's wait
(see :mod:`linesman.profiling.gate`). Checked by tests/test_profiler.py.
"""

from __future__ import annotations

import _thread
import sys
import types
from collections.abc import Callable

__all__ = ["can_run_unseen", "run_unseen", "TOOL_IDS"]

TOOL_IDS = (5, 4, 3)  # free by convention (0 debugger, 1 coverage, 2 profiler), above cProfile's


def _entry() -> None:
    """The function whose start runs the hidden work (a fresh copy each time)."""


def can_run_unseen() -> bool:
    """Whether this Python offers the hiding: 3.12+ with real OS threads."""
    return sys.version_info >= (3, 12) and isinstance(
        _thread.start_new_thread, types.BuiltinFunctionType
    )


def run_unseen(work: Callable[[], None], entered: Callable[[], None]) -> bool:
    """Run ``work()`` in the calling thread where no profiler sees it, calling
    ``entered()`` first, inside; False (nothing run) where that is not possible.
    Meant for a thread's body: it returns only once ``work`` does."""
    if not can_run_unseen():
        return False
    monitoring = sys.monitoring  # type: ignore[attr-defined]  # 3.12+ (can_run_unseen)
    tool = _claim_tool(monitoring)
    if tool is None:
        return False
    code = _entry.__code__.replace(co_name=f"linesman_unseen_{tool}")
    entry = types.FunctionType(code, {})
    ran = []

    def inside(_code: object, _offset: int) -> object:
        # Let the tool id go at once: no other code's start is ever heard.
        monitoring.set_local_events(tool, code, 0)
        monitoring.register_callback(tool, monitoring.events.PY_START, None)
        monitoring.free_tool_id(tool)
        ran.append(True)
        entered()
        work()
        return None

    try:
        monitoring.register_callback(tool, monitoring.events.PY_START, inside)
        monitoring.set_local_events(tool, code, monitoring.events.PY_START)
    except Exception:
        monitoring.free_tool_id(tool)
        return False
    entry()
    if not ran:  # the event never came (it should): the tool id is still ours
        monitoring.set_local_events(tool, code, 0)
        monitoring.register_callback(tool, monitoring.events.PY_START, None)
        monitoring.free_tool_id(tool)
        return False
    return True


def _claim_tool(monitoring: types.ModuleType) -> int | None:
    """A tool id nobody uses, taken (``use_tool_id`` is one C call: no race)."""
    for tool in TOOL_IDS:
        try:
            monitoring.use_tool_id(tool, "linesman-writer")
        except ValueError:
            continue
        return tool
    return None
