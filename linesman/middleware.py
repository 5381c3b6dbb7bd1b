"""The WSGI entry point: route, pass through, or profile each request.

A request under ``profiler_path`` goes to the UI app, the prefix moved into
``SCRIPT_NAME``. With profiling off, any other request costs one attribute
check and goes straight to the app. A profiled request runs under its own
cProfile (see :mod:`linesman.profiling.gate`) from the app call to ``close()``,
chunk by chunk and without buffering; once it is closed its raw profile goes
to the writer thread. Nothing here may change what the app answers: the app's
own exceptions pass through untouched and linesman's own failures are only
logged and counted. The PasteDeploy factories are in :mod:`linesman.paste`.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from linesman.backends import create_backend
from linesman.backends.base import Backend
from linesman.config import Settings, parse_settings
from linesman.controls import Controls
from linesman.exporters.original_graph import (
    CUTOFF_TIME_UNITS,
    GRAPH_DIR,
    prepare_graph,
    time_per_field,
)
from linesman.model.capture import CaptureWindow
from linesman.profiling.gate import ProfilerGate, RequestProfile, profiling_is_safe
from linesman.profiling.greenlets import GreenletProfile, GreenThreads, green_thread
from linesman.profiling.sampling import SampledProfile
from linesman.signing import Signer
from linesman.storage.health import Health
from linesman.storage.retention import Retention
from linesman.storage.writer import SessionWriter, WriterOptions, linesman_threads
from linesman.web.ui import ProfilerUI, asset_folder
from linesman.wrappers import (
    LINESMAN_HOOKS,
    SESSION_HEADER,
    ProfiledRequest,
    file_size,
    finished_when_returned,
    profiled_body,
    tracked_body,
)

PATH_VERDICTS = 4096  # paths whose include/exclude answer is kept (then they start over)
PATH_VERDICT_LENGTH = 512  # longer paths are matched each time
STARTUP_WAIT = 1.0  # seconds start-up gives the store; past them the app serves anyway

# The original's module constants, for code that reads them. Its assets are
# linesman's ``static`` and ``templates`` folders; its flag file is gone (the
# switch is kept in the store), the name stays.
MEDIA_DIR = str(asset_folder("static"))
TEMPLATES_DIR = str(asset_folder("templates"))
ENABLED_FLAG_FILE = "linesman-enabled"

__all__ = [
    "ProfilingMiddleware",
    "make_linesman_middleware",
    "profiler_filter_factory",
    "profiler_filter_app_factory",
    "prepare_graph",
    "time_per_field",
    "SESSION_HEADER",
    "CUTOFF_TIME_UNITS",
    "GRAPH_DIR",
    "MEDIA_DIR",
    "TEMPLATES_DIR",
    "ENABLED_FLAG_FILE",
]

log = logging.getLogger("linesman")


class ProfilingMiddleware:
    """Profiles the requests of ``app`` and serves the profiler UI."""

    def __init__(
        self,
        app: Callable,
        profiler_path: str = "/__profiler__",
        backend: str = "linesman.backends.sqlite:SqliteBackend",
        chart_packages: str = "",
        **options: Any,
    ) -> None:
        self.app = app
        self.settings: Settings = parse_settings(
            {
                "profiler_path": profiler_path,
                "backend": backend,
                "chart_packages": chart_packages,
                **options,
            }
        )
        self.profiler_path = self.settings.profiler_path
        self.backend: Backend = create_backend(self.settings.backend, self.settings.backend_options)
        self.health = Health()
        self.gate = ProfilerGate()
        self._green: GreenThreads | None = None  # made at the first request in a green thread
        self.controls = Controls(self.settings, self.backend, self.health)
        # Each distinct path is matched against include/exclude_paths once: the
        # answers, for paths up to PATH_VERDICT_LENGTH, at most PATH_VERDICTS of them.
        self._path_verdicts: dict[str, bool] = {}
        settings = self.settings
        ready = self.controls.read_store(STARTUP_WAIT)
        self.writer = SessionWriter(
            self.backend,
            self.health,
            WriterOptions(
                queue_size=settings.queue_size,
                queue_bytes=settings.queue_bytes,
                flush_timeout=settings.flush_timeout,
                retention=Retention(
                    settings.max_sessions,
                    settings.max_age,
                    keep_slowest=settings.keep_slowest,
                    folds=settings.folds,
                    query_names=settings.endpoint_query,
                ),
            ),
            gate=self.gate,
            on_switch=self.controls.apply_switch,
            on_captures=self.controls.apply_captures,
            on_ready=self.controls.store_ready,
            on_secret=self.controls.apply_secret,
            ready=ready,
        )
        self.ui = ProfilerUI(self.controls)  # built now: a wrong access option fails at start-up
        unsafe = profiling_is_safe()
        if unsafe is not None:  # the app is served as it is, never profiled
            self.health.profiling_off = unsafe
            log.warning("linesman: %s", unsafe)
            self._observe = self.app  # type: ignore[method-assign]
        if ready:
            self.controls.announce_login()

    @property
    def _backend(self) -> Backend:
        """The original's name for ``backend``; its own tests and some apps reach it."""
        return self.backend

    # -- the switch, capture windows and login, as the UI changes them -------------
    @property
    def enabled(self) -> bool:
        """Whether requests are profiled now (the store's switch, as last read)."""
        return self.controls.enabled

    @property
    def captures(self) -> tuple[CaptureWindow, ...]:
        """The capture windows open now, as last read from the store."""
        return self.controls.captures

    def set_enabled(self, enabled: bool) -> None:
        """Turn profiling on or off for every process that shares the store."""
        self.controls.set_enabled(enabled)

    def start_capture(self, window: CaptureWindow) -> None:
        """Arm a capture window for every process that shares the store."""
        self.controls.start_capture(window)

    def stop_capture(self, window_id: str) -> bool:
        return self.controls.stop_capture(window_id)

    def current_signer(self, refresh: bool = True) -> Signer:
        return self.controls.current_signer(refresh)

    def login_path(self, script_name: str = "") -> str:
        """The UI's address with the access token, which logs a browser in."""
        return self.controls.login_path(script_name)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the sessions of finished requests are stored."""
        return self.writer.flush(timeout)

    def close(self) -> None:
        self.writer.close()
        self.backend.close()

    # -- the request path -----------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.profiler_path):
            if path == self.profiler_path or path[len(self.profiler_path)] == "/":
                return self._serve_ui(environ, start_response, path)
        controls = self.controls
        if not controls.enabled and not controls.captures:
            if not self.writer.started:  # its thread watches the switch and the windows
                self.writer.ensure_started()
            return self.app(environ, start_response)
        return self._observe(environ, start_response)

    def _serve_ui(self, environ: dict, start_response: Callable, path: str) -> Iterable[bytes]:
        if not self.writer.started:
            self.writer.ensure_started()
        ui_environ = dict(environ)
        ui_environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.profiler_path
        ui_environ["PATH_INFO"] = path[len(self.profiler_path) :]
        # Where one profiler sees every thread, the UI's code must not land in a profile.
        tracked = (
            self.controls.enabled and self.gate.exclusive and environ.get("wsgi.multithread", True)
        )
        if tracked:
            self.gate.enter(False)
        try:
            return list(self.ui(ui_environ, start_response))
        finally:
            if tracked:
                self.gate.leave()

    def _selected(self, environ: dict) -> bool:
        settings = self.settings
        if settings.include_paths or settings.exclude_paths:
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            verdicts = self._path_verdicts
            wanted = verdicts.get(path)
            if wanted is None:
                wanted = self._path_wanted(path)
                if len(path) <= PATH_VERDICT_LENGTH:
                    if len(verdicts) >= PATH_VERDICTS:
                        verdicts.clear()
                    verdicts[path] = wanted
            if not wanted:
                return False
        rate = settings.sample_rate
        return rate >= 1.0 or random.random() < rate

    def _path_wanted(self, path: str) -> bool:
        """Whether include_paths and exclude_paths let this path be profiled."""
        settings = self.settings
        if settings.include_paths and not any(
            pattern.search(path) is not None for pattern in settings.include_paths
        ):
            return False
        return not any(pattern.search(path) is not None for pattern in settings.exclude_paths)

    def _samples(self, environ: dict) -> bool:
        """Whether this request gets the sampling engine rather than cProfile.

        ``auto`` samples exactly where cProfile cannot be the request's own:
        from Python 3.12 (one cProfile per process, recording every thread) on a
        server that runs requests in several threads, while another Python thread
        than the request's and linesman's writer exists (an app's metrics
        exporter, scheduler or error reporter: its calls would land in the
        profile), or while another tool (the app's own profiler) holds the
        process's one profiler slot."""
        choice = self.settings.profiler
        if choice == "auto":
            gate = self.gate
            return gate.exclusive and (
                environ.get("wsgi.multithread", True)
                or self._other_threads()
                or (gate.slot is not None and gate.slot.taken())
            )
        return choice == "sampling"

    def _other_threads(self) -> bool:
        """Whether a Python thread exists other than this one and linesman's own
        (any thread with a Python frame, started by ``threading`` or not)."""
        threads = set(sys._current_frames())
        threads.discard(threading.get_ident())
        if threads:
            threads.difference_update(linesman_threads())
        return bool(threads)

    def _observe(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not self.writer.started:
            self.writer.ensure_started()
        window = self._window_for(environ) if self.controls.captures else None
        selected = self.controls.enabled and self._selected(environ)
        wanted = selected or window is not None
        if green_thread() is not None:
            return self._serve_green(environ, start_response, selected, window)
        if not wanted:
            # An unprofiled request spoils a profile only where one cProfile sees every
            # thread and requests run beside each other (profiler = cprofile on a
            # threaded 3.12+ server; auto samples there): there it is counted in.
            if (
                self.settings.profiler == "cprofile"
                and self.gate.exclusive
                and environ.get("wsgi.multithread", True)
            ):
                self.gate.enter(False)
                return self._serve_tracked(environ, start_response)
            return self.app(environ, start_response)
        if self._samples(environ):
            sampled = SampledProfile(
                self.settings.sample_interval, self.gate.count_in(), LINESMAN_HOOKS
            )
            return self._serve_profiled(environ, start_response, sampled, selected, window)
        profile: RequestProfile | SampledProfile | None
        profile, skipped = self.gate.enter(True)
        if skipped == "busy" and self.settings.profiler == "auto":
            # cProfile is not free for it (linesman's writer is working): sample instead.
            profile = SampledProfile(
                self.settings.sample_interval, self.gate.draw_number(), LINESMAN_HOOKS
            )
            profile.concurrent = True
            skipped = None
        if skipped:
            self.health.count(f"skipped.{skipped}")
        if profile is None:
            return self._serve_tracked(environ, start_response)
        return self._serve_profiled(environ, start_response, profile, selected, window)

    def _serve_green(
        self,
        environ: dict,
        start_response: Callable,
        selected: bool,
        window: CaptureWindow | None,
    ) -> Iterable[bytes]:
        """A request in a green thread (gevent, eventlet): sampled in its own greenlet
        (see linesman.profiling.greenlets); never cProfile, which sees them all."""
        if not selected and window is None:  # per greenlet: it spoils no other profile
            return self.app(environ, start_response)
        green = self._green
        if green is None:
            green = self._green = GreenThreads(self.health.problem)
        if self.settings.profiler == "cprofile":
            self.health.count("skipped.green_thread")
            green.warn_once(
                "green_thread",
                "requests run in green threads (gevent or eventlet), where cProfile "
                "cannot tell one request's calls from another's: they are not profiled. "
                "Set profiler = auto or sampling to sample each in its own greenlet.",
            )
            return self.app(environ, start_response)
        profile = GreenletProfile(
            self.settings.sample_interval, self.gate.count_in(), LINESMAN_HOOKS, green
        )
        return self._serve_profiled(environ, start_response, profile, selected, window)

    def _window_for(self, environ: dict) -> CaptureWindow | None:
        """The first open capture window this request falls in, if any."""
        now = time.time()
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        for window in self.controls.captures:
            if window.is_open(now) and window.matches(method, path):
                return window
        return None

    def _serve_tracked(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Serve unprofiled, but stay counted in flight until the body is closed."""
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self.gate.leave()
            raise
        if finished_when_returned(result, environ):
            self.gate.leave()
            return result
        return tracked_body(result, self.gate)

    def _serve_profiled(
        self,
        environ: dict,
        start_response: Callable,
        profile: RequestProfile | SampledProfile,
        selected: bool = True,
        window: CaptureWindow | None = None,
    ) -> Iterable[bytes]:
        request = ProfiledRequest(self, environ, start_response, profile, selected, window)
        try:
            result = profile.call(self.app, environ, request.start_response)
        except BaseException as exc:
            request.finish(error=exc)
            raise
        if finished_when_returned(result, environ):
            # Added to what the app sent through write(), if it did.
            if isinstance(result, (list, tuple)):
                request.response_size += sum(len(chunk) for chunk in result)
            else:  # the server's file wrapper sends the file: what it will send
                request.response_size += file_size(result, request.content_length)
            request.finish()
            return result
        return profiled_body(result, request)


# The original's three entry points live here, where it defined and documented
# them (an ini file may name ``linesman.middleware:profiler_filter_factory``);
# ``linesman.paste`` gives the same two to ``egg:linesman#profiler``.
def make_linesman_middleware(app: Callable, **options: Any) -> ProfilingMiddleware:
    """Wrap ``app``; the options are those of the ini file, as strings or values."""
    return ProfilingMiddleware(app, **options)


def profiler_filter_factory(global_conf: dict, **options: Any) -> Callable:
    """PasteDeploy ``paste.filter_factory`` for ``egg:linesman#profiler``."""
    parse_settings(options)  # a wrong option fails here, before any app is built

    def linesman_filter(app: Callable) -> ProfilingMiddleware:
        return ProfilingMiddleware(app, **options)

    return linesman_filter


def profiler_filter_app_factory(
    app: Callable, global_conf: dict, **options: Any
) -> ProfilingMiddleware:
    """PasteDeploy ``paste.filter_app_factory`` for ``egg:linesman#profiler``."""
    return ProfilingMiddleware(app, **options)
