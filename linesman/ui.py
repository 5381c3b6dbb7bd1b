"""The profiler's web UI, a WebOb app mounted under ``profiler_path``.

Routes are one declarative table; views take a request and return a response
or raise a ``webob.exc`` error, which is drawn as the UI's own error page.
Access is checked in one place, before any route: profiles expose the app's
source paths and timings, so only loopback clients under a loopback Host name
get in unless the configuration says otherwise. Templates are Mako with every
expression HTML-escaped unless a template opts out.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from mako.lookup import TemplateLookup
from webob import Request, Response
from webob import exc as http
from webob.static import DirectoryApp

from linesman.backends.base import BackendError
from linesman.profiler import SKIP_REASONS
from linesman.session import SessionFormatError

if TYPE_CHECKING:
    from linesman.middleware import ProfilingMiddleware

__all__ = ["ProfilerUI", "asset_folder"]

log = logging.getLogger("linesman")

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PAGE_SIZE = 50
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
                               "style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


def asset_folder(name: str) -> Path:
    """``templates`` or ``static``: inside the installed package, or the checkout's."""
    installed = Path(str(resources.files("linesman"))) / name
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / name


def _parse_networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


class ProfilerUI:
    """The WSGI app behind ``profiler_path``."""

    def __init__(self, middleware: "ProfilingMiddleware") -> None:
        self.middleware = middleware
        self.networks = _parse_networks(middleware.settings.allowed_ips)
        self.templates = TemplateLookup(directories=[str(asset_folder("templates"))],
                                        default_filters=["h"], strict_undefined=True,
                                        input_encoding="utf-8")
        self.static_files = DirectoryApp(str(asset_folder("static")))
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("GET", re.compile(r"/?"), self.list_page),
            ("GET", re.compile(rf"/profiles/(?P<session_uuid>{UUID_PATTERN})"),
             self.session_page),
            ("GET", re.compile(r"/static/[A-Za-z0-9._/-]+"), self.static_file),
        ]

    def __call__(self, environ: dict, start_response: Callable):
        request = Request(environ)
        try:
            self.check_access(request)
            response = self.dispatch(request)
        except http.HTTPException as error:
            response = self.error_page(request, error)
        except BackendError as error:
            self.middleware.health.store_failed(f"{self.backend.describe()}: {error}")
            response = self.error_page(request, http.HTTPServiceUnavailable(
                "The session store cannot be read right now; see the message above."))
        except SessionFormatError as error:
            response = self.error_page(request, http.HTTPInternalServerError(
                f"This session is stored, but cannot be read: {error}"))
        except Exception:
            log.exception("linesman: the profiler UI failed on %s", request.path_info)
            response = self.error_page(request, http.HTTPInternalServerError(
                "The profiler failed to draw this page; the details are in the log."))
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    # -- access ------------------------------------------------------------------
    def check_access(self, request: Request) -> None:
        if request.headers.get("Forwarded") or request.headers.get("X-Forwarded-For"):
            raise http.HTTPForbidden("Forwarded requests may not open the profiler.")
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            raise http.HTTPForbidden("Unknown client address.") from None
        if not any(address in network for network in self.networks):
            raise http.HTTPForbidden("This address may not open the profiler.")
        host = (request.host or "").rsplit(":", 1)[0] if not (request.host or "").startswith(
            "[") else (request.host or "").split("]")[0] + "]"
        if host.lower() not in _LOOPBACK_HOSTS:
            raise http.HTTPForbidden("The profiler answers only under a loopback host name.")

    # -- routing -----------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        path = request.path_info
        allowed = []
        for method, pattern, view in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if request.method in (method, "HEAD" if method == "GET" else method):
                return view(request, **match.groupdict())
            allowed.append(method)
        if allowed:
            raise http.HTTPMethodNotAllowed(headers={"Allow": ", ".join(allowed)})
        raise http.HTTPNotFound("There is no such page in the profiler.")

    def render(self, request: Request, template: str, status: int = 200,
               **values) -> Response:
        values["base"] = request.script_name
        body = self.templates.get_template(template).render_unicode(
            fmt_time=fmt_time, fmt_ms=fmt_ms, health=self.middleware.health, **values)
        return Response(body, status=status, content_type="text/html", charset="utf-8")

    def error_page(self, request: Request, error: http.HTTPException) -> Response:
        response = self.render(request, "error.mako", status=error.code, title=error.title,
                               detail=error.detail or "")
        for name in ("Allow",):
            if name in error.headers:
                response.headers[name] = error.headers[name]
        return response

    # -- views -------------------------------------------------------------------
    @property
    def backend(self):
        return self.middleware.backend

    def list_page(self, request: Request) -> Response:
        summaries = self.backend.list_summaries(0, PAGE_SIZE)
        counts = self.middleware.health.counts()
        skipped = [(name.split(".", 1)[1], number, SKIP_REASONS.get(name.split(".", 1)[1], ""))
                   for name, number in sorted(counts.items()) if name.startswith("skipped.")]
        return self.render(request, "list.mako", sessions=summaries, total=self.backend.count(),
                           enabled=self.middleware.enabled, counts=counts, skipped=skipped)

    def static_file(self, request: Request) -> Response:
        request = request.copy_get()
        request.path_info_pop()
        response = request.get_response(self.static_files)
        if response.status_int == 200:
            response.cache_control = "public, max-age=3600"
        elif response.status_int >= 400:
            raise http.HTTPNotFound("There is no such file.")
        return response

    def session_page(self, request: Request, session_uuid: str) -> Response:
        session = self.backend.get(session_uuid)
        if session is None:
            raise http.HTTPNotFound("No stored session has that id.")
        functions = sorted(session.functions, key=lambda f: f.totaltime, reverse=True)
        return self.render(request, "session.mako", session=session, functions=functions[:200])


def fmt_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).astimezone().strftime(
        "%Y-%m-%d %H:%M:%S %Z")


def fmt_ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:.1f} ms"
