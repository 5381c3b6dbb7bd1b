"""The ``linesman`` command: the demo, a server for any ini, and the store from a terminal.

``STORE`` is what a user has at hand: a SQLite file (the default backend's),
a pickle file (``.dat``), or a database URL (``postgresql+psycopg://...``).
Errors are one line naming what was wrong, with a non-zero exit status; long
work shows a progress bar on a terminal and stays quiet when piped.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from linesman import __version__
from linesman.cli.changing import cmd_capture, cmd_import, cmd_prune, cmd_rotate
from linesman.cli.reading import SORTS, cmd_compare, cmd_export, cmd_list, cmd_show
from linesman.cli.serving import cmd_demo, cmd_serve, cmd_url, cmd_view, demo_store
from linesman.cli.terminal import CommandError, terminal_text
from linesman.exporters.registry import FORMATS

__all__ = ["main"]


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
        default=None,
        help=f"SQLite file for the sessions ({demo_store()}: yours, kept between runs)",
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
    show.add_argument(
        "--full-paths",
        action="store_true",
        help="files as absolute paths (default: relative to site-packages, the "
        "standard library or the app's folder)",
    )

    export = command(
        "export",
        "write a session as .prof, speedscope, collapsed stacks, DOT, SVG or JSON",
        cmd_export,
    )
    store_argument(export)
    export.add_argument("uuid", metavar="UUID", help="the session's id (from list)")
    export.add_argument(
        "--format", required=True, choices=[export_format.name for export_format in FORMATS]
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
    compare.add_argument("--full-paths", action="store_true", help="print files whole, not short")
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

    rotate = command(
        "rotate",
        "give the store a new secret: the access token, logins and form tokens "
        "made before stop working, in every process sharing the store",
        cmd_rotate,
    )
    store_argument(rotate)

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
