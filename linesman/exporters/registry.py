"""Every export format in one table, used by the web UI and the command line
alike: its name on the command line, its file extension (the UI's URL ends in
it), its content type, and how a session becomes its bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linesman.model.session import ProfilingSession

__all__ = ["ExportFormat", "FORMATS", "by_extension", "by_name", "GraphvizMissing"]


class GraphvizMissing(RuntimeError):
    """The SVG export needs Graphviz's ``dot`` program, which is not installed."""


# The writers import what they need when called: the command line reads this
# table for its choices, and must not pay for networkx to list a store.
def _dot(session: ProfilingSession, cutoff: float) -> str:
    from linesman.exporters.dot import to_dot

    return to_dot(session.call_index, cutoff / 100, f"{session.method} {session.path}")


def _svg(session: ProfilingSession, cutoff: float) -> bytes:
    from linesman.exporters.dot import render_svg

    svg = render_svg(_dot(session, cutoff))
    if svg is None:
        raise GraphvizMissing("Graphviz's dot program is not installed")
    return svg


@dataclass(frozen=True)
class ExportFormat:
    name: str  # as ``linesman export --format`` takes it
    extension: str  # of the file, and of the UI's export URL
    content_type: str
    write: Callable[[ProfilingSession, float], bytes]  # (session, cutoff %) -> bytes
    binary: bool = False  # never written to a terminal


def _prof(session: ProfilingSession, cutoff: float) -> bytes:
    from linesman.exporters.formats import to_prof

    return to_prof(session)


def _speedscope(session: ProfilingSession, cutoff: float) -> bytes:
    from linesman.exporters.formats import to_speedscope

    return json.dumps(to_speedscope(session)).encode()


def _collapsed(session: ProfilingSession, cutoff: float) -> bytes:
    from linesman.exporters.formats import to_collapsed

    return to_collapsed(session).encode()


def _json(session: ProfilingSession, cutoff: float) -> bytes:
    from linesman.exporters.formats import to_json

    return to_json(session).encode()


FORMATS = (
    ExportFormat("prof", "prof", "application/octet-stream", _prof, binary=True),
    ExportFormat("speedscope", "speedscope.json", "application/json", _speedscope),
    ExportFormat("collapsed", "collapsed.txt", "text/plain; charset=utf-8", _collapsed),
    ExportFormat("dot", "dot", "text/vnd.graphviz", lambda s, c: _dot(s, c).encode()),
    ExportFormat("svg", "svg", "image/svg+xml", _svg),
    ExportFormat("json", "json", "application/json", _json),
)
_BY_NAME = {export_format.name: export_format for export_format in FORMATS}
_BY_EXTENSION = {export_format.extension: export_format for export_format in FORMATS}


def by_extension(extension: str) -> ExportFormat:
    return _BY_EXTENSION[extension]


def by_name(name: str) -> ExportFormat:
    """The format ``linesman export --format`` names; its ``write`` may raise
    GraphvizMissing (svg without dot)."""
    return _BY_NAME[name]
