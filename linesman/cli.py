"""The ``linesman`` command.

``linesman demo`` serves the bundled sample app through its PasteDeploy ini,
the way a user's own app would run, with linesman in the pipeline and a
SQLite store, so the whole path from request to profile can be tried at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from importlib import resources
from typing import Sequence

from linesman import __version__

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from paste.deploy import loadapp
    from waitress import serve

    ini = resources.files("linesman.demo") / "demo.ini"
    store = os.path.abspath(args.store)
    with resources.as_file(ini) as ini_path:
        app = loadapp(f"config:{ini_path}", global_conf={"store": store})
    host = "127.0.0.1"
    print(f"linesman demo: the app at http://{host}:{args.port}/", flush=True)
    print(f"               the profiler at http://{host}:{args.port}/__profiler__/", flush=True)
    print(f"               sessions stored in {store}", flush=True)
    serve(app, host=host, port=args.port, threads=4, _quiet=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linesman", description="WSGI profiling middleware: tools and a demo.")
    parser.add_argument("--version", action="version", version=f"linesman {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = commands.add_parser(
        "demo", help="serve a sample app with linesman on 127.0.0.1",
        description="Serve a bundled sample app with linesman in its PasteDeploy "
                    "pipeline, on 127.0.0.1, with a SQLite store.")
    demo.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    demo.add_argument("--store", default=os.path.join(tempfile.gettempdir(),
                                                      "linesman-demo.db"),
                      help="SQLite file for the sessions (%(default)s)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"linesman: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
