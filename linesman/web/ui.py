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

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from mako.lookup import TemplateLookup
from webob import Request, Response
from webob import exc as http
from webob.multidict import MultiDict
from webob.static import DirectoryApp

from linesman.analysis.endpoints import (
    MERGE_LIMIT,
    ProfileRef,
    compare_sessions,
    iso_utc,
    median_session,
    parse_ref,
    parse_time,
    resolve,
    stats_of_rows,
)
from linesman.backends.base import BackendError
from linesman.exporters.formats import export_name, to_collapsed, to_json, to_prof, to_speedscope
from linesman.model.callgraph import render_svg, to_dot
from linesman.model.capture import CaptureError, parse_capture
from linesman.model.gc_pause import paused_gc
from linesman.model.session import (
    METHOD_PATTERN,
    UUID_PATTERN,
    ProfilingSession,
    SessionFormatError,
)
from linesman.storage.health import SKIP_REASONS
from linesman.web.access import LOGIN_COOKIE, TOKEN_PARAMETER, AccessPolicy
from linesman.web.api import SessionsAPI, json_error, json_response
from linesman.web.cache import PageCache
from linesman.web.figures import comparison_figures, package_chart, profile_figures, profiler_text
from linesman.web.formatting import (
    COUNT_CAP,
    attachment,
    fmt_count,
    fmt_iso,
    fmt_ms,
    fmt_time,
    script_json,
)
from linesman.web.params import (
    ENDPOINTS_PER_PAGE,
    PAGE_SIZE,
    ListLinks,
    choice,
    merge_params,
    parse_cutoff,
    parse_list_query,
    query_params,
)

if TYPE_CHECKING:
    from linesman.middleware import ProfilingMiddleware

__all__ = ["ProfilerUI", "asset_folder", "parse_cutoff"]

log = logging.getLogger("linesman")

CSRF_COOKIE = "linesman_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-Linesman-CSRF"
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


class ProfilerUI:
    """The WSGI app behind ``profiler_path``."""

    def __init__(self, middleware: ProfilingMiddleware) -> None:
        self.middleware = middleware
        self.access = AccessPolicy(middleware.settings, middleware.current_signer)
        self.templates = TemplateLookup(
            directories=[str(asset_folder("templates"))],
            default_filters=["h"],
            strict_undefined=True,
            input_encoding="utf-8",
        )
        self.static_files = DirectoryApp(str(asset_folder("static")))
        self.cache = PageCache()
        self._endpoints: tuple[tuple, list] | None = None  # see endpoint_table
        self._endpoints_lock = threading.Lock()
        self.count_cap = COUNT_CAP
        self.damaged: set[str] = set()  # ids whose documents did not decode, for the list
        session = rf"/profiles/(?P<session_uuid>{UUID_PATTERN})"
        api = SessionsAPI(self)
        api_session = rf"/api/sessions/(?P<session_uuid>{UUID_PATTERN})"
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
            ("GET", re.compile(r"/?"), self.list_page),
            ("GET", re.compile(session), self.session_page),
            ("GET", re.compile(session + r"/versus-median"), self.versus_median),
            (
                "GET",
                re.compile(
                    session + r"\.(?P<kind>prof|speedscope\.json|collapsed\.txt|dot|svg|json)"
                ),
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
            ("GET", re.compile(r"/api/compare"), self.compare_json),
            ("GET", re.compile(r"/endpoints"), self.endpoints_page),
            ("GET", re.compile(r"/endpoints/merged"), self.merged_page),
            ("GET", re.compile(r"/endpoints/merged\.prof"), self.merged_prof),
            ("GET", re.compile(r"/compare"), self.compare_page),
            ("GET", re.compile(r"/compare\.json"), self.compare_json),
        ]

    @property
    def backend(self):
        return self.middleware.backend

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
        signer = self.middleware.current_signer()
        token = request.cookies.get(CSRF_COOKIE, "")
        new_token = None if signer.is_csrf_token(token) else signer.csrf_token()
        request.environ["linesman.csrf"] = new_token or token
        verdict = None
        try:
            verdict = self.access.check(environ)
            if not verdict.allowed:
                raise self.refusal(verdict)
            request.environ["linesman.by_header"] = verdict.by_header
            if (
                verdict.by_link
                and request.method in ("GET", "HEAD")
                and not (request.path_info.startswith("/api/"))
            ):
                response = http.HTTPSeeOther(location=self.without_token(request))
            else:
                response = self.dispatch(request)
        except http.HTTPException as error:
            response = self.error_page(request, error)
        except BackendError as error:
            self.middleware.health.store_failed(f"{self.backend.describe()}: {error}")
            response = self.error_page(
                request,
                http.HTTPServiceUnavailable(
                    "The session store cannot be read right now; see the message above."
                ),
            )
        except SessionFormatError as error:
            self.note_damaged(request.path_info)
            response = self.error_page(
                request,
                http.HTTPInternalServerError(
                    f"This session is stored, but cannot be read: {error}"
                ),
            )
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
        if verdict is not None and verdict.by_link:
            # The login cookie covers the app too, so its responses may carry the
            # session header (see ProfiledRequest) to this browser.
            # Lax: a link to a profile from a chat or a ticket opens it (a GET, which
            # changes nothing); every change still needs the signed CSRF token.
            response.set_cookie(
                LOGIN_COOKIE,
                signer.login_cookie,
                path=self.app_root(request),
                httponly=True,
                samesite="Lax",
            )
        if new_token and response.content_type in ("text/html", "application/json"):
            response.set_cookie(
                CSRF_COOKIE,
                new_token,
                path=request.script_name or "/",
                httponly=True,
                samesite="Strict",
            )
        return response(environ, start_response)

    @staticmethod
    def refusal(verdict) -> http.HTTPException:
        if verdict.status != 401:
            return http.HTTPForbidden(verdict.reason)
        error = http.HTTPUnauthorized(verdict.reason)
        error.headers["WWW-Authenticate"] = verdict.challenge
        return error

    def app_root(self, request: Request) -> str:
        outer = request.script_name[: -len(self.middleware.profiler_path)]
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
                    self.check_post(request)
                with paused_gc():  # a big profile's page: see linesman.model.gc_pause
                    return view(request, **match.groupdict())
            allowed.append(method)
        if allowed:
            raise http.HTTPMethodNotAllowed(
                "This page does not take that method.", headers={"Allow": ", ".join(allowed)}
            )
        raise http.HTTPNotFound("There is no such page in the profiler.")

    def check_post(self, request: Request) -> None:
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
        if not self.middleware.current_signer().is_csrf_token(str(given or "")):
            raise http.HTTPForbidden(
                "The form's security token is missing or out of date; "
                "reload the page and try again."
            )

    # -- drawing -----------------------------------------------------------------
    def render(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        body = self.templates.get_template(template).render_unicode(
            base=request.script_name,
            csrf=request.environ["linesman.csrf"],
            csrf_field=CSRF_FIELD,
            fmt_time=fmt_time,
            fmt_iso=fmt_iso,
            fmt_ms=fmt_ms,
            fmt_range=iso_utc,
            profiler_text=profiler_text,
            health=self.middleware.health,
            urlencode=urlencode,
            **values,
        )
        return Response(body, status=status, content_type="text/html", charset="utf-8")

    def error_page(self, request: Request, error: http.HTTPException) -> Response:
        if request.path_info.startswith("/api/"):
            return json_error(error)
        response = self.render(
            request, "error.mako", status=error.code, heading=error.title, detail=error.detail or ""
        )
        for name in ("Allow", "WWW-Authenticate"):
            if name in error.headers:
                response.headers[name] = error.headers[name]
        return response

    # -- the list ------------------------------------------------------------------
    def list_page(self, request: Request) -> Response:
        query, page = parse_list_query(request.GET)
        # Counting stops past the cap, so a listing costs the same at any size.
        cap = self.count_cap
        total = self.backend.count(query, limit=cap + 1)
        capped = total > cap
        pages = max(1, -(-min(total, cap) // PAGE_SIZE))
        summaries = self.backend.list_summaries((page - 1) * PAGE_SIZE, PAGE_SIZE, query)
        more = len(summaries) == PAGE_SIZE and (capped or page < pages)
        counts = self.middleware.health.counts()
        skipped = [
            (name.split(".", 1)[1], number, SKIP_REASONS.get(name.split(".", 1)[1], ""))
            for name, number in sorted(counts.items())
            if name.startswith("skipped.")
        ]
        deleted = request.GET.get("deleted", "")
        stored = self.backend.count(limit=cap + 1) if query.filters else total
        return self.render(
            request,
            "list.mako",
            sessions=summaries,
            total=fmt_count(total, cap),
            stored=fmt_count(stored, cap),
            page=page,
            pages=f"{pages}+" if capped else str(pages),
            more=more,
            damaged=self.damaged,
            query=query,
            params=query_params(query),
            links=ListLinks(request.script_name, query),
            enabled=self.middleware.enabled,
            counts=counts,
            skipped=skipped,
            captures=self.backend.captures(5),
            now=time.time(),
            deleted=int(deleted) if deleted.isdigit() and len(deleted) < 9 else None,
        )

    # -- one session -----------------------------------------------------------------
    def load(self, session_uuid: str) -> ProfilingSession:
        session = self.backend.get(session_uuid)
        if session is None:
            raise http.HTTPNotFound(self.why_missing(session_uuid))
        return session

    def why_missing(self, session_uuid: str) -> str:
        """Why a link (the response header's, say) leads to no profile."""
        reason = self.middleware.health.why_not_kept(session_uuid)
        if reason is not None:
            return (
                f"This request was profiled but its profile was not kept: "
                f"{SKIP_REASONS.get(reason, reason)}."
            )
        settings = self.middleware.settings
        floor = (
            f" (shorter than min_duration, {settings.min_duration * 1000:g} ms)"
            if settings.min_duration
            else ""
        )
        return (
            "No stored session has that id. A response names its profile before the "
            "profile is kept, so it may have been dropped" + floor + ", refused by a full "
            "queue or the store, served by another process that did not keep it, "
            "deleted, or removed by retention."
        )

    def session_page(self, request: Request, session_uuid: str) -> Response:
        cutoff = parse_cutoff(request.GET.get("cutoff"))
        packages = tuple(
            p
            for p in re.split(r"[\s,]+", request.GET.get("packages", ""))
            if re.fullmatch(r"[A-Za-z_][\w.]{0,99}", p)
        )[:20]
        key = (session_uuid, cutoff)
        view = self.cache.get(key)
        if view is None:
            session = self.cache.session_of(session_uuid) or self.load(session_uuid)
            view = self.session_view(session, cutoff)
            self.cache.put(key, view)
        session = view["session"]
        chosen = packages or self.middleware.settings.chart_packages
        chart = package_chart(session, chosen) if chosen else None
        return self.render(
            request, "session.mako", cutoff=cutoff, packages=" ".join(packages), chart=chart, **view
        )

    def session_view(self, session: ProfilingSession, cutoff: float) -> dict:
        figures = profile_figures(session, cutoff)
        figures["dot"] = to_dot(
            session.call_index, cutoff / 100, f"{session.method} {session.path}"
        )
        return {
            "session": session,
            "recursive": len(session.recursive_keys()),
            "figures": script_json(figures),
        }

    # -- across sessions ------------------------------------------------------------
    MERGE_LIMIT = MERGE_LIMIT

    @property
    def folds(self) -> tuple:
        return self.middleware.settings.folds

    def endpoints_page(self, request: Request) -> Response:
        """Endpoints by 95th percentile, ENDPOINTS_PER_PAGE to a page: a store of
        100,000 distinct paths is as many endpoints, and one page cannot hold them."""
        page = int(choice(request.GET.get("page"), r"[1-9][0-9]{0,5}", "page number") or "1")
        stats = self.endpoint_table()
        pages = max(1, -(-len(stats) // ENDPOINTS_PER_PAGE))
        if page > pages:
            raise http.HTTPNotFound("There is no such page of endpoints.")
        start = (page - 1) * ENDPOINTS_PER_PAGE
        return self.render(
            request,
            "endpoints.mako",
            endpoints=stats[start : start + ENDPOINTS_PER_PAGE],
            total=len(stats),
            page=page,
            pages=pages,
            first=start + 1,
        )

    def endpoint_table(self) -> list:
        """Every endpoint's figures; kept while the store has the same sessions (its
        count and newest id), so paging through them reads the store once."""
        newest = self.backend.list_summaries(0, 1)
        fingerprint = (self.backend.count(), newest[0]["uuid"] if newest else "")
        with self._endpoints_lock:
            if self._endpoints is not None and self._endpoints[0] == fingerprint:
                return self._endpoints[1]
        stats = stats_of_rows(self.backend.endpoint_rows(), self.folds)
        with self._endpoints_lock:
            self._endpoints = (fingerprint, stats)
        return stats

    def merged(self, request: Request) -> tuple[ProfileRef, ProfilingSession, int]:
        """The endpoint named in the query (its sessions between ``since`` and
        ``until``, if given), its newest sessions added up, and how many."""
        endpoint = request.GET.get("endpoint", "")
        method, _, folded = endpoint.partition(" ")
        if (
            not re.fullmatch(METHOD_PATTERN, method)
            or not folded.startswith("/")
            or len(endpoint) > 800
        ):
            raise http.HTTPBadRequest("That is not an endpoint (a method and a path).")
        try:
            since, until = (
                parse_time(request.GET[name]) if request.GET.get(name) else None
                for name in ("since", "until")
            )
        except ValueError as error:
            raise http.HTTPBadRequest(f"since and until are times: {error}.") from None
        ref = ProfileRef(endpoint=endpoint, since=since, until=until)
        found = resolve(self.backend, ref, self.folds, self.MERGE_LIMIT)
        if found is None:
            raise http.HTTPNotFound(
                "No stored session belongs to that endpoint"
                + (" in that time range." if since or until else ".")
            )
        return ref, *found

    def merged_page(self, request: Request) -> Response:
        ref, merged, count = self.merged(request)
        cutoff = parse_cutoff(request.GET.get("cutoff"))
        chosen = self.middleware.settings.chart_packages
        return self.render(
            request,
            "session.mako",
            cutoff=cutoff,
            packages="",
            chart=package_chart(merged, chosen) if chosen else None,
            merged_count=count,
            endpoint=ref.endpoint,
            merge_ref=ref,
            merge_query=merge_params(ref),
            **self.session_view(merged, cutoff),
        )

    def merged_prof(self, request: Request) -> Response:
        _, merged, _ = self.merged(request)
        response = Response(
            body=to_prof(merged), content_type="application/octet-stream", charset=None
        )
        name = export_name(merged, "prof").replace(merged.uuid[:8], "merged")
        response.content_disposition = attachment(name)
        return response

    def versus_median(self, request: Request, session_uuid: str) -> Response:
        """This session against the median one of its endpoint."""
        session = self.load(session_uuid)
        median = median_session(self.backend, session, self.folds)
        return http.HTTPSeeOther(
            location=f"{request.script_name}/compare?" + urlencode({"a": median, "b": session_uuid})
        )

    def comparison(self, request: Request) -> dict:
        chosen = request.GET.getall("session_uuids[]") or [
            request.GET.get("a", ""),
            request.GET.get("b", ""),
        ]
        if len(chosen) != 2 or any(len(text) > 900 for text in chosen):
            raise http.HTTPBadRequest("Compare exactly two profiles (a= and b=).")
        try:
            refs = [parse_ref(text) for text in chosen]
        except ValueError as error:
            raise http.HTTPBadRequest(f"Compare two sessions or endpoints: {error}.") from None
        sides = []
        for name, ref in zip("ab", refs, strict=True):
            found = resolve(self.backend, ref, self.folds, self.MERGE_LIMIT)
            if found is None:
                raise http.HTTPNotFound(
                    f"Nothing stored matches {name}=: no such "
                    "session, or no session of that endpoint (in that "
                    "time range)."
                )
            sides.append(found)
        if refs[0].uuid and refs[1].uuid and sides[0][0].timestamp > sides[1][0].timestamp:
            sides.reverse()  # two sessions: the earlier is "before"
            refs.reverse()
        (before, before_count), (after, after_count) = sides
        report = compare_sessions(before, after, before_count, after_count)
        return {
            "report": report,
            "before": before,
            "after": after,
            "counts": (before_count, after_count),
            "refs": refs,
            "figures": script_json(comparison_figures(after, report)),
        }

    def compare_page(self, request: Request) -> Response:
        return self.render(
            request, "compare.mako", merge_params=merge_params, **self.comparison(request)
        )

    def compare_json(self, request: Request) -> Response:
        return json_response(self.comparison(request)["report"])

    def export(self, request: Request, session_uuid: str, kind: str) -> Response:
        session = self.load(session_uuid)
        if kind == "prof":
            body, content_type, extension = to_prof(session), "application/octet-stream", "prof"
        elif kind == "speedscope.json":
            body = json.dumps(to_speedscope(session)).encode()
            content_type, extension = "application/json", "speedscope.json"
        elif kind == "json":
            body, content_type, extension = to_json(session).encode(), "application/json", "json"
        elif kind == "collapsed.txt":
            body = to_collapsed(session).encode()
            content_type, extension = "text/plain; charset=utf-8", "collapsed.txt"
        else:
            cutoff = parse_cutoff(request.GET.get("cutoff"))
            dot = to_dot(session.call_index, cutoff / 100, f"{session.method} {session.path}")
            if kind == "dot":
                body, content_type, extension = dot.encode(), "text/vnd.graphviz", "dot"
            else:
                svg = render_svg(dot)
                if svg is None:
                    raise http.HTTPNotImplemented(
                        "Graphviz's dot program is not installed on the server. The session "
                        "page draws the graph in the browser and can save it as SVG."
                    )
                body, content_type, extension = svg, "image/svg+xml", "svg"
        response = Response(body=body, content_type=content_type, charset=None)
        response.content_disposition = attachment(export_name(session, extension))
        return response

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

    # -- changes -------------------------------------------------------------------
    def deleted(self, request: Request, count: int, uuids: set[str] | None) -> Response:
        self.cache.forget(uuids)
        return self.changed(request, f"{count} row(s) deleted.", deleted=str(count))

    def changed(self, request: Request, text: str, **changes: str) -> Response:
        """A browser goes back to the list it came from; a script gets ``text``."""
        if "text/html" in request.headers.get("Accept", ""):
            return http.HTTPSeeOther(location=self.back_to_list(request, **changes))
        return Response(text, content_type="text/plain", charset="utf-8")

    def back_to_list(self, request: Request, **changes: str) -> str:
        """The list page the form came from (its filters kept), with ``changes``."""
        previous = MultiDict(parse_qsl(request.POST.get("return_to", "")[:2000]))
        query, _ = parse_list_query(previous)
        return ListLinks(request.script_name, query).page(**changes)

    def delete_one(self, request: Request, session_uuid: str) -> Response:
        return self.deleted(request, self.backend.delete(session_uuid), {session_uuid})

    def delete_selected(self, request: Request) -> Response:
        uuids = request.POST.getall("session_uuids[]") or request.POST.getall("session_uuids")
        valid = {uuid for uuid in uuids if re.fullmatch(UUID_PATTERN, uuid)}
        if len(valid) != len(set(uuids)):
            raise http.HTTPBadRequest("Some of those are not session ids.")
        return self.deleted(request, self.backend.delete_many(sorted(valid)) if valid else 0, valid)

    def delete_matching(self, request: Request) -> Response:
        query, _ = parse_list_query(request.POST)
        return self.deleted(request, self.backend.delete_matching(query), None)

    def delete_all(self, request: Request) -> Response:
        return self.deleted(request, self.backend.delete_all(), None)

    def start_capture(self, request: Request) -> Response:
        try:
            window = parse_capture(request.POST)
        except CaptureError as error:
            raise http.HTTPBadRequest(f"The capture window was not armed: {error}.") from None
        self.middleware.start_capture(window)
        return self.changed(request, f"capture {window.id} armed")

    def stop_capture(self, request: Request, window_id: str) -> Response:
        stopped = self.middleware.stop_capture(window_id)
        return self.changed(request, "stopped" if stopped else "it had already ended")

    def set_state(self, request: Request) -> Response:
        wanted = request.POST.get("enabled", "")
        if wanted not in ("on", "off"):
            raise http.HTTPBadRequest("Profiling is turned on or off.")
        self.middleware.set_enabled(wanted == "on")
        return self.changed(request, f"profiling {wanted}")
