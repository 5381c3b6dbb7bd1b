"""What makes requests one endpoint: the method and the path with its variable
parts folded (``/users/123/orders/9f1c...`` is ``/users/{id}/orders/{id}``).
Analysis groups by it, and retention spares each endpoint's slowest sessions."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["DEFAULT_FOLDS", "fold_path", "endpoint_of"]

# Numbers, UUIDs and long hex tokens, each a whole path segment: one pattern, so a
# store of 100,000 paths is folded in one pass each.
DEFAULT_FOLDS = (
    re.compile(
        r"(?<=/)(?:[0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
        r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,})(?=/|$)"
    ),
)


def fold_path(path: str, folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS) -> str:
    for pattern in folds:
        path = pattern.sub("{id}", path)
    return path


def endpoint_of(method: str, path: str, folds: Iterable[re.Pattern[str]] = DEFAULT_FOLDS) -> str:
    return f"{method} {fold_path(path, folds)}"
