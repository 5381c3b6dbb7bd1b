"""The ``linesman`` command: the demo, a server for any ini, and the store from a terminal.

``STORE`` is what a user has at hand: a SQLite file (the default backend's),
a pickle file (``.dat``), or a database URL (``postgresql+psycopg://...``).
Errors are one line naming what was wrong, with a non-zero exit status; long
work shows a progress bar on a terminal and stays quiet when piped.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from linesman import __version__
from linesman.model.rows import BUILTIN_FILE

__all__ = ["main"]


class CommandError(Exception):
    """What went wrong, in one line for the user."""


# -- helpers ---------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_text(text: object) -> str:
    """Stored text as a terminal may show it: control characters (escape sequences
    a client put in a path) written as ``\\x1b`` instead of obeyed."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", str(text))


def progress(items: Sequence, label: str, stream: TextIO = sys.stderr) -> Iterable:
    """Yield ``items``, drawing a bar on a terminal; silent when piped."""
    total = len(items)
    show = stream.isatty() and total > 1
    for number, item in enumerate(items, start=1):
        yield item
        if show:
            filled = int(30 * number / total)
            stream.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {number}/{total}")
            stream.flush()
    if show:
        stream.write("\n")


def open_store(spec: str, must_exist: bool = True, read_only: bool = False):
    """The store a user named; a read-only command opens a SQLite file read-only,
    so listing or showing never changes it, whatever it holds."""
    from linesman.backends import open_store as backend_for
    from linesman.backends.base import BackendError

    if spec.endswith(".prof"):
        raise CommandError(
            f"{spec} is a profile, not a store: open it with `linesman view "
            f"{spec}`, or store it with `linesman import STORE {spec}`"
        )
    if "://" not in spec and must_exist and not os.path.exists(spec):
        raise CommandError(f"no store at {spec}")
    sqlite = "://" not in spec and not spec.endswith((".dat", ".pickle", ".pkl"))
    if read_only and sqlite:
        backend = backend_for("file:" + quote(os.path.abspath(spec)) + "?mode=ro")
    else:
        backend = backend_for(spec)
    try:
        backend.setup()
    except BackendError as exc:
        raise CommandError(f"{spec} cannot be opened as a store: {exc}") from None
    return backend


def load_session(backend, uuid: str):
    if not re.fullmatch(r"[0-9a-f-]{36}", uuid):
        raise CommandError(f"{uuid!r} is not a session id")
    session = backend.get(uuid)
    if session is None:
        raise CommandError(f"no session {uuid} in the store")
    return session


def parse_age(text: str) -> float:
    from linesman.options import to_seconds

    try:
        return to_seconds(text)
    except ValueError as exc:
        raise CommandError(f"--older-than {text!r}: {exc}") from None


def not_found_app(environ, start_response):
    body = b"Nothing here: the profiler is at /__profiler__/\n"
    start_response(
        "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]


def find_profiler(app, depth: int = 10):
    """The ProfilingMiddleware inside a loaded app (a filter pipeline), if any."""
    from linesman.middleware import ProfilingMiddleware

    for _ in range(depth):
        if isinstance(app, ProfilingMiddleware):
            return app
        app = getattr(app, "app", None) or getattr(app, "application", None)
        if app is None:
            return None
    return None


def login_line(app, base: str) -> list[str]:
    profiler = find_profiler(app)
    if profiler is None or not profiler.settings.require_token:
        return []
    return [f"               log in to the profiler with {base}{profiler.login_path()}"]


def serve_app(app, host: str, port: int, banner: Sequence[str]) -> int:
    from waitress import serve

    for text in banner:
        print(text, flush=True)
    serve(app, host=host, port=port, threads=4, _quiet=True)
    return 0


# -- commands ----------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from paste.deploy import loadapp

    ini = resources.files("linesman.demo") / "demo.ini"
    store = os.path.abspath(args.store)
    with resources.as_file(ini) as ini_path:
        app = loadapp(f"config:{ini_path}", global_conf={"store": store, "engine": args.profiler})
    base = f"http://127.0.0.1:{args.port}"
    return serve_app(
        app,
        "127.0.0.1",
        args.port,
        [
            f"linesman demo: the app at {base}/",
            f"               the profiler at {base}/__profiler__/",
            *login_line(app, base),
            f"               sessions stored in {store}",
        ],
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from paste.deploy import loadapp

    ini = Path(args.ini).resolve()
    if not ini.is_file():
        raise CommandError(f"no ini file at {args.ini}")
    app = loadapp(f"config:{ini}", name=args.app)
    base = f"http://{args.host}:{args.port}"
    return serve_app(
        app, args.host, args.port, [f"linesman serve: {ini} at {base}/", *login_line(app, base)]
    )


def cmd_view(args: argparse.Namespace) -> int:
    from linesman.middleware import ProfilingMiddleware

    spec = args.store
    if spec.endswith(".prof"):
        folder = tempfile.mkdtemp(prefix="linesman-view-")
        target = os.path.join(folder, "sessions.db")
        import_files(open_store(target, must_exist=False), [spec])
        spec = target
    elif "://" not in spec and not os.path.exists(spec):
        raise CommandError(f"no store at {spec}")
    options = (
        {"backend": "linesman.backends.sqlalchemy:SQLAlchemyBackend", "url": spec}
        if "://" in spec
        else {"backend": "linesman.backends.pickle:PickleBackend", "filename": spec}
        if spec.endswith((".dat", ".pickle", ".pkl"))
        else {"filename": spec}
    )
    app = ProfilingMiddleware(not_found_app, sample_rate="0", **options)
    base = f"http://127.0.0.1:{args.port}"
    return serve_app(
        app,
        "127.0.0.1",
        args.port,
        [f"linesman view: {args.store} at {base}/__profiler__/", *login_line(app, base)],
    )


def cmd_url(args: argparse.Namespace) -> int:
    from linesman.options import to_profiler_path
    from linesman.signing import Signer

    try:
        path = to_profiler_path(args.path)
    except ValueError as exc:
        raise CommandError(f"--path {args.path!r}: {exc}") from None
    base = args.base.rstrip("/")
    if base and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", base):
        raise CommandError(
            f"--base {args.base!r}: expected an address such as http://127.0.0.1:8080"
        )
    signer = Signer(open_store(args.store).get_secret())
    print(f"{base}{path}/?token={signer.login_token}")
    return 0


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
    from linesman.model.callgraph import profile_total, session_tree

    session = load_session(open_store(args.store, read_only=True), args.uuid)
    total = profile_total(session) or 1e-12
    sampled = session.kind == "sampled"
    engine = f"sampled, {session.samples} samples" if sampled else "cProfile"
    request = f"{session.method} {session.path}{'?' + session.query if session.query else ''}"
    print(
        f"{terminal_text(request)}  "
        f"status {session.status}  wall {session.duration * 1000:.1f} ms  "
        f"cpu {session.cpu_time * 1000:.1f} ms  {len(session.functions)} functions  {engine}"
    )
    how = "from the sampled stacks" if sampled else "shared callees are estimated"
    print(f"\ncall tree (cutoff {args.cutoff:g}%; {how})")

    todo = [
        (root, 0) for root in reversed(session_tree(session, args.cutoff / 100, max_nodes=2000))
    ]
    while todo:  # a loop, not recursion: a call chain may be thousands deep
        node, depth = todo.pop()
        row = session.function(node.key)
        mark = " (recursion)" if node.recursive else ""
        where = "" if row.file == BUILTIN_FILE else f"  {row.file}:{row.line}"
        print(
            f"{'  ' * min(depth, 40)}{100 * node.time / total:5.1f}%  "
            f"{node.time * 1000:8.2f} ms  {terminal_text(row.name)}{mark}"
            f"{terminal_text(where)}"
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
        where = (
            function.name
            if function.file == BUILTIN_FILE
            else (f"{function.file}:{function.line}({function.name})")
        )
        print(
            f"{calls:>10} {function.inlinetime:>10.6f} {function.totaltime:>10.6f}  "
            f"{terminal_text(where)}"
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from linesman.exporters.formats import to_collapsed, to_json, to_prof, to_speedscope
    from linesman.model.callgraph import render_svg, to_dot

    session = load_session(open_store(args.store, read_only=True), args.uuid)
    if args.format == "prof":
        data = to_prof(session)
    elif args.format == "speedscope":
        data = json.dumps(to_speedscope(session)).encode()
    elif args.format == "json":
        data = to_json(session).encode()
    elif args.format == "collapsed":
        data = to_collapsed(session).encode()
    else:
        dot = to_dot(session.call_index, args.cutoff / 100, f"{session.method} {session.path}")
        if args.format == "dot":
            data = dot.encode()
        else:
            svg = render_svg(dot)
            if svg is None:
                raise CommandError(
                    "Graphviz's dot program is not installed; "
                    "export --format dot and render it elsewhere"
                )
            data = svg
    if args.output in (None, "-"):
        if args.format == "prof" and sys.stdout.isatty():
            raise CommandError("a .prof file is binary: write it with -o FILE, or pipe it")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(args.output).write_bytes(data)
        print(f"wrote {len(data)} bytes to {args.output}", file=sys.stderr)
    return 0


def import_files(backend, files: Sequence[str]) -> list[str]:
    from linesman.exporters.formats import from_pstats, read_prof

    made = []
    for name in progress(files, "importing"):
        path = Path(name)
        try:
            stats = read_prof(path.read_bytes())
        except OSError as exc:
            raise CommandError(f"cannot read {name}: {exc.strerror}") from None
        except ValueError as exc:
            raise CommandError(f"{name}: {exc}") from None
        method, request_path = guess_request(path.name)
        session = from_pstats(stats, request_path, method, timestamp=path.stat().st_mtime)
        backend.add(session)
        made.append(session.uuid)
    return made


def guess_request(file_name: str) -> tuple[str, str]:
    """werkzeug names its files ``GET.items.42ms.1700000000.prof``; others keep their name."""
    match = re.fullmatch(r"([A-Z]+)\.(.*?)\.\d+ms\.\d+\.prof", file_name)
    if match:
        path = "/" + match.group(2).replace(".", "/")
        return match.group(1), "/" if path == "/root" else path
    return "GET", f"/imported/{file_name}"


def cmd_import(args: argparse.Namespace) -> int:
    backend = open_store(args.store, must_exist=False)
    for uuid in import_files(backend, args.files):
        print(uuid)
    return 0


def load_profile(backend, text: str):
    """A session by id, or an endpoint's sessions merged (``GET /users/{id}@FROM..TO``)."""
    from linesman.analysis.endpoints import DEFAULT_FOLDS, parse_ref, resolve

    try:
        ref = parse_ref(text)
    except ValueError as exc:
        raise CommandError(f"{text[:80]!r}: {exc}") from None
    found = resolve(backend, ref, DEFAULT_FOLDS)
    if found is None:
        raise CommandError(f"nothing stored matches {text[:80]!r}")
    return found


def cmd_compare(args: argparse.Namespace) -> int:
    from linesman.analysis.endpoints import compare_sessions

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
            f"{before.method} {before.path}: "
            f"{report['duration_before'] * 1000:.1f} ms -> "
            f"{after.method} {after.path}: {report['duration_after'] * 1000:.1f} ms "
            f"({report['duration_change'] * 1000:+.1f} ms)"
        )
    )
    print(f"{'own change':>12} {'cum change':>12} {'calls':>13}  function")
    for row in report["functions"][: args.limit]:
        calls = f"{row['calls_before']}->{row['calls_after']}"
        note = "" if row["status"] == "changed" else f" ({row['status']})"
        print(
            f"{row['tottime_change'] * 1000:>+10.3f}ms {row['cumtime_change'] * 1000:>+10.3f}ms "
            f"{calls:>13}  {terminal_text(row['function'])}{note}"
        )
    return 0


def cmd_capture(args: argparse.Namespace) -> int:
    from linesman.model.capture import CaptureError, parse_capture

    backend = open_store(args.store)
    if args.stop is not None:
        if not re.fullmatch(r"[0-9a-f-]{36}", args.stop):
            raise CommandError(
                f"--stop: {terminal_text(args.stop)!r} is not a window id "
                "(capture with no option lists them)"
            )
        if not backend.stop_capture(args.stop):
            raise CommandError(f"no capture window {args.stop} is running")
        print("stopped")
        return 0
    if args.requests is None and args.minutes is None:
        for window in backend.captures():
            state = "catching" if window.is_open() else "ended"
            print(
                f"{window.id}  {state:8}  caught {window.caught:>5}  "
                f"{terminal_text(window.describe())}"
            )
        return 0
    try:
        window = parse_capture(
            {
                "requests": args.requests,
                "minutes": args.minutes,
                "pattern": args.match or "",
                "method": args.method or "",
                "min_ms": args.slower_than,
            }
        )
    except CaptureError as exc:
        raise CommandError(str(exc)) from None
    backend.start_capture(window)
    print(f"{window.id}  armed: {terminal_text(window.describe())}")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    backend = open_store(args.store)
    if args.keep is None and args.older_than is None:
        raise CommandError("say what to prune: --keep N or --older-than AGE (such as 7d)")
    if args.keep is not None and args.keep < 1:
        raise CommandError(
            f"--keep {args.keep}: keep at least 1 (to remove every session, delete them in the UI)"
        )
    removed = 0
    if args.older_than is not None:
        removed += backend.prune_older(time.time() - parse_age(args.older_than))
    if args.keep is not None:
        removed += backend.prune(args.keep)
    print(f"{removed} session(s) removed, {backend.count()} left")
    return 0


# -- the parser ----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linesman",
        description="WSGI profiling middleware: the demo, a server, and "
        "the session store from a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"linesman {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str, run) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(run=run)
        return sub

    def store_argument(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "store", metavar="STORE", help="a SQLite file, a pickle file (.dat) or a database URL"
        )

    demo = command("demo", "serve a sample app with linesman on 127.0.0.1", cmd_demo)
    demo.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    demo.add_argument(
        "--profiler",
        choices=["auto", "cprofile", "sampling"],
        default="auto",
        help="the profiling engine (auto)",
    )
    demo.add_argument(
        "--store",
        default=os.path.join(tempfile.gettempdir(), "linesman-demo.db"),
        help="SQLite file for the sessions (%(default)s)",
    )

    serve = command("serve", "serve a PasteDeploy ini file with waitress", cmd_serve)
    serve.add_argument("ini", metavar="INI", help="the ini file, as pserve takes it")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--app", default="main", help="the app section's name (main)")

    view = command(
        "view", "open the profiler UI on a store or a .prof file, no app behind", cmd_view
    )
    view.add_argument("store", metavar="STORE", help="a store (as elsewhere) or a .prof file")
    view.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")

    listing = command("list", "list the stored sessions, newest first", cmd_list)
    store_argument(listing)
    listing.add_argument("--path", metavar="REGEX", help="only paths matching this expression")
    listing.add_argument("--slowest", type=int, metavar="N", help="the N slowest instead")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    show = command("show", "print a session's call tree and top functions", cmd_show)
    store_argument(show)
    show.add_argument("uuid", metavar="UUID", help="the session's id (from list)")
    show.add_argument(
        "--cutoff",
        type=float,
        default=5.0,
        metavar="PCT",
        help="hide calls below this share of the time (5)",
    )
    show.add_argument(
        "--sort",
        choices=sorted(SORTS),
        default="cumtime",
        help="order of the top functions (cumtime)",
    )
    show.add_argument(
        "--limit", type=int, default=20, metavar="N", help="how many top functions (20)"
    )

    export = command(
        "export",
        "write a session as .prof, speedscope, collapsed stacks, DOT, SVG or JSON",
        cmd_export,
    )
    store_argument(export)
    export.add_argument("uuid", metavar="UUID", help="the session's id (from list)")
    export.add_argument(
        "--format", required=True, choices=["prof", "speedscope", "collapsed", "dot", "svg", "json"]
    )
    export.add_argument("-o", "--output", metavar="FILE", help="file to write (stdout)")
    export.add_argument(
        "--cutoff",
        type=float,
        default=5.0,
        metavar="PCT",
        help="for dot and svg: hide functions below this share (5)",
    )

    imported = command(
        "import", "store .prof files (cProfile -o, werkzeug, ...) as sessions", cmd_import
    )
    store_argument(imported)
    imported.add_argument("files", metavar="FILE.prof", nargs="+", help="pstats files")

    compare = command("compare", "compare two sessions function by function", cmd_compare)
    store_argument(compare)
    compare.add_argument(
        "a",
        metavar="A",
        help="the earlier session's id, or an endpoint "
        "merged: 'GET /users/{id}', optionally @FROM..TO (ISO, UTC)",
    )
    compare.add_argument("b", metavar="B", help="the later one, as A")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
    compare.add_argument(
        "--limit", type=int, default=20, metavar="N", help="how many functions (20)"
    )

    capture = command(
        "capture",
        "arm a capture window for every process sharing the store (no option: list the windows)",
        cmd_capture,
    )
    store_argument(capture)
    capture.add_argument("--requests", metavar="N", help="profile the next N matching requests")
    capture.add_argument("--minutes", metavar="M", help="for at most M minutes")
    capture.add_argument("--match", metavar="REGEX", help="only paths matching this expression")
    capture.add_argument("--method", metavar="METHOD", help="only this method (GET, POST, ...)")
    capture.add_argument("--slower-than", metavar="MS", help="only requests slower than MS ms")
    capture.add_argument("--stop", metavar="ID", help="end this window now")

    url = command("url", "print the link that logs a browser in to the profiler UI", cmd_url)
    store_argument(url)
    url.add_argument(
        "--base",
        default="",
        metavar="URL",
        help="the app's address, such as http://127.0.0.1:8080 (none: the path)",
    )
    url.add_argument("--path", default="/__profiler__", help="profiler_path (/__profiler__)")

    prune = command("prune", "remove old sessions", cmd_prune)
    store_argument(prune)
    prune.add_argument("--keep", type=int, metavar="N", help="keep the newest N")
    prune.add_argument("--older-than", metavar="AGE", help="remove those older than AGE (7d)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    from linesman.backends.base import BackendError
    from linesman.config import ConfigError
    from linesman.model.session import SessionFormatError

    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `linesman list ... | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CommandError, BackendError, ConfigError, OSError) as exc:
        print(f"linesman {args.command}: {terminal_text(exc)}", file=sys.stderr)
        return 1
    except SessionFormatError as exc:
        print(
            f"linesman {args.command}: the stored session cannot be read: {terminal_text(exc)}",
            file=sys.stderr,
        )
        return 1
    except (RecursionError, OverflowError, MemoryError, ValueError, TypeError) as exc:
        print(
            f"linesman {args.command}: cannot go on ({type(exc).__name__}: "
            f"{terminal_text(str(exc)[:300])})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
