"""Turning one option's text into a typed value, or a ValueError that says
what was expected. Shared by the middleware's settings (``linesman.config``),
the backends' own options and the command line."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "ConfigError",
    "backend_option",
    "PROFILERS",
    "to_backend_spec",
    "to_bool",
    "to_bytes",
    "to_fraction",
    "to_login_lifetime",
    "to_optional_count",
    "to_optional_seconds",
    "to_patterns",
    "to_positive_int",
    "to_profiler",
    "to_profiler_path",
    "to_sample_interval",
    "to_seconds",
    "to_view_budget",
    "to_words",
]


class ConfigError(ValueError):
    """A start-up option has a value linesman cannot use."""


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected one of true/false, yes/no, on/off, 1/0")


def to_words(value: Any) -> tuple[str, ...]:
    """A list given as a string, separated by commas or white space."""
    if isinstance(value, (list, tuple)):
        return tuple(str(item) for item in value if str(item))
    return tuple(word for word in re.split(r"[\s,]+", str(value)) if word)


QUERY_NAMES = 10  # endpoint_query's parameters, at most
QUERY_NAME_LENGTH = 100


def to_query_names(value: Any) -> tuple[str, ...]:
    """Query parameter names (endpoint_query), separated by commas or white
    space, each once, in the order given."""
    names = tuple(dict.fromkeys(to_words(value)))
    if len(names) > QUERY_NAMES:
        raise ValueError(f"name at most {QUERY_NAMES} query parameters")
    for name in names:
        if len(name) > QUERY_NAME_LENGTH or not name.isprintable() or "=" in name:
            raise ValueError(f"{name[:40]!r} is not a query parameter's name")
    return names


def to_patterns(value: Any) -> tuple[Any, ...]:
    """Regular expressions, one per line or separated by white space, matched in
    linear time (see linesman.patterns): paths come from anyone."""
    from linesman.patterns import compile_pattern

    words = value if isinstance(value, (list, tuple)) else str(value).split()
    patterns = []
    for word in words:
        try:
            patterns.append(compile_pattern(word))
        except ValueError as exc:
            raise ValueError(f"{word!r}: {exc}") from None
    return tuple(patterns)


def _finite(value: Any) -> float:
    number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def to_fraction(value: Any) -> float:
    number = _finite(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError("expected a number from 0 to 1")
    return number


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def to_seconds(value: Any) -> float:
    """A duration in seconds; ``250ms``, ``0.25s``, ``10m``, ``12h`` and ``7d`` too."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number, unit = float(value), "s"
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("expected a duration such as 0.25, 250ms, 10m, 12h or 7d")
        number, unit = float(match.group(1)), match.group(2) or "s"
    if not math.isfinite(number) or number < 0:
        raise ValueError("expected a finite duration of 0 or more")
    return number * _UNIT_SECONDS[unit]


def to_positive_seconds(value: Any) -> float:
    """A duration above zero (a deadline: zero would mean none)."""
    seconds = to_seconds(value)
    if seconds <= 0:
        raise ValueError("expected a duration above 0")
    return seconds


def to_optional_seconds(value: Any) -> float | None:
    """A duration, or empty / 0 for none."""
    if value is None or str(value).strip() in ("", "0"):
        return None
    return to_seconds(value) or None


_SIZE = re.compile(r"^\s*([0-9]+)\s*([KMG]i?B?|B)?\s*$", re.I)


def to_bytes(value: Any) -> int:
    """A size in bytes; ``64MB``, ``64MiB`` and ``512K`` are accepted too."""
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError("expected a size such as 67108864, 64MB or 512K")
    unit = (match.group(2) or "B").upper()[:1]
    number = int(match.group(1)) * {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]
    if number < 1024:
        raise ValueError("expected at least 1K")
    return number


def _to_int(value: Any, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(f"expected a whole number of at least {minimum}")
    number = int(text)
    if number < minimum:
        raise ValueError(f"expected a whole number of at least {minimum}")
    return number


def to_optional_count(value: Any) -> int | None:
    """A positive limit; empty or 0 means no limit."""
    if value is None or str(value).strip() in ("", "0"):
        return None
    return _to_int(value, 1)


def to_positive_int(value: Any) -> int:
    return _to_int(value, 1)


PROFILERS = ("auto", "cprofile", "sampling")


def to_profiler(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in PROFILERS:
        raise ValueError(f"expected one of {', '.join(PROFILERS)}")
    return text


def to_sample_interval(value: Any) -> float:
    """A sampling interval: from 0.1 ms to 1 s (``1ms`` and ``0.001`` alike)."""
    seconds = to_seconds(value)
    if not 0.0001 <= seconds <= 1.0:
        raise ValueError("expected an interval from 0.1ms to 1s")
    return seconds


def to_view_budget(value: Any) -> float:
    """How long a heavy UI view reads sessions before it shows what it has: more
    than 0, at most an hour (``2``, ``500ms``, ``1m``)."""
    seconds = to_seconds(value)
    if not 0.0 < seconds <= 3600.0:
        raise ValueError("expected a duration of more than 0 and at most 1h, such as 2 or 500ms")
    return seconds


def to_login_lifetime(value: Any) -> float:
    """How long a browser's login lasts: from one minute to 30 days."""
    seconds = to_seconds(value)
    if not 60.0 <= seconds <= 30 * 86400.0:
        raise ValueError("expected a duration from 1m to 30d, such as 12h")
    return seconds


def to_profiler_path(value: Any) -> str:
    path = "/" + str(value).strip().strip("/")
    if path == "/" or not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", path):
        raise ValueError("expected a URL path such as /__profiler__")
    return path


def to_backend_spec(value: Any) -> str:
    """``module.path:Name``, as for ``backend`` and ``authorize``."""
    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", text):
        raise ValueError("expected module.path:Name")
    return text


def backend_option(name: str, value: Any, convert: Callable[[Any], Any]) -> Any:
    """A backend's own option, converted, or a ConfigError that names it."""
    try:
        return convert(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"linesman option {name} = {value!r}: {exc}") from None
