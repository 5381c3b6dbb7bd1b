"""The call graph as Graphviz DOT (drawn in the page, or as SVG where ``dot`` is
installed): the largest functions only, shaded by their share of the time or,
in a comparison, by how much they changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from linesman.model.callindex import CallIndex
from linesman.model.locations import short_paths
from linesman.model.rows import BUILTIN_FILE

if TYPE_CHECKING:
    pass
from linesman.model.callgraph import index_of

GRAPH_NODES = 300  # the most functions a drawn call graph shows: more is a blur, and slow

__all__ = ["GRAPH_NODES", "to_dot", "render_svg", "change_shade", "percent_text", "dot_quote"]


def dot_quote(text: str) -> str:
    """A DOT quoted string: never an HTML label, never a way out of the quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shade(fraction: float) -> str:
    """White for no time, deep red for all of it."""
    fraction = min(max(fraction, 0.0), 1.0)
    green_blue = int(255 - 200 * fraction)
    return f"#ff{green_blue:02x}{green_blue:02x}" if fraction > 0 else "#ffffff"


UNCHANGED = "#e3e7eb"  # a function whose own time moved by less than NOTICEABLE
NOTICEABLE = 0.002  # of the profile's time: smaller changes are noise
FULL_COLOUR = 0.5  # a change of +-50% of the function's own time is the deepest shade


def change_shade(before: float, after: float, total: float) -> str:
    """Red for a function whose own time grew, blue for one whose own time shrank,
    the deeper the larger the change relative to what it was (a 20% slower
    function stands out however small it is beside the request's slowest); grey
    for a change too small to matter. The colour of a comparison's graph and
    differential flame graph."""
    change = after - before
    if abs(change) < NOTICEABLE * total or change == 0:
        return UNCHANGED
    relative = abs(change) / before if before > 0 else 1.0
    depth = min(relative / FULL_COLOUR, 1.0)
    if change > 0:
        fade = int(225 - 150 * depth)
        return f"#ff{fade:02x}{fade:02x}"
    fade = int(225 - 95 * depth)  # blue stops lighter: dark text stays readable on it
    return f"#{fade:02x}{fade:02x}ff"


def percent_text(before: float, after: float) -> str:
    """`` (+23%)``, `` (new)`` or nothing when unchanged, for a change's label."""
    if after == before:
        return ""
    if before <= 0:
        return " (new)"
    text = f"{(after - before) / before:+.0%}"
    return "" if text in ("+0%", "-0%") else f" ({text})"


def signed_ms(seconds: float) -> str:
    """A change in milliseconds with its sign, and never "-0.00" for a change
    too small to show."""
    text = f"{seconds * 1000:+.2f}"
    return "±0.00" if text in ("+0.00", "-0.00") else text


def to_dot(
    graph: nx.DiGraph | CallIndex,
    cutoff: float = 0.05,
    title: str = "",
    changes: dict[str, tuple[float, float]] | None = None,
    change_total: float = 0.0,
) -> str:
    """The pruned call graph in DOT, nodes shaded by cumulative time, or, given
    ``changes`` (each function's own time before and after, per request) and the
    request's time they are a part of, coloured by that change."""
    import pydot

    index = index_of(graph)
    total = index.total() or 1.0
    shown = index.top_graph(cutoff, GRAPH_NODES)
    if len(shown) == GRAPH_NODES:
        title += f" (the {GRAPH_NODES} largest functions)"
    dot = pydot.Dot(
        graph_name="callgraph",
        graph_type="digraph",
        rankdir="TB",
        label=dot_quote(title),
        labelloc="t",
        fontname="Helvetica",
    )
    dot.set_node_defaults(
        shape="box", style='"rounded,filled"', fontname="Helvetica", fontsize="10"
    )
    dot.set_edge_defaults(fontname="Helvetica", fontsize="9", color='"#777777"')
    ids = {node: f"n{number}" for number, node in enumerate(shown)}
    sampled = index.kind == "sampled"
    counted = ("sample", "samples") if sampled else ("call", "calls")
    short = short_paths(data["file"] for _, data in shown.nodes(data=True))
    for node, data in shown.nodes(data=True):
        share = data["totaltime"] / total
        file = data["file"]
        where = "" if file == BUILTIN_FILE else f"\n{short.get(file, file)}:{data['line']}"
        label = (
            f"{data['name']}{where}\n{share:.1%} cumulative · "
            f"{data['inlinetime'] / total:.1%} own · {data['callcount']} "
            f"{counted[data['callcount'] != 1]}"
        )
        fill = _shade(share)
        if changes is not None:
            before, after = changes.get(node, (0.0, 0.0))
            label += f"\nown time {signed_ms(after - before)} ms{percent_text(before, after)}"
            fill = change_shade(before, after, change_total)
        dot.add_node(
            pydot.Node(
                ids[node],
                label=dot_quote(label),
                fillcolor=dot_quote(fill),
                tooltip=dot_quote(node),
            )
        )
    for caller, callee, data in shown.edges(data=True):
        dot.add_edge(
            pydot.Edge(
                ids[caller],
                ids[callee],
                label=dot_quote("" if sampled else f"{data['callcount']}×"),
                penwidth=f"{1 + 3 * data['totaltime'] / total:.2f}",
            )
        )
    return dot.to_string()


def render_svg(dot_text: str) -> bytes | None:
    """SVG from Graphviz's ``dot`` when it is installed here, else None."""
    import shutil
    import subprocess

    program = shutil.which("dot")
    if program is None:
        return None
    result = subprocess.run(
        [program, "-Tsvg"],
        input=dot_text.encode("utf-8"),
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None
