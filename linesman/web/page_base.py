"""What every page of the UI shares: the store, the controls, the page cache
and the templates, and how a page or an error page is drawn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mako.lookup import TemplateLookup
from webob import Request, Response
from webob import exc as http

from linesman.analysis.refs import iso_utc
from linesman.exporters.dot import to_dot
from linesman.model.session import ProfilingSession
from linesman.storage.health import SKIP_REASONS
from linesman.web.access import CSRF_FIELD
from linesman.web.api import json_error
from linesman.web.cache import PageCache
from linesman.web.figures import profile_figures, profiler_text
from linesman.web.formatting import (
    breakable_path,
    fmt_ago,
    fmt_bytes,
    fmt_iso,
    fmt_ms,
    fmt_time,
    script_json,
)

if TYPE_CHECKING:
    from linesman.controls import Controls


class PageBase:
    """The state and drawing every page needs; ProfilerUI sets the state up."""

    controls: Controls
    cache: PageCache
    templates: TemplateLookup
    damaged: set[str]
    count_cap: int

    @property
    def backend(self):
        return self.controls.backend

    # -- drawing -----------------------------------------------------------------
    def render(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        body = self.templates.get_template(template).render_unicode(
            base=request.script_name,
            csrf=request.environ["linesman.csrf"],
            csrf_field=CSRF_FIELD,
            fmt_time=fmt_time,
            fmt_ago=fmt_ago,
            fmt_bytes=fmt_bytes,
            breakable_path=breakable_path,
            fmt_iso=fmt_iso,
            fmt_ms=fmt_ms,
            fmt_range=iso_utc,
            profiler_text=profiler_text,
            health=self.controls.health,
            read_only=self.controls.settings.read_only,
            urlencode=urlencode,
            **values,
        )
        return Response(body, status=status, content_type="text/html", charset="utf-8")

    def error_page(self, request: Request, error: http.HTTPException) -> Response:
        if request.path_info.startswith("/api/"):
            response = json_error(error)
        else:
            response = self.render(
                request,
                "error.mako",
                status=error.code,
                heading=error.title,
                detail=error.detail or "",
            )
        for name in ("Allow", "WWW-Authenticate", "Retry-After"):
            if name in error.headers:
                response.headers[name] = error.headers[name]
        return response

    # -- one session -----------------------------------------------------------------
    def load(self, session_uuid: str) -> ProfilingSession:
        session = self.backend.get(session_uuid)
        if session is None:
            raise http.HTTPNotFound(self.why_missing(session_uuid))
        return session

    def why_missing(self, session_uuid: str) -> str:
        """Why a link (the response header's, say) leads to no profile."""
        reason = self.controls.health.why_not_kept(session_uuid)
        if reason is not None:
            return (
                f"This request was profiled but its profile was not kept: "
                f"{SKIP_REASONS.get(reason, reason)}."
            )
        settings = self.controls.settings
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
