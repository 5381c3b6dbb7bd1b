"""Processes that add to one store's counters at once, as the writers of a
server's worker processes do: each opens the store itself, all start together,
and each reports what it saw go wrong (an exception, anything linesman logged)."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass

from support.backend_factories import open_store


def counts_of(number: int) -> dict[str, int]:
    """The counts of a process's ``number``-th addition: some counters every time,
    one now and then, and a new one every 250 additions, so that rows are created
    all through the race and not only at its start."""
    counts = {"profiled": 1, "stored": 2, f"skipped.round{number // 250}": 1}
    if number % 3 == 0:
        counts["skipped.busy"] = 1
    return counts


def expected_sums(processes: int, additions: int) -> dict[str, int]:
    total: Counter[str] = Counter()
    for number in range(additions):
        total.update(counts_of(number))
    return {name: value * processes for name, value in total.items()}


@dataclass(frozen=True)
class Report:
    error: str | None
    logged: list[str]
    seconds: float


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname}: {record.getMessage()}")


def _add_in_this_process(opening, additions: int, start, reports) -> None:
    """A racing process: open the store, wait for the others, add, report."""
    kept = _Keep()
    logger = logging.getLogger("linesman")
    logger.addHandler(kept)
    logger.setLevel(logging.INFO)
    error = None
    began = time.perf_counter()
    try:
        store = open_store(opening)
        try:
            start.wait(120)
            began = time.perf_counter()
            for number in range(additions):
                store.add_counters(counts_of(number))
        finally:
            store.close()
    except BaseException as exc:  # reported to the test
        error = f"{type(exc).__name__}: {exc}"
    reports.put(Report(error, kept.messages, time.perf_counter() - began))


def race(opening, processes: int, additions: int, timeout: float = 300) -> list[Report]:
    """Each of ``processes`` spawned processes adds ``counts_of(n)`` for n below
    ``additions``; their reports, once every one has finished."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    reports = context.Queue()
    workers = [
        context.Process(target=_add_in_this_process, args=(opening, additions, start, reports))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        found = [reports.get(timeout=timeout) for _ in workers]
    finally:
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
    assert [worker.exitcode for worker in workers] == [0] * processes
    return found
