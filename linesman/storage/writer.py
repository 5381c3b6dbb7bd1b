"""Between the request and the store: a bounded queue and one thread.

The request path only hands over the finished cProfile object and a few
figures; turning them into a session, encoding it and writing it happen here,
off the request, so a slow, locked or unreachable store adds neither latency
nor errors to the app. While the store fails, built sessions wait in a backlog
and are written, in order, once it answers again. What waits is bounded in
count (``queue_size`` records in the queue, as many sessions in the backlog)
and in bytes: ``queue_bytes`` for the records in the queue, each charged when
queued what recent ones held (see linesman.storage.record), and the sessions
in the backlog together. What a bound refuses is counted as
``skipped.queue_full`` and logged.

What is held may pass ``queue_bytes`` by: one session, however large, when
nothing else waits; the one record in the writer's hands, raw and built at
once, and the passing memory of building and encoding it (encoding a session
of 3,000 functions peaks at 4 MB); records that hold more than they were
charged, which takes a cProfile with some seven times the functions of the
largest of the last 256 built (a raw cProfile holds a seventh of what its
session is counted); and, before the writer has built its first record,
whatever the count lets in. The same thread keeps the shared on/off switch, the
capture windows and the secret fresh, sets the store up when it was not
reachable at start-up, and applies retention now and then rather than on every
insert.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from linesman.backends.base import Backend
from linesman.model.session import approximate_size
from linesman.profiling.gate import ProfilerGate
from linesman.profiling.unseen import run_unseen
from linesman.storage.backlog import Backlog, Backoff, Waiting
from linesman.storage.batches import BatchStore
from linesman.storage.health import Health
from linesman.storage.record import ProfileRecord, RecordSizes
from linesman.storage.retention import Retention, RetentionSchedule

__all__ = ["SessionWriter", "WriterOptions"]

_STOP = object()
_WRITERS: weakref.WeakSet[SessionWriter] = weakref.WeakSet()


def _after_fork() -> None:
    """A forked worker has no writer thread: the next request starts its own."""
    for writer in list(_WRITERS):
        writer.started = False


os.register_at_fork(after_in_child=_after_fork)


def linesman_threads() -> set[int]:
    """The idents of linesman's own threads in this process: every writer's, and
    the start-up reads (threads named ``linesman-...``)."""
    idents = {writer.thread_ident for writer in list(_WRITERS)}
    idents.update(
        thread.ident for thread in threading.enumerate() if thread.name.startswith("linesman-")
    )
    idents.discard(None)
    return idents  # type: ignore[return-value]


BATCH = 200  # sessions built, and stored per transaction, when several wait
# How long the writer lets records gather before a stretch of work: under steady
# load a batch, one transaction and one write of the counters for them all,
# rather than one wake-up, two transactions and a GIL hand-over per request.
GATHER = 0.02


@dataclass(frozen=True)
class WriterOptions:
    """How much may wait for the store, how long exit waits for it, and how often
    the store is read and retried."""

    queue_size: int = 1000  # records waiting to be built, and sessions to be stored
    queue_bytes: int = 64 << 20  # what the records and sessions waiting hold, at most
    flush_timeout: float = 5.0  # how long process exit waits for storage
    switch_interval: float = 0.5  # seconds between reads of the switch and windows
    retry_backoff: tuple[float, float] = (0.25, 5.0)  # first and longest wait after a failure
    retention: Retention = field(default_factory=Retention)


class SessionWriter:
    """Stores records from a queue in a thread of its own, started on first use."""

    def __init__(
        self,
        backend: Backend,
        health: Health,
        options: WriterOptions | None = None,
        *,
        gate: ProfilerGate | None = None,
        on_switch: Callable[[bool | None], None] | None = None,
        on_captures: Callable[[list], None] | None = None,
        on_ready: Callable[[], None] | None = None,
        on_secret: Callable[[bytes], None] | None = None,
        ready: bool = True,
    ) -> None:
        self.backend = backend
        self.health = health
        self.options = options = options or WriterOptions()
        self.queue_size = options.queue_size
        self.queue_bytes = options.queue_bytes
        self.gate = gate or ProfilerGate(exclusive=False)
        self.on_switch = on_switch  # called with the switch as read from the store
        self.on_captures = on_captures  # called with the open windows as read
        self.on_ready = on_ready  # called once the store's setup() has succeeded
        self.on_secret = on_secret  # called with the store's secret as read (rotate)
        self.ready = ready  # the store's setup() has succeeded
        self._queue: queue.SimpleQueue = queue.SimpleQueue()  # get() blocks in C
        self._queued = 0
        self._queued_bytes = 0  # the charges of the records in the queue, or being built
        self._sizes = RecordSizes(options.queue_bytes // options.queue_size)
        self._backlog = Backlog(options.queue_size, options.queue_bytes)
        self._backoff = Backoff(*options.retry_backoff)
        self._retention = RetentionSchedule(options.retention)
        self._batches = BatchStore(backend, health)
        self._known: dict = {}  # code labels, from one profile to the next (stats_from_profile)
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        self._start_lock = threading.Lock()
        self._stopping = False
        self.started = False  # read on the request path: an attribute, not a call
        _WRITERS.add(self)

    # -- request side ----------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the thread here, or again in a forked worker that lacks it."""
        if self._thread_pid == os.getpid() and self._thread is not None:
            return
        with self._start_lock:
            if self._thread_pid == os.getpid() and self._thread is not None:
                return
            self._queue = queue.SimpleQueue()
            self._backlog = Backlog(self.options.queue_size, self.options.queue_bytes)
            self._pending, self._queued, self._queued_bytes = 0, 0, 0
            self._stopping = False
            thread = threading.Thread(target=self._body, name="linesman-writer", daemon=True)
            self._thread, self._thread_pid = thread, os.getpid()
            self.gate.start_writer_work()  # the thread's start-up is Python code too
            thread.start()
            self.started = True
            atexit.register(_close_at_exit, weakref.ref(self))

    def submit(self, record: ProfileRecord) -> bool:
        """Queue a record without waiting; False (counted) when what waits already
        holds ``queue_size`` records or, with this one's charge, ``queue_bytes``.
        Anything may wait while nothing else does."""
        self.ensure_started()
        record.charge = charge = self._sizes.charge(record)
        with self._idle:
            waiting = self._queued_bytes + self._backlog.bytes
            full = self._queued >= self.queue_size or (
                waiting > 0 and waiting + charge > self.queue_bytes
            )
            if not full:
                self._queued += 1
                self._queued_bytes += charge
                self._pending += 1
        if full:
            self._refused(
                "queue_full",
                "the storage queue is full "
                f"({self.queue_size} profiles or {self.queue_bytes} bytes)",
            )
            return False
        self._queue.put(record)
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
        if not self.flush(self.options.flush_timeout if timeout is None else timeout):
            self.health.count("lost.exit", self._pending)
            self.health.problem("exit", "linesman: %d profile(s) not stored at exit", self._pending)
        self._stopping = True
        with self._idle:
            self._queued += 1
        self._queue.put(_STOP)
        self._thread.join(1.0)
        self._thread = None
        self.started = False

    @property
    def thread_ident(self) -> int | None:
        """The writer thread's ident in this process, if it runs here."""
        thread = self._thread
        if thread is None or self._thread_pid != os.getpid():
            return None
        return thread.ident

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    @property
    def waiting_bytes(self) -> int:
        """The bytes counted for everything waiting: charges in the queue, sessions
        in the backlog."""
        return self._queued_bytes + self._backlog.bytes

    # -- writer thread ---------------------------------------------------------
    def _mark_finished(self, count: int = 1) -> None:
        with self._idle:
            self._pending -= count
            if self._pending <= 0:
                self._idle.notify_all()

    def _release(self, record: ProfileRecord) -> None:
        """The record no longer waits raw: its charge is free again."""
        with self._idle:
            self._queued_bytes -= record.charge

    def _refused(self, reason: str, why: str) -> None:
        self.health.count(f"skipped.{reason}")
        self.health.problem(
            reason, "linesman: a profile was dropped: %s. Is the store slow or down?", why
        )

    def _body(self) -> None:
        """The thread's body: where one profiler sees every thread, the loop runs
        where it cannot see it (linesman.profiling.unseen), so no request waits
        for the writer; else, or where that cannot be had, in plain sight."""
        if self.gate.exclusive and run_unseen(self._run_unseen, self._entered_unseen):
            return
        self._run()

    def _entered_unseen(self) -> None:
        self.gate.writer_unseen = True
        self.gate.end_writer_work()  # nothing it does from now on lands in a profile

    def _run_unseen(self) -> None:
        try:
            self._run()
        finally:  # back in sight: what the thread does on its way out is seen
            self.gate.writer_unseen = False
            self.gate.start_writer_work()

    @property
    def _batched(self) -> bool:
        """Whether a stretch of work may take every record waiting (the writer's work
        lands in no profile), rather than one, so a waiting request waits for no more."""
        return not self.gate.exclusive or self.gate.writer_unseen

    def _run(self) -> None:
        """The writer's loop. Its work started (in the gate's sense) before the
        thread did, and pauses only inside ``gate.wait_for_work_and_quiet``; see
        linesman.profiling.gate."""
        gate = self.gate
        # A store not set up yet is read at once; one read at start-up, a little later.
        next_switch_check = time.monotonic() + (
            0 if not self.ready else self.options.switch_interval
        )
        while not self._stopping:
            try:
                wake = next_switch_check
                if self._backlog:
                    wake = min(wake, self._backoff.next_try)
                timeout = max(0.0, wake - time.monotonic())
                item = gate.wait_for_work_and_quiet(self._queue, timeout)
                batch = [] if item is None else [item]
                item = None  # the batch's alone, let go once built (see _process)
                now = time.monotonic()
                if now >= next_switch_check:
                    self._check_store()
                    next_switch_check = now + self.options.switch_interval
                self._process(batch)
            except Exception:  # a bug here must not stop storage for good, nor spin
                self.health.problem("writer", "linesman: the writer failed", exc_info=True)
                self._backoff.failed()

    def _process(self, batch: list) -> None:
        """One stretch of work between two quiet moments: whatever is waiting, after
        ``GATHER``; where one profiler sees every thread and the writer works in
        its sight (the fallback of linesman.profiling.unseen), one record built
        and one stored, so a request that wants a profile never waits for more.
        ``batch`` holds the first record, if any, and is emptied as each record is
        built, so that no raw profile is held while the store is slow."""
        batched = self._batched
        if batched:
            if batch and batch[0] is not _STOP:
                time.sleep(GATHER)  # let the next few come: one transaction for them all
            while batch and len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
        if batch:
            with self._idle:
                self._queued -= len(batch)
        if _STOP in batch:
            self._stopping = True
            batch.remove(_STOP)
        batch.reverse()
        while batch:
            self._build_session(batch.pop())
        finished = self._store_backlog(None if batched else 1)
        self._retain()
        if finished:  # flush() returns once retention has seen them too
            self._mark_finished(finished)

    def _build_session(self, record: ProfileRecord) -> None:
        """Turn a record into a waiting session, or count why not; its charge is
        let go after the session is counted (never neither counted), whatever happens."""
        try:
            if not self._wait_as_session(record):
                self._mark_finished()
        finally:
            self._release(record)

    def _wait_as_session(self, record: ProfileRecord) -> bool:
        """Build the session and put it at the end of the backlog, if the bounds let
        it wait with what still waits in the queue; learn from it what the next
        records are charged. Whether it waits."""
        try:
            session, raw = record.build(self._known)
        except Exception:
            self.health.problem("build", "linesman: could not build a session", exc_info=True)
            return False
        size = approximate_size(session)
        self._sizes.learn(record, raw, size)
        elsewhere = self._queued_bytes - record.charge
        if not self._backlog.has_room_for(size, elsewhere, record.charge):
            if record.uuid is not None:  # named in a response header
                self.health.not_kept(record.uuid, "queue_full")
            self._refused(
                "queue_full",
                "what waits for the store passed the bound "
                f"({self._backlog.max_count} sessions or {self._backlog.max_bytes} bytes)",
            )
            return False
        self._backlog.append(Waiting(session, size, record.capture, record.selected))
        return True

    def _store_backlog(self, limit: int | None = None) -> int:
        """Store the backlog in order, a batch per transaction, until it is empty,
        ``limit`` sessions are stored or the store fails; the number of sessions
        finished (stored or given up)."""
        finished = 0
        size = min(limit or BATCH, BATCH)
        while (
            self._backlog
            and self._backoff.due()
            and (limit is None or finished < limit)
            and not self._stopping
        ):
            batch = self._backlog.first(size)
            try:
                self._set_up()
                self._store_batch(batch)
            except Exception as exc:  # linesman's error or a backend's own: both wait
                self._store_trouble(exc)
                self._backoff.failed()
                return finished
            self._backoff.succeeded()
            if self.health.store_error is not None:
                self.health.store_ok()
            self._backlog.remove_first(len(batch))
            finished += len(batch)
        return finished

    def _store_batch(self, batch: list[Waiting]) -> None:
        """One transaction for the batch where the store takes it (see BatchStore)."""
        self._count_stored(self._batches.store(batch))
        if any(waiting.capture is not None for waiting in batch) and self.on_captures:
            # A window may have filled: this process stops catching at once, not at
            # the next read of the switch.
            self.on_captures(self.backend.open_captures())

    def _count_stored(self, count: int) -> None:
        self.health.count("stored", count)
        self._retention.count_stored(count)
        self._share_counts()

    def _share_counts(self) -> None:
        """Add what this process counted to the store's counters, summed over every
        process that shares it; kept for the next try when the store fails."""
        add_counters = getattr(self.backend, "add_counters", None)
        if add_counters is None:  # a duck-typed store without counters
            return
        counts = self.health.take_unshared()
        if not counts:
            return
        try:
            add_counters(counts)
        except Exception as exc:
            self.health.keep_unshared(counts)
            self._store_trouble(exc)

    def _set_up(self) -> None:
        """Set the store up if that has not succeeded yet, then tell ``on_ready``."""
        if self.ready:
            return
        self.backend.setup()
        if self.on_ready is not None:
            self.on_ready()
        self.ready = True

    def _check_store(self) -> None:
        """Set the store up if it was not, and read the shared switch, windows and secret."""
        try:
            if not self.ready:
                self._set_up()
                self.health.store_ok()
            state = self.backend.get_enabled()
            windows = self.backend.open_captures()
            secret = self.backend.get_secret() if self.on_secret is not None else None
        except Exception as exc:
            self._store_trouble(exc)
            return
        if self.on_switch is not None:
            self.on_switch(state)
        if self.on_captures is not None:
            self.on_captures(windows)
        if self.on_secret is not None and secret is not None:
            self.on_secret(secret)
        self._share_counts()  # skips counted while nothing was stored

    def _store_trouble(self, exc: BaseException) -> None:
        message = f"{self.backend.describe()}: {exc}"
        self.health.store_failed(message)
        self.health.problem(
            "store",
            "linesman: store unavailable, %d session(s) waiting: %s",
            len(self._backlog),
            message,
        )

    def _retain(self) -> None:
        """Apply max_sessions and max_age when due (never a scan per insert)."""
        if self._backlog or not self._retention.due():
            return
        try:
            removed = self._retention.run(self.backend)
        except Exception:
            self.health.problem("prune", "linesman: could not remove old sessions", exc_info=True)
            return
        if removed:
            self.health.count("pruned", removed)


def _close_at_exit(writer_ref: weakref.ref[SessionWriter]) -> None:
    writer = writer_ref()
    if writer is not None:
        writer.close()
