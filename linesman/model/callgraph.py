"""Views derived from a session's figures, computed when asked and never stored.

The core view is the call graph: a ``networkx.DiGraph`` whose nodes are
functions (keyed by file, line and qualified name, so two ``__init__`` methods
never merge) and whose edges are caller -> callee pairs, each carrying
cProfile's four figures. The UI's tree, pruning and package chart build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from linesman.model.callindex import CallIndex, call_figures, node_figures
from linesman.model.locations import package_groups

if TYPE_CHECKING:
    from collections.abc import Iterable

    from linesman.model.session import FunctionStats, ProfilingSession

__all__ = [
    "build_graph",
    "root_nodes",
    "profiled_time",
    "prune",
    "recursive_functions",
    "package_of",
    "package_times",
    "profile_total",
    "FIGURES",
]

FIGURES = ("callcount", "reccallcount", "inlinetime", "totaltime")


def build_graph(session: ProfilingSession) -> nx.DiGraph:
    graph = nx.DiGraph(kind=session.kind)  # "sampled": callcount counts samples
    # In bulk: a call per node and per edge is most of the cost of a big profile.
    graph.add_nodes_from((f.key, node_figures(f)) for f in session.functions)
    graph.add_edges_from((c.caller, c.callee, call_figures(c)) for c in session.calls)
    return graph


def index_of(graph: nx.DiGraph | CallIndex) -> CallIndex:
    return graph if isinstance(graph, CallIndex) else CallIndex.of_graph(graph)


def root_nodes(graph: nx.DiGraph | CallIndex) -> list[str]:
    """Where the profile's calls start, slowest first (see ``CallIndex.roots``)."""
    return index_of(graph).roots()


def profiled_time(graph: nx.DiGraph | CallIndex) -> float:
    """The time the whole profile covers: its roots' cumulative time."""
    return index_of(graph).total()


def profile_total(session: ProfilingSession) -> float:
    """The time a session's profile covers: its stacks' time, or its roots'."""
    if session.stacks is not None:
        return sum(stack.time for stack in session.stacks)
    return session.call_index.total()


def prune(graph: nx.DiGraph | CallIndex, cutoff: float, limit: int | None = None) -> nx.DiGraph:
    """The functions whose cumulative time is at least ``cutoff`` of the whole, the
    ``limit`` largest at most, as a networkx graph.

    ``cutoff`` is a fraction (0.05 for 5 %). Linear in the graph's size.
    """
    return index_of(graph).top_graph(cutoff, limit)


def recursive_functions(graph: nx.DiGraph) -> set[str]:
    """Functions on a cycle (recursion, direct or not); found in linear time."""
    found = {node for node in graph if graph.has_edge(node, node)}
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            found |= component
    return found


def package_of(file: str, packages: tuple[str, ...]) -> str | None:
    """Which of ``packages`` (dotted names) a source file belongs to, if any."""
    path = file.replace("\\", "/")
    for package in packages:
        folder = "/" + package.replace(".", "/")
        if f"{folder}/" in path or path.endswith(f"{folder}.py"):
            return package
    return None


def package_times(
    functions: Iterable[FunctionStats], packages: tuple[str, ...] = ()
) -> list[tuple[str, float]]:
    """Own time per package, largest first. Given ``packages`` (dotted names),
    those and "other"; else every group found from where the files live (each
    installed package, the standard library, the app's own code, the built-ins)."""
    functions = list(functions)
    groups = {} if packages else package_groups(f.file for f in functions)
    totals: dict[str, float] = {}
    for function in functions:
        if packages:
            name = package_of(function.file, packages) or "other"
        else:
            name = groups.get(function.file, "other")
        totals[name] = totals.get(name, 0.0) + function.inlinetime
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)
