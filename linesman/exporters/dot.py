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

__all__ = ["GRAPH_NODES", "to_dot", "render_svg", "change_shade"]


def _dot_quote(text: str) -> str:
    """A DOT quoted string: never an HTML label, never a way out of the quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shade(fraction: float) -> str:
    """White for no time, deep red for all of it."""
    fraction = min(max(fraction, 0.0), 1.0)
    green_blue = int(255 - 200 * fraction)
    return f"#ff{green_blue:02x}{green_blue:02x}" if fraction > 0 else "#ffffff"


def change_shade(change: float, largest: float) -> str:
    """Red for a function that got slower, blue for one that got faster, white for
    none: the colour of a comparison's graph and differential flame graph."""
    share = min(abs(change) / largest, 1.0) if largest > 0 else 0.0
    fade = int(255 - 190 * share)
    return f"#ff{fade:02x}{fade:02x}" if change > 0 else f"#{fade:02x}{fade:02x}ff"


def signed_ms(seconds: float) -> str:
    """A change in milliseconds with its sign, and never "-0.00" for a change
    too small to show."""
    text = f"{seconds * 1000:+.2f}"
    return "±0.00" if text in ("+0.00", "-0.00") else text


def to_dot(
    graph: nx.DiGraph | CallIndex,
    cutoff: float = 0.05,
    title: str = "",
    changes: dict[str, float] | None = None,
) -> str:
    """The pruned call graph in DOT, nodes shaded by cumulative time, or, given
    ``changes`` (own-time change per function), coloured by that change."""
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
        label=_dot_quote(title),
        labelloc="t",
        fontname="Helvetica",
    )
    dot.set_node_defaults(
        shape="box", style='"rounded,filled"', fontname="Helvetica", fontsize="10"
    )
    dot.set_edge_defaults(fontname="Helvetica", fontsize="9", color='"#777777"')
    ids = {node: f"n{number}" for number, node in enumerate(shown)}
    largest = max((abs(change) for change in (changes or {}).values()), default=0.0)
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
            change = changes.get(node, 0.0)
            label += f"\nown time {signed_ms(change)} ms"
            fill = change_shade(change, largest)
        dot.add_node(
            pydot.Node(
                ids[node],
                label=_dot_quote(label),
                fillcolor=_dot_quote(fill),
                tooltip=_dot_quote(node),
            )
        )
    for caller, callee, data in shown.edges(data=True):
        dot.add_edge(
            pydot.Edge(
                ids[caller],
                ids[callee],
                label=_dot_quote("" if sampled else f"{data['callcount']}×"),
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
