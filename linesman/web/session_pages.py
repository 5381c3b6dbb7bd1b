"""The pages of stored sessions: the list, one session, its exports."""

from __future__ import annotations

import re
import time
from typing import NamedTuple

from webob import Request, Response
from webob import exc as http

from linesman.exporters.formats import export_name
from linesman.exporters.registry import GraphvizMissing, by_extension
from linesman.model.session import UUID_PATTERN
from linesman.storage.health import LOST_REASONS, SKIP_REASONS
from linesman.web.figures import flame_colours, package_chart
from linesman.web.formatting import (
    attachment,
    fmt_count,
    script_json,
)
from linesman.web.page_base import PageBase
from linesman.web.params import (
    PAGE_SIZE,
    ListLinks,
    parse_cutoff,
    parse_list_query,
    query_params,
)


class CounterLine(NamedTuple):
    label: str
    profiled: int
    stored: int
    skipped: int
    reasons: tuple[tuple[str, int, str], ...]  # (reason, number, why)
    lost: int = 0  # built, but never stored: the store refused or failed on them
    lost_reasons: tuple[tuple[int, str], ...] = ()  # (number, why)


def counter_line(label: str, counts: dict[str, int]) -> CounterLine:
    reasons = []
    lost = []
    for name, number in sorted(counts.items()):
        if name.startswith("skipped.") and number:
            reason = name.removeprefix("skipped.")
            reasons.append((reason, number, SKIP_REASONS.get(reason, "")))
        elif name.startswith("lost.") and number:
            reason = name.removeprefix("lost.")
            lost.append((number, LOST_REASONS.get(reason, reason)))
    return CounterLine(
        label,
        counts.get("profiled", 0),
        counts.get("stored", 0),
        sum(number for _, number, _ in reasons),
        tuple(reasons),
        sum(number for number, _ in lost),
        tuple(lost),
    )


class SessionPages(PageBase):
    """The list, one session's page and its exports."""

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
        counters = self.counters()
        deleted = request.GET.get("deleted", "")
        stored = self.backend.count(limit=cap + 1) if query.filters else total
        for row in summaries:  # a damaged document is known once someone opened it
            if row["uuid"] in self.damaged and not row.get("damaged"):
                row["damaged"] = "its document cannot be read"
        return self.render(
            request,
            "list.mako",
            sessions=summaries,
            total=fmt_count(total, cap),
            stored=fmt_count(stored, cap),
            page=page,
            pages=f"{pages}+" if capped else str(pages),
            more=more,
            damaged=sum(1 for row in summaries if row.get("damaged")),
            is_session_id=re.compile(UUID_PATTERN).fullmatch,
            query=query,
            params=query_params(query),
            links=ListLinks(request.script_name, query),
            enabled=self.controls.enabled,
            counters=counters,
            captures=self.backend.captures(5),
            now=time.time(),
            deleted=int(deleted) if deleted.isdigit() and len(deleted) < 9 else None,
        )

    def counters(self) -> list[CounterLine]:
        """The store's counters, summed over every process that shares it, and this
        process's own beside them where they differ."""
        own = counter_line("This process", self.controls.health.counts())
        if not getattr(self.backend, "shares_counters", False):
            return [own._replace(label="Since this process started")]
        try:
            shared = counter_line("Every process sharing this store", self.backend.read_counters())
        except Exception:  # the store's trouble is already on the page
            return [own]
        return [shared] if shared[1:] == own[1:] else [shared, own]

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
        chosen = packages or self.controls.settings.chart_packages
        chart = package_chart(session, chosen)  # by where files live, unless narrowed
        return self.render(
            request,
            "session.mako",
            cutoff=cutoff,
            packages=" ".join(packages),
            chart=chart,
            flame_colours=script_json(flame_colours(session, chosen, chart)),
            **view,
        )

    def export(self, request: Request, session_uuid: str, kind: str) -> Response:
        session = self.load(session_uuid)
        chosen = by_extension(kind)
        try:
            body = chosen.write(session, parse_cutoff(request.GET.get("cutoff")))
        except GraphvizMissing:
            raise http.HTTPNotImplemented(
                "Graphviz's dot program is not installed on the server. The session "
                "page draws the graph in the browser and can save it as SVG."
            ) from None
        response = Response(body=body, content_type=chosen.content_type, charset=None)
        response.content_disposition = attachment(export_name(session, chosen.extension))
        return response
