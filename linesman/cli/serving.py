"""Commands that serve pages: the demo, an ini file, a store or a ``.prof``
file's UI, and the login link."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from linesman.cli.changing import import_files
from linesman.cli.terminal import CommandError, open_store


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


def user_cache_folder() -> Path:
    """This user's cache folder, as the platform names it: ``XDG_CACHE_HOME`` (when
    absolute, as the XDG spec asks) or ``~/.cache``; ``%LOCALAPPDATA%`` on Windows,
    ``~/Library/Caches`` on macOS."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"


def demo_store() -> Path:
    """Where the demo keeps its sessions unless told: in this user's cache folder,
    never a temporary folder every user of the machine shares (another user's demo
    store would be read, or would refuse this one)."""
    return user_cache_folder() / "linesman" / "demo.db"


# -- commands ----------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from paste.deploy import loadapp

    ini = resources.files("linesman.demo") / "demo.ini"
    if args.store is None:
        default = demo_store()
        try:  # only this user may read it: the store holds the access token's secret
            default.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(
                f"cannot make {default.parent} for the demo's store ({exc.strerror}); "
                "name one with --store"
            ) from None
        args.store = str(default)
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
    from linesman.backends import store_options
    from linesman.middleware import ProfilingMiddleware

    spec = args.store
    is_file = spec.endswith(".prof")
    if not is_file and "://" not in spec and not os.path.exists(spec):
        raise CommandError(f"no store at {spec}")
    # A file goes into a store of its own, removed when the view ends or the file
    # is refused, so a refused file leaves nothing behind.
    folder = tempfile.mkdtemp(prefix="linesman-view-") if is_file else None
    try:
        if folder is not None:
            spec = os.path.join(folder, "sessions.db")
            import_files(open_store(spec, must_exist=False), [args.store])
        # A file is shown, never changed: no switch, capture windows or deletes.
        app = ProfilingMiddleware(
            not_found_app, sample_rate="0", read_only=str(is_file).lower(), **store_options(spec)
        )
        base = f"http://127.0.0.1:{args.port}"
        return serve_app(
            app,
            "127.0.0.1",
            args.port,
            [f"linesman view: {args.store} at {base}/__profiler__/", *login_line(app, base)],
        )
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


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
