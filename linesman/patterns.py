"""Regular expressions that come from outside linesman, matched in linear time.

Capture windows (``api/captures``), ``include_paths``, ``exclude_paths`` and
``endpoint_folds`` are matched against paths any client chooses. Python's ``re``
backtracks: ``^/(a+)+$`` against 28 a's and a ``!`` holds the GIL for seconds,
stalling every thread of the app. So these patterns are compiled with RE2
(google-re2), whose matching time is linear in the path's length whatever the
pattern. RE2 has no backreferences and no lookaround; a pattern that needs them
is refused with an error that says so.
"""

from __future__ import annotations

import re
from typing import Any

import re2

__all__ = ["compile_pattern", "LinearPattern", "MAX_PATTERN_LENGTH"]

MAX_PATTERN_LENGTH = 1000


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is our error message, not stderr noise
    options.max_mem = 8 << 20  # compiled programs stay small, whatever the pattern
    return options


def compile_pattern(text: str) -> Any:
    """The pattern, ready to ``search``/``sub`` in linear time; ValueError if not."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise ValueError(f"a pattern of at most {MAX_PATTERN_LENGTH} characters is expected")
    try:
        re.compile(text)  # Python's messages for plain syntax errors
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc})") from None
    try:
        return LinearPattern(re2.compile(text, options=_options()))
    except re2.error:
        raise ValueError(
            "it needs backreferences or lookaround, which linear-time matching cannot do"
        ) from None


class LinearPattern:
    """An RE2 pattern whose ``search`` only says whether it matches (None if
    not): include_paths and exclude_paths run on every request, and the
    wrapper's own ``search`` spends 3.8 us in Python around RE2's 0.2 us match,
    where this calls RE2's matcher directly (0.6 us). ``sub`` is RE2's own."""

    __slots__ = ("pattern", "_compiled", "_matcher", "sub")

    def __init__(self, compiled: Any) -> None:
        self.pattern = compiled.pattern
        self._compiled = compiled
        self.sub = compiled.sub
        # The matcher behind the wrapper; where a release lacks it, its search.
        matcher = getattr(getattr(compiled, "_regexp", None), "Match", None)
        self._matcher = matcher if matcher is not None and _UNANCHORED is not None else None

    def search(self, text: str) -> bool | None:
        if self._matcher is None:
            return None if self._compiled.search(text) is None else True
        encoded = text.encode("utf-8", "surrogatepass")
        spans = self._matcher(_UNANCHORED, encoded, 0, len(encoded))
        return None if spans[0][0] == -1 else True

    def __repr__(self) -> str:
        return f"LinearPattern({self.pattern!r})"

    # Immutable: a copy is the pattern itself, and a pickle compiles it anew.
    def __copy__(self) -> LinearPattern:
        return self

    def __deepcopy__(self, memo: dict) -> LinearPattern:
        return self

    def __reduce__(self) -> tuple:
        return (compile_pattern, (self.pattern,))


def _unanchored() -> Any:
    try:
        from re2 import _re2

        return _re2.RE2.Anchor.UNANCHORED
    except (ImportError, AttributeError):
        return None


_UNANCHORED = _unanchored()
