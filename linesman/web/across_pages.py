"""The pages across sessions: endpoints, merged profiles, comparisons.

A merged profile and a comparison with an endpoint side are heavy views: they
run one at a time within the UI's time budget (linesman.web.heavy)."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from webob import Request, Response
from webob import exc as http

from linesman.analysis.compare import FunctionChange
from linesman.analysis.endpoints import (
    DurationSeries,
    EndpointRule,
    EndpointStats,
    duration_series,
    endpoint_groups,
    stats_of_groups,
    time_range,
)
from linesman.analysis.merging import (
    Deadline,
    NothingStored,
    RefProfile,
    compare_refs,
    merge_endpoint,
)
from linesman.analysis.refs import (
    MERGE_LIMIT,
    ProfileRef,
    median_session,
    parse_ref,
    parse_time,
)
from linesman.exporters.dot import percent_text, signed_ms
from linesman.exporters.formats import export_name
from linesman.exporters.registry import by_extension
from linesman.model.locations import short_paths
from linesman.model.rows import BUILTIN_FILE
from linesman.model.session import METHOD_PATTERN
from linesman.web.api import json_response
from linesman.web.figures import comparison_figures, flame_colours, package_chart
from linesman.web.formatting import (
    attachment,
    fmt_calls,
    script_json,
)
from linesman.web.page_base import PageBase
from linesman.web.params import (
    ENDPOINTS_PER_PAGE,
    choice,
    merge_params,
    parse_cutoff,
)

if TYPE_CHECKING:
    from linesman.web.heavy import HeavyViews


class EndpointTable:
    """Every endpoint's figures and, for the charts, its durations over time: the
    series of an endpoint of several sessions, the moment of one of a single
    session (a store of 100,000 distinct paths is mostly these). The sessions'
    rows are not kept."""

    def __init__(self, groups: dict[str, list[tuple]]) -> None:
        self.stats = stats_of_groups(groups)
        self.damaged = getattr(groups, "damaged", 0)  # rows left out (see group_rows)
        self.span = time_range(groups)
        self.series: dict[str, DurationSeries] = {}
        self.moments: dict[str, float] = {}  # the one session's time, by endpoint
        if self.span is None:
            return
        start, end = self.span
        for endpoint, members in groups.items():
            if len(members) > 1:
                self.series[endpoint] = duration_series(members, start, end)
            elif members[0][5] is not None:
                self.moments[endpoint] = members[0][5]

    def charts(self, shown: list[EndpointStats]) -> dict:
        """The shown endpoints' duration over time, in ms, on one time axis."""
        if self.span is None:
            return {"starts": [], "series": []}
        start, end = self.span
        series = [self._series_of(stats, start, end) for stats in shown]

        def ms(values: list[float | None]) -> list[float | None]:
            return [None if value is None else round(value * 1000, 3) for value in values]

        return {
            "starts": series[0].starts if series else [],
            "series": [
                {"counts": one.counts, "medians": ms(one.medians), "p95s": ms(one.p95s)}
                for one in series
            ],
        }

    def _series_of(self, stats: EndpointStats, start: float, end: float) -> DurationSeries:
        found = self.series.get(stats.endpoint)
        if found is not None:
            return found
        moment = self.moments.get(stats.endpoint)
        row = ("", "", stats.median, None, None, moment)
        return duration_series([row], start, end)


class AcrossPages(PageBase):
    """Endpoints, merged profiles and comparisons."""

    _endpoints: tuple[tuple, EndpointTable] | None
    _endpoints_lock: threading.Lock
    heavy: HeavyViews  # one heavy view at a time, within view_budget

    # -- across sessions ------------------------------------------------------------
    MERGE_LIMIT = MERGE_LIMIT

    @property
    def endpoint_rule(self) -> EndpointRule:
        return self.controls.settings.endpoints

    def endpoints_page(self, request: Request) -> Response:
        """Endpoints by 95th percentile, ENDPOINTS_PER_PAGE to a page: a store of
        100,000 distinct paths is as many endpoints, and one page cannot hold them."""
        page = int(choice(request.GET.get("page"), r"[1-9][0-9]{0,5}", "page number") or "1")
        table = self.endpoint_table()
        stats = table.stats
        pages = max(1, -(-len(stats) // ENDPOINTS_PER_PAGE))
        if page > pages:
            raise http.HTTPNotFound("There is no such page of endpoints.")
        start = (page - 1) * ENDPOINTS_PER_PAGE
        shown = stats[start : start + ENDPOINTS_PER_PAGE]
        return self.render(
            request,
            "endpoints.mako",
            endpoints=shown,
            charts=script_json(table.charts(shown)),
            span=table.span,
            total=len(stats),
            page=page,
            pages=pages,
            first=start + 1,
            damaged=table.damaged,
        )

    def endpoint_table(self) -> EndpointTable:
        """Every endpoint's figures; kept while the store has the same sessions (its
        count and newest id), so paging through them reads the store once."""
        newest = self.backend.list_summaries(0, 1)
        fingerprint = (self.backend.count(), newest[0]["uuid"] if newest else "")
        with self._endpoints_lock:
            if self._endpoints is not None and self._endpoints[0] == fingerprint:
                return self._endpoints[1]
        table = EndpointTable(endpoint_groups(self.backend, self.endpoint_rule))
        with self._endpoints_lock:
            self._endpoints = (fingerprint, table)
        return table

    def merge_ref(self, request: Request) -> ProfileRef:
        """The endpoint named in the query, and its ``since`` and ``until`` if given."""
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
        return ProfileRef(endpoint=endpoint, since=since, until=until)

    def merged(self, ref: ProfileRef, deadline: Deadline) -> RefProfile:
        """The ref's newest sessions added up, as many as ``deadline`` allows."""
        found = merge_endpoint(self.backend, ref, self.endpoint_rule, self.MERGE_LIMIT, deadline)
        if found is None:
            raise http.HTTPNotFound(
                "No stored session belongs to that endpoint"
                + (" in that time range." if ref.since or ref.until else ".")
            )
        return found

    def merged_page(self, request: Request) -> Response:
        ref = self.merge_ref(request)
        cutoff = parse_cutoff(request.GET.get("cutoff"))
        chosen = self.controls.settings.chart_packages
        with self.heavy.slot() as deadline:  # the page is drawn within the gate too
            merge = self.merged(ref, deadline)
            chart = package_chart(merge.profile, chosen)
            return self.render(
                request,
                "session.mako",
                cutoff=cutoff,
                packages="",
                chart=chart,
                flame_colours=script_json(flame_colours(merge.profile, chosen, chart)),
                merged_count=merge.merged,
                merge_note=merge.note(),
                requests=merge.requests,
                endpoint=ref.endpoint,
                merge_ref=ref,
                merge_query=merge_params(ref),
                **self.session_view(merge.profile, cutoff),
            )

    def merged_prof(self, request: Request) -> Response:
        ref = self.merge_ref(request)
        prof = by_extension("prof")
        with self.heavy.slot() as deadline:
            merge = self.merged(ref, deadline)
            body = prof.write(merge.profile, 0.0)
        response = Response(body=body, content_type=prof.content_type, charset=None)
        name = export_name(merge.profile, "prof").replace(merge.profile.uuid[:8], "merged")
        response.content_disposition = attachment(name)
        # A file cannot carry the page's note: these say what it adds up, and why.
        response.headers["X-Linesman-Merged"] = f"{merge.merged} of {merge.found}"
        note = merge.note()
        if note:
            response.headers["X-Linesman-Note"] = note
        return response

    def versus_median(self, request: Request, session_uuid: str) -> Response:
        """This session against the median one of its endpoint."""
        session = self.load(session_uuid)
        median = median_session(self.backend, session, self.endpoint_rule)
        return http.HTTPSeeOther(
            location=f"{request.script_name}/compare?" + urlencode({"a": median, "b": session_uuid})
        )

    def comparison_refs(self, request: Request) -> list[ProfileRef]:
        chosen = request.GET.getall("session_uuids[]") or [
            request.GET.get("a", ""),
            request.GET.get("b", ""),
        ]
        if len(chosen) != 2 or any(len(text) > 900 for text in chosen):
            raise http.HTTPBadRequest("Compare exactly two profiles (a= and b=).")
        try:
            return [parse_ref(text) for text in chosen]
        except ValueError as error:
            raise http.HTTPBadRequest(f"Compare two sessions or endpoints: {error}.") from None

    def comparison(self, refs: list[ProfileRef], deadline: Deadline) -> dict:
        try:
            compared = compare_refs(
                self.backend, refs, self.endpoint_rule, self.MERGE_LIMIT, deadline
            )
        except NothingStored as missing:
            raise http.HTTPNotFound(
                f"Nothing stored matches {missing.args[0]}=: no such "
                "session, or no session of that endpoint (in that "
                "time range)."
            ) from None
        before, after = compared.before, compared.after
        return {
            "report": compared.report,
            "before": before.profile,
            "after": after.profile,
            "counts": (before.merged, after.merged),
            "found": (before.found, after.found),
            "refs": [before.ref, after.ref],
            "figures": script_json(comparison_figures(after.profile, compared.report)),
        }

    def compare_page(self, request: Request) -> Response:
        refs = self.comparison_refs(request)
        with self.heavy.slot(heavy=any(not ref.uuid for ref in refs)) as deadline:
            return self.compare_drawn(request, self.comparison(refs, deadline))

    def compare_drawn(self, request: Request, compared: dict) -> Response:
        short = short_paths(row["file"] for row in compared["report"]["functions"])

        def function_label(row: FunctionChange) -> str:
            """``file:line name``, the file short (the row's title has it whole)."""
            if row["file"] == BUILTIN_FILE:
                return row["name"]
            return f"{short.get(row['file'], row['file'])}:{row['line']} {row['name']}"

        return self.render(
            request,
            "compare.mako",
            merge_params=merge_params,
            function_label=function_label,
            signed_ms=signed_ms,
            percent_text=percent_text,
            fmt_calls=fmt_calls,
            **compared,
        )

    def compare_json(self, request: Request) -> Response:
        refs = self.comparison_refs(request)
        with self.heavy.slot(heavy=any(not ref.uuid for ref in refs)) as deadline:
            return json_response(self.comparison(refs, deadline)["report"])
