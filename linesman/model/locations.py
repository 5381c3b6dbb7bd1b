"""Where a function's file lives, said short: relative to the site-packages (or
dist-packages) folder it was installed in, to the standard library's folder,
or, for the app's own files, to the folder they share. A profile is read on
other machines than the one it was made on, so this looks at the paths
themselves, never at this interpreter's folders."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from linesman.model.rows import BUILTIN_FILE

__all__ = ["short_paths", "short_path", "package_groups", "BUILT_INS", "STANDARD_LIBRARY"]

# An installed distribution's folder (the last on the path), or the standard
# library's (lib/python3.12/).
_LIBRARY = re.compile(
    r".*[/\\](?P<installed>site-packages|dist-packages)[/\\]"
    r"|.*[/\\]lib[/\\]python\d+(?:\.\d+)?t?[/\\]"
)


def _is_path(file: str) -> bool:
    return file != BUILTIN_FILE and not file.startswith("<")  # <frozen ...>, <string>


def short_path(file: str, app_root: str = "") -> str:
    """One file's short form; ``app_root`` is what the app's own files share."""
    if not _is_path(file):
        return file
    library = _LIBRARY.match(file)
    if library:
        return file[library.end() :]
    if app_root and file.startswith(app_root):
        return file[len(app_root) :]
    return file


def short_paths(files: Iterable[str]) -> dict[str, str]:
    """Each distinct file's short form. The app's own files (not in a library) are
    given from the folder above the one they all share, so ``mysite/views.py``
    keeps its package's name."""
    distinct = {file for file in files if _is_path(file)}
    # Relative names (a template's "memory:0x7f...") are said as they are.
    own = [file for file in distinct if not _LIBRARY.match(file) and os.path.isabs(file)]
    app_root = ""
    if own:
        shared = os.path.dirname(own[0]) if len(own) == 1 else os.path.commonpath(own)
        parent = os.path.dirname(shared)
        if parent not in ("", "/", "\\"):
            app_root = os.path.join(parent, "")
    return {file: short_path(file, app_root) for file in distinct}


BUILT_INS = "built-ins"  # C functions (time.sleep, dict.get): pstats has no file for them
STANDARD_LIBRARY = "standard library"


def package_groups(files: Iterable[str]) -> dict[str, str]:
    """Each file's group for the own-time chart, found from where it lives: the
    top-level package of an installed distribution (``django``), the standard
    library, the app's own top folder (``mysite``), or the built-ins."""
    files = set(files)
    short = short_paths(files)
    groups = {}
    for file in files:
        if file == BUILTIN_FILE:
            groups[file] = BUILT_INS
            continue
        library = _LIBRARY.match(file)
        if file.startswith("<frozen") or (library and not library.group("installed")):
            groups[file] = STANDARD_LIBRARY
        else:
            top = re.split(r"[/\\]", short.get(file, file).lstrip("/\\"), maxsplit=1)[0]
            groups[file] = top[:-3] if top.endswith(".py") else top or file
    return groups
