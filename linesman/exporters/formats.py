"""A session in the formats other tools read, and back from pstats's.

``.prof`` is the marshal format of ``pstats.Stats`` (and so of snakeviz and
gprof2dot); a sampled session's "calls" there are its samples. speedscope's
JSON file format takes a sampled profile from a sampled session's stacks and an
evented one laid out from a cProfile session's estimated call tree. Collapsed
stacks (``a;b;c 1234``, what flamegraph.pl, inferno and speedscope read) weigh
each stack by its time in microseconds. DOT and SVG come from the call graph;
JSON is the session's own document.
"""

from __future__ import annotations

import json
import marshal
from typing import Any

from linesman import __version__
from linesman.model.rows import (
    BUILTIN_FILE,
    CallStats,
    FunctionStats,
    function_key,
    is_profiler_noise,
)
from linesman.model.session import ProfilingSession
from linesman.model.tree import TreeNode, session_tree

__all__ = [
    "to_pstats",
    "to_prof",
    "to_speedscope",
    "to_collapsed",
    "to_json",
    "export_name",
    "from_pstats",
    "read_prof",
]

Label = tuple[str, int, str]


def _label(file: str, line: int, name: str) -> Label:
    return (file, line, name)


def to_pstats(session: ProfilingSession) -> dict[Label, tuple]:
    """The ``pstats.Stats.stats`` mapping, built as cProfile builds it."""
    labels = {
        function.key: _label(function.file, function.line, function.name)
        for function in session.functions
    }
    callers: dict[Label, dict[Label, tuple]] = {label: {} for label in labels.values()}
    for call in session.calls:
        if call.caller not in labels or call.callee not in labels:
            continue
        nc = call.callcount
        cc = nc - call.reccallcount
        into = callers[labels[call.callee]]
        previous = into.get(labels[call.caller])
        figures = (nc, cc, call.inlinetime, call.totaltime)
        if previous is not None:
            figures = tuple(a + b for a, b in zip(previous, figures, strict=True))
        into[labels[call.caller]] = figures
    stats = {}
    for function in session.functions:
        label = labels[function.key]
        stats[label] = (
            function.callcount - function.reccallcount,
            function.callcount,
            function.inlinetime,
            function.totaltime,
            callers[label],
        )
    return stats


def to_prof(session: ProfilingSession) -> bytes:
    return marshal.dumps(to_pstats(session))


def to_speedscope(session: ProfilingSession, max_nodes: int = 20000) -> dict[str, Any]:
    """A speedscope file: sampled from a sampled session's stacks, evented from
    a cProfile session's call tree."""
    labels = session.labels()
    frames: list[dict[str, Any]] = []
    frame_of: dict[str, int] = {}
    events: list[dict[str, Any]] = []

    def frame(key: str) -> int:
        if key not in frame_of:
            file, line, name = labels[key]
            entry: dict[str, Any] = {"name": name}
            if file != BUILTIN_FILE:
                entry.update(file=file, line=line)
            frame_of[key] = len(frames)
            frames.append(entry)
        return frame_of[key]

    name = f"{session.method} {session.path}"
    if session.stacks is not None:
        stacks = [stack for stack in session.stacks if stack.frames]
        profile: dict[str, Any] = {
            "type": "sampled",
            "name": name,
            "unit": "seconds",
            "startValue": 0.0,
            "endValue": sum(stack.time for stack in stacks),
            "samples": [[frame(key) for key in stack.frames] for stack in stacks],
            "weights": [stack.time for stack in stacks],
        }
        return _speedscope_file(name, frames, profile)

    def lay_out(root: TreeNode, start: float) -> None:
        """Open and close events in time order; a loop, not recursion: a call chain
        may be thousands deep."""
        todo: list[tuple[TreeNode, float, float, bool]] = [(root, start, root.time, False)]
        while todo:
            node, begin, span, closing = todo.pop()
            if closing:
                events.append({"type": "C", "frame": frame(node.key), "at": begin + span})
                continue
            events.append({"type": "O", "frame": frame(node.key), "at": begin})
            todo.append((node, begin, span, True))
            children_time = sum(child.time for child in node.children)
            squeeze = span / children_time if children_time > span > 0 else 1.0
            placed, at = [], begin
            for child in node.children:
                placed.append((child, at, child.time * squeeze, False))
                at += child.time * squeeze
            todo.extend(reversed(placed))

    at = 0.0
    for root in session_tree(session, 0.0, max_nodes):
        lay_out(root, at)
        at += root.time
    return _speedscope_file(
        name,
        frames,
        {
            "type": "evented",
            "name": name,
            "unit": "seconds",
            "startValue": 0.0,
            "endValue": at,
            "events": events,
        },
    )


def _speedscope_file(name: str, frames: list, profile: dict) -> dict[str, Any]:
    return {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": [profile],
        "name": name,
        "activeProfileIndex": 0,
        "exporter": f"linesman {__version__}",
    }


def _collapsed_name(label: tuple[str, int, str]) -> str:
    file, line, name = label
    text = name if file == BUILTIN_FILE else f"{name} ({file}:{line})"
    return text.replace(";", ":").replace("\n", " ")


def to_collapsed(session: ProfilingSession, max_nodes: int = 20000) -> str:
    """Collapsed stacks, one ``root;...;leaf MICROSECONDS`` line per stack: the
    sampled stacks as they are, or each path of cProfile's estimated tree with the
    time spent in its last function."""
    labels = session.labels()
    totals: dict[str, int] = {}
    if session.stacks is not None:
        for stack in session.stacks:
            line = ";".join(_collapsed_name(labels[key]) for key in stack.frames)
            totals[line] = totals.get(line, 0) + round(stack.time * 1e6)
    else:
        todo = [
            (root, _collapsed_name(labels[root.key]))
            for root in session_tree(session, 0.0, max_nodes)
        ]
        while todo:
            node, line = todo.pop()
            own = node.time - sum(child.time for child in node.children)
            totals[line] = totals.get(line, 0) + max(0, round(own * 1e6))
            todo.extend(
                (child, f"{line};{_collapsed_name(labels[child.key])}") for child in node.children
            )
    return "".join(f"{line} {weight}\n" for line, weight in totals.items() if weight > 0)


def to_json(session: ProfilingSession) -> str:
    return json.dumps(session.to_dict(), indent=1, ensure_ascii=False)


def export_name(session: ProfilingSession, extension: str) -> str:
    """A download file name: the request's method and path, then the id."""
    slug = "".join(c if c.isalnum() else "-" for c in session.path.strip("/"))[:40].strip("-")
    parts = (session.method.lower(), slug or "root", session.uuid[:8])  # a file's: no method
    return "-".join(part for part in parts if part) + f".{extension}"


def from_pstats(
    stats: dict, path: str = "/imported", method: str = "GET", timestamp: float | None = None
) -> ProfilingSession:
    """A session from a ``pstats.Stats.stats`` mapping (a ``.prof`` file's content)."""
    functions, calls = [], []
    for (file, line, name), (cc, nc, tt, ct, callers) in stats.items():
        if is_profiler_noise((str(file), int(line), str(name))):
            continue
        function = FunctionStats(
            str(file), int(line), str(name), int(nc), int(nc - cc), float(tt), float(ct)
        )
        functions.append(function)
        for caller, figures in callers.items():
            caller_label = (str(caller[0]), int(caller[1]), str(caller[2]))
            if is_profiler_noise(caller_label) or caller not in stats:
                continue
            edge_nc, edge_cc, edge_tt, edge_ct = figures
            calls.append(
                CallStats(
                    function_key(*caller_label),
                    function.key,
                    int(edge_nc),
                    int(edge_nc - edge_cc),
                    float(edge_tt),
                    float(edge_ct),
                )
            )
    return ProfilingSession.from_rows(
        functions=functions, calls=calls, method=method, path=path, started=timestamp
    )


def _is_label(key: Any) -> bool:
    return (
        isinstance(key, tuple)
        and len(key) == 3
        and isinstance(key[0], str)
        and type(key[1]) is int
        and isinstance(key[2], str)
    )


def _numbers(values: Any, count: int) -> bool:
    return (
        isinstance(values, tuple)
        and len(values) == count
        and all(type(value) in (int, float) and abs(value) < 1e18 for value in values)
    )


def _is_entry(value: Any) -> bool:
    if not (
        isinstance(value, tuple)
        and len(value) == 5
        and _numbers(value[:4], 4)
        and isinstance(value[4], dict)
    ):
        return False
    return all(_is_label(caller) and _numbers(figures, 4) for caller, figures in value[4].items())


def read_prof(data: bytes) -> dict:
    """The stats mapping of a ``.prof`` file; ValueError, in one line, when it is
    not one (checked before marshal allocates anything, and every entry's types)."""
    from linesman.model.prof_scan import check_marshal

    try:
        check_marshal(data)
        stats = marshal.loads(data)
    except (EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"not a .prof file ({exc})") from None
    if not isinstance(stats, dict) or not all(
        _is_label(key) and _is_entry(value) for key, value in stats.items()
    ):
        raise ValueError("not a .prof file (no pstats table in it)")
    return stats
