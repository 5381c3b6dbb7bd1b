"""The WSGI entry point: route, pass through, or profile each request.

A request under ``profiler_path`` goes to the UI app, the prefix moved into
``SCRIPT_NAME``. With profiling off, any other request costs one attribute
check and goes straight to the app. A profiled request runs under its own
cProfile (see :mod:`linesman.profiling.gate`) from the app call to ``close()``,
chunk by chunk and without buffering; once it is closed its raw profile goes
to the writer thread. Nothing here may change what the app answers: the app's
own exceptions pass through untouched and linesman's own failures are only
logged and counted. The PasteDeploy factories live at the bottom.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable
from typing import Any

from linesman.backends import create_backend
from linesman.backends.base import Backend
from linesman.config import Settings, parse_settings
from linesman.model.capture import CaptureWindow
from linesman.profiling.gate import ProfilerGate, RequestProfile
from linesman.profiling.sampling import SampledProfile
from linesman.signing import Signer, new_secret
from linesman.storage.health import Health
from linesman.storage.retention import Retention
from linesman.storage.writer import ProfileRecord, SessionWriter
from linesman.web.access import TOKEN_PARAMETER
from linesman.web.ui import ProfilerUI

__all__ = [
    "ProfilingMiddleware",
    "make_linesman_middleware",
    "profiler_filter_factory",
    "profiler_filter_app_factory",
    "SESSION_HEADER",
]

log = logging.getLogger("linesman")

SESSION_HEADER = "X-Linesman-Session"
_KEPT_CHARS = 8192  # of each kept value, before the session's own limits (TEXT_LIMITS)
_KEPT_ENVIRON = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "HTTP_HOST",
    "HTTP_USER_AGENT",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
)


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
        self.enabled = self.settings.enabled
        self.captures: tuple[CaptureWindow, ...] = ()  # open capture windows, read with the switch
        self.signer = Signer(new_secret(), shared=False)  # the store's, once it answers
        self._signer_tried = 0.0
        ready = self._set_up_store()
        self.writer = SessionWriter(
            self.backend,
            self.health,
            queue_size=self.settings.queue_size,
            queue_bytes=self.settings.queue_bytes,
            flush_timeout=self.settings.flush_timeout,
            retention=Retention(
                self.settings.max_sessions,
                self.settings.max_age,
                keep_slowest=self.settings.keep_slowest,
                folds=self.settings.folds,
            ),
            on_switch=self._apply_switch,
            on_captures=self._apply_captures,
            ready=ready,
            gate=self.gate,
        )
        self.ui = ProfilerUI(self)  # built now: a wrong access option fails at start-up
        if self.settings.require_token:
            log.info(
                "linesman: the profiler UI opens with %s (`linesman url STORE` prints it too)",
                self.login_path(),
            )

    # -- start-up and the switch ---------------------------------------------
    def _set_up_store(self) -> bool:
        """Prepare the store; trouble is reported, never a start-up failure."""
        try:
            self.backend.setup()
            self._apply_switch(self.backend.get_enabled())
            self._apply_captures(self.backend.open_captures())
            self.signer = Signer(self.backend.get_secret())
        except Exception as exc:
            message = f"{self.backend.describe()}: {exc}"
            self.health.store_failed(message)
            self.health.problem(
                "store",
                "linesman: store unavailable at start-up, "
                "the app serves and storage will retry: %s",
                message,
            )
            return False
        return True

    def current_signer(self, refresh: bool = True) -> Signer:
        """The store's signer; while the store has not answered, a stand-in of this
        process, and (``refresh``, never on an app's request) another try for the
        store's at most every 30 s."""
        if refresh and not self.signer.shared and (time.monotonic() - self._signer_tried > 30.0):
            self._signer_tried = time.monotonic()
            try:
                self.signer = Signer(self.backend.get_secret())
            except Exception as exc:
                log.warning(
                    "linesman: the store's secret cannot be read (%s); this "
                    "process signs with its own until it can",
                    exc,
                )
        return self.signer

    def login_path(self, script_name: str = "") -> str:
        """The UI's address with the access token, which logs a browser in."""
        token = self.current_signer().login_token
        return f"{script_name}{self.profiler_path}/?{TOKEN_PARAMETER}={token}"

    def _apply_switch(self, stored: bool | None) -> None:
        if stored is not None:
            self.enabled = stored

    def _apply_captures(self, windows: list[CaptureWindow]) -> None:
        self.captures = tuple(windows)

    def start_capture(self, window: CaptureWindow) -> None:
        """Arm a capture window for every process that shares the store."""
        self.backend.start_capture(window)
        self._apply_captures(self.backend.open_captures())

    def stop_capture(self, window_id: str) -> bool:
        stopped = self.backend.stop_capture(window_id)
        self._apply_captures(self.backend.open_captures())
        return stopped

    def set_enabled(self, enabled: bool) -> None:
        """Turn profiling on or off for every process that shares the store."""
        self.backend.set_enabled(enabled)
        self.enabled = bool(enabled)

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
        if not self.enabled and not self.captures:
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
        tracked = self.enabled and self.gate.exclusive and environ.get("wsgi.multithread", True)
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
            if settings.include_paths:
                for pattern in settings.include_paths:
                    if pattern.search(path) is not None:
                        break
                else:
                    return False
            for pattern in settings.exclude_paths:
                if pattern.search(path) is not None:
                    return False
        rate = settings.sample_rate
        return rate >= 1.0 or random.random() < rate

    def _samples(self, environ: dict) -> bool:
        """Whether this request gets the sampling engine rather than cProfile.

        ``auto`` samples exactly where cProfile cannot be the request's own:
        from Python 3.12 (one cProfile per process, recording every thread) on a
        server that runs requests in several threads."""
        choice = self.settings.profiler
        if choice == "auto":
            return self.gate.exclusive and environ.get("wsgi.multithread", True)
        return choice == "sampling"

    def _observe(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not self.writer.started:
            self.writer.ensure_started()
        window = self._window_for(environ) if self.captures else None
        selected = self.enabled and self._selected(environ)
        wanted = selected or window is not None
        if self._samples(environ):
            if not wanted:  # sampling is per thread: an unprofiled request spoils nothing
                return self.app(environ, start_response)
            sampled = SampledProfile(
                self.settings.sample_interval, self.gate.count_in(), LINESMAN_HOOKS
            )
            return self._serve_profiled(environ, start_response, sampled, selected, window)
        if not wanted and not (self.gate.exclusive and environ.get("wsgi.multithread", True)):
            # Only where one profiler sees every thread can this request spoil a profile.
            return self.app(environ, start_response)
        profile: RequestProfile | SampledProfile | None
        profile, skipped = self.gate.enter(wanted)
        if skipped == "busy" and self.settings.profiler == "auto":
            # cProfile is not free for it (linesman's writer holds it): sample instead.
            profile = SampledProfile(
                self.settings.sample_interval, self.gate.arrival(), LINESMAN_HOOKS
            )
            profile.concurrent = True
            skipped = None
        if skipped:
            self.health.count(f"skipped.{skipped}")
        if profile is None:
            return self._serve_tracked(environ, start_response)
        return self._serve_profiled(environ, start_response, profile, selected, window)

    def _window_for(self, environ: dict) -> CaptureWindow | None:
        """The first open capture window this request falls in, if any."""
        now = time.time()
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        for window in self.captures:
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
        if _finished_when_returned(result, environ):
            self.gate.leave()
            return result
        return TrackedResponse(result, self.gate)

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
        if _finished_when_returned(result, environ):
            if isinstance(result, (list, tuple)):
                request.response_size = sum(len(chunk) for chunk in result)
            else:  # the server's file wrapper sends the file: what it will send
                request.response_size = _file_size(result, request.content_length)
            request.finish()
            return result
        return ProfiledResponse(result, request)


def _finished_when_returned(result: Any, environ: dict) -> bool:
    """A list, or the server's file wrapper: no app code runs after the call."""
    if type(result) in (list, tuple):
        return True
    wrapper = environ.get("wsgi.file_wrapper")
    return isinstance(wrapper, type) and isinstance(result, wrapper)


def _file_size(wrapper: Any, content_length: int | None) -> int:
    """What a ``wsgi.file_wrapper`` response sends: its Content-Length, or what is
    left of its file."""
    if content_length is not None:
        return content_length
    try:
        filelike: Any = getattr(wrapper, "filelike", None) or getattr(wrapper, "file", None)
        return max(0, os.fstat(filelike.fileno()).st_size - filelike.tell())
    except (AttributeError, OSError, ValueError, TypeError):
        return 0


def _error_text(exc: BaseException) -> str:
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else (f"{kind.__module__}.{kind.__qualname__}")
    )
    text = str(exc)
    return f"{name}: {text}"[:500] if text else name


class ProfiledRequest:
    """What one profiled request gathers until its body is closed."""

    __slots__ = (
        "middleware",
        "profile",
        "server_start_response",
        "environ",
        "uuid",
        "timestamp",
        "started",
        "status",
        "response_size",
        "header",
        "finished",
        "selected",
        "window",
        "content_length",
    )

    def __init__(
        self,
        middleware: ProfilingMiddleware,
        environ: dict,
        start_response: Callable,
        profile: RequestProfile | SampledProfile,
        selected: bool = True,
        window: CaptureWindow | None = None,
    ) -> None:
        self.middleware = middleware
        self.profile = profile
        self.selected = selected  # by the switch and the options, not only by a window
        self.window = window
        self.server_start_response = start_response
        # Bounded copies: a 120 KB query must not wait 120 KB in the queue.
        self.environ = {
            key: str(environ[key])[:_KEPT_CHARS] for key in _KEPT_ENVIRON if key in environ
        }
        self.uuid = str(uuid_module.uuid4())
        self.timestamp = time.time()
        self.started = time.perf_counter()
        self.status: int | None = None
        self.response_size = 0
        self.content_length: int | None = None
        self.finished = False
        self.header = None
        # Only a client that may open the UI learns that a profiler is mounted, and where.
        if (
            middleware.settings.response_header
            and middleware.ui.access.check(environ, refresh=False).allowed
        ):
            url = f"{environ.get('SCRIPT_NAME', '')}{middleware.profiler_path}/profiles/{self.uuid}"
            self.header = (SESSION_HEADER, f"{self.uuid}; url={url}")

    def start_response(self, status: str, headers: list, *exc_info: Any) -> Callable:
        try:
            self.status = int(str(status)[:3])
        except ValueError:
            self.status = None
        for name, value in headers:
            if name.lower() == "content-length" and str(value).strip().isdigit():
                self.content_length = int(value)
        if self.header is not None:
            headers = [*headers, self.header]
        return self.server_start_response(status, headers, *exc_info)

    def finish(self, error: BaseException | None = None) -> None:
        """Hand the profile to the writer, or count why not; never raises."""
        if self.finished:
            return
        self.finished = True
        middleware = self.middleware
        gate = middleware.gate
        try:
            duration = time.perf_counter() - self.started
            gate.seal(self.profile)
            reason = gate.verdict(self.profile)
            capture = None
            if reason is None:
                if self.window is not None and duration >= self.window.min_duration:
                    capture = self.window.id
                elif not self.selected or duration < middleware.settings.min_duration:
                    reason = "too_fast"
            if reason is not None:
                middleware.health.count(f"skipped.{reason}")
                if self.header is not None:
                    middleware.health.not_kept(self.uuid, reason)
                return
            middleware.health.count("profiled")
            raw = self.profile if isinstance(self.profile, SampledProfile) else self.profile.profile
            queued = middleware.writer.submit(
                ProfileRecord(
                    raw,
                    self.environ,
                    self.uuid,
                    self.timestamp,
                    duration,
                    self.profile.cpu_time,
                    self.status,
                    self.response_size,
                    None if error is None else _error_text(error),
                    self.profile.concurrent,
                    capture,
                    self.selected and duration >= middleware.settings.min_duration,
                    LINESMAN_HOOKS,
                )
            )
            if not queued and self.header is not None:
                middleware.health.not_kept(self.uuid, "queue_full")
        except Exception:
            middleware.health.problem(
                "finish", "linesman: could not finish a profile", exc_info=True
            )
        finally:
            # Counted out last: where one profiler sees every thread, a profile that
            # starts now must not record this thread handing the record over.
            gate.leave()


# linesman's code that the app itself calls, under the profiler: left out of profiles.
LINESMAN_HOOKS = frozenset({ProfiledRequest.start_response.__code__})


class ProfiledResponse:
    """The app's body, passed on chunk by chunk with the profiler on for each."""

    __slots__ = ("_app_iter", "_next", "_request", "_closed")

    def __init__(self, app_iter: Iterable[bytes], request: ProfiledRequest) -> None:
        self._app_iter = app_iter
        self._next: Callable[[], bytes] | None = None
        self._request = request
        self._closed = False

    def __iter__(self) -> ProfiledResponse:
        return self

    def __next__(self) -> bytes:
        request = self._request
        try:
            if self._next is None:
                self._next = request.profile.call(iter, self._app_iter).__next__
            chunk = request.profile.call(self._next)
        except StopIteration:
            raise
        except BaseException as exc:
            request.finish(error=exc)
            raise
        request.response_size += len(chunk)
        return chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        request = self._request
        close = getattr(self._app_iter, "close", None)
        try:
            if close is not None:
                request.profile.call(close)
        except BaseException as exc:
            request.finish(error=exc)
            raise
        request.finish()

    def __del__(self) -> None:
        # A server that never calls close() must not keep the profiler taken.
        if not self._closed:
            self._request.finish()


class TrackedResponse:
    """An unprofiled body that leaves the gate when it is closed."""

    __slots__ = ("_app_iter", "_gate", "_left", "_closed")

    def __init__(self, app_iter: Iterable[bytes], gate: ProfilerGate) -> None:
        self._app_iter = app_iter
        self._gate = gate
        self._left = False
        self._closed = False

    def __iter__(self):
        return iter(self._app_iter)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._app_iter, "close", None)
            if close is not None:
                close()
        finally:
            self._leave()

    def _leave(self) -> None:
        if not self._left:
            self._left = True
            self._gate.leave()

    def __del__(self) -> None:
        self._leave()


# -- factories ------------------------------------------------------------------
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
