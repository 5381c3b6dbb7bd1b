"""Capture windows: "profile the next N requests matching a pattern, then stop".

A window is armed from the UI, the API or the command line and kept in the
store, so every process and host that shares it honours it; each process
reads the open windows with the shared on/off switch (every 0.5 s). While a
window is open, requests it matches are profiled even with profiling off, and
once it has caught its N sessions or its minutes are up, linesman is back as
it was. The count is kept by the store, which stores a caught session and
counts it in one transaction: however many processes race, a window of N
holds exactly N.
"""

from __future__ import annotations

import json
import re
import time
import uuid as uuid_module
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from linesman.patterns import compile_pattern

__all__ = [
    "CaptureWindow",
    "CaptureError",
    "parse_capture",
    "MAX_CAPTURE_REQUESTS",
    "MAX_CAPTURE_MINUTES",
]

MAX_CAPTURE_REQUESTS = 10_000
MAX_CAPTURE_MINUTES = 24 * 60
_METHOD = re.compile(r"[A-Z]{1,10}")
_NOTHING = re.compile(r"(?!)")  # matches no path


class CaptureError(ValueError):
    """A window that cannot be armed; the message names the field."""


@dataclass(frozen=True)
class CaptureWindow:
    """One capture window. ``requests`` and ``until`` bound it; at least one is set."""

    id: str
    pattern: str = ""  # a regular expression searched in the path; "" matches any
    method: str = ""  # "" matches any
    requests: int | None = None  # how many sessions it stores, at most
    until: float | None = None  # when it closes (a Unix time)
    min_duration: float = 0.0  # only requests at least this slow (seconds)
    created: float = 0.0
    ended: float | None = None  # stopped, or full
    caught: int = 0
    _regex: Any = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        regex = None
        if self.pattern:
            try:
                regex = compile_pattern(self.pattern)
            except ValueError:  # stored by an older linesman: it catches nothing
                regex = _NOTHING
        object.__setattr__(self, "_regex", regex)

    def is_open(self, now: float | None = None) -> bool:
        if self.ended is not None:
            return False
        if self.requests is not None and self.caught >= self.requests:
            return False
        return self.until is None or (time.time() if now is None else now) < self.until

    def matches(self, method: str, path: str) -> bool:
        if self.method and method != self.method:
            return False
        return self._regex is None or self._regex.search(path) is not None

    def caught_one(self, now: float) -> CaptureWindow:
        """The window after one more session is stored; full is ended."""
        caught = self.caught + 1
        full = self.requests is not None and caught >= self.requests
        return replace(self, caught=caught, ended=now if full else self.ended)

    def stopped(self, now: float) -> CaptureWindow:
        return self if self.ended is not None else replace(self, ended=now)

    def describe(self) -> str:
        """What it catches, in words, for the UI and the command line."""
        what = f"{self.method or 'any method'} {self.pattern or 'any path'}"
        bounds = []
        if self.requests is not None:
            bounds.append(f"the next {self.requests}")
        if self.until is not None:
            bounds.append(f"until {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.until))}")
        if self.min_duration:
            bounds.append(f"slower than {self.min_duration * 1000:g} ms")
        return f"{what}: {', '.join(bounds)}"

    # -- stored form -------------------------------------------------------------
    def spec(self) -> str:
        """What does not change once armed, as the JSON a store keeps."""
        return json.dumps(
            {
                "pattern": self.pattern,
                "method": self.method,
                "requests": self.requests,
                "until": self.until,
                "min_duration": self.min_duration,
            },
            sort_keys=True,
        )

    @classmethod
    def from_stored(
        cls, id: str, spec: str, created: float, ended: float | None, caught: int
    ) -> CaptureWindow:
        values = json.loads(spec)
        return cls(
            id=id,
            pattern=values.get("pattern", ""),
            method=values.get("method", ""),
            requests=values.get("requests"),
            until=values.get("until"),
            min_duration=float(values.get("min_duration", 0.0)),
            created=float(created),
            ended=ended,
            caught=int(caught),
        )

    def to_json(self) -> dict[str, Any]:
        values = {key: value for key, value in asdict(self).items() if key != "_regex"}
        values["open"] = self.is_open()
        return values


def _number(values: Mapping[str, Any], name: str, kind: type, low: float, high: float) -> Any:
    raw = values.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise CaptureError(f"{name}: a number from {low:g} to {high:g}")
    try:
        number = kind(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError, OverflowError):
        raise CaptureError(f"{name}: a number from {low:g} to {high:g}") from None
    if not low <= number <= high:
        raise CaptureError(f"{name}: a number from {low:g} to {high:g}")
    return number


def parse_capture(values: Mapping[str, Any], now: float | None = None) -> CaptureWindow:
    """A new window from a form or a JSON body: ``requests``, ``minutes``,
    ``pattern``, ``method``, ``min_ms``; at least one of the first two."""
    now = time.time() if now is None else now
    requests = _number(values, "requests", int, 1, MAX_CAPTURE_REQUESTS)
    minutes = _number(values, "minutes", float, 0.1, MAX_CAPTURE_MINUTES)
    min_ms = _number(values, "min_ms", float, 0, 3_600_000) or 0.0
    if requests is None and minutes is None:
        raise CaptureError("requests or minutes: say how many requests, or for how long")
    pattern = values.get("pattern") or ""
    if not isinstance(pattern, str) or len(pattern) > 500:
        raise CaptureError("pattern: a regular expression of at most 500 characters")
    try:
        compile_pattern(pattern)
    except ValueError as exc:
        raise CaptureError(f"pattern: {exc}") from None
    method = values.get("method") or ""
    if not isinstance(method, str) or (method and not _METHOD.fullmatch(method)):
        raise CaptureError("method: an HTTP method such as GET, or empty for any")
    return CaptureWindow(
        id=str(uuid_module.uuid4()),
        pattern=pattern,
        method=method,
        requests=requests,
        min_duration=min_ms / 1000,
        until=None if minutes is None else now + minutes * 60,
        created=now,
    )
