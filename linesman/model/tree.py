"""The call tree a page and the exports draw: exact from a sampled profile's
stacks, estimated from cProfile's caller/callee pairs, bounded in nodes, and
built without recursion on the profile's depth."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import networkx as nx

from linesman.model.callindex import CallIndex

if TYPE_CHECKING:
    from collections.abc import Iterable

    from linesman.model.session import ProfilingSession, StackStats
from linesman.model.callgraph import index_of

__all__ = ["TreeNode", "session_tree", "stack_tree", "call_tree"]


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
    index = index_of(graph)
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
