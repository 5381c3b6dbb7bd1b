"""Between the request and the store: a bounded queue and one thread.

The request path only hands over the finished cProfile object and a few
figures; turning them into a session, encoding it and writing it happen here,
off the request, so a slow, locked or broken store adds neither latency nor
errors to the app. The same thread keeps the shared on/off switch fresh and
sets the store up again when it was not reachable at start-up. While the store
fails, the session at the head of the queue is retried with a backoff; the
queue is bounded, and what the bound refuses is counted and logged.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from linesman.backends.base import Backend, BackendError
from linesman.health import Health
from linesman.profiler import ProfilerGate
from linesman.session import ProfilingSession

__all__ = ["ProfileRecord", "SessionWriter"]

_STOP = object()


@dataclass(slots=True)
class ProfileRecord:
    """A finished request's raw profile and figures, before it is a session."""

    profile: Any  # cProfile.Profile, disabled
    environ: dict
    uuid: str
    timestamp: float
    duration: float
    cpu_time: float
    status: int | None
    response_size: int
    error: str | None
    concurrent: bool

    def to_session(self) -> ProfilingSession:
        return ProfilingSession(self.profile.getstats(), self.environ, self.timestamp,
                                uuid=self.uuid, duration=self.duration,
                                cpu_time=self.cpu_time, status=self.status,
                                response_size=self.response_size, error=self.error,
                                concurrent=self.concurrent)


class SessionWriter:
    """Stores records from a queue in a thread of its own, started on first use."""

    def __init__(self, backend: Backend, health: Health, *, queue_size: int = 1000,
                 flush_timeout: float = 5.0, max_sessions: int | None = None,
                 on_switch: Callable[[bool | None], None] | None = None,
                 ready: bool = True, switch_interval: float = 1.0,
                 retry_backoff: tuple[float, float] = (0.25, 5.0),
                 gate: ProfilerGate | None = None) -> None:
        self.backend = backend
        self.gate = gate or ProfilerGate(exclusive=False)
        self.health = health
        self.flush_timeout = flush_timeout
        self.max_sessions = max_sessions
        self.on_switch = on_switch
        self.ready = ready
        self.switch_interval = switch_interval
        self.retry_backoff = retry_backoff
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        self._start_lock = threading.Lock()
        self._stopping = False

    # -- request side ----------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the thread here, or again in a forked worker that lacks it."""
        if self._thread_pid == os.getpid() and self._thread is not None:
            return
        with self._start_lock:
            if self._thread_pid == os.getpid() and self._thread is not None:
                return
            self._queue = queue.Queue(maxsize=self._queue.maxsize)
            self._pending = 0
            self._stopping = False
            thread = threading.Thread(target=self._run, name="linesman-writer", daemon=True)
            self._thread, self._thread_pid = thread, os.getpid()
            thread.start()
            atexit.register(_close_at_exit, weakref.ref(self))

    def submit(self, record: ProfileRecord) -> bool:
        """Queue a record without waiting; False (counted) when the queue is full."""
        self.ensure_started()
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._done()
            self.health.count("skipped.queue_full")
            self.health.problem("queue_full", "linesman: storage queue full (%d); a profile "
                                "was dropped. Is the store slow or down?", self._queue.maxsize)
            return False
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued record is stored or given up; True if so."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float | None = None) -> None:
        """Flush within ``timeout`` (default ``flush_timeout``), then stop the thread."""
        if self._thread is None or self._thread_pid != os.getpid():
            return
        if not self.flush(self.flush_timeout if timeout is None else timeout):
            self.health.count("lost.exit", self._pending)
            self.health.problem("exit", "linesman: %d profile(s) not stored at exit",
                                self._pending)
        self._stopping = True
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            pass
        self._thread.join(1.0)
        self._thread = None

    @property
    def pending(self) -> int:
        return self._pending

    # -- writer thread ---------------------------------------------------------
    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending <= 0:
                self._idle.notify_all()

    def _run(self) -> None:
        # The switch was read at start-up; the first request must not wait for it.
        next_switch_check = time.monotonic() + self.switch_interval
        while not self._stopping:
            now = time.monotonic()
            if now >= next_switch_check:
                with self.gate.background_work():
                    self._check_store()
                next_switch_check = now + self.switch_interval
            try:
                item = self._queue.get(timeout=max(0.0, next_switch_check - time.monotonic()))
            except queue.Empty:
                continue
            if item is _STOP:
                break
            try:
                self._store(item)
            finally:
                self._done()

    def _check_store(self) -> None:
        """Set the store up if it was not, and read the shared switch."""
        try:
            if not self.ready:
                self.backend.setup()
                self.ready = True
                self.health.store_ok()
            state = self.backend.get_enabled()
        except Exception as exc:
            self._store_trouble(exc)
            return
        if self.on_switch is not None:
            self.on_switch(state)

    def _store_trouble(self, exc: BaseException) -> None:
        message = f"{self.backend.describe()}: {exc}"
        self.health.store_failed(message)
        self.health.problem("store", "linesman: store unavailable: %s", message)

    def _store(self, record: ProfileRecord) -> None:
        try:
            with self.gate.background_work():
                session = record.to_session()
        except Exception:
            self.health.problem("build", "linesman: could not build a session", exc_info=True)
            return
        delay, longest = self.retry_backoff
        while True:
            try:
                with self.gate.background_work():
                    if not self.ready:
                        self.backend.setup()
                        self.ready = True
                    self.backend.add(session)
            except BackendError as exc:
                self._store_trouble(exc)
                if self._stopping or not self._wait_to_retry(delay):
                    self.health.count("lost.store_error")
                    return
                delay = min(delay * 2, longest)
                continue
            except Exception:
                self.health.count("lost.store_error")
                self.health.problem("add", "linesman: the backend failed to store a session",
                                    exc_info=True)
                return
            break
        self.health.store_ok()
        self.health.count("stored")
        with self.gate.background_work():
            self._prune()

    def _wait_to_retry(self, delay: float) -> bool:
        """Sleep before retrying; False once the queue has backed up full."""
        if self._queue.full():
            return False
        time.sleep(delay)
        return True

    def _prune(self) -> None:
        if self.max_sessions is None:
            return
        try:
            removed = self.backend.prune(self.max_sessions)
        except Exception:
            self.health.problem("prune", "linesman: could not prune old sessions",
                                exc_info=True)
            return
        if removed:
            self.health.count("pruned", removed)


def _close_at_exit(writer_ref: "weakref.ref[SessionWriter]") -> None:
    writer = writer_ref()
    if writer is not None:
        writer.close()
