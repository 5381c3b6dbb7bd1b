"""The UI's changes, each a POST checked for its signed CSRF token before it
gets here: deletes, the switch, capture windows."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from webob import Request, Response
from webob import exc as http
from webob.multidict import MultiDict

from linesman.model.capture import CaptureError, parse_capture
from linesman.model.session import UUID_PATTERN
from linesman.web.params import (
    ListLinks,
    parse_list_query,
)

if TYPE_CHECKING:
    pass
from linesman.web.page_base import PageBase


class ChangePages(PageBase):
    """Deletes, the switch and capture windows."""

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
        self.controls.start_capture(window)
        return self.changed(request, f"capture {window.id} armed")

    def stop_capture(self, request: Request, window_id: str) -> Response:
        stopped = self.controls.stop_capture(window_id)
        return self.changed(request, "stopped" if stopped else "it had already ended")

    def set_state(self, request: Request) -> Response:
        wanted = request.POST.get("enabled", "")
        if wanted not in ("on", "off"):
            raise http.HTTPBadRequest("Profiling is turned on or off.")
        self.controls.set_enabled(wanted == "on")
        return self.changed(request, f"profiling {wanted}")
