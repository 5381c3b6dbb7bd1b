"""The profiler's web UI, a WebOb app mounted under ``profiler_path``.

Routes are one declarative table of ``(method, pattern, view)``; a view takes
the request and the pattern's groups and returns a response, or raises a
``webob.exc`` error that is drawn as the UI's own error page (never echoing
raw input). Access (:mod:`linesman.web.access`) and the CSRF check of every POST
happen in one place, before any view. Templates are Mako with every
expression HTML-escaped unless a template says ``|n``. The session page is
an HTML shell plus the profile's figures as JSON, from which the browser draws
the call tree, statistics table and flame graph lazily; the call graph is DOT,
drawn in the page by a vendored Graphviz build or on the server where ``dot``
is installed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from mako.lookup import TemplateLookup
from webob import Request, Response
from webob import exc as http
from webob.static import DirectoryApp

from linesman.backends.base import BackendError
from linesman.exporters.registry import FORMATS
from linesman.model.gc_pause import paused_gc
from linesman.model.session import (
    UUID_PATTERN,
    SessionFormatError,
)
from linesman.web.access import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    TOKEN_PARAMETER,
    AccessPolicy,
    cookie_values,
)
from linesman.web.across_pages import AcrossPages
from linesman.web.api import SessionsAPI
from linesman.web.cache import PageCache
from linesman.web.change_pages import ChangePages
from linesman.web.figures_api import FiguresAPI
from linesman.web.formatting import COUNT_CAP
from linesman.web.heavy import HeavyViews
from linesman.web.params import parse_cutoff
from linesman.web.session_pages import SessionPages

if TYPE_CHECKING:
    from linesman.controls import Controls

__all__ = ["ProfilerUI", "asset_folder", "parse_cutoff"]

log = logging.getLogger("linesman")
# The export URLs end in a format's extension: one alternative each.
EXPORT_EXTENSIONS = "|".join(re.escape(export_format.extension) for export_format in FORMATS)

MAX_FORM_BYTES = 1 << 20  # a delete form of 20,000 ids fits; more is refused unread
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}


def asset_folder(name: str) -> Path:
    """``templates`` or ``static``: inside the installed package, or the checkout's."""
    installed = Path(str(resources.files("linesman"))) / name
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / name


class ProfilerUI(SessionPages, AcrossPages, ChangePages):
    """The WSGI app behind ``profiler_path``."""

    def __init__(self, controls: Controls) -> None:
        self.controls = controls
        self.access = AccessPolicy(controls.settings, controls.current_signer)
        self.templates = TemplateLookup(
            directories=[str(asset_folder("templates"))],
            default_filters=["h"],
            strict_undefined=True,
            input_encoding="utf-8",
        )
        self.static_files = DirectoryApp(str(asset_folder("static")))
        self.cache = PageCache()
        self.heavy = HeavyViews(controls.settings.view_budget)
        self._endpoints = None  # see endpoint_table
        self._endpoints_lock = threading.Lock()
        self.count_cap = COUNT_CAP
        self.damaged: set[str] = set()  # ids whose documents did not decode, for the list
        session = rf"/profiles/(?P<session_uuid>{UUID_PATTERN})"
        api = SessionsAPI(controls, self.cache, self.load)
        figures = FiguresAPI(controls, self.endpoint_table)
        api_session = rf"/api/sessions/(?P<session_uuid>{UUID_PATTERN})"
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("GET", re.compile(r"/?"), self.list_page),
            ("GET", re.compile(session), self.session_page),
            ("GET", re.compile(session + r"/versus-median"), self.versus_median),
            (
                "GET",
                re.compile(session + rf"\.(?P<kind>{EXPORT_EXTENSIONS})"),
                self.export,
            ),
            ("GET", re.compile(r"/static/[A-Za-z0-9._/-]+"), self.static_file),
            ("POST", re.compile(r"/delete/all"), self.delete_all),
            ("POST", re.compile(r"/delete/matching"), self.delete_matching),
            ("POST", re.compile(rf"/delete/(?P<session_uuid>{UUID_PATTERN})"), self.delete_one),
            ("POST", re.compile(r"/delete"), self.delete_selected),
            ("POST", re.compile(r"/state"), self.set_state),
            ("POST", re.compile(r"/captures"), self.start_capture),
            (
                "POST",
                re.compile(rf"/captures/(?P<window_id>{UUID_PATTERN})/stop"),
                self.stop_capture,
            ),
            ("GET", re.compile(r"/api/captures"), api.captures),
            ("POST", re.compile(r"/api/captures"), api.start_capture),
            (
                "POST",
                re.compile(rf"/api/captures/(?P<window_id>{UUID_PATTERN})/stop"),
                api.stop_capture,
            ),
            ("GET", re.compile(r"/api/sessions"), api.list),
            ("GET", re.compile(api_session), api.detail),
            ("DELETE", re.compile(api_session), api.delete),
            ("GET", re.compile(r"/api/state"), api.state),
            ("PUT", re.compile(r"/api/state"), api.set_state),
            ("GET", re.compile(r"/api/openapi\.json"), api.openapi),
            ("GET", re.compile(r"/api/endpoints"), figures.endpoints),
            ("GET", re.compile(r"/api/counters"), figures.counters),
            ("GET", re.compile(r"/api/compare"), self.compare_json),
            ("GET", re.compile(r"/endpoints"), self.endpoints_page),
            ("GET", re.compile(r"/endpoints/merged"), self.merged_page),
            ("GET", re.compile(r"/endpoints/merged\.prof"), self.merged_prof),
            ("GET", re.compile(r"/compare"), self.compare_page),
            ("GET", re.compile(r"/compare\.json"), self.compare_json),
        ]

    def forget_computed(self) -> None:
        """Drop every computed page and the endpoints' figures (they come back when
        asked): for a benchmark's cold views, and after a bulk change."""
        self.cache.forget()
        with self._endpoints_lock:
            self._endpoints = None

    def note_damaged(self, path: str) -> None:
        """Remember a session whose document would not decode, so the list flags it."""
        match = re.search(UUID_PATTERN, path)
        if match and len(self.damaged) < 1000:
            self.damaged.add(match.group(0))

    # -- the one entry -----------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable):
        request = Request(environ)
        signer = self.controls.current_signer()
        # Not request.cookies: a megabyte of cookies would be parsed before the gate.
        token = next(
            (value for value in cookie_values(environ, CSRF_COOKIE) if signer.is_csrf_token(value)),
            "",
        )
        new_token = None if token else signer.csrf_token()
        request.environ["linesman.csrf"] = new_token or token
        decision = None
        try:
            decision = self.access.check(environ)
            if not decision.allowed:
                raise self.refusal(decision)
            request.environ["linesman.by_header"] = decision.by_header
            if (
                decision.by_link
                and request.method in ("GET", "HEAD")
                and not (request.path_info.startswith("/api/"))
            ):
                response = http.HTTPSeeOther(location=self.without_token(request))
            else:
                response = self.dispatch(request)
        except http.HTTPException as error:
            response = self.error_page(request, error)
        except BackendError as error:
            self.controls.health.store_failed(f"{self.backend.describe()}: {error}")
            response = self.error_page(
                request,
                http.HTTPServiceUnavailable(
                    "The session store cannot be read right now; see the message above."
                ),
            )
        except SessionFormatError as error:
            self.note_damaged(request.path_info)
            self.controls.health.problem("damaged", "linesman: %s: %s", request.path_info, error)
            gone = http.HTTPGone(  # 410: the row stays damaged; only deleting it helps
                f"This session is stored, but damaged: it cannot be read ({error})."
            )
            gone.title = "Damaged session"
            response = self.error_page(request, gone)
        except Exception:
            log.exception("linesman: the profiler UI failed on %s", request.path_info)
            response = self.error_page(
                request,
                http.HTTPInternalServerError(
                    "The profiler failed to draw this page; the details are in the log."
                ),
            )
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if decision is not None and decision.login is not None:
            # A new login (the link) or one renewed past half its life; see access.
            for cookie in self.access.login_cookies(
                environ, decision.login, request.script_name or "/", self.app_root(request)
            ):
                response.set_cookie(**cookie)
        if new_token and response.content_type in ("text/html", "application/json"):
            response.set_cookie(
                CSRF_COOKIE,
                new_token,
                path=request.script_name or "/",
                httponly=True,
                samesite="Strict",
                secure=self.access.is_https(environ),
            )
        return response(environ, start_response)

    @staticmethod
    def refusal(decision) -> http.HTTPException:
        if decision.status != 401:
            return http.HTTPForbidden(decision.reason)
        error = http.HTTPUnauthorized(decision.reason)
        error.headers["WWW-Authenticate"] = decision.challenge
        return error

    def app_root(self, request: Request) -> str:
        outer = request.script_name[: -len(self.controls.profiler_path)]
        return outer + "/" if not outer.endswith("/") else outer

    @staticmethod
    def without_token(request: Request) -> str:
        """The URL just opened with the login link, minus the token."""
        kept = [
            (name, value)
            for name, value in parse_qsl(request.query_string, keep_blank_values=True)
            if name != TOKEN_PARAMETER
        ]
        path = request.script_name + (request.path_info or "/")
        return path + ("?" + urlencode(kept) if kept else "")

    def dispatch(self, request: Request) -> Response:
        path = request.path_info
        allowed = []
        for method, pattern, view in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if request.method == method or (method == "GET" and request.method == "HEAD"):
                if method != "GET":
                    if self.controls.settings.read_only:
                        raise http.HTTPForbidden("This profiler is read-only: it changes nothing.")
                    self.check_change(request)
                with paused_gc():  # a big profile's page: see linesman.model.gc_pause
                    return view(request, **match.groupdict())
            allowed.append(method)
        if allowed:
            raise http.HTTPMethodNotAllowed(
                "This page does not take that method.", headers={"Allow": ", ".join(allowed)}
            )
        raise http.HTTPNotFound("There is no such page in the profiler.")

    def check_change(self, request: Request) -> None:
        """A change needs a CSRF token this store's secret signed, in the form or a
        header: a cookie planted by another page (cookies ignore ports) is not one."""
        length = request.content_length
        if length is None or length > MAX_FORM_BYTES:
            if length is not None or request.headers.get("Transfer-Encoding"):
                raise http.HTTPRequestEntityTooLarge("That form is too large.")
        given = request.headers.get(CSRF_HEADER)
        if request.method == "POST":
            try:
                form = request.POST  # parsed once here; a malformed body is the client's error
            except Exception:
                raise http.HTTPBadRequest("The form cannot be read.") from None
            given = given or form.get(CSRF_FIELD, "")
        if request.environ.get("linesman.by_header"):
            return  # a header no other site's page can send: a script, not a forged form
        if not self.controls.current_signer().is_csrf_token(str(given or "")):
            raise http.HTTPForbidden(
                "The form's security token is missing or out of date; "
                "reload the page and try again."
            )

    def static_file(self, request: Request) -> Response:
        root = asset_folder("static").resolve()
        target = (root / request.path_info[len("/static/") :]).resolve()
        if not target.is_relative_to(root):  # a symlink that leads out of the folder
            raise http.HTTPNotFound("There is no such file.")
        request = request.copy_get()
        request.path_info_pop()
        response = request.get_response(self.static_files)
        if response.status_int >= 400:
            raise http.HTTPNotFound("There is no such file.")
        if response.status_int == 200:
            response.cache_control = "public, max-age=3600"
        return response
