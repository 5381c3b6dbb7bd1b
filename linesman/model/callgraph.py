"""Views derived from a session's figures, computed when asked and never stored.

The core view is the call graph: a ``networkx.DiGraph`` whose nodes are
functions (keyed by file, line and qualified name, so two ``__init__`` methods
never merge) and whose edges are caller -> callee pairs, each carrying
cProfile's four figures. The UI's tree, pruning and package chart build on it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import networkx as nx

from linesman.model.callindex import CallIndex
from linesman.model.rows import BUILTIN_FILE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from linesman.model.session import FunctionStats, ProfilingSession, StackStats

__all__ = [
    "build_graph",
    "root_nodes",
    "profiled_time",
    "prune",
    "recursive_functions",
    "package_times",
    "to_dot",
    "render_svg",
    "call_tree",
    "stack_tree",
    "session_tree",
    "profile_total",
    "TreeNode",
]

GRAPH_NODES = 300  # the most functions a drawn call graph shows: more is a blur, and slow
FIGURES = ("callcount", "reccallcount", "inlinetime", "totaltime")


def build_graph(session: ProfilingSession) -> nx.DiGraph:
    graph = nx.DiGraph(kind=session.kind)  # "sampled": callcount counts samples
    # In bulk: a call per node and per edge is most of the cost of a big profile.
    graph.add_nodes_from(
        (
            function.key,
            {
                "file": function.file,
                "line": function.line,
                "name": function.name,
                "callcount": function.callcount,
                "reccallcount": function.reccallcount,
                "inlinetime": function.inlinetime,
                "totaltime": function.totaltime,
            },
        )
        for function in session.functions
    )
    graph.add_edges_from(
        (
            call.caller,
            call.callee,
            {
                "callcount": call.callcount,
                "reccallcount": call.reccallcount,
                "inlinetime": call.inlinetime,
                "totaltime": call.totaltime,
            },
        )
        for call in session.calls
    )
    return graph


def _index(graph: nx.DiGraph | CallIndex) -> CallIndex:
    return graph if isinstance(graph, CallIndex) else CallIndex.of_graph(graph)


def root_nodes(graph: nx.DiGraph | CallIndex) -> list[str]:
    """Where the profile's calls start, slowest first (see ``CallIndex.roots``)."""
    return _index(graph).roots()


def profiled_time(graph: nx.DiGraph | CallIndex) -> float:
    """The time the whole profile covers: its roots' cumulative time."""
    return _index(graph).total()


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
    return _index(graph).top_graph(cutoff, limit)


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
    functions: Iterable[FunctionStats], packages: tuple[str, ...]
) -> list[tuple[str, float]]:
    """Own time per package, largest first; the rest as "other"."""
    totals: dict[str, float] = {}
    for function in functions:
        name = package_of(function.file, packages) or "other"
        totals[name] = totals.get(name, 0.0) + function.inlinetime
    return sorted(totals.items(), key=lambda item: item[1], reverse=True)


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


def to_dot(
    graph: nx.DiGraph | CallIndex,
    cutoff: float = 0.05,
    title: str = "",
    changes: dict[str, float] | None = None,
) -> str:
    """The pruned call graph in DOT, nodes shaded by cumulative time, or, given
    ``changes`` (own-time change per function), coloured by that change."""
    import pydot

    index = _index(graph)
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
    counted = "samples" if sampled else "calls"
    for node, data in shown.nodes(data=True):
        share = data["totaltime"] / total
        where = "" if data["file"] == BUILTIN_FILE else f"\n{data['file']}:{data['line']}"
        label = (
            f"{data['name']}{where}\n{share:.1%} cumulative · "
            f"{data['inlinetime'] / total:.1%} own · {data['callcount']} {counted}"
        )
        fill = _shade(share)
        if changes is not None:
            change = changes.get(node, 0.0)
            label += f"\nown time {change * 1000:+.2f} ms"
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


@dataclass
class TreeNode:
    """One call path's function in the call tree, with its time on that path.

    ``calls`` is the calls made along that path for cProfile's sessions and the
    samples found on it for sampled ones. ``reentry`` is, for an estimated tree,
    the part of ``time`` spent re-entering a function already open above."""

    key: str
    time: float
    calls: int
    children: list[TreeNode] = field(default_factory=list)
    recursive: bool = False
    reentry: float = 0.0


def session_tree(
    session: ProfilingSession, cutoff: float = 0.0, max_nodes: int = 5000
) -> list[TreeNode]:
    """The session's call tree: exact from a sampled session's stacks, estimated
    from cProfile's caller/callee pairs otherwise."""
    if session.stacks is not None:
        return stack_tree(session.stacks, cutoff, max_nodes)
    return call_tree(session.call_index, cutoff, max_nodes)


def stack_tree(
    stacks: Iterable[StackStats], cutoff: float = 0.0, max_nodes: int = 5000
) -> list[TreeNode]:
    """The call tree of sampled stacks: every path as it was seen, none estimated.

    Built without recursion on the stacks' depth; the nodes kept are the largest
    first, at least ``cutoff`` of the whole, ``max_nodes`` at most."""
    top = TreeNode("", 0.0, 0)
    index: dict[tuple[int, str], TreeNode] = {}
    for stack in stacks:
        node = top
        node.time += stack.time
        for key in stack.frames:
            child = index.get((id(node), key))
            if child is None:
                child = index[(id(node), key)] = TreeNode(key, 0.0, 0)
                node.children.append(child)
            child.time += stack.time
            child.calls += stack.samples
            node = child
    threshold = top.time * cutoff
    budget = max_nodes
    todo = [top]
    while todo:
        node = todo.pop()
        node.children.sort(key=lambda child: child.time, reverse=True)
        kept = []
        for child in node.children:
            if child.time < threshold or child.time <= 0 or budget <= 0:
                continue
            budget -= 1
            kept.append(child)
        node.children = kept
        todo.extend(reversed(kept))
    return top.children


def call_tree(
    graph: nx.DiGraph | CallIndex, cutoff: float = 0.0, max_nodes: int = 5000
) -> list[TreeNode]:
    """The call graph unfolded into a tree from its roots: an estimate.

    cProfile keeps no stacks, so a callee's subtree is scaled by the share of
    its time spent under this caller wherever it has several callers. A
    function is never expanded inside itself (a ↻ leaf); and where a chain
    re-enters a function open above (Django's middleware: ``inner`` calls a
    middleware that calls ``inner``), the children would add up to more than
    their parent: the re-entered time is then taken out of them, so a
    recursive chain never squeezes the siblings that did the work.

    The largest paths are unfolded first, ``max_nodes`` at most, so a budget
    spent never hides a large path behind many small ones; no recursion on depth.
    """
    index = _index(graph)
    functions = index.functions
    threshold = index.total() * cutoff
    made: list[tuple[TreeNode, TreeNode | None]] = []  # every node and its parent
    ancestors: dict[int, frozenset[str]] = {}  # what is open above each node
    waiting: list[tuple[float, int, TreeNode, TreeNode | None]] = []
    for root in index.roots():
        row = functions[root]
        if row.totaltime >= threshold:
            heapq.heappush(
                waiting,
                (-row.totaltime, len(waiting), TreeNode(root, row.totaltime, row.callcount), None),
            )
    roots: list[TreeNode] = []
    order = len(waiting)
    while waiting and len(made) < max_nodes:
        _, _, node, parent = heapq.heappop(waiting)
        made.append((node, parent))
        if parent is None:
            roots.append(node)
        else:
            parent.children.append(node)
        if node.recursive:
            continue
        path = ancestors[id(node)] = (ancestors[id(parent)] if parent else frozenset()) | {node.key}
        scale = min(node.time / (functions[node.key].totaltime or 1.0), 1.0)
        calls = index.callees.get(node.key, ())
        room = max_nodes - len(made)
        if len(calls) > room:  # 50,000 callees, room for 5,000: only those can be shown
            calls = sorted(calls, key=lambda call: call.totaltime, reverse=True)[:room]
        for call in calls:
            callee = call.callee
            share = call.totaltime * scale
            if share < threshold or (share <= 0 and threshold > 0):
                continue
            recursive = callee in path
            child = TreeNode(
                callee,
                share,
                call.callcount,
                recursive=recursive,
                reentry=share if recursive else 0.0,
            )
            order += 1
            heapq.heappush(waiting, (-share, order, child, node))
    for node, _ in reversed(made):  # children before their parents
        _fit_children(node)
    roots.sort(key=lambda root: root.time, reverse=True)
    return roots


def _fit_children(node: TreeNode) -> None:
    """Children that add up to more than their parent: take re-entered time out of
    them first, then squeeze what excess is left (shares of a shared callee)."""
    if node.recursive:
        return  # a ↻ leaf: its time is all re-entered time
    children = node.children
    overflow = sum(child.time for child in children) - node.time
    reentry = sum(child.reentry for child in children)
    if overflow > 0 and reentry > 0:
        keep = max(0.0, 1.0 - overflow / reentry)
        for child in children:
            _shrink_reentry(child, keep)
        node.children = [child for child in children if child.time > 1e-12]
    spread = sum(child.time for child in node.children)
    if spread > node.time > 0:  # what is left of the estimate's excess: squeeze evenly
        for child in node.children:
            _scale_subtree(child, node.time / spread)
    node.children.sort(key=lambda child: child.time, reverse=True)
    node.reentry = sum(child.reentry for child in node.children)


def _scale_subtree(top: TreeNode, factor: float) -> None:
    subtree = [top]
    for node in subtree:
        subtree.extend(node.children)
        node.time *= factor
        node.reentry *= factor


def _shrink_reentry(top: TreeNode, keep: float) -> None:
    """Keep ``keep`` of the re-entered time under ``top`` (its ↻ leaves shrink, and
    every node above them by as much)."""
    subtree = [top]
    for node in subtree:  # grows while it is walked: preorder, no recursion
        subtree.extend(node.children)
    removed: dict[int, float] = {}
    for node in reversed(subtree):
        if node.recursive:
            taken = node.time * (1.0 - keep)
        else:
            taken = sum(removed[id(child)] for child in node.children)
            node.children = [child for child in node.children if child.time > 1e-12]
        removed[id(node)] = taken
        node.time -= taken
        node.reentry *= keep
