"""The WSGI request and response wrappers of a profiled request: the
``start_response`` the app calls, and the body iterators that switch the
profiler on around each piece of the app's work and hand the finished profile
to the writer once the body is closed. Nothing here may change what the app
answers."""

from __future__ import annotations

import logging
import os
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from linesman.model.capture import CaptureWindow
from linesman.profiling.gate import ProfilerGate, RequestProfile
from linesman.profiling.sampling import SampledProfile
from linesman.storage.record import ProfileRecord

if TYPE_CHECKING:
    from linesman.middleware import ProfilingMiddleware

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


_TEXT = {str}


def kept_environ(environ: dict) -> dict[str, str]:
    """What a record keeps of the environ: the few values a session reads, each
    bounded (a 120 KB query must not wait 120 KB in the queue). The usual case,
    short texts, is a few C loops; anything else is copied value by value."""
    kept = {key: environ[key] for key in _KEPT_ENVIRON if key in environ}
    values = kept.values()
    if set(map(type, values)) <= _TEXT and max(map(len, values), default=0) <= _KEPT_CHARS:
        return kept
    return {key: str(value)[:_KEPT_CHARS] for key, value in kept.items()}


def finished_when_returned(result: Any, environ: dict) -> bool:
    """A list, or the server's file wrapper: no app code runs after the call."""
    if type(result) in (list, tuple):
        return True
    wrapper = environ.get("wsgi.file_wrapper")
    return isinstance(wrapper, type) and isinstance(result, wrapper)


def file_size(wrapper: Any, content_length: int | None) -> int:
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
        "server_write",
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
        self.environ = kept_environ(environ)
        # Made here only for the header that names it; else the session makes its own
        # in the writer (a uuid4 costs as much as the rest of this together).
        self.uuid: str | None = None
        self.timestamp = time.time()
        self.started = time.perf_counter()
        self.status: int | None = None
        self.response_size = 0
        self.content_length: int | None = None
        self.server_write: Callable[[bytes], Any] | None = None
        self.finished = False
        self.header = None
        # Only a client that may open the UI learns that a profiler is mounted, and where.
        if middleware.settings.response_header and middleware.ui.access.allows_session_header(
            environ
        ):
            self.uuid = str(uuid_module.uuid4())
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
        self.server_write = self.server_start_response(status, headers, *exc_info)
        # The app may send its body through this callable (dulwich's git-upload-pack
        # does, megabytes of it) rather than return it: those bytes count too.
        return self.write

    def write(self, data: bytes) -> Any:
        """The server's ``write()``, counting what it sends; the bytes go on as given."""
        # Only start_response hands this out, so the server's write() is there.
        result = self.server_write(data)  # type: ignore[misc]
        self.response_size += len(data)
        return result

    def finish(self, error: BaseException | None = None) -> None:
        """Hand the profile to the writer, or count why not; never raises."""
        if self.finished:
            return
        self.finished = True
        middleware = self.middleware
        gate = middleware.gate
        try:
            duration = time.perf_counter() - self.started
            gate.mark_overlap(self.profile)
            if isinstance(self.profile, RequestProfile):
                gate.profile_done(self.profile)
            reason = gate.reason_not_to_store(self.profile)
            capture = None
            if reason is None:
                if self.window is not None and duration >= self.window.min_duration:
                    capture = self.window.id
                elif not self.selected or duration < middleware.settings.min_duration:
                    reason = "too_fast"
            if reason is not None:
                middleware.health.count(f"skipped.{reason}")
                if self.uuid is not None:  # named in the response header
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
            if not queued and self.uuid is not None:
                middleware.health.not_kept(self.uuid, "queue_full")
        except Exception:
            middleware.health.problem(
                "finish", "linesman: could not finish a profile", exc_info=True
            )
        finally:
            # Sealed: a body closed after it failed must not switch it on again.
            if self.profile.lost is None:
                self.profile.lost = "finished"
            # Counted out last: where one profiler sees every thread, a profile that
            # starts now must not record this thread handing the record over.
            gate.leave()


# linesman's code that the app itself calls, under the profiler: left out of profiles.
LINESMAN_HOOKS = frozenset(
    {ProfiledRequest.start_response.__code__, ProfiledRequest.write.__code__}
)


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


class _KeepsLength:
    """A wrapped body whose app iterable has a length keeps it: servers set
    ``Content-Length`` from a one-item body's length (waitress, wsgiref), so a
    body that lost it would go out chunked or without its length."""

    __slots__ = ()
    _app_iter: Any

    def __len__(self) -> int:
        return len(self._app_iter)


class SizedProfiledResponse(_KeepsLength, ProfiledResponse):
    """A profiled body with its app iterable's length."""

    __slots__ = ()


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


class SizedTrackedResponse(_KeepsLength, TrackedResponse):
    """A tracked body with its app iterable's length."""

    __slots__ = ()


def profiled_body(app_iter: Iterable[bytes], request: ProfiledRequest) -> ProfiledResponse:
    """The app's body, profiled, with its length where it has one."""
    if hasattr(app_iter, "__len__"):
        return SizedProfiledResponse(app_iter, request)
    return ProfiledResponse(app_iter, request)


def tracked_body(app_iter: Iterable[bytes], gate: ProfilerGate) -> TrackedResponse:
    """The app's body, unprofiled but tracked, with its length where it has one."""
    if hasattr(app_iter, "__len__"):
        return SizedTrackedResponse(app_iter, gate)
    return TrackedResponse(app_iter, gate)
