"""The original linesman's graph functions, kept for code written against it:
``linesman.create_graph`` and ``linesman.draw_graph``, and
``linesman.middleware.prepare_graph`` and ``time_per_field``.

``create_graph`` takes cProfile's ``getstats()`` straight, as the original
did, and gives a ``networkx.DiGraph`` with the original's attributes: the four
figures on every node and edge, and ``weight`` and ``label`` (the call's
cumulative time) on edges. Nodes are keyed as the rest of linesman keys
functions (file, line and name, so two ``__init__`` methods never merge).
``draw_graph`` renders such a graph with Graphviz's ``dot`` in the format the
output file's extension names.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from typing import Any

import networkx as nx

from linesman.exporters.dot import dot_quote
from linesman.model.callgraph import package_of
from linesman.model.callindex import call_figures, node_figures
from linesman.model.rows import stats_from_profile

__all__ = [
    "create_graph",
    "draw_graph",
    "prepare_graph",
    "time_per_field",
    "CUTOFF_TIME_UNITS",
    "GRAPH_DIR",
]

log = logging.getLogger("linesman")

DRAW_TIMEOUT = 120  # seconds dot may take on a large graph
CUTOFF_TIME_UNITS = 1e9  # prepare_graph's cutoff is in nanoseconds, as the original's
# Where the original kept drawn graphs; linesman draws in the page and keeps none.
GRAPH_DIR = os.path.join(tempfile.gettempdir(), "linesman-graph")


def create_graph(stats: Iterable[Any]) -> nx.DiGraph:
    """The call graph of ``cProfile.Profile().getstats()``: a node per function
    (``callcount``, ``inlinetime``, ``reccallcount``, ``totaltime``), an edge per
    caller and callee (the same four, with ``weight`` and ``label``)."""
    functions, calls = stats_from_profile(stats)
    graph = nx.DiGraph(name="G")  # dot graphs need a name
    graph.add_nodes_from((f.key, node_figures(f)) for f in functions)
    graph.add_edges_from(
        (c.caller, c.callee, {**call_figures(c), "weight": c.totaltime, "label": c.totaltime})
        for c in calls
    )
    return graph


def _attributes(data: dict) -> str:
    return ", ".join(f"{name}={dot_quote(str(value))}" for name, value in sorted(data.items()))


def graph_dot(graph: nx.DiGraph) -> str:
    """The graph in DOT, every node and edge with its attributes; nodes get
    plain ids (a function's key holds colons, which DOT reads as ports)."""
    ids = {node: f"n{number}" for number, node in enumerate(graph)}
    lines = [f"digraph {dot_quote(str(graph.graph.get('name', 'G')))} {{"]
    for node, data in graph.nodes(data=True):
        lines.append(f"  {ids[node]} [{_attributes({'label': node, **data})}];")
    for caller, callee, data in graph.edges(data=True):
        lines.append(f"  {ids[caller]} -> {ids[callee]} [{_attributes(data)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(graph: nx.DiGraph, output_path: str) -> None:
    """Render ``graph`` to ``output_path`` with Graphviz's ``dot``, in the format
    its extension names (``.png``, ``.svg``, ``.pdf``, ``.dot``...)."""
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError("draw_graph needs Graphviz's dot program, which is not installed")
    extension = os.path.splitext(output_path)[1].lstrip(".").lower()
    if not extension:
        raise ValueError(f"draw_graph: {output_path!r} has no extension to name a format")
    result = subprocess.run(
        [program, f"-T{extension}", "-o", output_path],
        input=graph_dot(graph).encode("utf-8"),
        capture_output=True,
        timeout=DRAW_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        problem = result.stderr.decode("utf-8", "replace").strip()
        raise ValueError(f"draw_graph: dot could not write {output_path!r}: {problem}")
    log.info("linesman: wrote the call graph to %s", output_path)


def _shaded(graph: nx.DiGraph) -> None:
    """The original's look: every node filled, from red (slowest) to green."""
    for _, data in graph.nodes(data=True):
        data.setdefault("totaltime", 0)
    slowest = max((data["totaltime"] for _, data in graph.nodes(data=True)), default=0) or 1
    for _, data in graph.nodes(data=True):
        data["color"] = f"{(1 - data['totaltime'] / slowest) / 3:f} 1.0 1.0"
        data["style"] = "filled"


def _back_edges(graph: nx.DiGraph) -> list[tuple[Any, Any]]:
    """Edges that close a cycle, found in one depth-first walk (linear: the
    original listed every simple cycle, exponential on a recursive profile)."""
    found, walking = [], set()  # the nodes on the walk's current path
    for source, target, kind in nx.dfs_labeled_edges(graph):
        if kind == "forward":
            walking.add(target)
        elif kind == "reverse":
            walking.discard(target)
        elif kind == "nontree" and target in walking:
            found.append((source, target))
    return found


def prepare_graph(
    source_graph: nx.DiGraph, cutoff_time: float, break_cycles: bool = False
) -> tuple[nx.DiGraph, list[Any], list[tuple[Any, Any]]]:
    """A copy of the graph for display: nodes shaded, those whose ``totaltime``
    is under ``cutoff_time`` (nanoseconds) removed and, if asked, the cycles
    broken. Returns ``(graph, root_nodes, removed_edges)``."""
    graph = source_graph.copy()
    _shaded(graph)
    graph.remove_nodes_from(
        [
            node
            for node, data in graph.nodes(data=True)
            if int(data["totaltime"] * CUTOFF_TIME_UNITS) < cutoff_time
        ]
    )
    removed: list[tuple[Any, Any]] = []
    if break_cycles:
        removed = _back_edges(graph)
        graph.remove_edges_from(removed)
    roots = [node for node, degree in graph.in_degree() if degree == 0]
    return graph, roots, removed


def time_per_field(
    full_graph: nx.DiGraph, root_nodes: Iterable[Any], fields: Iterable[str]
) -> dict[str, float] | None:
    """Own time per package in ``fields`` (dotted names), and ``Other``, walking
    down from ``root_nodes``: a function's time goes to its own package if it
    is in one of them, else to the nearest caller's that is (each function once).
    None when no field is asked for, as the original."""
    packages = tuple(sorted(fields, reverse=True))  # a subpackage before its parent
    if not packages:
        return None
    values = dict.fromkeys(packages, 0.0)
    values["Other"] = 0.0
    seen: set[Any] = set()
    pending: list[tuple[Any, str | None]] = [(node, None) for node in reversed(list(root_nodes))]
    while pending:  # depth first, without recursion: profiles can be deep
        node, inherited = pending.pop()
        if node in seen or node not in full_graph:
            continue
        seen.add(node)
        data = full_graph.nodes[node]
        field = _field_of(node, data, packages) or inherited
        values[field or "Other"] += data.get("inlinetime", 0.0)
        pending.extend((child, field) for child in reversed(list(full_graph.successors(node))))
    return values


def _field_of(node: Any, data: dict, packages: tuple[str, ...]) -> str | None:
    if "file" in data:
        return package_of(str(data["file"]), packages)
    return next((field for field in packages if str(node).startswith(field + ".")), None)
