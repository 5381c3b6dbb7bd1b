"""The call graph as plain dicts, for the views a page draws.

``session.graph`` (networkx) stays the call graph users and algorithms get; but
building it for a 50,000-function profile costs about as much as the rest of
the page together. The tree, the roots, the profile's total and the drawn graph
only need each function's row, its callees and whether anyone calls it: that
is this index, built in one pass over the session's rows.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:
    from linesman.model.rows import CallStats, FunctionStats

__all__ = ["CallIndex", "node_figures", "call_figures"]


class CallIndex:
    """Functions by key, each one's outgoing calls, and who calls whom."""

    __slots__ = ("functions", "callees", "called", "kind", "_roots")

    def __init__(
        self,
        functions: Iterable[FunctionStats],
        calls: Iterable[CallStats],
        kind: str = "deterministic",
    ) -> None:
        self.functions = {function.key: function for function in functions}
        self.callees: dict[str, list[CallStats]] = {}
        callees = self.callees
        for call in calls:
            found = callees.get(call.caller)
            if found is None:
                callees[call.caller] = [call]
            else:
                found.append(call)
        self.called = {call.callee for bucket in callees.values() for call in bucket}
        self.kind = kind  # "sampled": call counts are sample counts
        self._roots: list[str] | None = None

    @classmethod
    def of_graph(cls, graph: nx.DiGraph) -> CallIndex:
        """The index of a networkx call graph (one built by ``build_graph``)."""
        from linesman.model.rows import CallStats, FunctionStats

        index = cls((), (), graph.graph.get("kind", "deterministic"))
        index.functions = {
            node: FunctionStats(
                data["file"],
                data["line"],
                data["name"],
                data["callcount"],
                data["reccallcount"],
                data["inlinetime"],
                data["totaltime"],
            )
            for node, data in graph.nodes(data=True)
        }
        for caller, callee, data in graph.edges(data=True):
            call = CallStats(
                caller,
                callee,
                data["callcount"],
                data["reccallcount"],
                data["inlinetime"],
                data["totaltime"],
            )
            index.callees.setdefault(caller, []).append(call)
            index.called.add(callee)
        return index

    def roots(self) -> list[str]:
        """Where the profile's calls start, slowest first.

        Functions nobody in the profile called; and where a group of functions only
        call each other (``builtins.exec`` at the top of every ``python -m cProfile``
        file calls itself through the import system), the slowest of the group.
        """
        if self._roots is not None:
            return list(self._roots)
        functions, callees = self.functions, self.callees
        roots = [key for key in functions if key not in self.called]
        # Only what no root reaches can hold a group that calls only itself; a
        # request's profile is all reached, so the condensation is mostly of nothing.
        reached = set(roots)
        frontier = roots
        while frontier:
            found = {call.callee for key in frontier for call in callees.get(key, ())}
            frontier = list(found - reached)
            reached.update(frontier)
        unreached = (
            [key for key in functions if key not in reached]
            if len(reached) < len(functions)
            else []
        )
        if unreached:
            roots.extend(self._self_contained_groups(unreached))
        roots.sort(key=lambda key: functions[key].totaltime, reverse=True)
        self._roots = roots
        return list(roots)

    def _self_contained_groups(self, keys: list[str]) -> list[str]:
        """The slowest function of each group, among ``keys``, called from nowhere else."""
        inside = set(keys)
        callers: dict[str, list[str]] = {}  # only here, where it is rarely needed
        for caller, calls in self.callees.items():
            for call in calls:
                callers.setdefault(call.callee, []).append(caller)
        graph = nx.DiGraph()
        graph.add_nodes_from(keys)
        graph.add_edges_from(
            (key, call.callee)
            for key in keys
            for call in self.callees.get(key, ())
            if call.callee in inside
        )
        condensed = nx.condensation(graph)
        groups: dict[int, list[str]] = {}
        for key, group in condensed.graph["mapping"].items():
            groups.setdefault(group, []).append(key)
        found = []
        for group, degree in condensed.in_degree():
            members = groups[group]
            if not degree and all(
                caller in members for key in members for caller in callers.get(key, ())
            ):
                found.append(max(members, key=lambda key: self.functions[key].totaltime))
        return found

    def total(self) -> float:
        """The time the whole profile covers: its roots' cumulative time."""
        roots = self.roots()
        if roots:
            return sum(self.functions[key].totaltime for key in roots)
        return max((function.totaltime for function in self.functions.values()), default=0.0)

    def top_graph(self, cutoff: float, limit: int | None = None) -> nx.DiGraph:
        """A networkx graph of the functions whose cumulative time is at least
        ``cutoff`` (a fraction) of the whole, the ``limit`` largest at most, and the
        calls between them."""
        threshold = self.total() * cutoff
        kept = [key for key, function in self.functions.items() if function.totaltime >= threshold]
        if limit is not None and len(kept) > limit:
            kept = heapq.nlargest(limit, kept, key=lambda key: self.functions[key].totaltime)
        chosen = set(kept)
        graph = nx.DiGraph(kind=self.kind)
        graph.add_nodes_from((key, node_figures(self.functions[key])) for key in kept)
        graph.add_edges_from(
            (key, call.callee, call_figures(call))
            for key in kept
            for call in self.callees.get(key, ())
            if call.callee in chosen
        )
        return graph


def node_figures(function: FunctionStats) -> dict:
    """A function's row as a networkx node's attributes (see build_graph)."""
    return {
        "file": function.file,
        "line": function.line,
        "name": function.name,
        "callcount": function.callcount,
        "reccallcount": function.reccallcount,
        "inlinetime": function.inlinetime,
        "totaltime": function.totaltime,
    }


def call_figures(call: CallStats) -> dict:
    """A caller/callee pair as a networkx edge's attributes."""
    return {
        "callcount": call.callcount,
        "reccallcount": call.reccallcount,
        "inlinetime": call.inlinetime,
        "totaltime": call.totaltime,
    }
