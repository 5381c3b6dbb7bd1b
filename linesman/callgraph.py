"""Views derived from a session's figures, computed when asked and never stored.

The core view is the call graph: a ``networkx.DiGraph`` whose nodes are
functions (keyed by file, line and qualified name, so two ``__init__`` methods
never merge) and whose edges are caller -> callee pairs, each carrying
cProfile's four figures. The UI's tree, pruning and package chart build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:
    from linesman.session import ProfilingSession

__all__ = ["build_graph", "root_nodes"]

FIGURES = ("callcount", "reccallcount", "inlinetime", "totaltime")


def build_graph(session: "ProfilingSession") -> nx.DiGraph:
    graph = nx.DiGraph()
    for function in session.functions:
        graph.add_node(function.key, file=function.file, line=function.line,
                       name=function.name, callcount=function.callcount,
                       reccallcount=function.reccallcount, inlinetime=function.inlinetime,
                       totaltime=function.totaltime)
    for call in session.calls:
        graph.add_edge(call.caller, call.callee, callcount=call.callcount,
                       reccallcount=call.reccallcount, inlinetime=call.inlinetime,
                       totaltime=call.totaltime)
    return graph


def root_nodes(graph: nx.DiGraph) -> list[str]:
    """Functions nobody in the profile called, slowest first."""
    roots = [node for node in graph if graph.in_degree(node) == 0]
    return sorted(roots, key=lambda node: graph.nodes[node].get("totaltime", 0.0), reverse=True)
