"""A tiny WSGI server stand-in that records everything an app did, for comparisons."""

from __future__ import annotations

import io
import time
import wsgiref.util
from dataclasses import dataclass, field
from wsgiref.validate import validator

SESSION_HEADER = "X-Linesman-Session"


@dataclass
class Outcome:
    status: str | None = None
    headers: list = field(default_factory=list)
    chunks: list = field(default_factory=list)
    written: list = field(default_factory=list)
    error: tuple | None = None
    result: object = None

    def comparable(self):
        """Everything but linesman's own header, and exceptions by type and text."""
        headers = [(k, v) for k, v in self.headers if k != SESSION_HEADER]
        return (self.status, headers, self.chunks, self.written, self.error)

    def header(self, name):
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def make_environ(path="/", **extra):
    environ = {
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "REQUEST_METHOD": "GET",
        "wsgi.input": io.BytesIO(b""),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
    }
    wsgiref.util.setup_testing_defaults(environ)
    environ["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    environ.update(extra)
    return environ


def call(
    app, path="/", *, validate=True, stop_after=None, between_chunks=None, **environ_extra
) -> Outcome:
    """Call ``app`` as a server would: iterate the body, then close it."""
    if validate:
        app = validator(app)
    outcome = Outcome()
    environ = make_environ(path, **environ_extra)

    def start_response(status, headers, exc_info=None):
        outcome.status = status
        outcome.headers = list(headers)
        return outcome.written.append

    try:
        body = app(environ, start_response)
        outcome.result = body
        try:
            for chunk in body:
                outcome.chunks.append(chunk)
                if between_chunks is not None:
                    between_chunks(len(outcome.chunks))
                if stop_after is not None and len(outcome.chunks) >= stop_after:
                    break
        finally:
            if hasattr(body, "close"):
                body.close()
    except Exception as exc:
        outcome.error = (type(exc), str(exc))
    return outcome


def server_work(seconds):
    """What a server does between chunks; never the app's time."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
