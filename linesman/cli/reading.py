"""Commands that read a store and never change it: list, show, export, compare."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path

from linesman.cli.terminal import CommandError, load_session, open_store, terminal_text
from linesman.model.rows import BUILTIN_FILE, FunctionStats


def summaries_for(backend, path: str | None, slowest: int | None) -> list[dict]:
    from linesman.backends.base import SessionQuery

    pattern = None
    if path:
        try:
            pattern = re.compile(path)
        except re.error as exc:
            raise CommandError(f"--path {path!r} is not a regular expression: {exc}") from None
    query = SessionQuery(sort="duration") if slowest else SessionQuery()
    rows = backend.list_summaries(0, -1, query)
    if pattern is not None:
        rows = [row for row in rows if pattern.search(row["path"])]
    return rows[:slowest] if slowest else rows


def cmd_list(args: argparse.Namespace) -> int:
    backend = open_store(args.store, read_only=True)
    rows = summaries_for(backend, args.path, args.slowest)
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print("no sessions")
        return 0
    print(f"{'when':<19}  {'method':<7} {'status':>6} {'ms':>9}  {'uuid':<36}  path")
    for row in rows:
        when = datetime.fromtimestamp(row["timestamp"]).strftime("%Y-%m-%d %H:%M:%S")
        query = f"?{row['query']}" if row["query"] else ""
        status = "" if row["status"] is None else row["status"]
        print(
            f"{when:<19}  {terminal_text(row['method']):<7} {status:>6} "
            f"{row['duration'] * 1000:>9.1f}  {row['uuid']:<36}  "
            f"{terminal_text(row['path'] + query)}"
        )
    return 0


SORTS = {
    "cumtime": lambda f: f.totaltime,
    "tottime": lambda f: f.inlinetime,
    "ncalls": lambda f: f.callcount,
}


def cmd_show(args: argparse.Namespace) -> int:
    from linesman.model.callgraph import profile_total
    from linesman.model.locations import short_paths
    from linesman.model.tree import session_tree

    session = load_session(open_store(args.store, read_only=True), args.uuid)
    total = profile_total(session) or 1e-12
    sampled = session.kind == "sampled"
    engine = f"sampled, {session.samples} samples" if sampled else "cProfile"
    request = f"{request_name(session)}{'?' + session.query if session.query else ''}"
    status = "—" if session.status is None else session.status
    print(
        f"{terminal_text(request)}  "
        f"status {status}  wall {session.duration * 1000:.1f} ms  "
        f"cpu {session.cpu_time * 1000:.1f} ms  {len(session.functions)} functions  {engine}"
    )
    short = {} if args.full_paths else short_paths(f.file for f in session.functions)

    def where(function: FunctionStats) -> str:
        return f"{short.get(function.file, function.file)}:{function.line}"

    how = "from the sampled stacks" if sampled else "shared callees are estimated"
    print(f"\ncall tree (cutoff {args.cutoff:g}%; {how})")

    todo = [
        (root, 0) for root in reversed(session_tree(session, args.cutoff / 100, max_nodes=2000))
    ]
    while todo:  # a loop, not recursion: a call chain may be thousands deep
        node, depth = todo.pop()
        row = session.function(node.key)
        mark = " (recursion)" if node.recursive else ""
        place = "" if row.file == BUILTIN_FILE else f"  {where(row)}"
        print(
            f"{'  ' * min(depth, 40)}{100 * node.time / total:5.1f}%  "
            f"{node.time * 1000:8.2f} ms  {terminal_text(row.name)}{mark}"
            f"{terminal_text(place)}"
        )
        todo.extend((child, depth + 1) for child in reversed(node.children))
    print(f"\ntop {args.limit} functions by {args.sort}")
    print(f"{'samples' if sampled else 'ncalls':>10} {'tottime':>10} {'cumtime':>10}  function")
    for function in sorted(session.functions, key=SORTS[args.sort], reverse=True)[: args.limit]:
        calls = (
            str(function.callcount)
            if not function.reccallcount
            else f"{function.callcount}/{function.callcount - function.reccallcount}"
        )
        label = (
            function.name if function.file == BUILTIN_FILE else f"{where(function)} {function.name}"
        )
        print(
            f"{calls:>10} {function.inlinetime:>10.6f} {function.totaltime:>10.6f}  "
            f"{terminal_text(label)}"
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from linesman.exporters.registry import GraphvizMissing, by_name

    session = load_session(open_store(args.store, read_only=True), args.uuid)
    chosen = by_name(args.format)
    try:
        data = chosen.write(session, args.cutoff)
    except GraphvizMissing:
        raise CommandError(
            "Graphviz's dot program is not installed; export --format dot and render it elsewhere"
        ) from None
    if args.output in (None, "-"):
        if chosen.binary and sys.stdout.isatty():
            raise CommandError("a .prof file is binary: write it with -o FILE, or pipe it")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(args.output).write_bytes(data)
        print(f"wrote {len(data)} bytes to {args.output}", file=sys.stderr)
    return 0


def load_profile(backend, text: str):
    """A session by id, or an endpoint's sessions merged (``GET /users/{id}@FROM..TO``)."""
    from linesman.analysis.refs import parse_ref, resolve
    from linesman.model.endpoint import EndpointRule, query_names_in

    try:
        ref = parse_ref(text)
    except ValueError as exc:
        raise CommandError(f"{text[:80]!r}: {exc}") from None
    # The store's endpoint_query is the app's option: the ref says what it names.
    found = resolve(backend, ref, EndpointRule(query_names=query_names_in(ref.endpoint)))
    if found is None:
        raise CommandError(f"nothing stored matches {text[:80]!r}")
    return found


def cmd_compare(args: argparse.Namespace) -> int:
    from linesman.analysis.compare import compare_sessions
    from linesman.model.locations import short_paths
    from linesman.model.rows import BUILTIN_FILE

    backend = open_store(args.store, read_only=True)
    (before, before_count), (after, after_count) = (
        load_profile(backend, args.a),
        load_profile(backend, args.b),
    )
    report = compare_sessions(before, after, before_count, after_count)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(
        terminal_text(
            f"{request_name(before)}: "
            f"{report['duration_before'] * 1000:.1f} ms -> "
            f"{request_name(after)}: {report['duration_after'] * 1000:.1f} ms "
            f"({report['duration_change'] * 1000:+.1f} ms)"
        )
    )
    rows = report["functions"][: args.limit]
    # Files short, as ``show`` and the pages give them; --full-paths, whole.
    short = {} if args.full_paths else short_paths(row["file"] for row in rows)
    print(f"{'own change':>12} {'cum change':>12} {'calls':>13}  function")
    for row in rows:
        calls = f"{row['calls_before']}->{row['calls_after']}"
        note = "" if row["status"] == "changed" else f" ({row['status']})"
        where = (
            row["name"]
            if row["file"] == BUILTIN_FILE
            else f"{short.get(row['file'], row['file'])}:{row['line']} {row['name']}"
        )
        print(
            f"{row['tottime_change'] * 1000:>+10.3f}ms {row['cumtime_change'] * 1000:>+10.3f}ms "
            f"{calls:>13}  {terminal_text(where)}{note}"
        )
    return 0


def request_name(session) -> str:
    """``GET /path``, or a file's name alone (an imported ``.prof`` has no method)."""
    return f"{session.method} {session.path}" if session.method else session.path
