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

__all__ = ["compile_pattern", "MAX_PATTERN_LENGTH"]

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
        return re2.compile(text, options=_options())
    except re2.error:
        raise ValueError(
            "it needs backreferences or lookaround, which linear-time matching cannot do"
        ) from None
