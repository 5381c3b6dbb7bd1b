"""What the session and comparison pages draw from: the profile's figures as
JSON-ready dicts (the tree, the table, the package chart), bounded in size."""

from __future__ import annotations

from linesman.analysis.compare import Comparison
from linesman.exporters.dot import change_shade, percent_text, to_dot
from linesman.model.callgraph import package_of, package_times, profile_total
from linesman.model.locations import package_groups, short_paths
from linesman.model.session import ProfilingSession
from linesman.model.tree import session_tree

TREE_NODES = 5000  # the most call-tree nodes a page carries

TABLE_ROWS = 6000  # the most statistics rows a page carries (the exports have all)

CHART_SLICES = 8  # slices of the package chart, the last gathering the smallest

TREE_FLOOR = 0.001  # the page's tree keeps paths of at least 0.1 %, for the flame graph


def profile_figures(session: ProfilingSession, cutoff: float) -> dict:
    """What the session page's script draws from: every function by index, and
    the call tree flat in preorder as ``[function, parent, time, calls, recursive]``."""
    rows = table_rows(session)
    index = {function.key: number for number, function in enumerate(rows)}
    tree = []
    todo = [
        (root, -1)
        for root in reversed(session_tree(session, min(cutoff / 100, TREE_FLOOR), TREE_NODES))
    ]
    while todo:
        node, parent = todo.pop()
        if node.key not in index:  # on the tree, below the table's cut: it goes along
            index[node.key] = len(rows)
            rows.append(session.function(node.key))
        tree.append([index[node.key], parent, node.time, node.calls, int(node.recursive)])
        todo.extend((child, len(tree) - 1) for child in reversed(node.children))
    short = short_paths(f.file for f in rows)
    return {
        "total": profile_total(session),
        "cutoff": cutoff,
        "kind": session.kind,
        "samples": session.samples,
        "functions": [
            [
                f.name,
                f.file,
                f.line,
                f.callcount,
                f.reccallcount,
                f.inlinetime,
                f.totaltime,
                short.get(f.file, f.file),  # shown; the full path is the tooltip
            ]
            for f in rows
        ],
        "function_count": len(session.functions),
        "tree": tree,
    }


def table_rows(session: ProfilingSession) -> list:
    """The functions a page's table carries: all of them, or in a profile of tens of
    thousands the TABLE_ROWS largest by cumulative and by own time (the exports
    hold every one); the page's size no longer grows with the profile's."""
    functions = session.functions
    if len(functions) <= TABLE_ROWS:
        return list(functions)
    by_cumulative = sorted(functions, key=lambda f: f.totaltime, reverse=True)
    chosen = {f.key: f for f in by_cumulative[: TABLE_ROWS // 2]}
    for function in sorted(functions, key=lambda f: f.inlinetime, reverse=True):
        if len(chosen) >= TABLE_ROWS:
            break
        chosen.setdefault(function.key, function)
    return list(chosen.values())


def profiler_text(session: ProfilingSession) -> str:
    """The summary's line on the engine, honest about what its figures are."""
    if session.kind == "sampled":
        every = f"every {session.interval * 1000:g} ms" if session.interval else ""
        return (
            f"sampling {every}, {session.samples} sample"
            f"{'' if session.samples == 1 else 's'}: time shares, no call counts"
        )
    return "cProfile: exact call counts"


def comparison_figures(after: ProfilingSession, report: Comparison) -> dict:
    """The later profile's figures with each function's own-time change: the
    differential flame graph and the graph coloured by change."""
    own = {
        row["function"]: (row["selftime_before"], row["selftime_after"])
        for row in report["functions"]
    }
    total = max(report["duration_before"], report["duration_after"])
    figures = profile_figures(after, 1.0)
    pairs = [own.get(f.key, (0.0, 0.0)) for f in after.functions]
    figures["change"] = [after_time - before for before, after_time in pairs]
    figures["change_labels"] = [percent_text(*pair).strip(" ()") for pair in pairs]
    figures["change_colours"] = [change_shade(*pair, total) for pair in pairs]
    figures["dot"] = to_dot(
        after.call_index,
        0.01,
        f"{after.method} {after.path}",
        changes=own,
        change_total=total,
    )
    return figures


# The package chart's colours, and the flame graph's by package: each with the ink
# (white or the page's dark text) that reads on it at 4.5:1 or better.
PACKAGE_COLOURS = (
    ("#1f6feb", "#ffffff"),
    ("#d29922", "#1d232a"),
    ("#2da44e", "#1d232a"),
    ("#cf222e", "#ffffff"),
    ("#8250df", "#ffffff"),
    ("#0a7ea4", "#ffffff"),
    ("#bf3989", "#ffffff"),
    ("#6e7781", "#ffffff"),
)


def package_chart(session: ProfilingSession, packages: tuple[str, ...]) -> list[dict]:
    """Pie slices of own time per package, as SVG path data; each slice names the
    packages it holds (the last, "N more", several), so the flame graph can take
    the same colours."""
    import math

    found = package_times(session.functions, packages)
    times: list[tuple[str, float, tuple[str, ...]]] = [(n, s, (n,)) for n, s in found]
    if len(times) > CHART_SLICES:  # the smallest together, so each slice has its colour
        rest = times[CHART_SLICES - 1 :]
        times = times[: CHART_SLICES - 1] + [
            (
                f"{len(rest)} more",
                sum(seconds for _, seconds, _ in rest),
                tuple(name for name, _, _ in rest),
            )
        ]
    total = sum(seconds for _, seconds, _ in times) or 1.0
    slices, angle = [], -math.pi / 2
    for number, (name, seconds, members) in enumerate(times):
        share = seconds / total
        end = angle + share * 2 * math.pi
        large = 1 if share > 0.5 else 0
        x1, y1 = 50 + 45 * math.cos(angle), 50 + 45 * math.sin(angle)
        x2, y2 = 50 + 45 * math.cos(end), 50 + 45 * math.sin(end)
        path = (
            f"M50,50 L{x1:.3f},{y1:.3f} A45,45 0 {large} 1 {x2:.3f},{y2:.3f} Z"
            if share < 0.9999
            else "M50,5 A45,45 0 1 1 49.999,5 Z"
        )
        colour, ink = PACKAGE_COLOURS[number % len(PACKAGE_COLOURS)]
        slices.append(
            {
                "name": name,
                "time": seconds,
                "share": share,
                "path": path,
                "colour": colour,
                "ink": ink,
                "members": members,
            }
        )
        angle = end
    return slices


def flame_colours(session: ProfilingSession, packages: tuple[str, ...], chart: list[dict]) -> dict:
    """Which of the chart's slices each source file falls in, so the flame graph
    colours a bar by its function's package exactly as the chart does:
    ``{"slices": [[name, colour, ink], ...], "files": {file: slice}}``."""
    slice_of = {member: number for number, one in enumerate(chart) for member in one["members"]}
    files = {f.file for f in session.functions}
    groups = {} if packages else package_groups(files)
    found = {}
    for file in files:
        group = (package_of(file, packages) or "other") if packages else groups.get(file, "other")
        if group in slice_of:
            found[file] = slice_of[group]
    return {
        "slices": [[one["name"], one["colour"], one["ink"]] for one in chart],
        "files": found,
    }
