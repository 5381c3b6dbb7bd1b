"""Commands that change a store: import ``.prof`` files, arm or stop capture
windows, prune, rotate the secret."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Sequence
from pathlib import Path

from linesman.cli.terminal import CommandError, open_store, progress, terminal_text


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
    """werkzeug names its files ``GET.items.42ms.1700000000.prof``: the request they
    profiled. Any other file is named by itself, with no method (``cProfile -o
    x.prof`` profiled no request, so it gets none it never had)."""
    match = re.fullmatch(r"([A-Z]+)\.(.*?)\.\d+ms\.\d+\.prof", file_name)
    if match:
        path = "/" + match.group(2).replace(".", "/")
        return match.group(1), "/" if path == "/root" else path
    return "", file_name


def cmd_import(args: argparse.Namespace) -> int:
    backend = open_store(args.store, must_exist=False)
    for uuid in import_files(backend, args.files):
        print(uuid)
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


def parse_age(text: str) -> float:
    from linesman.options import to_seconds

    try:
        return to_seconds(text)
    except ValueError as exc:
        raise CommandError(f"--older-than {text!r}: {exc}") from None


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


def cmd_rotate(args: argparse.Namespace) -> int:
    """A new secret for the store: the access token, every browser's login and
    every form's CSRF token signed with the old one stop working, in every
    process and host that shares the store once its writer thread reads the
    store again (each half second)."""
    from linesman.signing import new_secret

    backend = open_store(args.store)
    backend.set_secret(new_secret())
    print(
        "a new secret: every access token, browser login and form token made before "
        "no longer works; the apps sharing this store take it within seconds. "
        "`linesman url STORE` prints the new login link."
    )
    return 0
