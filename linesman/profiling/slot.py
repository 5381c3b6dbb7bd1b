"""The process's one profiler slot (Python 3.12+), given up when the app wants it.

From 3.12 a ``cProfile.Profile`` takes ``sys.monitoring``'s one profiler tool
slot while it is enabled. An app that enables a profiler of its own while
linesman's holds the slot would get ``ValueError: Another profiling tool is
already active``: an error linesman caused. cProfile asks for the slot through
``sys.monitoring.use_tool_id``, looked up on the module at each enable, so
linesman wraps that function once per process; when anything asks for the
profiler slot while a linesman profile holds it, that profile is switched off
first and marked lost (its request is not stored, and counted as
``skipped.app_profiler``), and the call goes through exactly as without
linesman. The wrapper changes nothing else: every other tool id, and every call
while linesman holds nothing, goes straight to the original.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ProfilerSlot", "profiler_slot", "PROFILER_ID"]

PROFILER_ID = 2  # sys.monitoring.PROFILER_ID, the slot cProfile takes


class StepsAside(Protocol):
    def step_aside(self) -> None: ...


class ProfilerSlot:
    """Who among linesman's profiles holds the slot now (one at a time: the gate
    lets only one cProfile run where it is one per process)."""

    def __init__(self) -> None:
        # One-slot lists: set and cleared without a call a profiler would record.
        # The holder is set before its cProfile is enabled, so no other thread can
        # find the slot taken and no holder to ask; while it is being enabled,
        # its own thread's ask (``enabling``) is not an app's.
        self.holder: list[StepsAside | None] = [None]
        self.enabling: list[int | None] = [None]

    def taken(self) -> bool:
        """Whether any tool holds the profiler slot (linesman's own or the app's)."""
        monitoring: Any = getattr(sys, "monitoring")  # noqa: B009 (3.12+ only)
        return monitoring.get_tool(PROFILER_ID) is not None

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        holder, enabling = self.holder, self.enabling
        get_ident = threading.get_ident

        @functools.wraps(original)
        def use_tool_id(tool_id: int, name: str, /) -> Any:
            profile = holder[0]
            if profile is not None and tool_id == PROFILER_ID and enabling[0] != get_ident():
                holder[0] = None
                profile.step_aside()
            return original(tool_id, name)

        use_tool_id.linesman_slot = self  # type: ignore[attr-defined]
        return use_tool_id


def profiler_slot() -> ProfilerSlot | None:
    """This process's slot keeper, installed on first use; None before 3.12."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return None
    slot = getattr(monitoring.use_tool_id, "linesman_slot", None)
    if slot is None:
        slot = ProfilerSlot()
        monitoring.use_tool_id = slot.wrap(monitoring.use_tool_id)
    return slot
