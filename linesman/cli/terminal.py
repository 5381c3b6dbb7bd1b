"""What every command shares: its one-line errors, text made safe for a
terminal, a progress bar, and the store and session a user named."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO


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
    backend = backend_for(spec, read_only=read_only)
    try:
        backend.setup()
    except BackendError as exc:
        raise CommandError(f"{spec} cannot be opened as a store: {exc}") from None
    return backend


def load_session(backend, uuid: str):
    from linesman.model.session import UUID_PATTERN

    if not re.fullmatch(UUID_PATTERN, uuid):
        raise CommandError(f"{uuid!r} is not a session id")
    session = backend.get(uuid)
    if session is None:
        raise CommandError(f"no session {uuid} in the store")
    return session
